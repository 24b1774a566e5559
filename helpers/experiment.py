"""One training run as an experiment: its configuration, its history, where it runs, and its store.

`run(config)` is what notebooks and cluster tasks call: it returns the stored History of that exact
configuration if there is one; otherwise it trains (continuing from the run's checkpoint if an
earlier attempt was cut off), stores the result and returns it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import torch

from . import data as datamod
from . import pipelines
from .environment import describe_environment, device_identity, timing_conditions
from .errors import UserError
from .models import count_parameters
from .datakeys import data_fingerprint
from .preparation import prepare_run
from .results import RunFiles, RunInProgress
from .training import optimizer_class, random_state, train

DEVICES = ("cpu", "cuda")


class DeviceUnavailable(UserError):
    """The configuration asks for a device this machine does not have (and no stored result exists)."""


class NotStored(UserError):
    """The run has no stored result and training was not allowed here."""


def is_int(value) -> bool:
    """True for an integer, not for a bool (JSON's and YAML's true would otherwise count as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


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
        # One name per optimizer ("adam" is Adam): the key of its stored runs, its legends, the sheet's SGD and Adam.
        object.__setattr__(self, "optimizer", optimizer_class(self.optimizer).__name__)
        if self.device not in DEVICES:
            raise UserError(f"unknown device {self.device!r}; choose one of: {', '.join(DEVICES)}")
        if self.pipeline not in pipelines.PIPELINES:
            raise UserError(f"unknown pipeline {self.pipeline!r}; choose one of: {', '.join(pipelines.PIPELINES)}")
        if isinstance(self.lr, bool) or not (isinstance(self.lr, (int, float)) and 0 < self.lr < math.inf):
            raise UserError(f"learning rate must be a positive number, got {self.lr!r}")
        for name in ("epochs", "batch_size", "test_batch_size"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise UserError(f"{name} must be a positive integer, got {value!r}")
        if not is_int(self.seed) or self.seed < 0:
            raise UserError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not is_int(self.val_size) or self.val_size < 0:
            raise UserError(f"val_size must be a non-negative number of images, got {self.val_size!r}")
        for name in ("train_subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and (not is_int(value) or value < 1):
                raise UserError(f"{name} must be a positive number of images (or null for the whole set), got {value!r}")
        self._check_sizes_fit(*datamod.OFFICIAL_SIZES[self.dataset])

    def _check_sizes_fit(self, n_train: int, n_test: int):
        """The validation split and the subsets must fit into the real dataset (smaller stand-ins are checked
        when their files are read)."""
        name = datamod.DATASET_NAMES[self.dataset]
        if self.train_subset is None and self.val_size >= n_train:
            raise UserError(f"val_size {self.val_size:,} leaves no training image: {name} has {n_train:,}")
        if self.val_size + (self.train_subset or 0) > n_train:
            held_out = f"val_size {self.val_size:,} plus " if self.val_size else ""
            raise UserError(f"{held_out}train_subset {self.train_subset:,} is more than {name}'s {n_train:,} training "
                            "images")
        if (self.test_subset or 0) > n_test:
            raise UserError(f"test_subset {self.test_subset:,} is more than {name}'s {n_test:,} test images")

    @property
    def label(self) -> str:
        """A short name for legends, progress bars and logs."""
        return (f"{self.dataset} {self.model.upper()} {self.optimizer} lr={self.lr:g} seed {self.seed} "
                f"{self.device}/{self.pipeline}")

    @property
    def stem(self) -> str:
        """A readable file-name prefix for the run's files."""
        seed = f"-seed{self.seed}" if self.seed != 1 else ""  # seed 1 (the template's) keeps the short name
        return (f"{self.dataset}-{self.model}-{self.optimizer.lower()}-lr{self.lr:g}{seed}-"
                f"{self.device}-{self.pipeline}")


@dataclass
class History:
    """A finished run: its config, one record per epoch, and what it ran on.

    `resumes` lists the restarts of a run that was cut off (time limit, pre-emption, crash): after
    which complete epoch it continued and on which device; the cut epoch itself is never counted.
    """
    config: RunConfig
    records: list[dict]
    status: str                     # "completed", or "diverged" (non-finite loss; training stopped)
    parameters: int
    environment: dict
    data: dict
    resumes: list[dict] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def column(self, name: str) -> list:
        """Return one per-epoch quantity (e.g. "test_accuracy", "cumulative_train_time") as a list."""
        return [record[name] for record in self.records]

    @property
    def device_name(self) -> str:
        return self.environment["device_name"]

    def to_record(self) -> dict:
        return {**asdict(self), "config": asdict(self.config)}

    @classmethod
    def from_record(cls, record: dict) -> History:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in record.items() if k in names}
        values.setdefault("records", record.get("epochs", []))  # results stored before the rename
        return cls(**{**values, "config": RunConfig(**record["config"])})


def resolve_device(name: str) -> torch.device:
    """Return the torch device; asking for CUDA on a machine without it is a clear DeviceUnavailable."""
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"CUDA was asked for, but this machine has none (torch {torch.__version__}, "
            f"torch.cuda.is_available() is False). Run it on a GPU node (README: make sbatch), "
            f"or choose device='cpu'.")
    return torch.device(name)


def run_files(config: RunConfig, data_root: str | Path | None, results_dir: str | Path,
              download_missing: bool = True) -> RunFiles:
    """Return the store files of a run: its key is the full config plus a fingerprint of the data files (without the
    files here, that of the runs stored in results_dir: helpers.datakeys)."""
    fingerprint = data_fingerprint(config.dataset, data_root, results_dir, download_missing)
    return RunFiles.of(results_dir, {**asdict(config), "data_fingerprint": fingerprint}, stem=config.stem)


def run(config: RunConfig, data_root: str | Path | None = None, results_dir: str | Path | None = None,
        progress: bool = True, train_missing: bool = True, graphs: bool = True) -> History:
    """Return the History of this configuration: loaded from results_dir if it was run, else trained now.

    Without results_dir nothing is stored (benchmarks). With train_missing=False a run that is not
    stored raises NotStored instead of training. `graphs=False` trains a CUDA run's steps eagerly instead of
    replaying a CUDA graph (helpers.graphs): the same numbers, so it is recorded, not part of the run's key.
    """
    if results_dir is None:
        return train_run(config, data_root, None, progress, graphs=graphs)
    files = run_files(config, data_root, results_dir)
    stored = files.load_result()
    if stored is not None:
        return History.from_record(stored)
    if not train_missing:
        raise NotStored(f"{config.label} has no stored result in {results_dir}")
    device = resolve_device(config.device)
    with files.locked(lock_holder(config, device)):
        return train_claimed(config, files, data_root, progress, graphs=graphs)


def lock_holder(config: RunConfig, device: torch.device, **about) -> dict:
    """What a lock file says of the process that trains a run: the run, where it computes, and `about` (worker, job)."""
    return {"run": config.stem, **device_identity(device), **about}


def train_claimed(config: RunConfig, files: RunFiles, data_root, progress: bool = True,
                  about: dict | None = None, graphs: bool = True) -> History:
    """Train and store a run whose lock this process holds; a run stored meanwhile by another process is loaded.

    `about` goes into the run's environment record: how it was started (e.g. the worker and its launch).
    """
    stored = files.load_result()
    if stored is not None:
        return History.from_record(stored)
    history = train_run(config, data_root, files, progress, about, graphs)
    files.save_result(history.to_record())
    return history


def train_run(config: RunConfig, data_root, files: RunFiles | None, progress: bool, about: dict | None = None,
              graphs: bool = True) -> History:
    """Train one run, continuing after the last epoch of its checkpoint if `files` has one; return its History."""
    device = resolve_device(config.device)
    prepared = prepare_run(config, data_root, device, graphs, log=lambda line: print(f"{config.label}: {line}"))
    if files is not None and prepared.dataset.fingerprint != files.key["data_fingerprint"]:
        raise UserError(f"{config.label}: the data in {prepared.dataset.root} (fingerprint {prepared.dataset.fingerprint})"
                        f" are not those the runs in {files.result.parent} were trained on "
                        f"({files.key['data_fingerprint']}); a run trained on them would be stored under the wrong key. "
                        "Put those files in the data root, or choose another results folder.")
    environment = {**describe_environment(device), **(about or {})}
    records, resumes = [], []
    checkpoint = files.load_checkpoint() if files is not None else None
    if checkpoint is not None:
        prepared.restore(checkpoint)
        records = checkpoint["records"]
        resumes = checkpoint["resumes"] + [{"after_epoch": len(records), "device_name": environment["device_name"]}]

    def save_checkpoint(records_so_far):
        files.save_checkpoint({"model": prepared.model.state_dict(), "optimizer": prepared.optimizer.state_dict(),
                               "rng": random_state(prepared.generators, device), "records": list(records_so_far),
                               "resumes": resumes})

    conditions = timing_conditions(device, files and files.lock.parent.parent)
    records, status = train(prepared.model, prepared.optimizer, prepared.train_batches, prepared.eval_batches,
                            config.epochs, device, records=records,
                            on_epoch_end=save_checkpoint if files is not None else None,
                            progress=progress, desc=config.label, conditions=conditions, steps=prepared.steps)
    splits = prepared.splits
    return History(config=config, records=records, status=status, parameters=count_parameters(prepared.model),
                   environment={**environment, "steps": prepared.steps_record()}, resumes=resumes,
                   data={"fingerprint": prepared.dataset.fingerprint, "root": str(prepared.dataset.root),
                         "train": len(splits.train), "val": len(splits.val) if splits.val is not None else 0,
                         "test": len(splits.test)})


def run_all(configs: dict, s, progress: bool = True) -> tuple[dict, dict]:
    """Run (or load) every config of a {key: RunConfig} dict with a notebook's data and results folders.

    Returns ({key: History}, {key: reason}): the second holds the runs this machine cannot do (a GPU
    run without a GPU, a run another process is training right now), so that a notebook can say so.
    """
    histories, missing = {}, {}
    for key, config in configs.items():
        try:
            histories[key] = run(config, s.data_root, s.results_dir, progress=progress, graphs=s.graphs)
        except (DeviceUnavailable, RunInProgress) as err:
            missing[key] = str(err)
    return histories, missing


def run_arms(arms: dict[str, dict], s, progress: bool = True) -> tuple[dict[str, list], dict[str, str]]:
    """Run (or load) the seeds of each arm, {label: {seed: RunConfig}}: ({label: [History, ...]}, by seed, and
    {"label seed k": reason} for the seeds this machine cannot run, as run_all says them)."""
    runs, missing = {}, {}
    for label, seeds in arms.items():
        histories, cannot = run_all(seeds, s, progress)
        runs[label] = [histories[seed] for seed in sorted(histories)]
        missing.update({f"{label} seed {seed}": reason for seed, reason in cannot.items()})
    return runs, missing
