"""`make gpu-check`'s rows on graphed steps: a graphed run computes what an eager one computes, and a checkpoint
written by either path resumes on the other.

Each comparison trains the same seeded run twice from the same start, a few hundred steps, once with eager steps
and once replaying its CUDA graph, and compares the parameters. The MLP's must be identical; the CNN's are with
cuDNN's deterministic algorithms (its fastest ones may sum in a different order on every call). Adam on CUDA takes
its fused step both ways (one kernel, the step count on the GPU): identical too. Where Adam is not fused (the CPU's
stand-in), the captured one (`capturable=True`) computes its bias corrections on the device in float32, not on the
host in float64, so its updates differ in the last bits; and Adam divides by the root of its second moment, which is
tiny once the data are fitted, so such differences grow (on an H200, with the multi-tensor step, the parameters were
2 % apart after 315 steps of the CNN on 4,000 images, both at a training loss below 1e-6). Such a row passes when
the two runs' training losses agree every epoch (LOSS_AGREEMENT) and says how far apart the parameters are.
On the CPU (the tests) an eager stand-in of the capture runs the same bookkeeping.
"""
from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import torch

from . import experiment
from .experiment import RunConfig, run
from .graphs import GraphedSteps, StepPath, captures_step, eager_capture
from .preparation import prepare_run
from .training import fuses, train_one_epoch

LOSS_AGREEMENT = (1e-3, 1e-5)  # relative, absolute: training losses of eager and captured Adam (not fused) that agree


def table_row(check: str, started: float, ok: bool, detail: str) -> tuple:
    """A row of gpu-check's table: (check, result, seconds since `started`, detail)."""
    return check, "ok" if ok else "FAILED", f"{time.perf_counter() - started:.1f} s", detail


@contextlib.contextmanager
def deterministic_cudnn():
    """cuDNN's deterministic algorithms for the block (and no benchmarking among the others), then as before."""
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def trained_both_ways(config: RunConfig, root: Path, epochs: int, deterministic: bool):
    """The run trained `epochs` epochs with eager steps and with graphed ones (on the CPU: the stand-in); return
    (eager, graphed) as (parameters, [(loss, accuracy) per epoch], graphed epochs)."""
    device = torch.device(config.device)
    outcome = []
    for graphs in (False, True):
        prepared = prepare_run(config, root, device, graphs=graphs)
        steps = prepared.steps
        if graphs and steps is None:  # the CPU: no CUDA graph, the same bookkeeping
            steps = GraphedSteps(StepPath(True, captures_step(type(prepared.optimizer)), "stand-in"), capture=eager_capture)
        train_epoch = steps.train_epoch if graphs else train_one_epoch
        sums, graphed = [], 0
        with deterministic_cudnn() if deterministic else contextlib.nullcontext():
            for _ in range(epochs):
                sums.append(train_epoch(prepared.model, prepared.optimizer, prepared.train_batches, device)[:2])
                graphed += bool(graphs and steps.graphed)
        outcome.append(([p.detach().clone() for p in prepared.model.parameters()], sums, graphed))
    return outcome


def largest_difference(a: list[torch.Tensor], b: list[torch.Tensor]) -> tuple[float, float]:
    """The largest absolute difference between two parameter lists, and that over the largest absolute value."""
    diff = max(float((x - y).abs().max()) for x, y in zip(a, b))
    scale = max(float(x.abs().max()) for x in a)
    return diff, diff / scale if scale else diff


def losses_agree(a: list[tuple], b: list[tuple]) -> bool:
    """True if every epoch's training loss of the two runs agrees within LOSS_AGREEMENT."""
    relative, absolute = LOSS_AGREEMENT
    return all(abs(x[0] - y[0]) <= max(absolute, relative * abs(x[0])) for x, y in zip(a, b))


