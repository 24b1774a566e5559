"""A GPU machine's session: what needs a GPU (the self-check, the calibration, the training of the full profile) on
a machine that has one but no internet, gets only the repository and a carried folder, and has a time limit; then
its results here.

    python -m helpers.gpu_session carry --copies DIR [--mnist DIR] [--data-root DIR]    here, before: fills .carry/
    python -m helpers.gpu_session run [--steps data,check,calibrate,train] [--limit SECONDS] [--workers 4]
        [--first side-by-side] [--overrides JSON] [--out DIR] [--device cuda] [--calibrate cuda]      there
    python -m helpers.gpu_session unpack ARCHIVE                                         here, after: the results

`run` times each step, writes its tables and its log into --out, and always packs one archive there,
gpu-session.tar.gz (the full profile's results, no checkpoints or locks; the workers' logs; the session's files),
also after a failed step. Training stops where --limit (seconds, from the session's start) leaves STOP_RESERVE for
stopping the workers and packing; a run cut off keeps its last complete epoch for the next session on that machine.
Training is skipped when the data differ from those written here (its results would have other keys).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .carry import DEBIAN_MNIST, compare_data, data_sums, importable_workers, make_carry, write_data
from .errors import run_command
from .files import REPO_ROOT
from .profiles import parse_overrides, results_root

STEPS = ("data", "check", "calibrate", "train")
STOP_RESERVE = 45  # seconds the train step leaves of --limit: stopping the workers (30 s at most), then packing
SESSION_FILES = ("session.log", "gpucheck.txt", "calibration.txt", "calibration.json", "data.sha256", "data-check.txt")


@dataclass
class Session:
    """One session's settings, and when it started."""
    out: Path
    carry: Path
    data_root: Path
    device: str = "cuda"
    workers: int = 4
    first: str = "side-by-side"
    overrides: dict = field(default_factory=dict)
    calibrate: str = "cuda"
    cal_epochs: int = 3
    cal_scale: float = 1.0
    limit: float | None = None
    started: float = field(default_factory=time.monotonic)
    started_wall: float = field(default_factory=time.time)

    def seconds_left(self) -> float | None:
        return None if self.limit is None else self.started + self.limit - time.monotonic()


class Tee:
    """stdout and the session's log at once."""

    def __init__(self, stream, log: Path):
        self.stream, self.log = stream, open(log, "a", encoding="utf-8")

    def write(self, text: str) -> int:
        self.log.write(text)
        self.log.flush()
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


