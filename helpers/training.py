"""One training loop for every experiment: any model, any torch.optim optimizer, timed fairly.

`run(config)` is what notebooks call: it returns the stored History of that exact configuration
if there is one, and otherwise trains, stores and returns it. `train(...)` is the loop itself.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import data as datamod
from .environment import describe_environment
from .errors import UserError
from .models import build_model, count_parameters
from .results import load_result, save_result

DEVICES = ("cpu", "cuda")


class DeviceUnavailable(UserError):
    """The configuration asks for a device this machine does not have (and no stored result exists)."""


# Optimizers that step without a closure and on dense gradients: every other torch.optim class.
_UNSUITED = {"lbfgs": "needs a closure that re-evaluates the loss", "sparseadam": "needs sparse gradients"}


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """Return the torch.optim class of that name (any case); unknown or unsuited names are a UserError."""
    known = {cls.__name__.lower(): cls for cls in vars(torch.optim).values()
             if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer}
    key = name.lower()
    if key in _UNSUITED:
        raise UserError(f"optimizer {name!r} is not supported here: it {_UNSUITED[key]}")
    if key not in known:
        usable = sorted(cls.__name__ for k, cls in known.items() if k not in _UNSUITED)
        raise UserError(f"unknown optimizer {name!r}; torch.optim offers: {', '.join(usable)}")
    return known[key]


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a training run (and so the key of its stored result)."""
    dataset: str
    model: str
    optimizer: str = "SGD"
    lr: float = 0.1
    epochs: int = 30
    batch_size: int = 64
    test_batch_size: int = 1000
    seed: int = 1
    device: str = "cpu"
    pipeline: str = "template"
    val_size: int = 0
    train_subset: int | None = None
    test_subset: int | None = None

    def __post_init__(self):
        if self.dataset not in datamod.DATASETS:
            raise UserError(f"unknown dataset {self.dataset!r}; choose one of: {', '.join(datamod.DATASETS)}")
        if self.model not in ("mlp", "cnn") or (self.model == "cnn" and self.dataset != "cifar10"):
            raise UserError(f"model {self.model!r} on {self.dataset}: use 'mlp' (any dataset) or 'cnn' (cifar10)")
        optimizer_class(self.optimizer)
        if self.device not in DEVICES:
            raise UserError(f"unknown device {self.device!r}; choose one of: {', '.join(DEVICES)}")
        if self.pipeline not in datamod.PIPELINES:
            raise UserError(f"unknown pipeline {self.pipeline!r}; choose one of: {', '.join(datamod.PIPELINES)}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise UserError(f"learning rate must be a positive number, got {self.lr!r}")
        for name in ("epochs", "batch_size", "test_batch_size"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) > 0):
                raise UserError(f"{name} must be a positive integer, got {getattr(self, name)!r}")

    @classmethod
    def from_settings(cls, cfg, **changes) -> RunConfig:
        """Return the config made of a notebook's settings (the fields they share) and the given changes."""
        shared = {f.name: getattr(cfg, f.name) for f in fields(cls) if hasattr(cfg, f.name)}
        return cls(**{**shared, **changes})

    @property
    def label(self) -> str:
        """A short name for legends and progress bars."""
        return f"{self.model.upper()} {self.optimizer} lr={self.lr:g} {self.device}/{self.pipeline}"


@dataclass
class History:
    """A finished run: its config, one record per epoch, and what it ran on."""
    config: RunConfig
    epochs: list[dict]
    status: str                     # "completed", or "diverged" (non-finite loss; training stopped)
    parameters: int
    environment: dict
    data: dict
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def column(self, name: str) -> list:
        """Return one per-epoch quantity (e.g. "test_accuracy", "cumulative_train_time") as a list."""
        return [record[name] for record in self.epochs]

    @property
    def device_name(self) -> str:
        return self.environment["device_name"]

    def to_record(self) -> dict:
        return {**asdict(self), "config": asdict(self.config)}

    @classmethod
    def from_record(cls, record: dict) -> History:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in record.items() if k in names}
        return cls(**{**values, "config": RunConfig(**record["config"])})


