"""The workers on a real SLURM (slurm/start-local-slurm.sh; .ci/run starts it), as a user types the commands.

Everything happens in a copy of the repository, so that its results, logs and build are the test's own.
The local node's `gpu` GRES are dummy files: there is no CUDA, so the runs here are the CPU ones. The queue is
read with squeue only: this SLURM has no accounting storage (as many clusters), so sacct would fail.
"""
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import PARTITION, copy_repo, make, reference_records, slurm_skip_reason, wait_until, without_clock

CPU_ONLY = {"devices": ["cpu"]}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(slurm_skip_reason()), reason=str(slurm_skip_reason()))]


@pytest.fixture(autouse=True)
def cancel_what_the_test_submits():
    """Every job a test submits leaves the queue when the test ends, pass or fail."""
    def ours() -> set[str]:
        listed = subprocess.run(["squeue", "--noheader", "--format=%F %j"], capture_output=True, text=True).stdout
        return {job for job, name in (line.split(maxsplit=1) for line in listed.splitlines() if line.strip())
                if name.startswith("eml-ex3-")}
    before = ours()
    yield
    left = ours() - before
    if left:
        subprocess.run(["scancel", *sorted(left)], capture_output=True)


def partition_limit() -> str:
    """The partition's time limit, as `scontrol show partition` says it (the test sets none)."""
    shown = subprocess.run(["scontrol", "show", "partition", PARTITION], capture_output=True, text=True).stdout
    return re.search(r"MaxTime=(\S+)", shown).group(1)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("repo"))


def submitted_job(output: str) -> str:
    [job] = re.findall(r"submitted job (\d+)", output)
    return job


def queued(job: str) -> list[str]:
    """The job's tasks still in SLURM's queue, as "ID STATE REASON" lines."""
    return subprocess.run(["squeue", "--noheader", "--array", f"--jobs={job}", "--format=%i %T %r"],
                          capture_output=True, text=True).stdout.split("\n")[:-1]


def wait_for(job: str, timeout: float = 600, hurry_requeues: bool = False) -> None:
    """Wait until the job has left the queue. A requeued task waits about two minutes before it may start
    again (SLURM's BeginTime); with hurry_requeues the test lets it start at once."""
    deadline = time.monotonic() + timeout
    while lines := queued(job):
        assert time.monotonic() < deadline, f"job {job} still queued after {timeout} s: {lines}"
        for line in lines:
            task, state, reason = line.split(maxsplit=2)
            if hurry_requeues and state == "PENDING" and "BeginTime" in reason:
                subprocess.run(["scontrol", "update", f"jobid={task}", "StartTime=now"], capture_output=True)
        time.sleep(1)


def result_files(repo: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (repo / "results" / "smoke").glob("*")}


def logs_of(repo: Path, job: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((repo / "slurm" / "logs" / "smoke").glob(f"{job}_*log.out"))}


def trained_slots(logs) -> Counter:
    return Counter(re.findall(r"\] (\S+): training ", "\n".join(logs)))


def stored_records(repo: Path, overrides: dict) -> dict[str, dict]:
    """The stored result of every planned run of the overrides, by slot (via the plan, in the copy)."""
    code = ("import json, sys; from helpers.runstates import run_states; from helpers.experiment import run_files; "
            "from helpers.profiles import chapter_settings; o = json.loads(sys.argv[1]); "
            "s = chapter_settings('smoke', o)['3.2']; "
            "print(json.dumps({st.run.slot: run_files(st.run.config, s.data_root, s.results_dir, False).load_result() "
            "for st in run_states('smoke', o) if st.run.config}))")
    env = {k: v for k, v in os.environ.items() if k != "EML_RESULTS_ROOT"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(overrides)], cwd=repo, env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])




@pytest.fixture(scope="module")
def smoke_array(repo):
    """`make status`, `make sbatch MAX_PARALLEL=2`, wait, `make status`: the smoke profile's array (CPU runs)."""
    before = make(repo, "status", "PROFILE=smoke", overrides=CPU_ONLY)
    started = time.monotonic()
    submit = make(repo, "sbatch", "PROFILE=smoke", "MAX_PARALLEL=2", overrides=CPU_ONLY)
    assert submit.returncode == 0, submit.stderr
    job = submitted_job(submit.stdout)
    wait_for(job)
    print(f"smoke array, 2 workers: {time.monotonic() - started:.0f} s from make sbatch to an empty queue")
    return before, submit, job, make(repo, "status", "PROFILE=smoke", overrides=CPU_ONLY)


