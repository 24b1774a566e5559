"""CUDA-graphed steps, on the CPU: which runs are graphed and why, the names the CUDA path needs, and the graphed
epochs' bookkeeping (order, first eager step, warm-up undone, eager optimizer steps, partial batch, a failed
capture), run through an eager stand-in of the capture that must give exactly the eager loop's numbers."""
from __future__ import annotations

import types

import pytest
import torch

from helpers import graphs
from helpers.experiment import RunConfig, run
from helpers.graphs import GraphedSteps, StepPath, eager_capture, step_path
from helpers.preparation import conform_optimizer, prepare_run
from helpers.profiles import settings
from helpers.errors import UserError
from helpers.training import fuses, make_optimizer, train_one_epoch

CPU = torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# Which path, and the reason a run records
# ---------------------------------------------------------------------------------------------

def test_graphed_only_on_cuda_with_resident_batches_and_the_setting_on():
    assert step_path("cuda", "resident", "SGD").graphed
    assert "CPU run" in step_path("cpu", "resident", "SGD").reason and not step_path("cpu", "resident", "SGD").graphed
    template = step_path("cuda", "template", "SGD")
    assert not template.graphed and "template pipeline" in template.reason
    off = step_path("cuda", "resident", "SGD", enabled=False)
    assert not off.graphed and "graphs: false" in off.reason


def test_a_torch_without_graphs_trains_eagerly_and_says_which_torch():
    old = types.SimpleNamespace(cuda=types.SimpleNamespace(), __version__="1.9.0")
    path = step_path("cuda", "resident", "Adam", module=old)
    assert not path.graphed and "torch 1.9.0 has no CUDA graphs" in path.reason


@pytest.mark.parametrize("name, in_graph", [("SGD", True), ("sgd", True), ("Adam", True), ("AdamW", True),
                                            ("Adagrad", "capturable" in torch.optim.Adagrad.__init__.__code__.co_varnames),
                                            ("RMSprop", "capturable" in torch.optim.RMSprop.__init__.__code__.co_varnames)])
def test_the_optimizer_step_is_captured_where_this_torch_can(name, in_graph):
    path = step_path("cuda", "resident", name)
    assert path.graphed and path.optimizer_in_graph == in_graph
    assert ("step eagerly after each replay" in path.reason) != in_graph


def test_adam_steps_fused_on_cuda_and_its_graphed_run_says_so():
    # Every CUDA torch the project runs on has Adam's fused update (the course's 1.13.1 too, not AdamW's there).
    assert fuses(torch.optim.Adam, "cuda") and not fuses(torch.optim.Adam, "cpu")
    assert not any(fuses(cls, "cuda") for cls in (torch.optim.SGD, torch.optim.RMSprop, torch.optim.Adagrad))
    assert "Adam's fused step in one CUDA graph" in step_path("cuda", "resident", "Adam").reason
    assert "SGD's step in one CUDA graph" in step_path("cuda", "resident", "SGD").reason


def test_an_unknown_optimizer_is_a_user_error_before_anything_is_graphed():
    with pytest.raises(UserError, match="unknown optimizer"):
        step_path("cuda", "resident", "Adamm")


def test_every_torch_name_the_cuda_path_calls_exists_in_this_torch():
    # Run by the course stack too (Python 3.10, torch 1.13.1): the CUDA path cannot fail there for a missing name.
    for dotted in graphs.TORCH_NAMES:
        owner = torch
        for part in dotted.split("."):
            assert hasattr(owner, part), f"torch {torch.__version__} has no torch.{dotted}"
            owner = getattr(owner, part)
    assert graphs.has_graphs()
    assert "capturable" in torch.optim.Adam.__init__.__code__.co_varnames


def test_the_setting_is_a_boolean_and_no_part_of_a_runs_key(synthetic_root):
    assert settings("3.3", "smoke", {"graphs": False}).graphs is False
    with pytest.raises(UserError, match="graphs must be true or false"):
        settings("3.2", "smoke", {"graphs": "no"})
    assert "graphs" not in RunConfig.__dataclass_fields__


