"""The job array on a real SLURM (slurm/start-local-slurm.sh; .ci/run starts it), as a user types it.

Everything happens in a copy of the repository, so that its results, logs and build are the test's own.
The local node's `gpu` GRES is a dummy file: there is no CUDA, so the runs here are the CPU ones.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

PARTITION = "exercise-eml"
CPU_ONLY = {"devices": ["cpu"]}
# One CNN run long enough to be cut in the middle (with 3.2's and the MLP's short runs beside it).
LONG = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD"], "seeds": 1, "epochs": 10}


def slurm_ready() -> bool:
    if shutil.which("sbatch") is None:
        return False
    state = subprocess.run(["sinfo", "--noheader", f"--partition={PARTITION}", "--format=%a"], capture_output=True, text=True)
    return state.returncode == 0 and state.stdout.strip() == "up"


pytestmark = [pytest.mark.slow, pytest.mark.skipif(not slurm_ready(), reason=f"no SLURM with a partition {PARTITION} "
                                                   "here (start one as root: bash slurm/start-local-slurm.sh)")]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A copy of the repository's files (tracked and new, not ignored), as a fresh clone would have them."""
    root = tmp_path_factory.mktemp("repo")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    return root


def make(repo: Path, *args: str, overrides: dict | None = None) -> subprocess.CompletedProcess:
    extra = [f"OVERRIDES={json.dumps(overrides)}"] if overrides else []
    env = {k: v for k, v in os.environ.items() if k != "EML_RESULTS_ROOT"}  # the copy's own results/
    return subprocess.run(["make", "--no-print-directory", *args, *extra, f"PY={sys.executable}"], cwd=repo,
                          capture_output=True, text=True, timeout=900, env=env)


def submitted_jobs(output: str) -> list[str]:
    return [line.split("submitted job ")[1].split(":")[0] for line in output.splitlines() if "submitted job " in line]


def wait_for(jobs: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["squeue", "--noheader", f"--jobs={','.join(jobs)}"], capture_output=True,
                         text=True).stdout.strip():
        assert time.monotonic() < deadline, f"jobs {jobs} still queued after {timeout} s"
        time.sleep(1)


def result_files(repo: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (repo / "results" / "smoke").glob("*")}


def reference_records(repo: Path, slot: str, overrides: dict) -> list:
    """The run trained once without interruption, in a fresh one-thread process (as a task with 1 CPU)."""
    code = ("import json, sys; from helpers.plan import planned_runs; from helpers.experiment import run; "
            "from helpers.profiles import chapter_settings; overrides = json.loads(sys.argv[1]); "
            "[p] = [p for p in planned_runs('smoke', overrides) if p.slot == sys.argv[2]]; "
            "root = chapter_settings('smoke', overrides)['3.3'].data_root; "
            "print(json.dumps(run(p.config, root, None, progress=False).records))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(overrides), slot], cwd=repo, capture_output=True,
                         text=True, check=True, env={"OMP_NUM_THREADS": "1", "PATH": os.environ["PATH"]}).stdout
    return json.loads(out.strip().splitlines()[-1])


def without_clock(records: list) -> list:
    return [{k: v for k, v in r.items() if not k.endswith("_time")} for r in records]


@pytest.fixture(scope="module")
def smoke_array(repo):
    """`make status`, `make sbatch`, wait, `make status`: the smoke profile's array (CPU runs)."""
    before = make(repo, "status", "PROFILE=smoke", overrides=CPU_ONLY)
    submit = make(repo, "sbatch", "PROFILE=smoke", overrides=CPU_ONLY)
    assert submit.returncode == 0, submit.stderr
    jobs = submitted_jobs(submit.stdout)
    wait_for(jobs)
    return before, submit, jobs, make(repo, "status", "PROFILE=smoke", overrides=CPU_ONLY)


def test_smoke_array_stores_every_run(repo, smoke_array):
    before, submit, jobs, after = smoke_array
    assert before.returncode == 0 and "0 of 16 runs stored" in before.stdout and "waiting for the choice" in before.stdout
    assert len(jobs) == 2 and "starting after job" in submit.stdout  # the chosen seeds wait for the sweep
    assert "16 of 16 runs stored" in after.stdout and "Everything is stored" in after.stdout
    assert not list((repo / "results" / "smoke").glob("*.ckpt"))
    logs = sorted((repo / "slurm" / "logs").glob("*.log"))
    assert len(logs) == 2 and all(f"_{job}_0-" in log.name for job, log in zip(jobs, logs))
    for log in logs:
        text = log.read_text()
        assert "nvidia-smi" in text and "torch thread(s)" in text and "task finished with status 0" in text


