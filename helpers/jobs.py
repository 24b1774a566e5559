"""Starting workers (helpers.workers) on the cluster or on this machine, and `make status`.

    python -m helpers.jobs status --profile full [--overrides JSON] [--data-root DIR]
    python -m helpers.jobs submit --profile full [--partition ... --time 30:00 --cpus 1 --mem 5G --gpus 1 --max-parallel 4]
    python -m helpers.jobs train  --profile full [--workers N] [--first together|alone|side-by-side]
                                  (workers on this machine, no notebooks)

`make sbatch` (submit) checks the request against the partition, then submits one job array of at most
MAX_PARALLEL workers through submitit; each worker takes runs until none is left, so no estimate decides
who trains what. Submitting again while workers are queued or running submits nothing and says so.
`make results WORKERS=N` and `make pdf` start N workers here instead (helpers.localworkers.train_here).
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import asdict

import submitit

from .cluster import LOG_DIR, JobResources, check_resources, queued_jobs, slurm_executor
from .formatting import format_time
from .errors import UserError, run_command, whole_number
from .commands import plan_command
from .profiles import REPO_ROOT, check_profile, parse_overrides, shared_settings
from .results import config_digest, node_local_locks
from .runstates import run_states
from .status import status_table
from .localworkers import FIRST, train_here
from .workers import Worker, open_units


def job_name(profile: str, overrides: dict | None = None) -> str:
    """The name of a plan's workers in SLURM's queue: the profile's, and a digest of its overrides where it has
    some (workers of other overrides train other runs: they neither block a submission nor count as this plan's)."""
    return f"eml-ex3-{profile}" + (f"-{config_digest(overrides)[:8]}" if overrides else "")


def fetch_data(profile: str, overrides: dict | None, data_root) -> None:
    """Download the datasets where they are missing, one line each (one clear error without internet)."""
    from .data import DATASETS, ensure_datasets
    ensure_datasets(DATASETS, shared_settings(profile, overrides, data_root).data_root)


# ---------------------------------------------------------------------------------------------
# On the cluster: `make sbatch`
# ---------------------------------------------------------------------------------------------

def submit(profile: str, resources: JobResources, overrides: dict | None = None, data_root=None,
           python: str = sys.executable) -> str | None:
    """Submit a job array of workers for the runs that are not stored; return its job id (None: nothing submitted)."""
    check_resources(resources)
    under_way = queued_jobs(job_name(profile, overrides), REPO_ROOT)
    if under_way:
        print(f"[{profile}] nothing submitted: {len(under_way)} worker(s) of this plan (profile and overrides) are "
              "already queued or running "
              f"({', '.join(f'{j.job_id} {j.state.lower()}' for j in under_way)}); they take every run that is left. "
              f"Progress: {plan_command('status', profile, overrides, data_root)}")
        return None
    fetch_data(profile, overrides, data_root)  # here, on the login node: GPU nodes may have no internet
    units = open_units(run_states(profile, overrides, data_root))
    if not units:
        print(f"[{profile}] nothing to submit: every run is stored. "
              f"Next: {plan_command('pdf', profile, overrides, data_root)}")
        return None
    count = min(resources.max_parallel, len(units))
    local_locks = node_local_locks(shared_settings(profile, overrides, data_root).results_dir)
    if local_locks and count > 1:
        print(f"warning: {local_locks}: its file locks are seen on one node only, so workers on different nodes can "
              "train the same run at once (the results stay right, the GPU time is lost). Use MAX_PARALLEL=1, or put "
              "the results on a filesystem with shared locks (RESULTS=... for make, or EML_RESULTS_ROOT=...).", file=sys.stderr)
    executor = slurm_executor(resources, LOG_DIR / profile, job_name(profile, overrides), python)
    launch = {"command": "make sbatch", "workers": count, "resources": asdict(resources)}
    try:
        jobs = executor.submit_array([Worker(profile, overrides, data_root, launch=launch) for _ in range(count)])
    except submitit.core.utils.FailedJobError as err:
        raise UserError(f"sbatch refused the job array, nothing was submitted: {str(err).strip()}") from None
    array = jobs[0].job_id.split("_")[0]
    runs = sum(len(u.open_runs) for u in units)
    print(f"[{profile}] submitted job {array}: an array of {count} worker(s) for {runs} run(s) in {len(units)} unit(s), "
          f"each with {format_time(resources.seconds)} on partition {resources.partition} ({resources.cpus} CPU(s), "
          f"{resources.mem}, {resources.gpus} GPU(s)); logs in {LOG_DIR / profile}/{array}_<task>_0_log.out\n"
          f"Next: `{plan_command('status', profile, overrides, data_root)}` shows progress; once everything is stored, "
          f"`{plan_command('pdf', profile, overrides, data_root)}` renders without training. A worker cut off by its "
          "time limit is requeued and resumes; `make sbatch` again takes over what cancelled workers left.")
    return array


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

def show_status(profile: str, overrides: dict | None, data_root) -> None:
    """Print the plan's table and, where SLURM is, the workers queued or running (never trains, never downloads)."""
    queue, note = None, ""
    try:
        queue = queued_jobs(job_name(profile, overrides), REPO_ROOT) if shutil.which("squeue") else None
    except UserError as err:  # the plan is worth showing without the queue
        note = f"\nWorkers in SLURM's queue: unknown ({err})"
    print(status_table(run_states(profile, overrides, data_root), queue) + note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.jobs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    for name in ("status", "submit", "train"):
        p = sub.add_parser(name)
        p.add_argument("--profile", default="full")
        p.add_argument("--overrides", default="", help='profile-wide overrides as JSON, e.g. \'{"epochs": 5}\'')
        p.add_argument("--data-root", default=None)
    sub.choices["train"].add_argument("--workers", default="1")
    sub.choices["train"].add_argument("--first", default="together", choices=list(FIRST),
                                      help="; ".join(f"{k}: {v}" for k, v in FIRST.items()))
    defaults = JobResources()
    for option in ("partition", "time", "cpus", "mem", "gpus", "max-parallel"):
        sub.choices["submit"].add_argument(f"--{option}", default=str(getattr(defaults, option.replace("-", "_"))))
    args = parser.parse_args(argv)

    def body():
        check_profile(args.profile)
        overrides = parse_overrides(args.overrides)
        if args.step == "status":
            show_status(args.profile, overrides, args.data_root)
        elif args.step == "train":
            workers = whole_number("WORKERS", args.workers, 1)
            fetch_data(args.profile, overrides, args.data_root)
            train_here(args.profile, overrides, args.data_root, workers, REPO_ROOT / "build" / args.profile / "workers",
                       "python -m helpers.jobs train", args.first)
            show_status(args.profile, overrides, args.data_root)
        else:
            resources = JobResources(args.partition, args.time, whole_number("CPUS", args.cpus, 1), args.mem,
                                     whole_number("GPUS", args.gpus, 0), whole_number("MAX_PARALLEL", args.max_parallel, 1))
            submit(args.profile, resources, overrides, args.data_root)
    return run_command(body)


if __name__ == "__main__":
    raise SystemExit(main())
