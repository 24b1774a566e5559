"""Hand-made runs for the prose tests (tests/test_observed_*.py): scenarios of runs a user can configure."""
from __future__ import annotations

import re

from findings_factory import make_history
from helpers.findings import compare_models

NO_GPU = "**There is no GPU run in this report** (none was configured, or none could run here), so the plot " \
         "shows the CPU run only; nothing here is a GPU measurement."


def scenario_run(kind: str, device: str, pipeline: str = "template"):
    """A run of a kind: absent, normal, fast, slow, diverged, one epoch, or filed as CUDA but recorded on the CPU."""
    n, time = 5, {"cpu": 2.0, "cuda": 0.5}[device]
    if kind == "absent":
        return None
    if kind == "slow":
        time = 4.0
    if kind == "diverged":
        return make_history([0.9, 0.1], test_loss=[1.0, None], train_loss=[1.0, None], status="diverged", device=device,
                            pipeline=pipeline, train_time=[time] * 2)
    if kind == "one epoch":
        n = 1
    recorded = "cpu" if kind == "recorded on cpu" else device
    return make_history([0.9, 0.95, 0.96, 0.97, 0.965][:n], train_time=[time] * n, device=recorded, pipeline=pipeline)


def no_cuda(histories) -> bool:
    return all(h is None or h.environment["device"] != "cuda" for h in histories)


CELLS = [("cpu", "template"), ("cpu", "resident"), ("cuda", "template"), ("cuda", "resident")]


def rate_run(val, lr, status="completed"):
    return make_history([0.5] * len(val), val_accuracy=val, lr=lr, status=status, dataset="cifar10", model="cnn")


RATE_SCENARIOS = {
    "normal": {0.1: rate_run([0.3, 0.4, 0.45], 0.1), 0.01: rate_run([0.3, 0.5, 0.6], 0.01),
               0.001: rate_run([0.2, 0.25, 0.3], 0.001)},
    "all diverged": {0.1: rate_run([0.1], 0.1, "diverged"), 0.01: rate_run([0.1, 0.1], 0.01, "diverged")},
    "single": {0.1: rate_run([0.3], 0.1)},
    "tie": {0.1: rate_run([0.3, 0.5], 0.1), 0.01: rate_run([0.3, 0.5], 0.01)},
    "all at chance": {0.1: rate_run([0.1, 0.12], 0.1), 0.01: rate_run([0.11, 0.1], 0.01)},
    "missing": {0.1: None, 0.01: make_history([0.5], lr=0.01), 0.001: rate_run([0.3], 0.001)},
    "none": {},
}


def seeded_runs(finals, model="cnn", diverged_seed=None):
    runs = []
    for i, final in enumerate(finals):
        seed = i + 1
        if seed == diverged_seed:
            runs.append(make_history([0.3, 0.1], seed=seed, status="diverged", test_loss=[1.0, None],
                                     train_loss=[1.0, None], dataset="cifar10", model=model))
        else:
            runs.append(make_history([final - 0.1, final - 0.05, final], seed=seed, dataset="cifar10", model=model))
    return runs


def times_named(text: str, lr: str) -> int:
    """How often a rate is written in a text (0.01 is not counted inside 0.001, nor 0.1 inside 0.15)."""
    return len(re.findall(rf"(?<![\d.]){re.escape(lr)}(?![\d])", text))


def cnn_and_chance_mlp(cnn_test_loss=None, cnn_train_loss=None, seeds=(1, 2)):
    cnn = [make_history([0.5, 0.6, 0.7], train_accuracy=[0.4, 0.5, 0.68], test_loss=cnn_test_loss,
                        train_loss=cnn_train_loss(s) if callable(cnn_train_loss) else cnn_train_loss, seed=s,
                        model="cnn", dataset="cifar10", parameters=3000, train_time=[3.0] * 3) for s in seeds]
    mlp = [make_history([0.09, 0.1, 0.1], train_accuracy=[0.1, 0.1, 0.104], seed=s, dataset="cifar10")
           for s in seeds]
    return compare_models(mlp, cnn)