def same_numbers_rows(device: str, root: Path, size: dict) -> list[tuple]:
    """Eager and graphed training compared: identical where the arithmetic is the same, else how far apart."""
    rows, fused = [], fuses(torch.optim.Adam, torch.device(device).type)
    base = dict(device=device, pipeline="resident", epochs=1, train_subset=size["train_subset"],
                test_subset=size["test_subset"])
    cases = (("MLP SGD", RunConfig("mnist", "mlp", lr=0.1, **base), False, True),
             ("MLP Adagrad, eager step", RunConfig("mnist", "mlp", optimizer="Adagrad", lr=0.01, **base), False, True),
             ("CNN SGD, deterministic cuDNN", RunConfig("cifar10", "cnn", lr=0.05, **base), True, True),
             ("CNN Adam, " + ("fused" if fused else "capturable"),
              RunConfig("cifar10", "cnn", optimizer="Adam", lr=1e-3, **base), True, fused))
    epochs = size["graph_epochs"]
    for name, config, deterministic, identical in cases:
        started = time.perf_counter()
        (eager, eager_sums, _), (graphed, graphed_sums, graphed_epochs) = trained_both_ways(config, root, epochs,
                                                                                          deterministic)
        diff, relative = largest_difference(eager, graphed)
        steps = epochs * (config.train_subset // config.batch_size + bool(config.train_subset % config.batch_size))
        agree = diff == 0 and graphed_sums == eager_sums if identical else losses_agree(eager_sums, graphed_sums)
        ok = agree and graphed_epochs == epochs and all(torch.isfinite(p).all() for p in graphed)
        rows.append(table_row(f"graphed = eager: {name}", started, ok,
                              f"{steps} steps ({graphed_epochs} of {epochs} epochs graphed): parameters "
                              + ("identical" if diff == 0 else f"differ by up to {diff:.2e} ({relative:.1e} of the "
                                                               "largest)")
                              + f", final loss {graphed_sums[-1][0]:.6f} graphed, {eager_sums[-1][0]:.6f} eager"))
    return rows


class CutOff(Exception):
    """Stands for a kill: the run stops in its second epoch, after the checkpoint of its first."""


@contextlib.contextmanager
def cut_in_epoch_2():
    """Runs trained in the block stop when their second epoch starts (their first one's checkpoint written)."""
    train = experiment.train

    def cut(*args, on_epoch_end=None, **kwargs):
        def end(records):
            on_epoch_end(records)
            raise CutOff
        return train(*args, on_epoch_end=end, **kwargs)
    experiment.train = cut
    try:
        yield
    finally:
        experiment.train = train


def resume_switch_rows(device: str, root: Path, size: dict) -> list[tuple]:
    """A checkpoint written with eager steps resumes graphed, and the other way round: the MLP (SGD) ends exactly
    where the uninterrupted eager run ends, and so does Adam where it is fused (CUDA: the same kernel both ways); Adam
    not fused (its optimizer state brought to the other path) runs to its end."""
    rows, fused = [], fuses(torch.optim.Adam, torch.device(device).type)
    base = dict(device=device, pipeline="resident", epochs=3, train_subset=size["train_subset"],
                test_subset=size["test_subset"])
    for optimizer, lr in (("SGD", 0.1), ("Adam", 1e-3)):
        config = RunConfig("mnist", "mlp", optimizer=optimizer, lr=lr, **base)
        started = time.perf_counter()
        whole = run(config, root, results_dir=None, progress=False, graphs=False)
        outcomes = []
        for first, then in ((False, True), (True, False)):
            results = Path(tempfile.mkdtemp(dir=root))
            with cut_in_epoch_2(), contextlib.suppress(CutOff):
                run(config, root, results, progress=False, graphs=first)
            outcomes.append(run(config, root, results, progress=False, graphs=then))
        expected = [(r["test_loss"], r["test_accuracy"]) for r in whole.records]
        exact = all([(r["test_loss"], r["test_accuracy"]) for r in h.records] == expected for h in outcomes)
        switched = [[r["graphed"] for r in h.records] for h in outcomes]
        on_gpu = device == "cuda"
        ok = (all(len(h.records) == 3 and [r["after_epoch"] for r in h.resumes] == [1] for h in outcomes)
              and (not on_gpu or switched == [[False, True, True], [True, False, False]])
              and (exact or optimizer == "Adam" and not fused) and all(h.records[-1]["test_loss"] is not None for h in outcomes))
        rows.append(table_row(f"resume across the switch: {optimizer}", started, ok,
                              "eager → graphed and graphed → eager after epoch 1: "
                              + ("both end exactly as the uninterrupted eager run" if exact else
                                 "final test loss " + ", ".join(f"{h.records[-1]['test_loss']:.6f}" for h in outcomes)
                                 + f" against {whole.records[-1]['test_loss']:.6f} uninterrupted")))
    return rows


def graph_rows(device: str, root: Path, size: dict) -> list[tuple]:
    """Every row on graphed steps."""
    return same_numbers_rows(device, root, size) + resume_switch_rows(device, root, size)
