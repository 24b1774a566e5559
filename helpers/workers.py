"""Workers: each takes the next run of the plan that nobody has stored or is training, trains it, and goes on.

The plan (helpers.plan) says which runs the report needs; the store's per-run locks (helpers.results)
decide who trains what, so any number of workers on any machines share one results folder without a
schedule: fast machines simply take more runs. A worker trains partial runs first (resuming their
checkpoints), keeps 3.2's runs together (both sides of its CPU/GPU comparison on one machine), waits
for the extra seeds of a chosen rate while the sweep they depend on is trained elsewhere, and never
starts a run it cannot do (a CUDA run without CUDA): it says so once and leaves it to a worker that can.

The same `Worker` runs on the cluster (a task of `make sbatch`'s job array) and on one machine
(`make results WORKERS=N`, through submitit's local executor); helpers.jobs starts them. It is a submitit
`Checkpointable`: near its time limit SLURM signals it, submitit requeues it, and it starts again after
the last complete epoch of its run.
"""
from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from dataclasses import dataclass

import submitit

from .environment import slurm_job, worker_log_header
from .results import RunInProgress
from .runstates import RunState, run_states, trainable_here

POLL_SECONDS = 5.0  # how often a worker with nothing to do looks at the store again


# ---------------------------------------------------------------------------------------------
# Units of work: 3.2's runs together, every other run alone
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    """Runs that one worker trains together, and where they stand."""
    runs: tuple[RunState, ...]

    @property
    def name(self) -> str:
        return self.runs[0].run.slot if len(self.runs) == 1 else f"3.2's {len(self.runs)} runs"

    @property
    def open_runs(self) -> tuple[RunState, ...]:
        """Its runs that are not stored yet."""
        return tuple(r for r in self.runs if r.state != "stored")

    @property
    def partial(self) -> bool:
        return any(r.state == "partial" for r in self.runs)

    @property
    def running(self) -> bool:
        return any(r.state == "running" for r in self.runs)

    @property
    def waiting(self) -> bool:
        return any(r.state == "waiting" for r in self.runs)


def run_device(state: RunState) -> str:
    """The device a planned run computes on (a waiting run's: that of the sweep it waits on)."""
    return (state.run.config or state.run.like).device


def work_units(states: list[RunState], devices: tuple[str, ...] | None = None) -> list[Unit]:
    """Group the plan's runs into units, in plan order: 3.2's runs one unit, every other run its own. With `devices`,
    only the runs on those devices (a worker for CPU runs takes 3.2's CPU runs as its unit)."""
    states = [s for s in states if devices is None or run_device(s) in devices]
    chapter = tuple(s for s in states if "3.2" in s.run.exercises)
    others = [Unit((s,)) for s in states if "3.2" not in s.run.exercises]
    return ([Unit(chapter)] if chapter else []) + others


def open_units(states: list[RunState], devices: tuple[str, ...] | None = None) -> list[Unit]:
    """The units with a run that is not stored: partial ones first, then in plan order."""
    units = [u for u in work_units(states, devices) if u.open_runs]
    return sorted(units, key=lambda u: not u.partial)  # stable: plan order within each group


def why_not_here(unit: Unit, cuda_available: bool) -> str | None:
    """Why this machine cannot train the unit (None if it can)."""
    if any(r.run.config is not None and not trainable_here(r.run.config, cuda_available) for r in unit.open_runs):
        return (f"needs CUDA, and this machine has none (CUDA_VISIBLE_DEVICES="
                f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}): left for a worker with a GPU")
    return None


# ---------------------------------------------------------------------------------------------
# One worker
# ---------------------------------------------------------------------------------------------

@dataclass
class WorkReport:
    """What a worker did: the runs it trained, those it left (and why), those that failed in it."""
    trained: list[str]
    left: dict[str, str]
    failed: dict[str, str]


def work(profile: str, overrides: dict | None, data_root, name: str, poll_seconds: float = POLL_SECONDS,
         log=print, launch: dict | None = None, max_units: int | None = None,
         devices: tuple[str, ...] | None = None) -> WorkReport:
    """Train runs of the plan, one unit at a time, until no run is left that this worker can do (or, with
    `max_units`, until it has trained that many units: 1 takes the first open one of the plan, 3.2's runs).

    `launch` says how the worker was started (command, resources); every run it trains records it. With `devices`
    the worker trains only the runs on those devices (e.g. 3.2's CPU runs beside a worker that trains its GPU runs).
    """
    import torch
    from .profiles import shared_settings
    s = shared_settings(profile, overrides, data_root)
    cuda = torch.cuda.is_available()
    holder = {"worker": name, **({"job": slurm_job()["job"]} if slurm_job().get("job") else {})}
    trained, failed, said, done, rereads = [], {}, set(), 0, 0
    while max_units is None or done < max_units:
        states = run_states(profile, overrides, data_root)
        units = [u for u in open_units(states, devices) if u.name not in failed]
        for unit in (u for u in units if not u.waiting and not u.running):
            reason = why_not_here(unit, cuda)
            if reason:
                if unit.name not in said:
                    log(f"{unit.name}: {reason}")
                    said.add(unit.name)
                continue
            try:
                trained += train_unit(unit, s, holder, log, {"worker": name, "launch": launch or {}})
                done += 1
            except RunInProgress:  # another worker claimed it a moment ago: look at the plan again
                pass
            except Exception as err:  # noqa: BLE001 — one unit's failure must not stop the others
                failed[unit.name] = f"{type(err).__name__}: {err}"
                log(f"{unit.name}: FAILED in this worker, left for another one\n{traceback.format_exc()}")
            break
        else:
            if any(u.running for u in units):  # others train what is left, or what the waiting runs wait on
                time.sleep(poll_seconds)
                continue
            if stale_plan(states) and rereads < 1:  # the plan was read just before another worker stored what a
                rereads += 1                         # waiting run waits on: read it again, it has resolved
                continue
            left = {u.name: why_not_here(u, cuda) or "waits on runs that no worker here can train" for u in units}
            return WorkReport(trained, left, failed)
        rereads = 0
    return WorkReport(trained, {}, failed)  # the units asked for are trained: what is left is not this worker's


