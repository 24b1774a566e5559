"""The run plan, its states and tasks, and the cluster's limits (without a SLURM: see test_slurm.py)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from helpers import cluster, estimates, runstates, status, workers
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
    # The rate validation chose, by hand: best mean validation accuracy of the last 3 epochs, the smaller on a tie.
    sweep = [run(before[slot].config, s.data_root, s.results_dir, train_missing=False) for slot in waiting.waits_on]
    scores = {h.config.lr: sum(h.column("val_accuracy")[-3:]) / len(h.column("val_accuracy")[-3:]) for h in sweep
              if h.status == "completed"}
    chosen = min(lr for lr, score in scores.items() if score == max(scores.values()))
    assert resolved.config.lr == chosen and not any(p.waiting for p in after)


def state(slot, exercise, status_name="missing", per_epoch=None, **config):
    run_config = RunConfig("cifar10", "cnn", **{"pipeline": "resident", **config})
    return runstates.RunState(PlannedRun(slot, (exercise,), run_config), status_name, 0, per_epoch)


def test_work_units_keep_3_2_whole_and_take_partial_runs_first():
    states = [state("a", "3.2"), state("b", "3.2", "stored"), state("c", "3.3", "stored"), state("d", "3.3"),
              state("e", "3.4", "partial", 2.0), state("f", "3.4", "running")]
    units = workers.open_units(states)
    assert [[r.run.slot for r in u.runs] for u in units] == [["e"], ["a", "b"], ["d"], ["f"]]
    assert [[r.run.slot for r in u.open_runs] for u in units] == [["e"], ["a"], ["d"], ["f"]]  # b is stored
    assert units[1].name == "3.2's 2 runs" and units[0].partial and units[3].running
    assert workers.open_units([state("b", "3.2", "stored")]) == []
    cuda = [state("g", "3.2", device="cuda"), state("h", "3.2", device="cpu")]
    assert "needs CUDA" in workers.why_not_here(workers.Unit(tuple(cuda)), cuda_available=False)
    assert workers.why_not_here(workers.Unit(tuple(cuda)), cuda_available=True) is None


def test_estimates_come_from_measured_runs_of_the_same_kind_per_training_image():
    measured = state("m", "3.3", "stored", 9.0, val_size=5000)           # 45,000 training images: 0.2 ms each
    same_kind = state("s", "3.4", train_subset=4500)                     # a tenth of the images
    other_kind = state("o", "3.4", pipeline="template")
    partial = state("p", "3.4", "partial", 3.0, device="cuda")           # its own epochs count first
    estimated = {s.run.slot: s for s in runstates.with_estimates([measured, same_kind, other_kind, partial])}
    assert estimated["s"].per_epoch == pytest.approx(0.9) and estimated["s"].remaining_seconds == pytest.approx(27)
    assert estimated["o"].estimate is None
    built_in = estimates.EPOCH_SECONDS["cifar10", "cnn", "cpu", "template"] * 50000 / 45000  # all 50,000 images, not
    assert estimated["o"].per_epoch == pytest.approx(built_in)                            # the profile's 45,000
    assert estimated["p"].per_epoch == 3.0 and estimated["m"].remaining_seconds == 0
    table = status.status_table(list(estimated.values()), queue=[])
    assert "~0.90 s " in table and f"~{built_in:.2f} s*" in table and "built-in figures" in table
    assert "Workers in SLURM's queue: none." in table


def test_a_partial_runs_own_epochs_come_before_its_kinds_and_shared_epochs_set_no_estimate():
    measured = state("m", "3.3", "stored", 9.0, val_size=5000)           # its kind: 0.2 ms per training image
    partial = state("p", "3.4", "partial", 3.0, val_size=5000)           # the same kind, its own epochs measured
    estimated = {s.run.slot: s for s in runstates.with_estimates([measured, partial])}
    assert estimated["p"].per_epoch == 3.0 != estimated["p"].estimate  # not the median of its kind (6.0)
    alone, shared = {"conditions": {"sharing": 0}}, {"conditions": {"sharing": 3}}
    records = [{"train_time": t, "eval_time": 0.5, **c} for t, c in ((4.0, alone), (9.0, shared), (5.0, alone),
                                                                      (11.0, shared), (13.0, shared))]
    assert runstates.measured_epoch_seconds(records) == pytest.approx(5.0)  # the median of the epochs timed alone
    assert runstates.measured_epoch_seconds([r for r in records if r is not records[0] and r is not records[2]]) \
        == pytest.approx(11.5)  # none alone: what there is, rather than nothing


def test_status_shows_partial_runs_and_what_is_left(tmp_path, monkeypatch):
    synthetic_root = None  # the smoke profile's own stand-in data
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path))
    overrides = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD"], "lrs": [0.03], "seeds": 1}
    plan = planned_runs("smoke", overrides, synthetic_root)
    s = chapter_settings("smoke", overrides, synthetic_root)["3.2"]
    run(plan[0].config, s.data_root, s.results_dir, progress=False)
    files = run_files(plan[1].config, s.data_root, s.results_dir)
    files.save_checkpoint({"records": [{"epoch": 1, "train_time": 1.5, "eval_time": 0.5}], "resumes": []})
    table = status.status_table(runstates.run_states("smoke", overrides, synthetic_root))
    lines = {line.split()[0]: line for line in table.splitlines() if line.startswith(("mnist", "cifar10"))}
    assert "stored (2 epochs)" in lines[plan[0].slot]
    assert "partial at epoch 1/2" in lines[plan[1].slot] and "2.00 s" in lines[plan[1].slot]
    assert "missing" in lines[plan[2].slot]
    assert "1 of 3 runs stored; 2 to do" in table


@no_cuda
def test_pdf_under_full_stops_before_running_anything_when_gpu_runs_are_missing(synthetic_root, tmp_path,
                                                                                own_results_root):
    result = subprocess.run([sys.executable, "-m", "helpers.report", "pdf", "--profile", "full", "--data-root",
                             str(synthetic_root), "--build-root", str(tmp_path / "b")], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot be trained on this machine: mnist-mlp-sgd-lr0.1-cuda-template (needs a GPU)" in result.stderr
    # the commands to go on with name this plan's data (and overrides) and the results folder: the same plan and
    # the same stored runs, not the default ones
    results = f"RESULTS={own_results_root}"
    assert f"`make sbatch {results} DATA_ROOT={synthetic_root}" in result.stderr
    assert f"`make status {results} DATA_ROOT={synthetic_root}" in result.stderr
    assert "Nothing was executed" in result.stderr
    assert not (tmp_path / "b").exists()


def test_pdf_under_full_refuses_a_run_that_another_process_trains(synthetic_root, tmp_path):
    overrides = {"devices": ["cpu"], "device": "cpu", "optimizers": ["SGD"], "lrs": [0.1], "seeds": 1}
    env = {**os.environ, "EML_RESULTS_ROOT": str(tmp_path / "results")}
    hold = ("import json, sys; from helpers.plan import planned_runs; from helpers.experiment import run_files; "
            "from helpers.profiles import chapter_settings; o = json.loads(sys.argv[1]); "
            "s = chapter_settings('full', o, sys.argv[2])['3.2']; first = planned_runs('full', o, sys.argv[2])[0]; "
            "files = run_files(first.config, s.data_root, s.results_dir, False)\n"
            "with files.locked({'worker': 'elsewhere', 'host': 'node7'}):\n"
            "    print(first.slot, flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", hold, json.dumps(overrides), str(synthetic_root)], cwd=REPO,
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        slot = holder.stdout.readline().strip()
        result = subprocess.run([sys.executable, "-m", "helpers.report", "pdf", "--profile", "full", "--data-root",
                                 str(synthetic_root), "--overrides", json.dumps(overrides), "--build-root",
                                 str(tmp_path / "b")], cwd=REPO, capture_output=True, text=True, env=env)
    finally:
        holder.stdin.close()
        holder.wait()
    assert slot and result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{slot} (being trained by another process right now)" in result.stderr, result.stderr
    assert "Nothing was executed" in result.stderr and not (tmp_path / "b").exists()


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
    with pytest.raises(UserError, match=r"TIME=2:00 is too short: a task needs more than 120 s"):
        cluster.check_resources(cluster.JobResources(time="2:00"))
    for limits in ({"cpus": 0}, {"max_parallel": 0}, {"gpus": -1}):
        with pytest.raises(UserError, match="CPUS and MAX_PARALLEL must be at least 1 and GPUS at least 0"):
            cluster.check_resources(cluster.JobResources(**limits))
    monkeypatch.setattr(cluster, "partition_limits", lambda name: {"MaxTime": "UNLIMITED", "State": "DRAIN"})
    with pytest.raises(UserError, match="partition exercise-eml is DRAIN, not UP: nothing submitted"):
        cluster.check_resources(cluster.JobResources(time="2-00"))


def test_without_slurm_sbatch_says_so_and_status_still_works(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "EML_RESULTS_ROOT": str(tmp_path / "results")}  # no SLURM commands
    submit = subprocess.run([sys.executable, "-m", "helpers.jobs", "submit", "--profile", "smoke"], cwd=REPO,
                            capture_output=True, text=True, env=env)
    assert submit.returncode == 2 and "Traceback" not in submit.stderr
    assert "scontrol not found: this machine is not a SLURM login node. Train with `make results`" in submit.stderr
    status = subprocess.run([sys.executable, "-m", "helpers.jobs", "status", "--profile", "smoke"], cwd=REPO,
                            capture_output=True, text=True, env=env)
    assert status.returncode == 0 and "runs stored" in status.stdout and "Workers in SLURM" not in status.stdout


def test_each_plan_has_its_own_name_in_the_queue():
    from helpers.jobs import job_name
    assert job_name("full") == job_name("full", {}) == "eml-ex3-full"
    five, six = job_name("full", {"epochs": 5}), job_name("full", {"epochs": 6})
    assert five.startswith("eml-ex3-full-") and five != six  # another plan's workers neither block nor count
    assert job_name("full", {"epochs": 5, "seeds": 2}) == job_name("full", {"seeds": 2, "epochs": 5})


def test_status_shows_the_plan_when_squeue_fails(tmp_path):
    squeue = tmp_path / "squeue"
    squeue.write_text("#!/bin/sh\necho 'squeue: error: Unable to contact slurm controller (connect failure)' >&2\n"
                      "exit 1\n")
    squeue.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "EML_RESULTS_ROOT": str(tmp_path / "results")}
    status = subprocess.run([sys.executable, "-m", "helpers.jobs", "status", "--profile", "smoke"], cwd=REPO,
                            capture_output=True, text=True, env=env)
    assert status.returncode == 0 and "runs stored" in status.stdout and "Traceback" not in status.stderr
    assert "Workers in SLURM's queue: unknown (squeue --noheader" in status.stdout
    assert "Unable to contact slurm controller" in status.stdout


def test_bad_overrides_on_the_command_line_are_one_message():
    result = subprocess.run([sys.executable, "-m", "helpers.jobs", "status", "--profile", "smoke", "--overrides",
                             "{epochs: 3}"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "OVERRIDES is not valid JSON" in result.stderr and "Traceback" not in result.stderr
