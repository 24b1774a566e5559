"""The run plan, its states and tasks, and the cluster's limits (without a SLURM: see test_slurm.py)."""
import subprocess
import sys

import pytest
import torch

from helpers import cluster, jobs, status
from helpers.errors import UserError
from helpers.experiment import RunConfig, run, run_files
from helpers.plan import PlannedRun, planned_runs
from helpers.profiles import chapter_settings

from conftest import REPO

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def test_full_plan_lists_every_run_once_in_chapter_order(synthetic_root):
    plan = planned_runs("full", data_root=synthetic_root)
    slots = [p.slot for p in plan]
    assert len(slots) == len(set(slots)) == 4 + 5 + 3 + 2 + 15 + 3 * 2  # 3.2; 3.3 sweep, MLP seeds, CNN seeds; 3.4
    assert [p.exercises[0] for p in plan] == sorted(p.exercises[0] for p in plan)
    shared = [p for p in plan if p.exercises == ("3.3", "3.4")]
    assert len(shared) == 5 + 2 and all(p.waiting or p.config.optimizer == "SGD" for p in shared)  # 3.3's CNN = 3.4's SGD row
    waiting = [p for p in plan if p.waiting]
    assert len(waiting) == 4 * 2 and all(len(p.waits_on) == 5 and p.like is not None for p in waiting)


def test_overrides_shape_the_plan_and_unknown_ones_are_refused(synthetic_root):
    plan = planned_runs("full", {"devices": ["cpu"], "optimizers": ["Adam"], "lrs": [0.001], "seeds": 1},
                       data_root=synthetic_root)
    assert [p.slot for p in plan] == ["mnist-mlp-sgd-lr0.1-cpu-template", "mnist-mlp-sgd-lr0.1-cpu-resident",
                                      "cifar10-cnn-sgd-lr0.001-cuda-resident", "cifar10-mlp-sgd-lr0.1-cuda-resident",
                                      "cifar10-cnn-adam-lr0.001-cuda-resident"]
    with pytest.raises(UserError, match="unknown override.*epoch"):
        planned_runs("full", {"epoch": 3}, data_root=synthetic_root)


def test_waiting_seeds_resolve_once_the_sweep_is_stored(tmp_path, monkeypatch):
    synthetic_root = None  # the smoke profile's own stand-in data
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path))
    overrides = {"optimizers": ["SGD"], "seeds": 2, "devices": ["cpu"]}
    before = {p.slot: p for p in planned_runs("smoke", overrides, synthetic_root)}
    [waiting] = [p for p in before.values() if p.waiting]
    s = chapter_settings("smoke", overrides, synthetic_root)["3.3"]
    for slot in waiting.waits_on:
        run(before[slot].config, s.data_root, s.results_dir, progress=False)
    after = planned_runs("smoke", overrides, synthetic_root)
    [resolved] = [p for p in after if p.answers_to(waiting.slot)]
    assert resolved.config is not None and resolved.config.seed == 2 and resolved.slot == resolved.config.stem
    assert resolved.config.lr in s.lrs and not any(p.waiting for p in after)


def state(slot, exercise, seconds, epochs=1):
    config = RunConfig("cifar10", "cnn", epochs=epochs)
    return status.RunState(PlannedRun(slot, (exercise,), config), "missing", 0, seconds / epochs)


def test_tasks_fit_the_limit_and_keep_3_2_on_one_machine():
    states = [state("a", "3.2", 400), state("b", "3.2", 400), state("c", "3.2", 400), state("d", "3.3", 300),
              state("e", "3.3", 300), state("f", "3.4", 1500), state("g", "3.4", 10)]
    tasks = jobs.pack_tasks(states, time_limit=1800)   # budget 0.6 * 1800 - 30 = 1050 s
    assert [t.slots for t in tasks] == [("a", "b", "c"), ("d", "e"), ("f",), ("g",)]
    assert all(t.seconds <= 0.6 * 1800 for t in tasks if "a" not in t.slots and "f" not in t.slots)
    assert tasks[2].name == "f" and tasks[0].name == "a-and-2-more"


def test_status_shows_partial_runs_and_what_is_left(tmp_path, monkeypatch):
    synthetic_root = None  # the smoke profile's own stand-in data
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path))
    overrides = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD"], "lrs": [0.03], "seeds": 1}
    plan = planned_runs("smoke", overrides, synthetic_root)
    s = chapter_settings("smoke", overrides, synthetic_root)["3.2"]
    run(plan[0].config, s.data_root, s.results_dir, progress=False)
    files = run_files(plan[1].config, s.data_root, s.results_dir)
    files.save_checkpoint({"records": [{"epoch": 1, "train_time": 1.5, "eval_time": 0.5}], "resumes": []})
    table = status.status_table(status.run_states("smoke", overrides, synthetic_root))
    lines = {line.split()[0]: line for line in table.splitlines() if line.startswith(("mnist", "cifar10"))}
    assert "stored (2 epochs)" in lines[plan[0].slot]
    assert "partial at epoch 1/2" in lines[plan[1].slot] and "2.00 s" in lines[plan[1].slot]
    assert "missing" in lines[plan[2].slot]
    assert "1 of 3 runs stored; 2 to do" in table


@no_cuda
def test_pdf_under_full_stops_before_running_anything_when_gpu_runs_are_missing(synthetic_root, tmp_path):
    result = subprocess.run([sys.executable, "-m", "helpers.report", "pdf", "--profile", "full", "--data-root",
                             str(synthetic_root), "--build-root", str(tmp_path / "b")], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot be trained on this machine: mnist-mlp-sgd-lr0.1-cuda-template (needs a GPU)" in result.stderr
    assert "make sbatch" in result.stderr and "Nothing was executed" in result.stderr
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("text, seconds", [("30", 1800), ("30:00", 1800), ("1:30:00", 5400), ("2-00", 172800),
                                           ("1-02:03", 93780), ("0-00:30:00", 1800)])
def test_slurm_times(text, seconds):
    assert cluster.parse_time(text) == seconds


def test_resources_beyond_the_partition_are_refused(monkeypatch):
    monkeypatch.setattr(cluster, "partition_limits", lambda name: {"MaxTime": "00:30:00", "MaxCPUsPerNode": "4",
                                                                   "State": "UP"})
    cluster.check_resources(cluster.JobResources())
    with pytest.raises(UserError, match="TIME=2:00:00 exceeds partition exercise-eml's limit of 00:30:00"):
        cluster.check_resources(cluster.JobResources(time="2:00:00"))
    with pytest.raises(UserError, match="CPUS=8 exceeds"):
        cluster.check_resources(cluster.JobResources(cpus=8))
    with pytest.raises(UserError, match="not a SLURM time"):
        cluster.check_resources(cluster.JobResources(time="half an hour"))


def test_bad_overrides_on_the_command_line_are_one_message():
    result = subprocess.run([sys.executable, "-m", "helpers.jobs", "status", "--profile", "smoke", "--overrides",
                             "{epochs: 3}"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "OVERRIDES is not valid JSON" in result.stderr and "Traceback" not in result.stderr
