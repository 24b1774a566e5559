"""SLURM, seen from the login node: the job's resources, the partition's limits, the queue, and submitit.

Every limit is a setting (make variables → `JobResources`), checked against the partition before
anything is submitted: a request beyond the partition's limits is refused here with a message,
not left pending forever by the scheduler. Submitting, the signal before the time limit, the requeue
and the per-task logs are submitit's (`slurm_executor`); the queue is read with squeue, never sacct
(which fails on clusters without accounting storage).
"""
from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .files import REPO_ROOT

# The course's job script: `--gres gpu:1 --mem 5G --cpus-per-task 1 --time 30:00 -p exercise-eml`.
COURSE_PARTITION = "exercise-eml"
LOG_DIR = REPO_ROOT / "slurm" / "logs"
WARNING_SECONDS = 120  # SIGUSR2 this long before the time limit: submitit requeues the worker, which resumes
MAX_REQUEUES = 5       # time-limit requeues of one worker; then `make sbatch` again goes on
SLURM_TIMEOUT = 60     # seconds a SLURM command may take to answer


@dataclass(frozen=True)
class JobResources:
    """What each array task asks SLURM for (the course's defaults)."""
    partition: str = COURSE_PARTITION
    time: str = "30:00"
    cpus: int = 1
    mem: str = "5G"
    gpus: int = 1
    max_parallel: int = 4

    @property
    def seconds(self) -> int:
        return parse_time(self.time)


def parse_time(text: str) -> int:
    """Seconds of a SLURM time string: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(text).strip())
    if not match:
        raise UserError(f"time {text!r} is not a SLURM time (e.g. 30:00, 1:30:00 or 0-01:30:00)")
    days, a, b, c = match.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        return ((int(days) * 24 + int(a)) * 60 + int(b or 0)) * 60 + int(c or 0)
    if c is not None:     # HH:MM:SS
        return (int(a) * 60 + int(b)) * 60 + int(c)
    if b is not None:     # MM:SS
        return int(a) * 60 + int(b)
    return int(a) * 60    # MM


def _require(command: str) -> None:
    if shutil.which(command) is None:
        raise UserError(f"{command} not found: this machine is not a SLURM login node. Train with `make results` "
                        "instead, or submit from the cluster.")


def _slurm(*args: str) -> str:
    _require(args[0])
    try:
        result = subprocess.run(list(args), capture_output=True, text=True, timeout=SLURM_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise UserError(f"{' '.join(args)} did not answer within {SLURM_TIMEOUT} s: is the SLURM controller up?") \
            from None
    if result.returncode != 0:
        raise UserError(f"{' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def partition_limits(partition: str) -> dict[str, str]:
    """The partition's settings as SLURM reports them (e.g. MaxTime, MaxCPUsPerNode, State)."""
    _require("scontrol")
    result = subprocess.run(["scontrol", "show", "partition", "--oneliner", partition], capture_output=True, text=True,
                            timeout=SLURM_TIMEOUT)
    if result.returncode != 0 or not result.stdout.strip():
        known = _slurm("sinfo", "--noheader", "--format=%R").split()
        raise UserError(f"partition {partition!r} not found; this cluster has: {', '.join(sorted(set(known))) or 'none'}. "
                        "Choose one with PARTITION=...")
    return dict(item.split("=", 1) for item in result.stdout.split() if "=" in item)


def check_resources(resources: JobResources) -> None:
    """Refuse a request the partition can never grant (it would wait in the queue forever)."""
    if resources.cpus < 1 or resources.gpus < 0 or resources.max_parallel < 1:
        raise UserError(f"CPUS and MAX_PARALLEL must be at least 1 and GPUS at least 0, got CPUS={resources.cpus}, "
                        f"MAX_PARALLEL={resources.max_parallel}, GPUS={resources.gpus}")
    if resources.seconds <= WARNING_SECONDS:
        raise UserError(f"TIME={resources.time} is too short: a task needs more than {WARNING_SECONDS} s "
                        "(it is warned that long before its limit to requeue itself)")
    limits = partition_limits(resources.partition)
    if limits.get("State", "UP") != "UP":
        raise UserError(f"partition {resources.partition} is {limits['State']}, not UP: nothing submitted")
    max_time = limits.get("MaxTime", "UNLIMITED")
    if max_time not in ("UNLIMITED", "INFINITE") and resources.seconds > parse_time(max_time):
        raise UserError(f"TIME={resources.time} exceeds partition {resources.partition}'s limit of {max_time}: "
                        f"SLURM would never start such a job. Use TIME={max_time} or less (runs resume across tasks).")
    max_cpus = limits.get("MaxCPUsPerNode", "UNLIMITED")
    if max_cpus.isdigit() and resources.cpus > int(max_cpus):
        raise UserError(f"CPUS={resources.cpus} exceeds partition {resources.partition}'s MaxCPUsPerNode={max_cpus}")


def slurm_executor(resources: JobResources, folder: Path, job_name: str, python: str):
    """A submitit executor for job arrays with these resources: one log per task in `folder`, SIGUSR2
    WARNING_SECONDS before the time limit (submitit then requeues a Checkpointable and it resumes)."""
    import submitit
    _require("sbatch")
    executor = submitit.SlurmExecutor(folder=folder, python=python, max_num_timeout=MAX_REQUEUES)
    executor.update_parameters(
        job_name=job_name, partition=resources.partition, time=resources.seconds / 60, cpus_per_task=resources.cpus,
        mem=resources.mem, signal_delay_s=WARNING_SECONDS, stderr_to_stdout=True, array_parallelism=resources.max_parallel,
        setup=[f"export OMP_NUM_THREADS={resources.cpus} PYTHONUNBUFFERED=1"],
        # srun gives its step one CPU unless told (SLURM >= 22.05 no longer passes --cpus-per-task on)
        srun_args=[f"--cpus-per-task={resources.cpus}"],
        # The time as the user wrote it (submitit would write minutes); --requeue where the cluster's default is not.
        additional_parameters={"time": resources.time, "requeue": True,
                               **({"gres": f"gpu:{resources.gpus}"} if resources.gpus else {})})
    return executor


@dataclass(frozen=True)
class QueuedJob:
    """One task of ours in SLURM's queue, as squeue shows it."""
    job_id: str       # "4711_2" for an array task
    state: str        # PENDING, RUNNING, ...
    reason: str       # why pending, or the node it runs on
    elapsed: str


def queued_jobs(job_name: str, workdir: Path) -> list[QueuedJob]:
    """This user's queued or running tasks of that job name submitted from `workdir` (squeue; never sacct)."""
    _require("squeue")
    user = os.environ.get("USER") or getpass.getuser()
    out = _slurm("squeue", "--noheader", "--array", f"--user={user}", f"--name={job_name}",
                 "--format=%i|%T|%R|%M|%Z")
    jobs = []
    for line in out.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 5 and Path(parts[4]).resolve() == Path(workdir).resolve():
            jobs.append(QueuedJob(*parts[:4]))
    return jobs
