"""SLURM, seen from the login node: the job's resources, the partition's limits, and sbatch.

Every limit is a setting (make variables → `JobResources`), checked against the partition before
anything is submitted: a request beyond the partition's limits is refused here with a message,
not left pending forever by the scheduler.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

# The course's job script: `--gres gpu:1 --mem 5G --cpus-per-task 1 --time 30:00 -p exercise-eml`.
COURSE_PARTITION = "exercise-eml"
JOB_SCRIPT = Path(__file__).resolve().parents[1] / "slurm" / "task.sbatch"
LOG_DIR = Path(__file__).resolve().parents[1] / "slurm" / "logs"
WARNING_SECONDS = 120  # SIGUSR1 this long before the time limit: the task requeues itself and resumes


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


def format_time(seconds: float) -> str:
    """A duration as H:MM:SS (or M:SS under an hour)."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _require(command: str) -> None:
    if shutil.which(command) is None:
        raise UserError(f"{command} not found: this machine is not a SLURM login node. Train with `make results` "
                        "instead, or submit from the cluster.")


def _slurm(*args: str) -> str:
    _require(args[0])
    result = subprocess.run(list(args), capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"{' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def partition_limits(partition: str) -> dict[str, str]:
    """The partition's settings as SLURM reports them (e.g. MaxTime, MaxCPUsPerNode, State)."""
    _require("scontrol")
    result = subprocess.run(["scontrol", "show", "partition", "--oneliner", partition], capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout.strip():
        known = subprocess.run(["sinfo", "--noheader", "--format=%R"], capture_output=True, text=True).stdout.split()
        raise UserError(f"partition {partition!r} not found; this cluster has: {', '.join(sorted(set(known))) or 'none'}. "
                        "Choose one with PARTITION=...")
    return dict(item.split("=", 1) for item in result.stdout.split() if "=" in item)


def check_resources(resources: JobResources) -> None:
    """Refuse a request the partition can never grant (it would wait in the queue forever)."""
    limits = partition_limits(resources.partition)
    max_time = limits.get("MaxTime", "UNLIMITED")
    if max_time not in ("UNLIMITED", "INFINITE") and resources.seconds > parse_time(max_time):
        raise UserError(f"TIME={resources.time} exceeds partition {resources.partition}'s limit of {max_time}: "
                        f"SLURM would never start such a job. Use TIME={max_time} or less (runs resume across tasks).")
    if resources.seconds <= WARNING_SECONDS:
        raise UserError(f"TIME={resources.time} is too short: a task needs more than {WARNING_SECONDS} s "
                        "(it is warned that long before its limit to requeue itself)")
    max_cpus = limits.get("MaxCPUsPerNode", "UNLIMITED")
    if max_cpus.isdigit() and resources.cpus > int(max_cpus):
        raise UserError(f"CPUS={resources.cpus} exceeds partition {resources.partition}'s MaxCPUsPerNode={max_cpus}")
    if resources.cpus < 1 or resources.gpus < 0 or resources.max_parallel < 1:
        raise UserError("CPUS and MAX_PARALLEL must be at least 1, GPUS at least 0")
    if limits.get("State", "UP") != "UP":
        raise UserError(f"partition {resources.partition} is {limits['State']}, not UP")


def sbatch_array(resources: JobResources, tasks: int, job_name: str, script_args: list[str],
                 environment: dict[str, str], after: str | None = None) -> str:
    """Submit a job array of `tasks` tasks running slurm/task.sbatch; return its job id."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    args = ["sbatch", "--parsable", f"--job-name={job_name}", f"--partition={resources.partition}",
            f"--time={resources.time}", f"--cpus-per-task={resources.cpus}", f"--mem={resources.mem}",
            f"--array=0-{tasks - 1}%{resources.max_parallel}",
            # SLURM's own messages (e.g. a time-limit kill); each task logs itself to a file named by its run.
            f"--output={LOG_DIR}/%x_%A_%a.slurm", "--open-mode=append",
            f"--signal=B:USR1@{WARNING_SECONDS}", "--requeue",
            "--export=ALL," + ",".join(f"{k}={v}" for k, v in environment.items())]
    if resources.gpus:
        args.append(f"--gres=gpu:{resources.gpus}")
    if after:
        # afterany: a failed task of the first array must not leave the second waiting forever;
        # its tasks then say which runs they are missing.
        args += [f"--dependency=afterany:{after}", "--kill-on-invalid-dep=yes"]
    return _slurm(*args, str(JOB_SCRIPT), *script_args).strip().split(";")[0]
