"""Numbers and tables for the generated "Observed" text: everything is computed from Histories."""
from __future__ import annotations

import re
import statistics

from .experiment import History


def summarize(history: History, split: str = "test") -> dict:
    """Return the headline numbers of one run on a split ("test" or "val")."""
    accuracy = history.column(f"{split}_accuracy")
    times = history.column("train_time")
    best = max(range(len(accuracy)), key=accuracy.__getitem__)
    final = history.records[-1]
    return {
        "final": accuracy[-1], "best": accuracy[best], "best_epoch": best + 1,
        "epochs_run": len(accuracy), "diverged": history.status == "diverged",
        "first_epoch_time": times[0],
        "median_epoch_time": statistics.median(times),
        "total_train_time": final["cumulative_train_time"],
        "total_eval_time": sum(history.column("eval_time")),
        "final_train_accuracy": final["train_accuracy"],
        "gap": final["train_accuracy"] - accuracy[-1],
        "parameters": history.parameters,
    }


def device_label(history: History) -> str:
    """Return "GPU (name)" or "CPU (model, threads)" from what the run recorded, never from what was asked."""
    kind = "GPU" if history.environment.get("device") == "cuda" else "CPU"
    return f"{kind} ({history.device_name})"


CHANCE_MARGIN = 0.05  # "at chance": never more than this above 1/classes


def at_chance(history: History, split: str = "val", classes: int = 10, margin: float = CHANCE_MARGIN) -> bool:
    """True if the run never got clearly above chance (1/classes + margin) on the split."""
    return max(history.column(f"{split}_accuracy")) < 1 / classes + margin


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


def pct(value: float, digits: int = 1) -> str:
    """Format an accuracy in [0, 1] as a percentage."""
    return f"{100 * value:.{digits}f} %"


def secs(value: float) -> str:
    """Format a duration in seconds with sensible precision."""
    if value >= 100:
        return f"{value:.0f} s"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def ratio(a: float, b: float) -> str:
    """Format a/b as "3.2x"."""
    return f"{a / b:.1f}x"


def _visible(text: str) -> str:
    return re.sub(r"\\[A-Za-z]+|[$*{}^_]", "", text)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """Return a GitHub/pandoc pipe table."""
    cells = [[str(cell) for cell in row] for row in rows]
    # Pandoc sizes the columns of a wide table by the dashes under each header. Each column gets room
    # for its longest word (words do not break) and half its longest text (that may wrap once);
    # LaTeX commands and markup take no room on the page.
    widths = []
    for i, header in enumerate(headers):
        texts = [_visible(t) for t in [header, *(row[i] for row in cells)]]
        longest_word = max(len(word) for text in texts for word in text.split() or [""])
        widths.append(5 + max(longest_word, max(len(text) for text in texts) // 2))
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("-" * w for w in widths) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)
