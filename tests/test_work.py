"""A worker's loop in one process: one unit and stop, a sweep stored while it reads the plan (the race), a unit that
fails, and workers on one machine sharing its cores. (Workers in processes and on SLURM: test_workers.py,
test_slurm.py.)"""
import pytest

from helpers.plan import planned_runs
from helpers.profiles import chapter_settings
from helpers.runstates import run_states

from conftest import SMALL

pytestmark = pytest.mark.slow


def test_a_worker_asked_for_one_unit_trains_3_2s_runs_alone_and_stops(store):
    # The GPU session trains 3.2's runs alone first, so that no other run shares the GPU they are timed on.
    from helpers.workers import work
    report = work("smoke", SMALL, None, "first", poll_seconds=0.2, log=lambda line: None, max_units=1)
    states = run_states("smoke", SMALL, None)
    chapter = [s for s in states if "3.2" in s.run.exercises]
    assert chapter and all(s.state == "stored" for s in chapter) and len(report.trained) == len(chapter)
    assert all(s.state != "stored" for s in states if "3.2" not in s.run.exercises)
    assert report.left == {} and report.failed == {}


def test_a_sweep_stored_while_the_plan_is_read_is_seen_and_its_seed_trained(store, monkeypatch):
    """The race: a worker reads the plan (a chosen rate's seed still waits for its sweep), another worker stores the
    sweep's last run, then the first reads the run files. It must read the plan again and train the seed, not quit
    with the seed "waiting on runs no worker here can train". Made to happen every time: the last sweep run is stored
    right after planned_runs returned."""
    from helpers import runstates
    from helpers.experiment import run
    from helpers.workers import work
    overrides = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD"], "lrs": [0.03, 0.003],
                 "seeds": 2, "epochs": 1}
    s = chapter_settings("smoke", overrides)["3.3"]
    plan = planned_runs("smoke", overrides)
    [last] = [p.config for p in plan if p.config is not None and p.config.model == "cnn" and p.config.lr == 0.003]
    for p in plan:  # everything stored but the sweep's last run (and the seed that waits on it)
        if p.config is not None and p.config != last:
            run(p.config, s.data_root, s.results_dir, progress=False)
    original, calls = runstates.planned_runs, []

    def plan_then_store(*args, **kwargs):
        planned = original(*args, **kwargs)
        if not calls:
            run(last, s.data_root, s.results_dir, progress=False)  # another worker, just now
        calls.append(planned)
        return planned
    monkeypatch.setattr(runstates, "planned_runs", plan_then_store)
    report = work("smoke", overrides, None, "w", poll_seconds=0.2, log=lambda line: None)
    assert any(p.waiting for p in calls[0])  # the window was hit: the first plan still had the seed waiting
    assert not report.left and not report.failed
    assert [slot for slot in report.trained if "seed2" in slot] == ["cifar10-cnn-sgd-lr0.03-seed2-cpu-resident"]
    assert all(st.state == "stored" for st in run_states("smoke", overrides))


def test_a_unit_that_fails_is_left_to_another_worker_and_the_others_are_trained(store, monkeypatch):
    """One unit raising stops neither the worker nor the other units; the failure is reported with its reason."""
    from helpers import workers
    overrides = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD"], "lrs": [0.03], "seeds": 1,
                 "epochs": 1}
    train_unit = workers.train_unit

    def failing(unit, *args, **kwargs):
        if "mlp" in unit.name and "cifar10" in unit.name:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return train_unit(unit, *args, **kwargs)
    monkeypatch.setattr(workers, "train_unit", failing)
    lines = []
    report = workers.work("smoke", overrides, None, "w", poll_seconds=0.2, log=lines.append)
    [failed] = report.failed
    assert "cifar10-mlp" in failed and "illegal memory access" in report.failed[failed]
    states = {st.run.slot: st.state for st in run_states("smoke", overrides)}
    assert {slot for slot, state in states.items() if state != "stored"} == {failed}  # every other unit trained
    assert any("FAILED in this worker, left for another one" in line for line in lines)


def test_workers_on_one_machine_divide_its_cores_and_side_by_side_ones_get_disjoint_halves(store, monkeypatch):
    from helpers import localworkers
    teams = []
    monkeypatch.setattr(localworkers, "run_workers", lambda team, log_dir, deadline=None: teams.append(team))
    monkeypatch.setattr(localworkers, "usable_cores", lambda: list(range(16)))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    localworkers.train_here("smoke", SMALL, None, 4, store.parent / "logs", first="side-by-side")
    first, rest = teams
    assert [(w.devices, w.cores, w.threads, w.max_units) for w in first] == [
        (("cpu",), list(range(8)), 8, 1), (("cuda",), list(range(8, 16)), 8, 1)]
    assert [w.threads for w in rest] == [4] * 4 and all(w.cores is None and w.devices is None for w in rest)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's own limit
    assert localworkers.threads_each(4, 16) == 2 and localworkers.threads_each(3, 2) == 1
    teams.clear()
    localworkers.train_here("smoke", SMALL, None, 2, store.parent / "logs", first="alone")
    assert [len(t) for t in teams] == [1, 2] and teams[0][0].max_units == 1
    with pytest.raises(Exception, match="unknown order 'sideways'"):
        localworkers.train_here("smoke", SMALL, None, 2, store.parent / "logs", first="sideways")
