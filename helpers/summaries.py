"""Headline numbers of runs as dicts (the older interface; helpers.findings has the typed findings)."""
from __future__ import annotations

import statistics

from .formatting import markdown_table, pct, ratio, secs  # noqa: F401  (re-exported: notebooks import them from here)
from .findings.runs import CHANCE_MARGIN  # one definition of "at chance" for tables and findings
from .experiment import History


def summarize(history: History, split: str = "test") -> dict:
    """Return the headline numbers of one run on a split ("test" or "val")."""
    accuracy = history.column(f"{split}_accuracy")
    times = history.column("train_time")
    best = max(range(len(accuracy)), key=accuracy.__getitem__)
    return {
        "final": accuracy[-1], "best": accuracy[best], "best_epoch": best + 1,
        "epochs_run": len(accuracy), "diverged": history.status == "diverged",
        "first_epoch_time": times[0],
        "median_epoch_time": statistics.median(times),
        "total_train_time": history.column("cumulative_train_time")[-1],
        "total_eval_time": sum(history.column("eval_time")),
        "final_train_accuracy": history.column("train_accuracy")[-1],
        "gap": history.column("train_accuracy")[-1] - accuracy[-1],
        "parameters": history.parameters,
    }


def device_label(history: History) -> str:
    """Return "GPU (name)" or "CPU (model, threads)" from what the run recorded, never from what was asked."""
    kind = "GPU" if history.environment.get("device") == "cuda" else "CPU"
    return f"{kind} ({history.environment.get('device_name', 'unknown')})"


def at_chance(history: History, split: str = "val", classes: int = 10, margin: float = CHANCE_MARGIN) -> bool:
    """True if the run was never above chance (1/classes + margin) on the split (as helpers.findings.at_chance)."""
    return max(history.column(f"{split}_accuracy")) <= 1 / classes + margin + 1e-12


def selection_score(history: History, last: int = 3) -> float:
    """Return the mean validation accuracy over the last epochs (-inf for a diverged run).

    The mean over a few final epochs, not the single best epoch, so that a rate that spikes and then
    becomes unstable is not chosen; the test set plays no part in the choice.
    """
    if history.status == "diverged":
        return float("-inf")
    accuracy = history.column("val_accuracy")[-last:]
    return sum(accuracy) / len(accuracy)


def choose_by_validation(histories: dict, last: int = 3):
    """Return the key (e.g. the learning rate) of the run with the best selection_score."""
    return max(histories, key=lambda key: selection_score(histories[key], last))
