"""Where the plan stands: every planned run stored, partial, running, missing or waiting, and the time left.

`make status` prints `status_table(run_states(...))`; `make pdf` under full asks `check_trainable_here`
before it executes anything. Reads the results folder only: never trains.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from .cluster import format_time
from .errors import UserError
from .experiment import RunConfig, run_files
from .plan import PlannedRun, planned_runs
from .profiles import chapter_settings

# Seconds per epoch (training and evaluation) of a full-size run on a course GPU node (RTX 2080 Ti
# class, 1 CPU thread), by dataset, model, device and pipeline. GPU: the groups' reports for the
# template loader (CIFAR-10 CNN about 8 s, MNIST MLP about 10 s), also used for the resident pipeline
# (no faster, so the estimates err long). CPU: `make bench` with OMP_NUM_THREADS=1 here (MNIST MLP
# 7.3 s template, 1.9 s resident), rounded up for an older node CPU; the CNN from 35.6 s on 2 threads.
EPOCH_SECONDS = {("mnist", "mlp", "cuda", "template"): 11.0, ("mnist", "mlp", "cuda", "resident"): 11.0,
                 ("mnist", "mlp", "cpu", "template"): 12.0, ("mnist", "mlp", "cpu", "resident"): 3.0,
                 ("cifar10", "cnn", "cuda", "template"): 9.0, ("cifar10", "cnn", "cuda", "resident"): 9.0,
                 ("cifar10", "cnn", "cpu", "template"): 90.0, ("cifar10", "cnn", "cpu", "resident"): 80.0,
                 ("cifar10", "mlp", "cuda", "template"): 9.0, ("cifar10", "mlp", "cuda", "resident"): 9.0,
                 ("cifar10", "mlp", "cpu", "template"): 12.0, ("cifar10", "mlp", "cpu", "resident"): 4.0}
FULL_TRAIN_SIZE = {"mnist": 60000, "cifar10": 50000}


def estimated_epoch_seconds(config: RunConfig) -> float:
    """Estimated seconds of one epoch of the run on a course GPU node (scaled down for subsets)."""
    train_size = config.train_subset or FULL_TRAIN_SIZE[config.dataset] - config.val_size
    per_epoch = EPOCH_SECONDS[config.dataset, config.model, config.device, config.pipeline]
    return per_epoch * train_size / FULL_TRAIN_SIZE[config.dataset]


@dataclass(frozen=True)
class RunState:
    """Where one planned run stands: stored, partial (a checkpoint), running, missing or waiting."""
    run: PlannedRun
    state: str
    epochs_done: int = 0
    seconds_per_epoch: float | None = None  # measured (training and evaluation), where known

    @property
    def remaining_seconds(self) -> float:
        """Estimated seconds still to train on a course GPU node (a waiting run: like its sweep's runs)."""
        config = self.run.config or self.run.like
        if self.state == "stored" or config is None:
            return 0.0
        return (config.epochs - self.epochs_done) * (self.seconds_per_epoch or estimated_epoch_seconds(config))


def run_states(profile: str, overrides: dict | None = None, data_root=None) -> list[RunState]:
    """The state of every planned run of a profile (reads the results folder; never trains)."""
    s = chapter_settings(profile, overrides, data_root)["3.2"]
    states = []
    for planned in planned_runs(profile, overrides, data_root):
        if planned.config is None:
            states.append(RunState(planned, "waiting"))
            continue
        files = run_files(planned.config, s.data_root, s.results_dir, download_missing=False)
        record = files.load_result()
        if record is not None:
            states.append(RunState(planned, "stored", len(record["records"]), _per_epoch(record["records"])))
        elif files.is_locked():
            states.append(RunState(planned, "running"))
        else:
            checkpoint = files.load_checkpoint()
            records = checkpoint["records"] if checkpoint else []
            states.append(RunState(planned, "partial" if records else "missing", len(records), _per_epoch(records)))
    return states


def _per_epoch(records: list[dict]) -> float | None:
    if not records:
        return None
    return statistics.median(r["train_time"] + r["eval_time"] for r in records)


def status_table(states: list[RunState]) -> str:
    """The plan as a text table: run, chapters, state, time per epoch, what is still to do."""
    rows = [("run", "chapters", "state", "per epoch", "to do (course GPU)")]
    for s in states:
        epochs = s.run.config.epochs if s.run.config else None
        if s.state == "partial":
            state = f"partial at epoch {s.epochs_done}/{epochs}"
        elif s.state == "stored":
            state = f"stored ({s.epochs_done} epochs)"
        elif s.state == "waiting":
            state = f"waiting for the choice among {len(s.run.waits_on)} run(s)"
        else:
            state = s.state
        todo = "-" if s.state == "stored" else "~" + format_time(s.remaining_seconds)
        rows.append((s.run.slot, ",".join(s.run.exercises), state,
                     f"{s.seconds_per_epoch:.2f} s" if s.seconds_per_epoch else "-", todo))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    left = [s for s in states if s.state != "stored"]
    lines.append(f"\n{len(states) - len(left)} of {len(states)} runs stored; {len(left)} to do, about "
                 f"{format_time(sum(s.remaining_seconds for s in left))} of training on a course GPU"
                 + ("." if left else ". Everything is stored: make pdf renders without training."))
    return "\n".join(lines)


def check_trainable_here(profile: str, overrides: dict | None = None, data_root=None) -> None:
    """Raise a UserError naming the runs that are not stored and that this machine cannot train."""
    import torch
    states = run_states(profile, overrides, data_root)
    cannot = {s.run.slot: "being trained by another process right now" for s in states if s.state == "running"}
    if not torch.cuda.is_available():
        cannot.update({s.run.slot: "needs a GPU" for s in states if s.state in ("missing", "partial")
                       and s.run.config.device == "cuda"})
    cannot.update({s.run.slot: "waits on a choice among runs that need a GPU" for s in states
                   if s.state == "waiting" and set(s.run.waits_on) & set(cannot)})
    if cannot:
        shown = [f"{slot} ({why})" for slot, why in cannot.items()]
        more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
        flag = "" if profile == "full" else f" PROFILE={profile}"
        raise UserError(f"{len(cannot)} run(s) of profile {profile} are not stored and cannot be trained on this "
                        f"machine: {', '.join(shown[:8])}{more}. Train them on the cluster with `make sbatch{flag}` "
                        f"(progress: `make status{flag}`), then run this again. Nothing was executed.")