def test_one_array_of_workers_stores_every_run_and_trains_each_once(repo, smoke_array):
    before, submit, job, after = smoke_array
    assert before.returncode == 0 and "0 of 16 runs stored" in before.stdout and "waiting for the choice" in before.stdout
    assert "Workers in SLURM's queue: none." in before.stdout
    assert "an array of 2 worker(s) for 16 run(s) in 15 unit(s)" in submit.stdout  # 3.2's two runs are one unit
    assert f"Next: `make status PROFILE=smoke OVERRIDES='{json.dumps(CPU_ONLY)}'" in submit.stdout  # this plan's
    assert "16 of 16 runs stored" in after.stdout and "Everything is stored" in after.stdout
    assert not list((repo / "results" / "smoke").glob("*.ckpt"))
    logs = logs_of(repo, job)
    assert sorted(logs) == [f"{job}_0_0_log.out", f"{job}_1_0_log.out"]
    for task, text in enumerate(logs.values()):
        assert f"worker {job}_{task} on " in text and "partition exercise-eml, 1 CPU(s)" in text
        assert "GPU: nvidia-smi: not available" in text and "1 torch thread(s)" in text and "torch " in text
        # the task got one of the node's (dummy) GPUs, and this torch sees no CUDA: its log says so at the top
        assert "WARNING: SLURM gave this task 1 GPU(s), but this torch sees no CUDA" in text, text[:2000]
    counts = trained_slots(logs.values())
    assert len(counts) == 16 and set(counts.values()) == {1}  # every run once, none twice


def test_pdf_after_the_array_trains_nothing(repo, smoke_array):
    stored = result_files(repo)
    built = make(repo, "pdf", "PROFILE=smoke", overrides=CPU_ONLY)
    assert built.returncode == 0, built.stderr[-3000:]
    assert result_files(repo) == stored  # no run trained, none rewritten
    assert "worker(s) on this machine" not in built.stdout and not (repo / "build" / "smoke" / "workers").exists()
    assert (repo / "build" / "smoke" / "exercise03-SMOKE-not-for-hand-in.pdf").exists()


def test_three_workers_train_no_run_twice_and_a_second_sbatch_adds_none(repo):
    overrides = {"devices": ["cpu"], "epochs": 3}  # other runs than the first array's (the epochs are in the key)
    submit = make(repo, "sbatch", "PROFILE=smoke", "MAX_PARALLEL=3", overrides=overrides)
    job = submitted_job(submit.stdout)
    again = make(repo, "sbatch", "PROFILE=smoke", "MAX_PARALLEL=3", overrides=overrides)
    assert again.returncode == 0 and "submitted job" not in again.stdout
    assert "nothing submitted: 3 worker(s) of this plan (profile and overrides) are already queued or running" \
        in again.stdout

    def status_with_a_held_run():
        out = make(repo, "status", "PROFILE=smoke", overrides=overrides).stdout
        return out if re.search(rf"running \(worker {job}_\d \(pid \d+ on ", out) else None

    status = wait_until(status_with_a_held_run, 300, "make status showing a run held by a worker")
    assert re.search(rf"Workers in SLURM's queue: 3: {job}_\d (running|pending)", status), status
    wait_for(job)
    counts = trained_slots(logs_of(repo, job).values())
    records = stored_records(repo, overrides)
    assert len(records) == 16 and all(records.values()) and set(counts) == set(records)
    assert set(counts.values()) == {1} and not any(r["resumes"] for r in records.values())
    assert all(r["environment"]["slurm"]["partition"] == PARTITION for r in records.values())


