"""Where each planned run stands: stored, partial (a checkpoint), running (locked by a process), missing, or waiting for
the choice it depends on; with the time per epoch it took or will take. Reads the results folder only: never trains.

What is left is estimated per run from the epochs already measured: the run's own (a partial run), else the stored
runs of the same kind (dataset, model, device, pipeline) per training image, else helpers.estimates' figures for a
course GPU node.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .estimates import built_in_epoch_seconds, kind, train_size
from .experiment import RunConfig, run_files
from .plan import PlannedRun, planned_runs
from .profiles import shared_settings


@dataclass(frozen=True)
class RunState:
    """Where one planned run stands: stored, partial (a checkpoint), running, missing or waiting."""
    run: PlannedRun
    state: str
    epochs_done: int = 0
    seconds_per_epoch: float | None = None  # measured on this run (training and evaluation), where known
    estimate: float | None = None           # per epoch from other runs of its kind, where there are any
    holder: dict = field(default_factory=dict)  # who trains it (a running run)

    @property
    def config(self) -> RunConfig | None:
        """The run's config, or for a waiting run its sweep's (same data and epochs)."""
        return self.run.config or self.run.like

    @property
    def per_epoch(self) -> float:
        """Seconds per epoch: measured on the run, else on runs of its kind, else built in."""
        return self.seconds_per_epoch or self.estimate or built_in_epoch_seconds(self.config)

    @property
    def remaining_seconds(self) -> float:
        """Estimated seconds still to train (0 for a stored run)."""
        if self.state == "stored" or self.config is None:
            return 0.0
        return (self.config.epochs - self.epochs_done) * self.per_epoch


def trainable_here(config, cuda_available: bool) -> bool:
    """True if this machine can train a run of this config: a CUDA run needs CUDA, a CPU run any machine."""
    return config.device != "cuda" or cuda_available


def run_states(profile: str, overrides: dict | None = None, data_root=None) -> list[RunState]:
    """The state of every planned run of a profile (reads the results folder; never trains)."""
    s = shared_settings(profile, overrides, data_root)
    states = []
    for planned in planned_runs(profile, overrides, data_root):
        if planned.config is None:
            states.append(RunState(planned, "waiting"))
            continue
        files = run_files(planned.config, s.data_root, s.results_dir, download_missing=False)
        record = files.load_result()
        if record is not None:
            states.append(RunState(planned, "stored", len(record["records"]), measured_epoch_seconds(record["records"])))
        elif files.is_locked():
            states.append(RunState(planned, "running", holder=files.holder()))
        else:
            checkpoint = files.load_checkpoint()
            records = checkpoint["records"] if checkpoint else []
            states.append(RunState(planned, "partial" if records else "missing", len(records), measured_epoch_seconds(records)))
    return with_estimates(states)


def measured_epoch_seconds(records: list[dict]) -> float | None:
    """The median time of the epochs that no other run shared the device with (all epochs if none)."""
    alone = [r for r in records if not (r.get("conditions") or {}).get("sharing")] or records
    return statistics.median(r["train_time"] + r["eval_time"] for r in alone) if alone else None


def with_estimates(states: list[RunState]) -> list[RunState]:
    """The states with per-epoch estimates from the measured runs of the same kind (per training image)."""
    per_image: dict[tuple, list[float]] = {}
    for s in states:
        if s.seconds_per_epoch and s.run.config is not None:
            per_image.setdefault(kind(s.run.config), []).append(s.seconds_per_epoch / train_size(s.run.config))
    rates = {k: statistics.median(v) for k, v in per_image.items()}
    return [RunState(s.run, s.state, s.epochs_done, s.seconds_per_epoch,
                     rates[kind(s.config)] * train_size(s.config) if s.config and kind(s.config) in rates else None,
                     s.holder)
            for s in states]


