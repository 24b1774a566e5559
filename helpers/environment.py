"""What a result was measured on: hardware and library versions, recorded next to every number."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torchvision


def cpu_model() -> str:
    """Return the CPU's model name (from /proc/cpuinfo where there is one)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    """Return a human name of the device: the GPU's name, or the CPU model and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"{cpu_model()}, {threads} thread{'s' if threads != 1 else ''}"


def describe_environment(device: torch.device | None = None) -> dict:
    """Return the hardware and library versions of this process (and of the device, if given)."""
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "cpu_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "executable": sys.executable,
    }
    if device is not None:
        env.update(device=device.type, device_name=device_name(device))
        if device.type == "cuda":
            env["tf32"] = bool(torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32)
    slurm = slurm_job()
    if slurm:
        env["slurm"] = slurm
    return env


def slurm_job() -> dict:
    """The SLURM job this process runs in (job, partition, CPUs, restarts), {} outside SLURM."""
    names = {"job": "SLURM_JOB_ID", "array_job": "SLURM_ARRAY_JOB_ID", "array_task": "SLURM_ARRAY_TASK_ID",
             "partition": "SLURM_JOB_PARTITION", "cpus_per_task": "SLURM_CPUS_PER_TASK",
             "restarts": "SLURM_RESTART_COUNT", "node": "SLURMD_NODENAME"}
    return {key: os.environ[var] for key, var in names.items() if os.environ.get(var)}


# ---------------------------------------------------------------------------------------------
# What else used the machine: the conditions an epoch was timed under
# ---------------------------------------------------------------------------------------------

def usable_cores() -> list[int]:
    """The CPU cores this process may run on (a SLURM task's allocation, or the whole machine)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def device_identity(device: torch.device) -> dict:
    """Where a run computes: the host, the device type and which GPU, or which CPU cores."""
    identity = {"host": platform.node(), "device": device.type}
    if device.type == "cuda":
        uuid = getattr(torch.cuda.get_device_properties(device), "uuid", None)  # torch >= 2.0
        identity["gpu"] = gpu_identity(device.index or 0, uuid)
    else:
        identity["cpus"] = usable_cores()
    return identity


def gpu_identity(index: int, uuid=None) -> str:
    """Which GPU of its host a process computes on: its UUID (torch >= 2.0), else the host's index of the GPU
    that SLURM gave the job (each job of a node may see its own GPU as CUDA device 0), else CUDA's numbering."""
    if uuid:
        return str(uuid)
    allocated = (os.environ.get("SLURM_STEP_GPUS") or os.environ.get("SLURM_JOB_GPUS") or "").split(",")
    if index < len(allocated) and allocated[index].strip():
        return f"node GPU {allocated[index].strip()}"
    return f"{os.environ.get('CUDA_VISIBLE_DEVICES', '')}#{index}"


def shares_device(a: dict, b: dict) -> bool:
    """True if two device identities compute on the same GPU, or on overlapping CPU cores of one host."""
    if a.get("host") != b.get("host") or a.get("device") != b.get("device"):
        return False
    if a.get("device") == "cuda":
        return a.get("gpu") == b.get("gpu")
    return bool(set(a.get("cpus") or ()) & set(b.get("cpus") or ()))


def process_alive(pid) -> bool:
    """True if a process of this host with that id exists."""
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:  # exists, but belongs to someone else
        return True
    return True


def load_average() -> float | None:
    """The host's load average over the last minute (runnable processes), None where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def timing_conditions(device: torch.device, results_root: Path | None):
    """A function that tells what else uses the machine now: how many other processes train runs on this
    run's device (from the lock files of the results folders under results_root, on this host), and the
    host's load average."""
    from .results import lock_holders
    mine = device_identity(device)

    def now() -> dict:
        others = {h.get("pid") for h in (lock_holders(results_root) if results_root else [])
                  if h.get("pid") != os.getpid() and shares_device(mine, h) and process_alive(h.get("pid"))}
        return {"sharing": len(others), "load": load_average(), "cores": os.cpu_count()}
    return now


def worker_log_header(name: str) -> str:
    """The first lines of a worker's log: where it runs, with which GPU, CPU, threads and library versions."""
    env = describe_environment()
    slurm = env.get("slurm", {})
    where = (f"job {slurm.get('job', '?')} (restart {slurm.get('restarts', 0)}), partition "
             f"{slurm.get('partition', '?')}, {slurm.get('cpus_per_task', '?')} CPU(s)" if slurm else "no SLURM")
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30).stdout.strip() or "none"
    except (OSError, subprocess.SubprocessError):
        gpu = "nvidia-smi: not available on this node"
    ids = os.environ.get("SLURM_STEP_GPUS") or os.environ.get("SLURM_JOB_GPUS")
    given = int(os.environ.get("SLURM_GPUS_ON_NODE") or 0) or (len(ids.split(",")) if ids else 0)
    unusable = (f"\nWARNING: SLURM gave this task {given} GPU(s), but this torch sees no CUDA: it trains CPU runs only "
                "and leaves the GPU runs to other workers. Is PY the course env's Python (PY=.venv-course/bin/python), "
                "whose torch matches the node's driver?" if given and not env["cuda_available"] else "")
    return (f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} worker {name} on {platform.node()}: {where}\n"
            f"GPU: {gpu}\nCPU: {env['cpu_model']}, {env['cpu_threads']} torch thread(s); Python {env['python']}, "
            f"torch {env['torch']} (CUDA {env['cuda_version']}), torchvision {env['torchvision']}, numpy {env['numpy']}"
            + unusable)