def stale_plan(states: list[RunState]) -> bool:
    """True if a run still waits on runs that are all stored: the plan was read before the last of them was."""
    stored = {s.run.slot for s in states if s.state == "stored"}
    return any(s.state == "waiting" and set(s.run.waits_on) <= stored for s in states)


def train_unit(unit: Unit, s, holder: dict, log, about: dict) -> list[str]:
    """Claim every open run of the unit (RunInProgress if another process holds one), train them; return
    the stems of the runs trained."""
    from .experiment import lock_holder, resolve_device, run_files, train_claimed
    trained = []
    with contextlib.ExitStack() as claims:
        runs = [(r.run.config, run_files(r.run.config, s.data_root, s.results_dir, download_missing=False))
                for r in unit.open_runs]
        for config, files in runs:
            claims.enter_context(files.locked(lock_holder(config, resolve_device(config.device), **holder)))
        for config, files in runs:
            if files.load_result() is not None:  # stored by another worker just before we claimed it
                continue
            log(f"{config.stem}: training {config.label}")
            history = train_claimed(config, files, s.data_root, about=about, graphs=s.graphs)
            log(f"{config.stem}: {history.status}, {len(history.records)} epochs, test accuracy "
                f"{history.records[-1]['test_accuracy']:.4f}"
                + (f", resumed after epoch {history.resumes[-1]['after_epoch']}" if history.resumes else ""))
            trained.append(config.stem)
    return trained


class Worker(submitit.helpers.Checkpointable):
    """One worker as a submitit job: `Worker(profile, overrides, data_root)()` trains until nothing is left.

    Its only state is its arguments: what it has done is in the store, so a requeued worker simply starts again.
    """

    def __init__(self, profile: str, overrides: dict | None = None, data_root: str | None = None,
                 threads: int | None = None, index: int = 0, poll_seconds: float = POLL_SECONDS,
                 launch: dict | None = None, max_units: int | None = None, devices: tuple[str, ...] | None = None,
                 cores: list[int] | None = None):
        # Wherever SLURM or a requeue starts it, a relative data root stays the submitter's.
        self.profile, self.overrides = profile, overrides or {}
        self.data_root = os.path.abspath(data_root) if data_root else None
        self.threads, self.index, self.poll_seconds, self.launch = threads, index, poll_seconds, launch or {}
        self.max_units = max_units  # stop after this many units (None: when nothing is left)
        self.devices = tuple(devices) if devices else None  # train only runs on these devices (None: any)
        self.cores = list(cores) if cores else None  # run on these cores of the machine (None: as started)

    @property
    def name(self) -> str:
        """The array task on a cluster ("4711_2"; a job of one worker is no array: "4711"), else "local N"."""
        slurm = slurm_job()
        if slurm.get("array_job"):
            return f"{slurm['array_job']}_{slurm.get('array_task', '0')}"
        return slurm.get("job") or f"local {self.index}"

    def __call__(self) -> dict:
        import torch
        # scancel (and a node going down) sends SIGTERM, then SIGKILL after a grace time: stop at once, the
        # run keeps its last complete epoch. (submitit would let the run go on until the SIGKILL.)
        signal.signal(signal.SIGTERM, _stop)
        if self.cores:  # its own cores (a loader process it starts inherits them): side by side, not sharing
            os.sched_setaffinity(0, self.cores)
        if self.threads:  # on one machine its share of the cores; on SLURM the job's OMP_NUM_THREADS (its CPUS)
            torch.set_num_threads(self.threads)
        print(worker_log_header(self.name) + (f"\nTrains only {' and '.join(self.devices)} runs." if self.devices else "")
              + (f" On cores {self.cores[0]}-{self.cores[-1]}." if self.cores else ""), flush=True)
        report = work(self.profile, self.overrides, self.data_root, self.name, self.poll_seconds,
                      log=lambda line: print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True), launch=self.launch,
                      max_units=self.max_units, devices=self.devices)
        print(f"worker {self.name}: trained {len(report.trained)} run(s)"
              + "".join(f"\n  left {slot}: {why}" for slot, why in report.left.items())
              + "".join(f"\n  failed {slot}: {why}" for slot, why in report.failed.items()), flush=True)
        if report.failed or report.left:
            raise SystemExit(1)  # the task's exit status says that it did not finish the plan
        return {"trained": report.trained}


def _stop(signum, frame):
    print(f"[{time.strftime('%H:%M:%S')}] stopped by SIGTERM (scancel): a run cut off resumes after its last "
          "complete epoch", flush=True)
    raise SystemExit(128 + signum)
