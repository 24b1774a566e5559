"""Small, learnable stand-ins for MNIST and CIFAR-10, written in the official on-disk formats.

Smoke runs and tests read them with the same code as the real datasets. Each class is a fixed
random pattern plus noise, so a model that learns anything beats chance within an epoch or two.

The files are the same bytes on every machine and at every run (their md5s are part of the results'
keys, so an unpacked hand-in finds the smoke runs it ships): the gzip files carry no time stamp and no
compression that depends on the zlib build, and the pickles name numpy as every numpy version reads it.
"""
from __future__ import annotations

import os
import pickle
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_VERSION = "2"  # bump when the generator changes, so cached synthetic data is rewritten
MARKER = "SYNTHETIC-STAND-IN"  # in a data root written here: not the official release, and known to be so


def _images(shape: tuple[int, ...], n: int, rng: np.random.Generator, prototypes: np.ndarray):
    labels = rng.permutation(np.arange(n) % len(prototypes))
    noise = rng.normal(0.0, 45.0, size=(n, *shape))
    images = np.clip(110.0 + prototypes[labels] + noise, 0, 255).astype(np.uint8)
    return images, labels.astype(np.uint8)


def _prototypes(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return rng.choice([-90.0, 0.0, 90.0], size=(10, *shape))


def gzip_bytes(data: bytes) -> bytes:
    """Return data as a gzip file of stored (uncompressed) deflate blocks, time stamp 0, no file name.

    gzip.open writes the time and the file name into the header, and zlib's compressed bytes differ
    between zlib versions and builds; this is the same bytes everywhere, and every gzip reader reads it.
    """
    header = b"\x1f\x8b\x08\x00" + bytes(4) + b"\x00\xff"  # magic, deflate, no flags, mtime 0, no extra flags, OS unknown
    step = 0xFFFF  # the largest stored block
    blocks = []
    for start in range(0, max(len(data), 1), step):  # one (empty) block at least
        chunk = data[start:start + step]
        final = start + step >= len(data)  # BFINAL, BTYPE 00 (stored), padded to the byte
        blocks.append(struct.pack("<BHH", final, len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return header + b"".join(blocks) + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip_bytes(header + array.astype(np.uint8).tobytes()))


def _write_pickle(path: Path, obj) -> None:
    # numpy 2 names its array constructor numpy._core.multiarray, numpy 1 numpy.core.multiarray (as the
    # official CIFAR-10 files do): write the latter, which both read, so both write the same bytes.
    data = pickle.dumps(obj, protocol=2)
    path.write_bytes(data.replace(b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n", 1))


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
        _write_pickle(out / name, batch)

    for b in range(1, 6):
        write(f"data_batch_{b}", n_train // 5, f"training batch {b} of 5")
    write("test_batch", n_test, "testing batch 1 of 1")
    _write_pickle(out / "batches.meta", {"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": n_train // 5,
                                         "num_vis": 3072})
    return out


def write_stand_ins(root: str | Path, n_mnist: int, n_cifar: int, n_test: int) -> Path:
    """Write synthetic MNIST and CIFAR-10 of the given sizes into root, marked as stand-ins; return root."""
    root = Path(root)
    write_mnist(root, n_train=n_mnist, n_test=n_test)
    write_cifar10(root, n_train=n_cifar, n_test=n_test)
    (root / MARKER).write_text("Generated by helpers.synthetic for smoke runs and tests; not MNIST or CIFAR-10.\n")
    return root


def ensure_synthetic_data(root: str | Path) -> Path:
    """Return a data root holding synthetic MNIST and CIFAR-10, writing it once (atomically) if absent."""
    root = Path(root)
    if (root / f".complete-v{_VERSION}").exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=".synthetic-"))
    write_stand_ins(staging, n_mnist=1200, n_cifar=1000, n_test=300)
    (staging / f".complete-v{_VERSION}").touch()
    # Two processes (e.g. side-by-side array tasks) may both get here: the first rename wins and the
    # loser's identical copy is dropped, so nobody ever deletes a folder another one is reading.
    old = root.with_name(root.name + f".old-{os.getpid()}")
    if root.exists():
        root.rename(old)
    try:
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return root