def test_pdf_after_the_array_trains_nothing(repo, smoke_array):
    stored = result_files(repo)
    built = make(repo, "pdf", "PROFILE=smoke", overrides=CPU_ONLY)
    assert built.returncode == 0, built.stderr[-3000:]
    assert result_files(repo) == stored  # no run trained, none rewritten
    assert (repo / "build" / "smoke" / "exercise03-SMOKE-not-for-hand-in.pdf").exists()


def test_a_limit_beyond_the_partition_is_refused_before_submitting(repo):
    refused = make(repo, "sbatch", "PROFILE=smoke", "TIME=2:00:00", overrides=CPU_ONLY)
    assert refused.returncode != 0
    assert f"TIME=2:00:00 exceeds partition {PARTITION}'s limit of 00:30:00" in refused.stderr
    assert "submitted job" not in refused.stdout and "Traceback" not in refused.stderr
    unknown = make(repo, "sbatch", "PROFILE=smoke", "PARTITION=nope", overrides=CPU_ONLY)
    assert f"partition 'nope' not found; this cluster has: {PARTITION}" in unknown.stderr


def _cut_and_resume(repo, overrides, cut) -> tuple[dict, str, str]:
    """Submit, wait until the CNN run has a checkpoint, cut the task with `cut(job)` (which returns the job
    ids that finish the work); return the CNN run's stored record, its slot and the first task's log."""
    [planned] = [line.split()[0] for line in make(repo, "status", "PROFILE=smoke", overrides=overrides).stdout.splitlines()
                 if line.startswith("cifar10-cnn-")]
    stored_before = set(result_files(repo))
    jobs = submitted_jobs(make(repo, "sbatch", "PROFILE=smoke", overrides=overrides).stdout)
    deadline = time.monotonic() + 300
    while not list((repo / "results" / "smoke").glob(f"{planned}-*.ckpt")):
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    time.sleep(1.5)  # a few epochs in, in the middle of one
    again = cut(jobs[0])
    wait_for(jobs + again)
    [result] = [p for p in (repo / "results" / "smoke").glob(f"{planned}-*.json") if p.name not in stored_before]
    log = "".join(p.read_text() for p in (repo / "slurm" / "logs").glob(f"*_{jobs[0]}_0-*.log"))
    return json.loads(result.read_text()), planned, log


def test_a_cancelled_task_resumes_when_submitted_again(repo):
    overrides = {**LONG, "lrs": [0.03]}

    def cancel(job):
        subprocess.run(["scancel", job], check=True)
        wait_for([job])
        ckpt = list((repo / "results" / "smoke").glob("cifar10-cnn-*.ckpt"))
        assert ckpt, "the cancelled run left no checkpoint"
        return submitted_jobs(make(repo, "sbatch", "PROFILE=smoke", overrides=overrides).stdout)

    record, slot, _ = _cut_and_resume(repo, overrides, cancel)
    assert len(record["resumes"]) == 1 and 1 <= record["resumes"][0]["after_epoch"] < 10
    assert [r["epoch"] for r in record["records"]] == list(range(1, 11))  # no epoch lost, none twice
    assert without_clock(record["records"]) == without_clock(reference_records(repo, slot, overrides))


def test_the_time_limit_warning_requeues_the_task_and_it_resumes(repo):
    overrides = {**LONG, "lrs": [0.01]}

    def warn(job):
        # What SLURM sends WARNING_SECONDS before the limit; the task requeues itself. A requeued job waits
        # two minutes before it is eligible again: the test lets it start at once.
        subprocess.run(["scancel", "--signal=USR1", "--batch", job], check=True)
        deadline = time.monotonic() + 60
        while "PENDING" not in subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True).stdout:
            assert time.monotonic() < deadline, "the task did not requeue itself"
            time.sleep(0.2)
        subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], check=True)
        return []

    record, _, log = _cut_and_resume(repo, overrides, warn)
    assert "time limit near: requeueing this task" in log and "restart 1" in log
    assert len(record["resumes"]) == 1 and [r["epoch"] for r in record["records"]] == list(range(1, 11))
