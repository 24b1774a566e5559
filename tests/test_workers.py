"""Workers without SLURM: several on one store, one killed mid-run, one without CUDA, `make results WORKERS=N`,
Ctrl-C, and counts that make no sense. (The same workers on a real SLURM: test_slurm.py.)"""
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter

import pytest
import torch

from helpers.plan import planned_runs
from helpers.runstates import run_states
from helpers.status import status_table
from helpers.workers import Worker

from conftest import SMALL, REPO, copy_repo, make, reference_records, wait_until, without_clock

pytestmark = pytest.mark.slow

# One CNN run of several epochs (and 3.2's and the MLP's short runs).
LONG = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD"], "lrs": [0.01], "seeds": 1, "epochs": 8}
WORK = """
import json, sys
from helpers.workers import work
report = work("smoke", json.loads(sys.argv[1]), None, sys.argv[2], poll_seconds=0.2)
print("REPORT " + json.dumps(report.__dict__), flush=True)
"""
WORKER = """
import json, sys
from helpers.workers import Worker
Worker("smoke", json.loads(sys.argv[1]), poll_seconds=0.2)()
"""


def start(code: str, overrides: dict, results_root, *args: str) -> subprocess.Popen:
    env = {**os.environ, "EML_RESULTS_ROOT": str(results_root), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code, json.dumps(overrides), *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def trained_slots(*logs: str) -> Counter:
    """How often each run was started in these logs ("<stem>: training ...")."""
    return Counter(m for log in logs for m in re.findall(r"\] ?(\S+): training ", log) + re.findall(r"^(\S+): training ", log, re.M))


def test_three_workers_share_one_store_and_train_every_run_once(store):
    workers = [start(WORK, SMALL, store.parent, f"w{i}") for i in range(3)]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), logs
    reports = [json.loads(log.split("REPORT ", 1)[1]) for log in logs]
    counts = trained_slots(*logs)
    states = run_states("smoke", SMALL)
    assert len(states) == 1 + 4 + 2 + 2 and all(s.state == "stored" for s in states)
    assert set(counts) == {s.run.slot for s in states} and set(counts.values()) == {1}  # each once, none twice
    assert sorted(sum((r["trained"] for r in reports), [])) == sorted(counts)
    assert sum(bool(r["trained"]) for r in reports) >= 2  # the work was shared, not done by one while others idled
    chosen = [s for s in states if s.run.aliases]  # the waiting seeds, resolved once their sweeps were stored
    assert len(chosen) == 2 and all(s.run.slot in counts for s in chosen)
    assert all(not r["left"] and not r["failed"] for r in reports)


def test_a_killed_worker_leaves_no_stale_lock_and_its_run_resumes_in_another(store):
    [cnn] = [p for p in planned_runs("smoke", LONG) if p.config.model == "cnn"]
    first = start(WORK, LONG, store.parent, "first")
    checkpoint = wait_until(lambda: list(store.glob(f"{cnn.slot}-*.ckpt")), 300, "the CNN's first checkpoint")[0]
    table = status_table(run_states("smoke", LONG))
    assert re.search(rf"{re.escape(cnn.slot)}\s+\S+\s+running \(worker first \(pid {first.pid} on ", table), table
    first.send_signal(signal.SIGKILL)
    first.wait()
    lock = checkpoint.with_suffix(".lock")
    assert lock.exists() and json.loads(lock.read_text())["worker"] == "first"  # the dead holder's note stays...
    assert not [st for st in run_states("smoke", LONG) if st.state == "running"]  # ...but holds nothing
    second = start(WORK, LONG, store.parent, "second")
    log = second.communicate(timeout=600)[0]
    assert second.returncode == 0, log
    [result] = store.glob(f"{cnn.slot}-*.json")
    record = json.loads(result.read_text())
    assert len(record["resumes"]) == 1 and 1 <= record["resumes"][0]["after_epoch"] < 8
    assert [r["epoch"] for r in record["records"]] == list(range(1, 9))  # no epoch lost, none twice
    reference = reference_records(cnn.slot, LONG, results_root=store.parent)  # uninterrupted, one thread
    assert without_clock(record["records"]) == without_clock(reference)
    assert not list(store.glob("*.ckpt"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_worker_without_cuda_says_so_once_trains_the_rest_and_fails(store):
    overrides = {"devices": ["cpu", "cuda"], "pipelines": ["resident"], "optimizers": ["SGD"], "lrs": [0.03],
                 "seeds": 1, "epochs": 2}
    worker = start(WORKER, overrides, store.parent)
    log = worker.communicate(timeout=600)[0]
    assert worker.returncode == 1  # the task's status says it did not finish the plan
    assert log.count("needs CUDA, and this machine has none") == 2  # said once, and once in the summary
    assert "left 3.2's 2 runs: needs CUDA" in log and "Traceback" not in log
    states = {s.run.slot: s.state for s in run_states("smoke", overrides)}
    assert {slot for slot, state in states.items() if state != "stored"} == {
        "mnist-mlp-sgd-lr0.1-cpu-resident", "mnist-mlp-sgd-lr0.1-cuda-resident"}  # left whole, CPU side included


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_waiting_run_whose_sweep_needs_cuda_is_left_with_its_reason(store):
    overrides = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD"], "lrs": [0.03, 0.003],
                 "seeds": 2, "epochs": 1, "device": "cuda"}  # 3.3's and 3.4's runs on a GPU
    worker = start(WORKER, overrides, store.parent)
    log = worker.communicate(timeout=600)[0]
    assert worker.returncode == 1 and "Traceback" not in log
    [waiting] = [p.slot for p in planned_runs("smoke", overrides) if p.waiting]
    assert f"left {waiting}: waits on runs that no worker here can train" in log
    assert trained_slots(log) == Counter({"mnist-mlp-sgd-lr0.1-cpu-resident": 1})  # 3.2's CPU run, nothing else


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("repo"))