def test_a_cpu_run_records_eager_steps_and_why(synthetic_root):
    history = run(RunConfig("mnist", "mlp", epochs=1, pipeline="resident", train_subset=100, test_subset=50),
                  synthetic_root, progress=False)
    assert history.environment["steps"] == {"graphed": False, "optimizer_in_graph": False,
                                            "reason": "eager: a CPU run (CUDA graphs need a GPU)"}
    assert history.records[0]["graphed"] is False


# ---------------------------------------------------------------------------------------------
# The graphed epochs' bookkeeping, through the eager stand-in of the capture
# ---------------------------------------------------------------------------------------------

def prepared(synthetic_root, model="mlp", optimizer="SGD", lr=0.1, train_subset=200):
    dataset = "cifar10" if model == "cnn" else "mnist"
    config = RunConfig(dataset, model, optimizer=optimizer, lr=lr, epochs=3, batch_size=32, pipeline="resident",
                       train_subset=train_subset, test_subset=50)
    return prepare_run(config, synthetic_root, CPU)


def train_both_ways(synthetic_root, epochs=3, capture=eager_capture, **kwargs):
    eager, graphed = prepared(synthetic_root, **kwargs), prepared(synthetic_root, **kwargs)
    steps = GraphedSteps(StepPath(True, graphs.captures_step(type(graphed.optimizer)), "test"), log=lambda _: None,
                         capture=capture)
    results = [[], []]
    for _ in range(epochs):
        results[0].append(train_one_epoch(eager.model, eager.optimizer, eager.train_batches, CPU)[:2])
        results[1].append(steps.train_epoch(graphed.model, graphed.optimizer, graphed.train_batches, CPU)[:2])
    return eager, graphed, steps, results


@pytest.mark.parametrize("model, optimizer, lr", [("mlp", "SGD", 0.1), ("mlp", "Adam", 1e-3), ("mlp", "Adagrad", 1e-2),
                                                  ("cnn", "SGD", 0.05), ("mlp", "RMSprop", 1e-3)])
def test_graphed_epochs_compute_exactly_what_eager_epochs_compute(synthetic_root, model, optimizer, lr):
    # 200 images in batches of 32: six full batches (one eager, five replayed) and a partial one of 8.
    eager, graphed, steps, (eager_sums, graphed_sums) = train_both_ways(synthetic_root, model=model,
                                                                        optimizer=optimizer, lr=lr)
    assert steps.graphed and steps.failure is None
    assert graphed_sums == eager_sums
    for a, b in zip(eager.model.parameters(), graphed.model.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(eager.optimizer.state.values(), graphed.optimizer.state.values()):
        assert all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)
    # ... and the batches' generator stands where eager iteration left it (a checkpoint stores it)
    assert torch.equal(eager.train_batches.generator.get_state(), graphed.train_batches.generator.get_state())


@pytest.mark.parametrize("images", [20, 100])  # less than a batch; three full batches, no more than warm-up steps
def test_an_epoch_of_few_batches_trains_eagerly_with_the_same_numbers(synthetic_root, images):
    _, _, steps, (eager_sums, graphed_sums) = train_both_ways(synthetic_root, epochs=2, train_subset=images)
    assert graphed_sums == eager_sums and steps.replay is None and not steps.graphed


def test_a_failed_capture_trains_on_eagerly_with_the_same_numbers_and_says_why_once(synthetic_root):
    said = []

    def failing(step, optimizer, device):
        step()  # a warm-up step that changes the parameters before the capture fails
        raise RuntimeError("operation not permitted when stream is capturing")
    eager, graphed = prepared(synthetic_root), prepared(synthetic_root)
    steps = GraphedSteps(StepPath(True, True, "graphed: test"), log=said.append, capture=failing)
    for _ in range(3):
        assert steps.train_epoch(graphed.model, graphed.optimizer, graphed.train_batches, CPU)[:2] == \
            train_one_epoch(eager.model, eager.optimizer, eager.train_batches, CPU)[:2]
    assert not steps.graphed and len(said) == 1 and "capture failed" in said[0]
    assert steps.record() == {"graphed": False, "optimizer_in_graph": True,
                              "reason": "eager: the capture failed (RuntimeError: operation not permitted when stream "
                                        "is capturing)"}