def resolve_device(name: str) -> torch.device:
    """Return the torch device; asking for CUDA on a machine without it is a clear DeviceUnavailable."""
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"CUDA was asked for, but this machine has none (torch {torch.__version__}, "
            f"torch.cuda.is_available() is False). Run it on a GPU node (README: make sbatch), "
            f"or choose device='cpu'.")
    return torch.device(name)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def evaluate(model: torch.nn.Module, batches, device: torch.device) -> tuple[float, float]:
    """Return mean NLL loss and accuracy of the model on a split."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    count = 0
    with torch.no_grad():
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            out = model(x)
            loss_sum += F.nll_loss(out, y, reduction="sum")
            correct += (out.argmax(dim=1) == y).sum()
            count += len(y)
    return loss_sum.item() / count, correct.item() / count


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, train_batches, eval_batches: dict,
          epochs: int, device: torch.device, progress: bool = True, desc: str = "") -> tuple[list[dict], str]:
    """Train for `epochs` epochs; return one record per epoch and the status ("completed"/"diverged").

    Train time is measured around the training steps only (CUDA synchronised before the clock
    stops); evaluation on each of `eval_batches` ({"test": ..., "val": ...}) is timed separately.
    The hot loop keeps its sums on the device: no host synchronisation per step.
    """
    records, cumulative = [], 0.0
    bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        count = 0
        _synchronize(device)
        start = time.perf_counter()
        for x, y in train_batches:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            loss = F.nll_loss(out, y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(y)
            correct += (out.argmax(dim=1) == y).sum()
            count += len(y)
        _synchronize(device)
        train_time = time.perf_counter() - start
        cumulative += train_time
        train_loss = loss_sum.item() / count

        start = time.perf_counter()
        record = {"epoch": epoch, "train_loss": _finite(train_loss), "train_accuracy": correct.item() / count}
        for split, batches in eval_batches.items():
            loss, accuracy = evaluate(model, batches, device)
            record.update({f"{split}_loss": _finite(loss), f"{split}_accuracy": accuracy})
        _synchronize(device)
        record.update(train_time=train_time, eval_time=time.perf_counter() - start, cumulative_train_time=cumulative)
        records.append(record)
        bar.set_postfix(loss=f"{train_loss:.4f}", test_acc=f"{record.get('test_accuracy', float('nan')):.4f}")
        if not math.isfinite(train_loss):
            bar.close()
            return records, "diverged"
    return records, "completed"


def run(config: RunConfig, data_root: str | Path | None = None, results_dir: str | Path | None = None,
        progress: bool = True) -> History:
    """Return the History of this configuration: loaded from results_dir if it was run, else trained now.

    The result key is the full config plus a fingerprint of the dataset files, so a run is never
    reused for other data or settings.
    """
    files = datamod.locate(config.dataset, data_root)
    key = {**asdict(config), "data_fingerprint": files.fingerprint}
    if results_dir is not None:
        stored = load_result(results_dir, key, stem=_stem(config))
        if stored is not None:
            return History.from_record(stored)
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels once
    splits = datamod.make_splits(datamod.load_split(files, train=True), datamod.load_split(files, train=False),
                                 val_size=config.val_size, train_subset=config.train_subset,
                                 test_subset=config.test_subset, seed=config.seed)
    torch.manual_seed(config.seed)
    model = build_model(config.model, config.dataset).to(device)
    optimizer = optimizer_class(config.optimizer)(model.parameters(), lr=config.lr)

    def batches(split, train):
        size = config.batch_size if train else config.test_batch_size
        return datamod.make_batches(split, config.pipeline, size, device, seed=config.seed, train=train)

    eval_batches = {"test": batches(splits.test, False)}
    if splits.val is not None:
        eval_batches["val"] = batches(splits.val, False)
    records, status = train(model, optimizer, batches(splits.train, True), eval_batches, config.epochs,
                            device, progress=progress, desc=config.label)
    history = History(config=config, epochs=records, status=status, parameters=count_parameters(model),
                      environment=describe_environment(device),
                      data={"fingerprint": files.fingerprint, "root": str(files.root), "train": len(splits.train),
                            "val": len(splits.val) if splits.val is not None else 0, "test": len(splits.test)})
    if results_dir is not None:
        save_result(results_dir, key, history.to_record(), stem=_stem(config))
    return history


def run_all(configs: dict, cfg, progress: bool = True) -> tuple[dict, dict]:
    """Run (or load) every config of a {label: RunConfig} dict with a notebook's data and results folders.

    Returns ({label: History}, {label: reason}) where the second holds the runs this machine cannot do
    (a GPU run without a GPU and without a stored result), so a notebook can say so instead of failing.
    """
    histories, missing = {}, {}
    for label, config in configs.items():
        try:
            histories[label] = run(config, cfg.data_root, cfg.results_dir, progress=progress)
        except DeviceUnavailable as err:
            missing[label] = str(err)
    return histories, missing


def _stem(config: RunConfig) -> str:
    """A readable file-name prefix for a run's result."""
    return f"{config.dataset}-{config.model}-{config.optimizer.lower()}-lr{config.lr:g}-{config.device}-{config.pipeline}"