def test_a_limit_beyond_the_partition_or_a_partition_down_is_refused_before_submitting(repo):
    limit = partition_limit()
    refused = make(repo, "sbatch", "PROFILE=smoke", "TIME=99-00:00:00", overrides=CPU_ONLY)
    assert refused.returncode != 0
    assert f"TIME=99-00:00:00 exceeds partition {PARTITION}'s limit of {limit}" in refused.stderr
    assert "submitted job" not in refused.stdout and "Traceback" not in refused.stderr
    unstored = {**CPU_ONLY, "epochs": 9}  # runs that no other test stores: sbatch is really asked
    too_big = make(repo, "sbatch", "PROFILE=smoke", "MEM=4000G", overrides=unstored)  # no node has that much
    assert too_big.returncode != 0 and "Traceback" not in too_big.stderr
    assert "sbatch refused the job array, nothing was submitted:" in too_big.stderr, too_big.stderr
    unknown = make(repo, "sbatch", "PROFILE=smoke", "PARTITION=nope", overrides=CPU_ONLY)
    assert f"partition 'nope' not found; this cluster has: {PARTITION}" in unknown.stderr
    subprocess.run(["scontrol", "update", f"PartitionName={PARTITION}", "State=DOWN"], check=True)
    try:
        down = make(repo, "sbatch", "PROFILE=smoke", overrides=CPU_ONLY)
    finally:
        subprocess.run(["scontrol", "update", f"PartitionName={PARTITION}", "State=UP"], check=True)
    assert down.returncode != 0 and f"partition {PARTITION} is DOWN, not UP: nothing submitted" in down.stderr


def test_a_cancelled_worker_resumes_when_submitted_again(repo):
    overrides = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD"], "seeds": 1, "epochs": 10,
                 "lrs": [0.03]}
    [slot] = [line.split()[0] for line in make(repo, "status", "PROFILE=smoke", overrides=overrides).stdout.splitlines()
              if line.startswith("cifar10-cnn-")]
    job = submitted_job(make(repo, "sbatch", "PROFILE=smoke", "MAX_PARALLEL=1", overrides=overrides).stdout)
    wait_until(lambda: list((repo / "results" / "smoke").glob(f"{slot}-*.ckpt")), 300, "the CNN's first checkpoint")
    subprocess.run(["scancel", job], check=True)
    wait_for(job)
    assert list((repo / "results" / "smoke").glob(f"{slot}-*.ckpt")), "the cancelled run left no checkpoint"
    resubmitted = submitted_job(make(repo, "sbatch", "PROFILE=smoke", "MAX_PARALLEL=1", overrides=overrides).stdout)
    wait_for(resubmitted)
    record = stored_records(repo, overrides)[slot]
    assert len(record["resumes"]) == 1 and 1 <= record["resumes"][0]["after_epoch"] < 10
    assert [r["epoch"] for r in record["records"]] == list(range(1, 11))  # no epoch lost, none twice
    assert without_clock(record["records"]) == without_clock(reference_records(slot, overrides, cwd=repo))


def test_the_time_limit_signal_requeues_a_worker_and_it_resumes(repo):
    # TIME=2:10: SLURM signals the worker (USR2) once fewer than WARNING_SECONDS = 120 s are left, i.e. 10 to
    # 60 s after each start (its timer is coarse). So that a run is surely cut in the middle, the test also sends
    # that signal itself once the CNN has a checkpoint; submitit requeues the worker either way, and it goes on
    # after the last complete epoch. (A requeued job waits about two minutes; the test lets it start at once.)
    overrides = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD"], "seeds": 1, "epochs": 30,
                 "lrs": [0.003]}
    job = submitted_job(make(repo, "sbatch", "PROFILE=smoke", "MAX_PARALLEL=1", "TIME=2:10", overrides=overrides).stdout)
    wait_until(lambda: list((repo / "results" / "smoke").glob("cifar10-cnn-*.ckpt")), 300, "the CNN's first checkpoint")
    subprocess.run(["scancel", "--signal=USR2", job], capture_output=True)  # what SLURM sends before the limit
    wait_for(job, hurry_requeues=True)
    [log] = logs_of(repo, job).values()
    assert "Caught signal SIGUSR2" in log and "this job is timed-out" in log and "Calling checkpoint method" in log
    assert f"worker {job} on " in log and "(restart 1)" in log  # requeued, started again
    records = stored_records(repo, overrides)
    assert all(records.values()), "a run is not stored"
    for slot, record in records.items():
        assert [r["epoch"] for r in record["records"]] == list(range(1, 31)), slot  # none lost, none twice
    resumed = {slot: r for slot, r in records.items() if r["resumes"]}
    assert resumed, "no run was cut after a complete epoch"
    slot, record = next(iter(resumed.items()))
    assert without_clock(record["records"]) == without_clock(reference_records(slot, overrides, cwd=repo))
