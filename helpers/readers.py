"""Reading MNIST's idx files and CIFAR-10's pickled batches into uint8 arrays, with one clear error for a damaged file."""
from __future__ import annotations

import functools
import gzip
import math
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torchvision

from .errors import UserError

CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


@dataclass(frozen=True)
class ImageSet:
    """One split: uint8 images, (N, 28, 28) for MNIST or (N, 32, 32, 3) for CIFAR-10, and int64 labels."""
    dataset: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: np.ndarray) -> ImageSet:
        """Return the subset at the given indices."""
        return ImageSet(self.dataset, self.images[indices], self.labels[indices], self.classes)


def read_idx(path: Path) -> np.ndarray:
    """Return the uint8 array stored in an idx file (MNIST's format), .gz or not."""
    try:
        raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise UserError(f"{path}: cannot be read, truncated or corrupt ({err}); delete it and fetch it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserError(f"{path}: not an idx file of unsigned bytes (bad magic number); delete it and fetch it again")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + math.prod(shape):
        raise UserError(f"{path}: truncated or corrupt: its header promises {math.prod(shape)} bytes of data "
                        f"for shape {shape}, the file holds {len(raw) - header}; delete it and fetch it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_cifar_batch(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
    except Exception as err:  # pickle raises many types on a damaged file
        raise UserError(f"{path}: cannot be unpickled, truncated or corrupt ({type(err).__name__}: {err}); "
                        "delete it and fetch it again") from None
    if not isinstance(entry, dict):
        raise UserError(f"{path}: not a CIFAR-10 batch (expected a pickled dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _cifar_images(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _read_cifar_batch(path)
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels is None \
            or len(labels) != len(data):
        raise UserError(f"{path}: not a CIFAR-10 batch (needs 'data' N x 3072 and N 'labels')")
    # Channel-planar rows -> N x 32 x 32 x 3 (HWC), as torchvision.datasets.CIFAR10 stores them.
    return data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(labels, dtype=np.int64)


def load_split(files, train: bool) -> ImageSet:
    """Read the training or test split of located dataset files (helpers.data.locate; parsed once per process and
    contents)."""
    return _load_split(files.name, tuple(sorted(files.paths.items())), files.fingerprint, train)


@functools.lru_cache(maxsize=4)
def _load_split(name: str, paths: tuple, fingerprint: str, train: bool) -> ImageSet:
    # The fingerprint is part of the key, so changed files are read again. Callers never write
    # into the arrays (subsets are copies), so one parsed split can serve a whole sweep.
    paths = dict(paths)
    if name == "mnist":
        part = "train" if train else "test"
        images, labels = read_idx(paths[f"{part}_images"]), read_idx(paths[f"{part}_labels"])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise UserError(f"{paths[f'{part}_images']}: images {images.shape} do not match labels {labels.shape}")
        return ImageSet("mnist", images, labels.astype(np.int64), tuple(torchvision.datasets.MNIST.classes))
    names = CIFAR_TRAIN_BATCHES if train else ("test_batch",)
    parts = [_cifar_images(paths[n]) for n in names]
    meta = _read_cifar_batch(paths["batches.meta"])
    classes = tuple(meta.get("label_names") or ())
    if len(classes) != 10:
        raise UserError(f"{paths['batches.meta']}: needs the 10 'label_names' of CIFAR-10")
    return ImageSet("cifar10", np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), classes)
