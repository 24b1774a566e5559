"""MNIST and CIFAR-10 on disk: found (or downloaded) in their official layout, checked, and read.

What is done with the images (splits, transforms, the two input pipelines) is helpers.pipelines'.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import pickle
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torchvision

from .errors import UserError
from .fetch import fetch
from .synthetic import MARKER as SYNTHETIC_MARKER

DATA_ROOT_ENV = "EML_DATA_ROOT"
DATASETS = ("mnist", "cifar10")

_MNIST_FILES = {  # role -> file name in ROOT/MNIST/raw/, as torchvision lays them out
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_CIFAR_FILES = [*_CIFAR_TRAIN, "test_batch", "batches.meta"]


_warned_about: set = set()


class DataChecksumWarning(UserWarning):
    """The dataset files load, but differ from the official release (results may differ slightly)."""


def resolve_data_root(data_root: str | Path | None = None) -> Path:
    """Return the data root: the argument, else $EML_DATA_ROOT, else data/ at the repository root."""
    if data_root is None:
        data_root = os.environ.get(DATA_ROOT_ENV) or Path(__file__).resolve().parents[1] / "data"
    return Path(data_root).expanduser().resolve()


# ---------------------------------------------------------------------------------------------
# Finding the files: official layout, checksums, download
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetFiles:
    """The files of one dataset on disk and a fingerprint of their contents (part of result keys)."""
    name: str
    root: Path
    paths: dict[str, Path]
    fingerprint: str


def _official_md5() -> dict[str, str]:
    """Official md5 sums by file name, taken from torchvision itself rather than typed in here."""
    sums = dict(torchvision.datasets.MNIST.resources)
    cifar = torchvision.datasets.CIFAR10
    sums.update(dict(cifar.train_list + cifar.test_list))
    sums[cifar.meta["filename"]] = cifar.meta["md5"]
    return sums


def _expected_paths(name: str, root: Path) -> dict[str, Path]:
    if name == "mnist":
        raw = root / "MNIST" / "raw"
        # torchvision keeps both the .gz and its extracted copy; either one is enough here. The .gz is
        # preferred (its official checksum is known) and named when neither exists.
        return {role: (raw / f"{f}.gz" if (raw / f"{f}.gz").exists() or not (raw / f).exists() else raw / f)
                for role, f in _MNIST_FILES.items()}
    if name == "cifar10":
        return {f: root / _CIFAR_DIR / f for f in _CIFAR_FILES}
    raise UserError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def _how_to_get(name: str, root: Path) -> str:
    if name == "mnist":
        where = (f"the four official files ({', '.join(f + '.gz' for f in _MNIST_FILES.values())}) "
                 f"in {root / 'MNIST' / 'raw'}")
    else:
        where = (f"the official CIFAR-10 'python version' ({_CIFAR_DIR}/ with {', '.join(_CIFAR_FILES)}) "
                 f"in {root}")
    return (f"Put {where}, or run `make data` on a machine with internet access. The data root is "
            f"chosen by the notebook parameter data_root, else ${DATA_ROOT_ENV}, else data/ in the repository.")


def download(name: str, root: str | Path) -> None:
    """Download a dataset into root with torchvision (official files and md5s), printing one line of progress."""
    fetch(name, Path(root), _how_to_get(name, Path(root)))


def ensure_datasets(names, data_root: str | Path | None = None) -> list[DatasetFiles]:
    """Return the files of each dataset under the data root, downloading those that are missing (one line each).

    Without internet a missing dataset is one UserError saying where to put it, or to run `make data`.
    """
    return [locate(name, data_root, download_missing=True) for name in names]


def locate(name: str, data_root: str | Path | None = None, download_missing: bool = True) -> DatasetFiles:
    """Return the dataset's files under the data root, downloading them only if absent and allowed.

    Files whose checksums differ from the official release still load, with one warning naming them.
    """
    root = resolve_data_root(data_root)
    paths = _expected_paths(name, root)
    missing = [p for p in paths.values() if not p.is_file()]
    if missing and download_missing:
        download(name, root)
        paths = _expected_paths(name, root)
        missing = [p for p in paths.values() if not p.is_file()]
    if missing:
        raise UserError(f"{name}: not found; missing {', '.join(str(p) for p in missing)}. " + _how_to_get(name, root))
    md5s = {role: _md5(path) for role, path in paths.items()}
    official = _official_md5()
    differ = [paths[r].name for r, s in md5s.items() if paths[r].name in official and official[paths[r].name] != s]
    # Generated stand-ins say so once in the report; only a real copy that differs deserves a warning.
    if differ and (name, root) not in _warned_about and not (root / SYNTHETIC_MARKER).exists():  # once per dataset copy and process, not per run
        _warned_about.add((name, root))
        warnings.warn(f"{name}: {', '.join(differ)} in {root} differ from the official release's checksums; "
                      "loading them anyway (results may differ slightly from published figures).",
                      DataChecksumWarning, stacklevel=2)
    fingerprint = hashlib.sha256("".join(f"{r}={md5s[r]};" for r in sorted(md5s)).encode()).hexdigest()[:16]
    return DatasetFiles(name, root, paths, fingerprint)


def _md5(path: Path) -> str:
    stat = path.stat()
    return _md5_of(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _md5_of(path: Path, size: int, mtime_ns: int) -> str:
    """md5 of a file, computed once per process and version of the file (size and mtime are the key)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading the official formats
# ---------------------------------------------------------------------------------------------

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


def load_split(files: DatasetFiles, train: bool) -> ImageSet:
    """Read the training or test split of located dataset files (parsed once per process and contents)."""
    return _load_split(files.name, tuple(sorted(files.paths.items())), files.fingerprint, train)


@functools.lru_cache(maxsize=4)
def _load_split(name: str, paths: tuple, fingerprint: str, train: bool) -> ImageSet:
    # The fingerprint is part of the key, so changed files are read again. Callers never write
    # into the arrays (subsets are copies), so one parsed split can serve a whole sweep.
    files = DatasetFiles(name, Path(), dict(paths), fingerprint)
    if files.name == "mnist":
        part = "train" if train else "test"
        images, labels = read_idx(files.paths[f"{part}_images"]), read_idx(files.paths[f"{part}_labels"])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise UserError(f"{files.paths[f'{part}_images']}: images {images.shape} do not match labels {labels.shape}")
        return ImageSet("mnist", images, labels.astype(np.int64), tuple(torchvision.datasets.MNIST.classes))
    names = _CIFAR_TRAIN if train else ["test_batch"]
    parts = [_cifar_images(files.paths[n]) for n in names]
    meta = _read_cifar_batch(files.paths["batches.meta"])
    classes = tuple(meta.get("label_names") or ())
    if len(classes) != 10:
        raise UserError(f"{files.paths['batches.meta']}: needs the 10 'label_names' of CIFAR-10")
    return ImageSet("cifar10", np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), classes)
