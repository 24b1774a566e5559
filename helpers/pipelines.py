"""From read images to training batches: seeded, class-balanced splits and the two input pipelines.

Both pipelines compute the same math (the sheet's transforms), at very different cost:
- `template`: a torchvision Dataset + DataLoader exactly as the course template (per-item PIL image
  and transform, batch 64, on CUDA `num_workers=1, pin_memory=True`).
- `resident`: the whole transformed split held as one tensor on the training device, reshuffled
  every epoch with a seeded generator, batches taken by indexing (as airbench's CifarLoader).
"""
from __future__ import annotations

import math
import signal
from dataclasses import dataclass

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

from .data import ImageSet
from .errors import UserError

PIPELINES = ("template", "resident")
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)  # the sheet's (and the template's) normalisation
RESIDENT_EVAL_BATCH = 5000  # evaluation only: larger batches change no result, only the speed


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
    """Batches of a split held on the training device; a fresh seeded permutation every epoch.

    The permutation is drawn on the CPU and moved to the device (a few hundred kB an epoch): CPU and GPU runs
    of one seed then see the same batches in the same order, as the template's DataLoader gives them."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool, seed: int):
        self.images, self.labels, self.batch_size, self.shuffle = images, labels, batch_size, shuffle
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def epoch_order(self) -> torch.Tensor:
        """The next epoch's order of the images (on the CPU), drawn as iterating the batches draws it."""
        return torch.randperm(len(self.labels), generator=self.generator)

    def __iter__(self):
        n = len(self.labels)
        if not self.shuffle:
            for start in range(0, n, self.batch_size):
                yield self.images[start:start + self.batch_size], self.labels[start:start + self.batch_size]
            return
        order = self.epoch_order().to(self.images.device)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.images[idx], self.labels[idx]


def generator_of(batches) -> torch.Generator:
    """Return the generator that orders a pipeline's batches (its state is part of a checkpoint)."""
    return batches.generator


def template_loader(split: ImageSet, batch_size: int, seed: int, train: bool, for_cuda: bool):
    """The course template's DataLoader over a split: each image through PIL and the transform when it is asked for;
    for a CUDA run with the template's cuda_kwargs, a loader process beside the training one and pinned memory."""
    # The training set is shuffled on every device. (The template shuffles only on CUDA, an
    # accident of pytorch/examples that would confound 3.2's CPU/GPU comparison.)
    kwargs = {"batch_size": batch_size, "shuffle": train}
    if for_cuda:
        kwargs.update(num_workers=1, pin_memory=torch.cuda.is_available(),  # pinning needs CUDA (calibrate's loader)
                      worker_init_fn=leave_signals_to_the_trainer)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.utils.data.DataLoader(ImageSetDataset(split, template_transform(split.dataset)),
                                       generator=generator, **kwargs)


def leave_signals_to_the_trainer(worker_id: int) -> None:
    """In a loader process: ignore SLURM's time-limit warning (SIGUSR2) and let SIGTERM just end it.

    SLURM signals every process of the job step, and a forked loader inherits the worker's handlers: without
    this it would requeue the job a second time, or write the worker's submitit state beside the trainer."""
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def make_batches(split: ImageSet, pipeline: str, batch_size: int, device: torch.device, seed: int,
                 train: bool):
    """Return an iterable of (images, labels) batches of a split for the chosen input pipeline."""
    if pipeline == "template":
        return template_loader(split, batch_size, seed, train, for_cuda=device.type == "cuda")
    if pipeline == "resident":
        images = to_tensor(split).to(device)
        labels = torch.from_numpy(split.labels).to(device)
        return ResidentBatches(images, labels, batch_size if train else max(batch_size, RESIDENT_EVAL_BATCH),
                               shuffle=train, seed=seed)
    raise UserError(f"unknown pipeline {pipeline!r}; choose one of: {', '.join(PIPELINES)}")
