"""Small, learnable stand-ins for MNIST and CIFAR-10, written in the official on-disk formats.

Smoke runs and tests read them with the same code as the real datasets. Each class is a fixed
random pattern plus noise, so a model that learns anything beats chance within an epoch or two.
"""
from __future__ import annotations

import gzip
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_VERSION = "1"  # bump when the generator changes, so cached synthetic data is rewritten


def _images(shape: tuple[int, ...], n: int, rng: np.random.Generator, prototypes: np.ndarray):
    labels = rng.permutation(np.arange(n) % len(prototypes))
    noise = rng.normal(0.0, 45.0, size=(n, *shape))
    images = np.clip(110.0 + prototypes[labels] + noise, 0, 255).astype(np.uint8)
    return images, labels.astype(np.uint8)


def _prototypes(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return rng.choice([-90.0, 0.0, 90.0], size=(10, *shape))


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_mnist(root: str | Path, n_train: int = 1200, n_test: int = 300, seed: int = 0) -> Path:
    """Write ROOT/MNIST/raw/*-ubyte.gz (idx format) with 28x28 synthetic digits; return the raw folder."""
    rng = np.random.default_rng(seed)
    prototypes = _prototypes((28, 28), rng)
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for part, n in (("train", n_train), ("t10k", n_test)):
        images, labels = _images((28, 28), n, rng, prototypes)
        _write_idx(raw / f"{part}-images-idx3-ubyte.gz", images)
        _write_idx(raw / f"{part}-labels-idx1-ubyte.gz", labels)
    return raw


def write_cifar10(root: str | Path, n_train: int = 1000, n_test: int = 300, seed: int = 0) -> Path:
    """Write ROOT/cifar-10-batches-py/ (pickled batches, official keys) with synthetic images; return it."""
    if n_train % 5:
        raise ValueError("n_train must split evenly into the five training batches")
    rng = np.random.default_rng(seed + 1)
    prototypes = _prototypes((32, 32, 3), rng)
    out = Path(root) / "cifar-10-batches-py"
    out.mkdir(parents=True, exist_ok=True)

    def write(name: str, n: int, label: str) -> None:
        images, labels = _images((32, 32, 3), n, rng, prototypes)
        rows = images.transpose(0, 3, 1, 2).reshape(n, -1)  # channel-planar rows, as the official files
        batch = {"batch_label": label, "labels": labels.astype(int).tolist(), "data": rows,
                 "filenames": [f"synthetic_{i:05d}.png" for i in range(n)]}
        with open(out / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)

    for b in range(1, 6):
        write(f"data_batch_{b}", n_train // 5, f"training batch {b} of 5")
    write("test_batch", n_test, "testing batch 1 of 1")
    with open(out / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": n_train // 5,
                     "num_vis": 3072}, f, protocol=2)
    return out


def ensure_synthetic_data(root: str | Path) -> Path:
    """Return a data root holding synthetic MNIST and CIFAR-10, writing it once (atomically) if absent."""
    root = Path(root)
    if (root / f".complete-v{_VERSION}").exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=".synthetic-"))
    write_mnist(staging)
    write_cifar10(staging)
    (staging / f".complete-v{_VERSION}").touch()
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return root
