"""Workers on this machine: `make results WORKERS=N`, `make pdf` when it has to train, and a GPU machine's session.

`train_here` starts the workers (helpers.workers) through submitit's local executor, shows their logs as they grow,
and stops them all on Ctrl-C or at a deadline: the runs they trained keep their last complete epoch. Which runs go
first is a policy (`FIRST`): all workers at once; 3.2's runs by one worker alone on the machine, so that the times
its chapter compares are its own; or 3.2's CPU runs and GPU runs side by side on two halves of the machine's cores,
each alone on its device, where the machine has cores enough.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import submitit
import torch

from .environment import usable_cores
from .errors import UserError
from .runstates import run_states
from .workers import Worker, open_units, why_not_here

FIRST = {"together": "every worker at once",
         "alone": "3.2's runs first, by one worker alone on the machine, then the workers on the rest",
         "side-by-side": "3.2's CPU runs and GPU runs first, by two workers on disjoint halves of the cores (each alone "
                         "on its device), then the workers on the rest"}


class OutOfTime(UserError):
    """The deadline came before the workers were done: they were stopped, their runs keep their complete epochs."""


def local_gpus() -> list[int]:
    """The GPU indices this process may use (as CUDA_VISIBLE_DEVICES lists them), for the workers it starts."""
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if visible and all(v.isdigit() for v in visible):
        return [int(v) for v in visible][:torch.cuda.device_count()]
    return list(range(torch.cuda.device_count()))


def threads_each(workers: int, cores: int) -> int:
    """Torch threads for each of `workers` workers sharing `cores` cores (never more than OMP_NUM_THREADS, if set)."""
    threads = max(1, cores // workers)
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():  # the user's own limit, where set
        threads = max(1, min(threads, int(os.environ["OMP_NUM_THREADS"])))
    return threads


def first_workers(first: str, profile: str, overrides, data_root, launch: dict) -> list[Worker]:
    """The workers that train before the rest, by the policy `first` (none for "together")."""
    if first == "alone":
        return [Worker(profile, overrides, data_root, threads_each(1, len(usable_cores())), 0, launch=launch,
                       max_units=1)]
    if first == "side-by-side":
        cores = usable_cores()
        halves = (cores[:len(cores) // 2], cores[len(cores) // 2:])
        if not all(halves):
            raise UserError(f"side by side needs two cores at least; this process may use {len(cores)}")
        return [Worker(profile, overrides, data_root, threads_each(1, len(half)), index, launch=launch, max_units=1,
                       devices=(device,), cores=half) for index, (device, half) in enumerate(zip(("cpu", "cuda"), halves))]
    if first != "together":
        raise UserError(f"unknown order {first!r}; choose one of: {', '.join(FIRST)}")
    return []


def train_here(profile: str, overrides: dict | None, data_root, workers: int, log_dir: Path,
               command: str = "make results", first: str = "together", deadline: float | None = None) -> int:
    """Train what the plan still needs with `workers` workers on this machine (after the `first` ones, see FIRST);
    return how many were started. They share its GPUs or cores (each gets cores / workers threads); their logs are
    shown here as they grow. Ctrl-C, or the `deadline` (time.monotonic()), stops every worker (OutOfTime)."""
    launch = {"command": command, "workers": workers, **({"first": first} if first != "together" else {})}
    started = 0
    for phase in ("first", "rest"):
        units = [u for u in open_units(run_states(profile, overrides, data_root))
                 if not why_not_here(u, torch.cuda.is_available())]
        if not units:
            return started  # everything stored, or only runs this machine cannot do: the notebooks say what is missing
        if phase == "first":  # only while 3.2 has runs to train
            chapter = any("3.2" in r.run.exercises for u in units for r in u.open_runs)
            team = first_workers(first, profile, overrides, data_root, launch) if chapter else []
        else:
            count = min(workers, len(units))
            team = [Worker(profile, overrides, data_root, threads_each(count, len(usable_cores())), index, launch=launch)
                    for index in range(count)]
        if team:
            print(f"[{profile}] {len(team)} worker(s) on this machine{' first' if phase == 'first' else ''}, "
                  f"{team[0].threads} thread(s) each, for {len(units)} unit(s) of runs; logs in {log_dir}", flush=True)
            run_workers(team, log_dir, deadline)
            started += len(team)
    return started


def run_workers(team: list[Worker], log_dir: Path, deadline: float | None = None) -> None:
    """Start the workers through submitit's local executor and follow them until every one has ended."""
    gpus = local_gpus()
    executor = submitit.LocalExecutor(folder=log_dir)
    # No time limit on one machine; the GPUs this process sees are the workers' too (submitit would hide them).
    executor.update_parameters(timeout_min=60 * 24 * 365, gpus_per_node=len(gpus), visible_gpus=gpus,
                               stderr_to_stdout=True)
    with stdio_into(log_dir / "controllers.log"):  # submitit's controller processes: their messages, not the user's
        jobs = executor.submit_array(team)
    try:
        if not follow(jobs, deadline=deadline):
            stop(jobs)
            raise OutOfTime("stopped at the deadline: every worker has ended; a run that was cut off resumes after "
                            "its last complete epoch")
    except KeyboardInterrupt:
        stop(jobs)
        raise UserError("stopped: every worker has ended; a run that was cut off resumes after its last complete "
                        "epoch when you start again") from None


@contextlib.contextmanager
def stdio_into(path: Path):
    """Point this process's stdout and stderr file descriptors at a file for the block (the processes it
    starts meanwhile inherit them), then back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def follow(jobs, interval: float = 0.5, out=None, deadline: float | None = None) -> bool:
    """Print the workers' log lines as they are written, prefixed by worker, until every worker has ended (True) or
    the deadline (time.monotonic()) has come (False).

    The logs keep everything; the terminal is spared submitit's INFO lines and a warning that another worker
    (or this process) already showed, with the source line Python prints under it.
    """
    out = out or sys.stdout  # as it is now (a session may have redirected it)
    offsets = [0] * len(jobs)
    shown, after_repeated_warning = set(), False
    while True:
        done = [job.done() for job in jobs]
        for index, job in enumerate(jobs):
            path = Path(job.paths.stdout)
            if not path.exists():
                continue
            with open(path, "rb") as f:
                f.seek(offsets[index])
                chunk = f.read()
            if not all(done):  # keep a line that is still being written for the next round
                chunk = chunk[:chunk.rfind(b"\n") + 1]
            offsets[index] += len(chunk)
            for line in chunk.decode(errors="replace").splitlines():
                repeated = "Warning: " in line and line in shown
                if line.strip() and not line.startswith("submitit INFO") and not repeated \
                        and not (after_repeated_warning and line.startswith("  ")):
                    out.write(f"[worker {index}] {line}\n")
                shown.add(line)
                after_repeated_warning = repeated or (after_repeated_warning and line.startswith("  "))
        out.flush()
        if all(done):
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def stop(jobs, grace: float = 30.0) -> None:
    """Stop every local worker (SIGINT, then what submitit's controller sends) and wait for them to end."""
    for job in jobs:
        job.cancel(check=False)
    deadline = time.monotonic() + grace
    for job in jobs:
        process = getattr(job, "_process", None)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
