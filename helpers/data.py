"""MNIST and CIFAR-10: found (or downloaded) in their official on-disk layout, read, split, and fed
to training through one of two input pipelines with the same math.

- `template`: a torchvision Dataset + DataLoader exactly as the course template (per-item PIL image
  and transform, batch 64, on CUDA `num_workers=1, pin_memory=True`).
- `resident`: the whole transformed split held as one tensor on the training device, reshuffled
  every epoch with a seeded generator, batches taken by indexing (as airbench's CifarLoader).
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
import torch
import torchvision
from PIL import Image
from torchvision import transforms

from .errors import UserError
from .synthetic import MARKER as SYNTHETIC_MARKER

DATA_ROOT_ENV = "EML_DATA_ROOT"
DATASETS = ("mnist", "cifar10")
PIPELINES = ("template", "resident")
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)  # the sheet's (and the template's) normalisation
RESIDENT_EVAL_BATCH = 5000  # evaluation only: larger batches change no result, only the speed

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
    """Download a dataset into root with torchvision (official files and checksums)."""
    root = Path(root)
    cls = {"mnist": torchvision.datasets.MNIST, "cifar10": torchvision.datasets.CIFAR10}[name]
    try:
        cls(str(root), train=True, download=True)
    except Exception as err:  # any network or archive failure: one clear message
        raise UserError(f"{name}: download into {root} failed ({type(err).__name__}: {err}). "
                        + _how_to_get(name, root)) from None


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


# ---------------------------------------------------------------------------------------------
# Subsets and the validation split (seeded, class-balanced)
# ---------------------------------------------------------------------------------------------

def balanced_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Return n sorted indices with the classes as evenly represented as the data allows (seeded)."""
    if not 0 < n <= len(labels):
        raise UserError(f"subset size {n} must be between 1 and the split's {len(labels)} images")
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    # Round-robin over the classes, so that every prefix is as balanced as possible.
    picked, depth = [], 0
    while len(picked) < n:
        picked += [idx[depth] for idx in by_class if depth < len(idx)][: n - len(picked)]
        depth += 1
    return np.sort(np.array(picked, dtype=np.int64))


@dataclass(frozen=True)
class Splits:
    """Training, optional validation (held out from the training set) and test split of one dataset."""
    train: ImageSet
    val: ImageSet | None
    test: ImageSet


def make_splits(train: ImageSet, test: ImageSet, val_size: int = 0, train_subset: int | None = None,
                test_subset: int | None = None, seed: int = 0) -> Splits:
    """Carve a class-balanced validation split off the training set, then take the requested subsets."""
    val = None
    if val_size:
        held_out = balanced_indices(train.labels, val_size, seed)
        val = train.take(held_out)
        train = train.take(np.setdiff1d(np.arange(len(train)), held_out))
    if train_subset:
        train = train.take(balanced_indices(train.labels, train_subset, seed + 1))
    if test_subset:
        test = test.take(balanced_indices(test.labels, test_subset, seed + 2))
    return Splits(train, val, test)


# ---------------------------------------------------------------------------------------------
# Transforms and the two pipelines
# ---------------------------------------------------------------------------------------------

def template_transform(dataset: str) -> transforms.Compose:
    """Return the sheet's per-item transform: MNIST ToTensor + Normalize; CIFAR-10 ToTensor only."""
    if dataset == "mnist":
        return transforms.Compose([transforms.ToTensor(), transforms.Normalize(MNIST_MEAN, MNIST_STD)])
    return transforms.Compose([transforms.ToTensor()])


def to_tensor(split: ImageSet) -> torch.Tensor:
    """Return the whole split as float32 N x C x H x W, computed exactly as template_transform does per item."""
    x = torch.from_numpy(np.array(split.images))  # a writable copy
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    x = x.contiguous().to(torch.float32).div(255)
    if split.dataset == "mnist":
        x = x.sub_(torch.tensor(MNIST_MEAN).view(-1, 1, 1)).div_(torch.tensor(MNIST_STD).view(-1, 1, 1))
    return x


class ImageSetDataset(torchvision.datasets.VisionDataset):
    """A torchvision Dataset over an ImageSet whose items go through PIL and the transform on every
    access, as torchvision.datasets.MNIST and CIFAR10 do (the template's cost included)."""

    def __init__(self, split: ImageSet, transform):
        super().__init__("", transform=transform)
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int):
        image = Image.fromarray(self.split.images[index])  # 'L' for H x W, 'RGB' for H x W x 3
        return self.transform(image), int(self.split.labels[index])


class ResidentBatches:
    """Batches of a split held on the training device; a fresh seeded permutation every epoch."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool, seed: int):
        self.images, self.labels, self.batch_size, self.shuffle = images, labels, batch_size, shuffle
        self.generator = torch.Generator(device=images.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __iter__(self):
        n = len(self.labels)
        if not self.shuffle:
            for start in range(0, n, self.batch_size):
                yield self.images[start:start + self.batch_size], self.labels[start:start + self.batch_size]
            return
        order = torch.randperm(n, generator=self.generator, device=self.images.device)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.images[idx], self.labels[idx]


def generator_of(batches) -> torch.Generator:
    """Return the generator that orders a pipeline's batches (its state is part of a checkpoint)."""
    return batches.generator


def make_batches(split: ImageSet, pipeline: str, batch_size: int, device: torch.device, seed: int,
                 train: bool):
    """Return an iterable of (images, labels) batches of a split for the chosen input pipeline."""
    if pipeline == "template":
        # The training set is shuffled on every device. (The template shuffles only on CUDA, an
        # accident of pytorch/examples that would confound 3.2's CPU/GPU comparison.)
        kwargs = {"batch_size": batch_size, "shuffle": train}
        if device.type == "cuda":
            kwargs.update(num_workers=1, pin_memory=True)  # the template's cuda_kwargs
        generator = torch.Generator()
        generator.manual_seed(seed)
        return torch.utils.data.DataLoader(ImageSetDataset(split, template_transform(split.dataset)),
                                           generator=generator, **kwargs)
    if pipeline == "resident":
        images = to_tensor(split).to(device)
        labels = torch.from_numpy(split.labels).to(device)
        return ResidentBatches(images, labels, batch_size if train else max(batch_size, RESIDENT_EVAL_BATCH),
                               shuffle=train, seed=seed)
    raise UserError(f"unknown pipeline {pipeline!r}; choose one of: {', '.join(PIPELINES)}")