# ---------------------------------------------------------------------------------------------
# Checkpoints across the switch
# ---------------------------------------------------------------------------------------------

def test_a_loaded_state_computes_as_this_run_does(tmp_path):
    params = [torch.nn.Parameter(torch.ones(3))]
    eager = make_optimizer("Adam", params, 0.1, CPU)
    params[0].grad = torch.ones(3)
    eager.step()
    saved = eager.state_dict()
    assert saved["param_groups"][0]["capturable"] is False
    graphed = make_optimizer("Adam", params, 0.1, CPU, capturable=True)
    assert graphed.defaults["capturable"] is True
    graphed.load_state_dict(saved)  # brings the eager run's capturable=False along
    conform_optimizer(graphed)
    assert graphed.param_groups[0]["capturable"] is True
    back = make_optimizer("Adam", params, 0.1, CPU)
    back.load_state_dict(graphed.state_dict())
    conform_optimizer(back)
    assert back.param_groups[0]["capturable"] is False and back.state[params[0]]["step"].device.type == "cpu"
    assert float(back.state[params[0]]["step"]) == 1.0


@pytest.mark.skipif(int(torch.__version__.split(".")[0]) < 2, reason="torch 1.x fuses Adam on CUDA only")
def test_a_state_saved_before_the_fused_update_steps_fused_once_loaded():
    params = [torch.nn.Parameter(torch.ones(3))]
    multi = make_optimizer("Adam", params, 0.1, CPU, foreach=True)
    params[0].grad = torch.ones(3)
    multi.step()
    fused = torch.optim.Adam(params, lr=0.1, fused=True)  # what make_optimizer gives a CUDA run
    fused.load_state_dict(multi.state_dict())
    assert fused.param_groups[0]["foreach"] is True and not fused.param_groups[0]["fused"]
    conform_optimizer(fused)
    assert fused.param_groups[0]["fused"] and not fused.param_groups[0]["foreach"]
    fused.step()  # a fused update with a loaded multi-tensor state: no error, the count goes on
    assert float(fused.state[params[0]]["step"]) == 2.0


# ---------------------------------------------------------------------------------------------
# gpu-check's rows on graphed steps fail where the graphed steps would compute something else
# ---------------------------------------------------------------------------------------------

def test_the_check_fails_where_warm_up_is_not_undone(tmp_path, monkeypatch):
    from helpers import graphcheck
    from helpers.synthetic import write_stand_ins
    root = write_stand_ins(tmp_path, n_mnist=400, n_cifar=400, n_test=100)
    size = dict(train_subset=300, test_subset=100, graph_epochs=1)
    assert [r[1] for r in graphcheck.same_numbers_rows("cpu", root, size)] == ["ok"] * 4
    # the warm-up's steps stay in the parameters (the sums and the step count are restored)
    monkeypatch.setattr(graphs, "snapshot_tensors", lambda model, optimizer, b: [b[k] for k in ("loss_sum", "correct",
                                                                                                "step")])
    rows = graphcheck.same_numbers_rows("cpu", root, size)
    # Adagrad's step is not captured, so its warm-up never steps the optimizer: nothing to undo there
    assert [r[1] for r in rows[:3]] == ["FAILED", "ok", "FAILED"] and "parameters differ by up to" in rows[0][3]


def test_capturable_adams_losses_agree_within_the_stated_tolerance():
    from helpers.graphcheck import LOSS_AGREEMENT, losses_agree
    relative, absolute = LOSS_AGREEMENT
    assert losses_agree([(2.0, 0.1), (1e-7, 1.0)], [(2.0 * (1 + relative / 2), 0.1), (3e-6, 1.0)])
    assert not losses_agree([(2.0, 0.1)], [(2.0 * (1 + 2 * relative), 0.1)])
    assert not losses_agree([(0.0, 1.0)], [(2 * absolute, 1.0)])
