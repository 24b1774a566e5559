"""Where the plan stands: every planned run stored, partial, running, missing or waiting, and the time left.

`make status` prints `status_table(run_states(...))` (and the workers in SLURM's queue); `make pdf` under
full asks `check_trainable_here` before it executes anything. Reads the results folder only: never trains.

What is left is estimated per run from the epochs already measured: the run's own (a partial run),
else the stored runs of the same kind (dataset, model, device, pipeline) per training image, else the
built-in figures below.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .cluster import format_time
from .data import OFFICIAL_SIZES
from .errors import UserError
from .experiment import RunConfig, run_files
from .howto import plan_command
from .plan import PlannedRun, planned_runs
from .profiles import PROFILES, shared_settings
from .results import describe_holder

# Seconds per epoch (training and evaluation) of a run of the full profile (EPOCH_IMAGES) on a course GPU node
# (RTX 2080 Ti, one EPYC 7351P core per task), by dataset, model, device and pipeline; used only where no run of
# that kind is stored yet. The model from measurements to these figures is helpers.estimates'; what went into it:
# - CPU, and the template's loader: measured with the course's torch 1.13.1 on one core of a Zen 5 EPYC (a
#   2-core machine), times COURSE_CORE_SLOWDOWN = 2 (assumed) for the course's Zen 1 core. `python -m
#   helpers.calibrate --cpu-only --epochs 3` on real MNIST-format data (Fashion-MNIST): the MLP 5.88 s template,
#   3.01 s resident; the loader of a CUDA template run (a loader process beside the training one, both on the one
#   core) 3.77 s. `--device cpu --epochs 2 --scale 0.1` on the CIFAR-10 copy: the CNN 52.8 s (Adam, the slowest;
#   SGD 48.5 s), the MLP 8.15 s per full-size epoch; its loader 3.45 s. torch 2.14 took 0.5-0.9x these times on
#   the same core (2026-11-26: 4.27 s, 1.62 s, loader 3.43 s), so a calibration's CPU rows with torch 2.x
#   understate the course's.
# - CUDA, resident: measured on a lent NVIDIA H100 80GB HBM3 (torch 2.11, CUDA 13.0; 2026-11-26, slurm/gpu-session.sh,
#   `python -m helpers.calibrate`, each kind alone on one core of its Xeon host): full-size epochs of 1.05 s (MNIST
#   MLP), 1.39 s (CNN, Adam, the slowest; SGD 1.36 s) and 0.82 s (CIFAR-10 MLP), each bound by the host's Python
#   and kernel launches (the CNN's arithmetic, 5.2 TFLOP an epoch, is about 0.23 s of it at a third of the H100's
#   fp32 peak, 1.2 s on the RTX 2080 Ti). Times 2 here: that host's core took 1.5-2.5x the Zen 5's time for the
#   same torch 2.x work (the calibrations above), so it stands about where a Zen 1 core does, and the 2 covers
#   torch 1.13's host overhead instead (up to 2x torch 2.x's on the CPU). Hence 2.10, 2.78 and 1.63 s.
# - CUDA, template: the loader on the course's core (2 x the Zen 5 figures above: MNIST 7.54 s, CIFAR-10 6.90 s)
#   plus the resident figure, the two processes sharing the core. (The H100 host's own loader took 8.59 s with
#   torch 2.11: calibrate's proposal, 2 x 8.59 s + 2.10 s, counts that slow core's slowness twice.)
# - CPU, template, CIFAR-10 (in no plan unless overridden; not measured): the resident figure plus the loader's.
EPOCH_SECONDS = {("mnist", "mlp", "cuda", "template"): 9.64, ("mnist", "mlp", "cuda", "resident"): 2.10,
                 ("mnist", "mlp", "cpu", "template"): 11.8, ("mnist", "mlp", "cpu", "resident"): 6.0,
                 ("cifar10", "cnn", "cuda", "template"): 9.68, ("cifar10", "cnn", "cuda", "resident"): 2.78,
                 ("cifar10", "cnn", "cpu", "template"): 113.0, ("cifar10", "cnn", "cpu", "resident"): 106.0,
                 ("cifar10", "mlp", "cuda", "template"): 8.53, ("cifar10", "mlp", "cuda", "resident"): 1.63,
                 ("cifar10", "mlp", "cpu", "template"): 23.2, ("cifar10", "mlp", "cpu", "resident"): 16.3}
# The images a full-profile epoch trains on and evaluates: 3.2's MNIST runs hold nothing out; the CIFAR-10 runs
# hold out the profile's validation split (5,000 of the 50,000), evaluated with the 10,000 test images.
_HELD_OUT = {"mnist": 0, "cifar10": PROFILES["full"]["3.3"]["val_size"]}
EPOCH_IMAGES = {name: (n_train - _HELD_OUT[name], n_test + _HELD_OUT[name])
                for name, (n_train, n_test) in OFFICIAL_SIZES.items()}


def train_size(config: RunConfig) -> int:
    """The number of training images of a run (its subset, or the training set less the validation split)."""
    return config.train_subset or OFFICIAL_SIZES[config.dataset][0] - config.val_size


def kind(config: RunConfig) -> tuple[str, str, str, str]:
    """Runs of one kind take the same time per training image: dataset, model, device, pipeline."""
    return config.dataset, config.model, config.device, config.pipeline


def built_in_epoch_seconds(config: RunConfig) -> float:
    """The built-in estimate of one epoch of the run on a course GPU node (scaled down for subsets)."""
    return EPOCH_SECONDS[kind(config)] * train_size(config) / EPOCH_IMAGES[config.dataset][0]


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
            states.append(RunState(planned, "stored", len(record["records"]), _per_epoch(record["records"])))
        elif files.is_locked():
            states.append(RunState(planned, "running", holder=files.holder()))
        else:
            checkpoint = files.load_checkpoint()
            records = checkpoint["records"] if checkpoint else []
            states.append(RunState(planned, "partial" if records else "missing", len(records), _per_epoch(records)))
    return with_estimates(states)


def _per_epoch(records: list[dict]) -> float | None:
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


def status_table(states: list[RunState], queue: list | None = None) -> str:
    """The plan as a text table (run, chapters, state, time per epoch, what is still to do), and the workers."""
    rows = [("run", "chapters", "state", "per epoch", "to do")]
    for s in states:
        epochs = s.run.config.epochs if s.run.config else None
        state = {"partial": f"partial at epoch {s.epochs_done}/{epochs}", "stored": f"stored ({s.epochs_done} epochs)",
                 "waiting": f"waiting for the choice among {len(s.run.waits_on)} run(s)",
                 "running": f"running ({describe_holder(s.holder)})" if s.holder else "running"}.get(s.state, s.state)
        per_epoch = (f"{s.seconds_per_epoch:.2f} s" if s.seconds_per_epoch else f"~{s.per_epoch:.2f} s"
                     + ("" if s.estimate else "*"))
        todo = "-" if s.state == "stored" else "~" + format_time(s.remaining_seconds)
        rows.append((s.run.slot, ",".join(s.run.exercises), state, per_epoch, todo))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    left = [s for s in states if s.state != "stored"]
    built_in = [s for s in left if not (s.seconds_per_epoch or s.estimate)]
    lines.append(f"\n{len(states) - len(left)} of {len(states)} runs stored; {len(left)} to do, about "
                 f"{format_time(sum(s.remaining_seconds for s in left))} of training"
                 + ("." if left else ". Everything is stored: make pdf renders without training."))
    if left:
        lines.append("Times are measured where this run or stored runs of its kind have epochs"
                     + (f"; * marks the built-in figures for a course GPU node ({len(built_in)} run(s))."
                        if built_in else "."))
    if queue is not None:
        lines.append(workers_line(queue))
    return "\n".join(lines)


def workers_line(queue: list) -> str:
    """The workers in SLURM's queue (from squeue), one phrase each, and the runs the running ones hold."""
    if not queue:
        return "Workers in SLURM's queue: none."
    return f"Workers in SLURM's queue: {len(queue)}: " + "; ".join(
        f"{job.job_id} {job.state.lower()}" + (f" on {job.reason}" if job.state == "RUNNING" else f" ({job.reason})")
        for job in queue) + "."


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
        from .datakeys import other_data_hint
        s = shared_settings(profile, overrides, data_root)
        hint = other_data_hint(dict.fromkeys(st.config.dataset for st in states), s.data_root, s.results_dir)
        shown = [f"{slot} ({why})" for slot, why in cannot.items()]
        more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
        raise UserError(f"{len(cannot)} run(s) of profile {profile} are not stored and cannot be trained on this "
                        f"machine: {', '.join(shown[:8])}{more}. Train them on the cluster with "
                        f"`{plan_command('sbatch', profile, overrides, data_root)}` (progress: "
                        f"`{plan_command('status', profile, overrides, data_root)}`), then run this again. "
                        "Nothing was executed." + (f" Note: {hint}" if hint else ""))
