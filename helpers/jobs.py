"""The plan on a cluster: `make status` (what is stored, what is left) and `make sbatch` (a job array).

    python -m helpers.jobs status --profile full [--overrides JSON] [--data-root DIR]
    python -m helpers.jobs submit --profile full [--partition ... --time 30:00 --cpus 1 --mem 5G --gpus 1 --max-parallel 4]
    python -m helpers.jobs task MANIFEST INDEX     (what each array task runs; needs torch, not papermill)

Only runs that are not stored are submitted, packed into tasks that fit the time limit with margin;
runs that wait on a choice (the extra seeds of a chosen rate) go into a second array that starts
after the first. Every task resumes its runs from their checkpoints, so a requeue loses no epoch.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .cluster import LOG_DIR, JobResources, check_resources, format_time, sbatch_array
from .errors import UserError, run_command
from .experiment import DeviceUnavailable, run
from .plan import planned_runs
from .profiles import chapter_settings, check_profile
from .results import RunInProgress
from .status import RunState, run_states, status_table

TASK_BUDGET = 0.6   # a task's runs are estimated to take at most this share of its time limit
STARTUP_SECONDS = 30  # per task: Python, torch and CUDA start, data parsing


# ---------------------------------------------------------------------------------------------
# Submitting: pack the runs that are not stored into array tasks
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """One array task: the runs it trains one after the other, and its estimated length."""
    slots: tuple[str, ...]
    seconds: float

    @property
    def name(self) -> str:
        return self.slots[0] if len(self.slots) == 1 else f"{self.slots[0]}-and-{len(self.slots) - 1}-more"


def pack_tasks(states: list[RunState], time_limit: float) -> list[Task]:
    """Group runs into tasks, in plan order, that fit the time limit with margin.

    3.2's runs share one task: its CPU and GPU runs are then measured on one machine, the two sides of
    one comparison. A run longer than the budget gets a task of its own and resumes across requeues.
    """
    budget = TASK_BUDGET * time_limit - STARTUP_SECONDS
    tasks: list[list[RunState]] = []
    for state in states:
        same_machine = tasks and "3.2" in state.run.exercises and "3.2" in tasks[-1][-1].run.exercises
        seconds = state.remaining_seconds
        if tasks and (same_machine or sum(s.remaining_seconds for s in tasks[-1]) + seconds <= budget):
            tasks[-1].append(state)
        else:
            tasks.append([state])
    return [Task(tuple(s.run.slot for s in group), STARTUP_SECONDS + sum(s.remaining_seconds for s in group))
            for group in tasks]


def submit(profile: str, resources: JobResources, overrides: dict | None = None, data_root=None,
           python: str = sys.executable) -> list[str]:
    """Submit every run that is not stored as SLURM job arrays; return the job ids (printing what to do next)."""
    check_resources(resources)
    every = run_states(profile, overrides, data_root)
    states = [s for s in every if s.state in ("missing", "partial", "waiting")]
    running = [s for s in every if s.state == "running"]
    if not states:
        print(f"[{profile}] nothing to submit: every run is stored" + (f" or running ({len(running)})" if running else "")
              + ". Next: make pdf" + (f" PROFILE={profile}" if profile != "full" else ""))
        return []
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    job_ids, after = [], None
    for stage, group in (("train", [s for s in states if s.state != "waiting"]),
                         ("chosen", [s for s in states if s.state == "waiting"])):
        if not group:
            continue
        tasks = pack_tasks(group, resources.seconds)
        manifest = LOG_DIR / f"{profile}-{stamp}-{stage}.json"
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"profile": profile, "overrides": overrides or {}, "data_root":
                                        str(data_root) if data_root else None,
                                        "tasks": [{"name": t.name, "slots": list(t.slots), "estimate_s": t.seconds}
                                                  for t in tasks]}, indent=1))
        (manifest.with_suffix(".names")).write_text("".join(t.name + "\n" for t in tasks))
        job = sbatch_array(resources, len(tasks), f"eml-ex3-{profile}", [str(manifest)],
                           {"EML_PYTHON": python}, after=after)
        job_ids.append(job)
        print(f"[{profile}] submitted job {job}: {len(tasks)} task(s), {len(group)} run(s)"
              + (f", starting after job {after} (these runs wait on its choice)" if after else ""))
        for i, t in enumerate(tasks):
            print(f"  task {i}: {len(t.slots)} run(s), about {format_time(t.seconds)} on a course GPU "
                  f"(limit {resources.time}); log slurm/logs/eml-ex3-{profile}_{job}_{i}-{t.name}.log")
        after = job
    print(f"Next: `make status{'' if profile == 'full' else ' PROFILE=' + profile}` shows progress (squeue --me the "
          f"queue); once everything is stored, `make pdf{'' if profile == 'full' else ' PROFILE=' + profile}` on the "
          "login node renders without training. If a task is cut off, `make sbatch` again resumes it.")
    return job_ids


# ---------------------------------------------------------------------------------------------
# One array task
# ---------------------------------------------------------------------------------------------

def run_task(manifest_path: str | Path, index: int) -> int:
    """Train the runs of one task of a manifest (resuming from checkpoints); return the exit status."""
    from .environment import describe_environment
    manifest = json.loads(Path(manifest_path).read_text())
    task = manifest["tasks"][index]
    profile, overrides, data_root = manifest["profile"], manifest["overrides"], manifest["data_root"]
    env = describe_environment()
    print(f"task {index} of {manifest_path}: {len(task['slots'])} run(s), estimated {format_time(task['estimate_s'])}\n"
          f"CPU {env['cpu_model']}, {env['cpu_threads']} torch thread(s); GPU {env['gpu'] or 'none'}; Python "
          f"{env['python']}, torch {env['torch']} (CUDA {env['cuda_version']}), torchvision {env['torchvision']}, "
          f"numpy {env['numpy']}", flush=True)
    s = chapter_settings(profile, overrides, data_root)["3.2"]
    failed = []
    for slot in task["slots"]:
        plan = planned_runs(profile, overrides, data_root)  # again per run: a choice may have been stored meanwhile
        planned = next((p for p in plan if p.answers_to(slot)), None)
        if planned is None or planned.config is None:
            why = ("is no longer in the plan (the code or the overrides changed since submission)" if planned is None
                   else "waits on runs that are not stored: " + ", ".join(planned.waits_on))
            print(f"{slot}: cannot run: it {why}", flush=True)
            failed.append(slot)
            continue
        print(f"{slot}: {planned.config.label}", flush=True)
        try:
            history = run(planned.config, s.data_root, s.results_dir)
        except RunInProgress as err:  # submitted twice: the other task finishes it
            print(f"{slot}: skipped, {err}", flush=True)
            continue
        except DeviceUnavailable:
            print(f"{slot}: needs CUDA, and this node has none (CUDA_VISIBLE_DEVICES="
                  f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}): submit with GPUS=1 to a partition with GPUs",
                  flush=True)
            failed.append(slot)
            continue
        except UserError as err:
            print(f"{slot}: {err}", flush=True)
            failed.append(slot)
            continue
        print(f"{slot}: {history.status}, {len(history.records)} epochs, test accuracy "
              f"{history.records[-1]['test_accuracy']:.4f}" + (f", resumed {len(history.resumes)}x" if history.resumes else ""),
              flush=True)
    if failed:
        print(f"{len(failed)} run(s) not done: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.jobs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    for name in ("status", "submit"):
        p = sub.add_parser(name)
        p.add_argument("--profile", default="full")
        p.add_argument("--overrides", default="", help='profile-wide overrides as JSON, e.g. \'{"epochs": 5}\'')
        p.add_argument("--data-root", default=None)
    defaults = JobResources()
    for option, kind in (("partition", str), ("time", str), ("cpus", int), ("mem", str), ("gpus", int), ("max-parallel", int)):
        sub.choices["submit"].add_argument(f"--{option}", type=kind, default=getattr(defaults, option.replace("-", "_")))
    task = sub.add_parser("task")
    task.add_argument("manifest")
    task.add_argument("index", type=int)
    args = parser.parse_args(argv)
    if args.step == "task":
        return run_task(args.manifest, args.index)

    def body():
        check_profile(args.profile)
        overrides = parse_overrides(args.overrides)
        if args.step == "status":
            print(status_table(run_states(args.profile, overrides, args.data_root)))
        else:
            resources = JobResources(args.partition, args.time, args.cpus, args.mem, args.gpus, args.max_parallel)
            submit(args.profile, resources, overrides, args.data_root)
    return run_command(body)


def parse_overrides(text: str | None) -> dict:
    """Overrides from the command line (JSON), with one clear error for bad JSON."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"OVERRIDES is not valid JSON ({err}): write e.g. OVERRIDES='{{\"epochs\": 5}}'") from None
    if not isinstance(value, dict):
        raise UserError(f"OVERRIDES must be a JSON object such as {{\"epochs\": 5}}, got {text}")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