def stream(argv: list[str], into: Path) -> int:
    """Run a command, printing its output as it comes and writing it into a file; return its exit status."""
    with open(into, "w", encoding="utf-8") as file, subprocess.Popen(
            argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            file.write(line)
    return process.returncode


# ---------------------------------------------------------------------------------------------
# The steps, each returning its result: "ok", or what went otherwise
# ---------------------------------------------------------------------------------------------

def step_data(s: Session) -> str:
    if not (s.carry / "data.sha256").exists():
        print(f"no {s.carry / 'data.sha256'}: make the carry where you render (make gpu-carry), and carry {s.carry}")
        return "FAILED (no carry)"
    if data_sums(s.data_root) == (s.carry / "data.sha256").read_text():
        print(f"{s.data_root} already holds the datasets")
    else:
        write_data(s.carry, s.data_root)
    (s.out / "data.sha256").write_text(data_sums(s.data_root))
    same, text = compare_data(s.carry, s.data_root)
    print(text)
    (s.out / "data-check.txt").write_text(text + "\n")
    return "ok" if same else "DIFFERENT"


def step_check(s: Session) -> str:
    rc = stream([sys.executable, "-m", "helpers.gpucheck", "--device", s.device], s.out / "gpucheck.txt")
    return "ok" if rc == 0 else f"FAILED ({rc})"


def step_calibrate(s: Session) -> str:
    rc = stream([sys.executable, "-m", "helpers.calibrate", "--device", s.device, "--part", s.calibrate, "--epochs",
                 str(s.cal_epochs), "--scale", str(s.cal_scale), "--data-root", str(s.data_root), "--out",
                 str(s.out / "calibration.json")], s.out / "calibration.txt")
    return "ok" if rc == 0 else f"FAILED ({rc})"


def step_train(s: Session) -> str:
    from .localworkers import OutOfTime, train_here  # once submitit is importable (importable_workers)
    left = s.seconds_left()
    if left is not None and left - STOP_RESERVE < 30:
        print(f"train: not started, {left:.0f} s left of --limit {s.limit:g}")
        return "OUT OF TIME"
    deadline = None if left is None else time.monotonic() + left - STOP_RESERVE
    print(f"train: {s.workers} worker(s), first {s.first}" + (f", for at most {left - STOP_RESERVE:.0f} s" if left else ""))
    try:
        train_here("full", s.overrides, s.data_root, s.workers, REPO_ROOT / "build" / "full" / "workers",
                   "python -m helpers.gpu_session run", s.first, deadline)
    except OutOfTime as err:
        print(f"train: {err}")
        return "OUT OF TIME"
    from .runstates import run_states
    open_runs = [r.run.slot for r in run_states("full", s.overrides, s.data_root) if r.state != "stored"]
    print(f"not stored: {len(open_runs)} run(s)" + "".join(f"\n  {slot}" for slot in open_runs)
          if open_runs else "every run is stored")
    return f"FAILED ({len(open_runs)} not stored)" if open_runs else "ok"


def pack(s: Session) -> Path:
    """The session's archive: the full profile's results, the workers' logs of this session, its files."""
    archive = s.out / "gpu-session.tar.gz"
    results = sorted((results_root() / "full").glob("*.json"))
    logs = [f for f in sorted((REPO_ROOT / "build" / "full" / "workers").glob("*_log.out"))
            if f.stat().st_mtime >= s.started_wall]
    overrides = s.out / "overrides.json"
    overrides.write_text(json.dumps(s.overrides) + "\n")
    with tarfile.open(archive, "w:gz") as tar:
        for f in results:
            tar.add(f, f"results/full/{f.name}")
        for f in logs:
            tar.add(f, f"workers/{f.name}")
        for name in SESSION_FILES + ("overrides.json",):
            if (s.out / name).exists():
                tar.add(s.out / name, f"session/{name}")
    overrides.unlink()  # the device returns at most 8 files from --out: this one travels in the archive
    print(f"packed {archive} ({archive.stat().st_size / 2**20:.1f} MiB): {len(results)} result(s), {len(logs)} worker "
          f"log(s)")
    return archive


def run_session(s: Session, steps: list[str]) -> int:
    """Run the steps in order, then pack; print a summary; return 0 if every step was ok."""
    print(f"gpu-session: steps {' '.join(steps)}; device {s.device}, {s.workers} worker(s), first {s.first}, overrides "
          f"{json.dumps(s.overrides)}, limit {s.limit or 'none'}, data {s.data_root}", flush=True)
    nvidia = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                            capture_output=True, text=True) if shutil.which("nvidia-smi") else None
    print(nvidia.stdout.strip() if nvidia and nvidia.returncode == 0 else "no nvidia-smi")
    results, differ = {}, False
    for name in STEPS:
        if name not in steps:
            continue
        if name == "train" and differ:
            results[name] = "SKIPPED (the data differ)"
            continue
        print(f"=== [{time.strftime('%H:%M:%S')}] step {name}", flush=True)
        start = time.monotonic()
        try:
            result = globals()[f"step_{name}"](s)
        except Exception as err:  # noqa: BLE001 — the steps after it, and the archive, still come
            result = f"FAILED ({type(err).__name__}: {err})"
        differ = differ or result == "DIFFERENT"
        results[name] = f"{result:12s} {time.monotonic() - start:6.1f} s"
        print(f"=== [{time.strftime('%H:%M:%S')}] step {name}: {results[name]}", flush=True)
    print("\nsteps:\n" + "".join(f"{name:10s} {result}\n" for name, result in results.items()), flush=True)
    pack(s)
    return 0 if all(r.startswith("ok ") for r in results.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.gpu_session", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    carry, run, unpacking = (sub.add_parser(name) for name in ("carry", "run", "unpack"))
    for p in (carry, run, unpacking):
        p.add_argument("--data-root", default=str(REPO_ROOT / "data" / "gpu-copies"),
                       help="where the datasets are written from the carried copies (default data/gpu-copies)")
    for p in (carry, run):
        p.add_argument("--carry", default=str(REPO_ROOT / ".carry"), help="the carried folder (default .carry)")
    carry.add_argument("--copies", required=True, help="a folder whose make_cifar10.py DIR writes CIFAR-10's layout")
    carry.add_argument("--mnist", default=str(DEBIAN_MNIST), help=f"the four MNIST-format .gz files (default {DEBIAN_MNIST})")
    run.add_argument("--steps", default=",".join(STEPS), help=f"a comma-separated subset of {','.join(STEPS)}")
    run.add_argument("--limit", type=float, default=None, help="seconds the whole session may take (the machine's limit)")
    run.add_argument("--workers", type=int, default=4)
    run.add_argument("--first", default="side-by-side", help="which runs first: helpers.localworkers.FIRST")
    run.add_argument("--overrides", default="")
    run.add_argument("--out", default=os.environ.get("OUT") or str(REPO_ROOT / "build" / "gpu-session"))
    run.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a trial without a GPU")
    run.add_argument("--calibrate", default="cuda", help="the calibration's part (helpers.calibrate --part)")
    run.add_argument("--cal-epochs", type=int, default=3)
    run.add_argument("--cal-scale", type=float, default=1.0)
    unpacking.add_argument("archive")
    args = parser.parse_args(argv)
    if args.command == "run":
        steps = [step for step in args.steps.split(",") if step]
        unknown = [step for step in steps if step not in STEPS]
        if unknown:
            parser.error(f"unknown step(s) {', '.join(unknown)}; known: {', '.join(STEPS)}")
        session = Session(Path(args.out).resolve(), Path(args.carry).resolve(), Path(args.data_root).resolve(),
                          args.device, args.workers, args.first, parse_overrides(args.overrides), args.calibrate,
                          args.cal_epochs, args.cal_scale, args.limit)
        session.out.mkdir(parents=True, exist_ok=True)
        (session.out / "session.log").write_text("")
        sys.stdout = Tee(sys.stdout, session.out / "session.log")
        if "train" in steps:
            importable_workers(session.carry)
        return run_session(session, steps)
    if args.command == "carry":
        return run_command(lambda: make_carry(Path(args.carry).resolve(), Path(args.copies).resolve(),
                                              Path(args.mnist), Path(args.data_root).resolve()))
    from .unpack import unpack
    return run_command(lambda: unpack(Path(args.archive).resolve(), Path(args.data_root).resolve()))


if __name__ == "__main__":
    raise SystemExit(main())
