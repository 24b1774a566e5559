"""What a training run is: its configuration (RunConfig, the key of its stored result with the data's fingerprint)
and its history (History: one record per epoch, the machine, how it was computed). Validated where they are made."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone

from . import data as datamod
from . import pipelines
from .errors import UserError
from .training import optimizer_class

DEVICES = ("cpu", "cuda")


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