CPU_ONLY = {"devices": ["cpu"]}


def test_make_results_with_two_workers_trains_each_run_once(repo):
    done = make(repo, "results", "PROFILE=smoke", "WORKERS=2", overrides=CPU_ONLY)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[worker 0]" in done.stdout and "[worker 1]" in done.stdout and "2 worker(s) on this machine" in done.stdout
    logs = [p.read_text() for p in (repo / "build" / "smoke" / "workers").glob("*_log.out")]
    counts = trained_slots(*logs)
    stored = list((repo / "results" / "smoke").glob("*.json"))
    assert len(logs) == 2 and len(stored) == 16 and set(counts.values()) == {1} and len(counts) == 16
    assert all(not json.loads(p.read_text())["resumes"] for p in stored)
    assert len(list((repo / "build" / "smoke" / "executed").glob("*.ipynb"))) == 4


@pytest.mark.parametrize("target, setting", [("results", "WORKERS=0"), ("pdf", "WORKERS=two"), ("results", "WORKERS=-2"),
                                             ("sbatch", "MAX_PARALLEL=0"), ("sbatch", "MAX_PARALLEL=all")])
def test_a_count_that_makes_no_sense_is_one_error_and_starts_nothing(repo, target, setting):
    before = sorted((repo / "build").rglob("*")) + sorted((repo / "slurm").rglob("*"))
    refused = make(repo, target, "PROFILE=smoke", setting)
    name, value = setting.split("=")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert refused.stderr.splitlines()[0] == f"error: {name} must be a whole number of at least 1, got {setting}"
    assert sorted((repo / "build").rglob("*")) + sorted((repo / "slurm").rglob("*")) == before  # nothing started


def test_ctrl_c_stops_every_local_worker_and_loses_no_completed_epoch(tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("EML_RESULTS_ROOT", str(results))
    argv = [sys.executable, "-m", "helpers.report", "execute", "--profile", "smoke", "--overrides", json.dumps(LONG),
            "--workers", "2", "--build-root", str(tmp_path / "build")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # its own process group, as a terminal's foreground job
    wait_until(lambda: list((results / "smoke").glob("cifar10-cnn-*.ckpt")), 300, "the CNN's first checkpoint")
    os.killpg(parent.pid, signal.SIGINT)  # what Ctrl-C does: every process of the group gets SIGINT
    out, err = parent.communicate(timeout=120)
    assert parent.returncode == 2 and "stopped: every worker has ended" in err, err
    assert "Traceback" not in err and "executing" not in out  # no notebook ran after the stop

    def group_gone() -> bool:
        try:
            os.killpg(parent.pid, 0)
        except ProcessLookupError:
            return True
        return False
    wait_until(group_gone, 30, "every process of the group ending")  # no worker is left running
    [checkpoint] = (results / "smoke").glob("cifar10-cnn-*.ckpt")
    assert not [s for s in run_states("smoke", LONG) if s.state == "running"]
    again = start(WORK, LONG, results, "again")
    log = again.communicate(timeout=600)[0]
    assert again.returncode == 0, log
    record = json.loads(checkpoint.with_suffix(".json").read_text())
    assert len(record["resumes"]) == 1 and [r["epoch"] for r in record["records"]] == list(range(1, 9))


def test_a_worker_keeps_the_submitters_data_root(tmp_path, monkeypatch):
    # SLURM (or a requeue) may start the worker in another folder: `make sbatch DATA_ROOT=data/copy` means this one.
    monkeypatch.chdir(tmp_path)
    assert Worker("smoke", None, "data/copy").data_root == str(tmp_path / "data" / "copy")
    assert Worker("smoke").data_root is None  # the notebooks' default ($EML_DATA_ROOT, else data/)


def test_jobs_on_one_node_are_told_apart_by_the_gpu_slurm_gave_them(monkeypatch):
    # torch 1.13 has no GPU UUID, and every job of a node may see its own GPU as CUDA device 0.
    from helpers.environment import gpu_identity, shares_device
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.delenv("SLURM_STEP_GPUS", raising=False)
    identities = []
    for allocated in ("3", "5"):
        monkeypatch.setenv("SLURM_JOB_GPUS", allocated)
        identities.append({"host": "node1", "device": "cuda", "gpu": gpu_identity(0)})
    assert identities[0]["gpu"] == "node GPU 3" and not shares_device(*identities)
    assert shares_device(identities[0], dict(identities[0]))
    assert gpu_identity(0, uuid="GPU-1234") == "GPU-1234"
    monkeypatch.delenv("SLURM_JOB_GPUS")
    assert gpu_identity(0) == "0#0"  # outside SLURM: CUDA's numbering
