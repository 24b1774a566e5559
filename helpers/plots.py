"""Plots of accuracy over epochs or over training time, in one consistent style, saved as PNG.

In a notebook the figures are shown as SVG: vector graphics, sharp in the PDF at any zoom.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .experiment import History

_STYLE = {"figure.figsize": (7.0, 4.2), "figure.dpi": 110, "savefig.dpi": 160, "axes.grid": True,
          "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False, "legend.fontsize": 8.5,
          "legend.frameon": False, "font.size": 10}
_X = {"epoch": ("epoch", "Epoch"), "time": ("cumulative_train_time", "Training time (s, evaluation excluded)")}


def show_figures_as_svg() -> None:
    """Make the notebook's inline backend show matplotlib figures as SVG instead of PNG (no-op outside IPython)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("svg")


show_figures_as_svg()


def _save(fig, path: str | Path | None):
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, bbox_inches="tight")
    plt.close(fig)  # shown once, as the returned figure, not again by the inline backend
    return fig


def plot_accuracy(histories: dict[str, History], x: str = "epoch", split: str = "test", title: str = "",
                  path: str | Path | None = None, log_x: bool = False):
    """Plot the accuracy of several runs over epochs or training time in one axes; save and return the figure."""
    column, xlabel = _X[x]
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots()
        for label, history in histories.items():
            xs = history.column(column)
            ys = [100 * a for a in history.column(f"{split}_accuracy")]
            ax.plot(xs, ys, marker="o", markersize=2.5, linewidth=1.4, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{'Test' if split == 'test' else 'Validation'} accuracy (%)")
        if log_x:
            ax.set_xscale("log")
        ax.set_title(title)
        ax.legend(loc="lower right")
    return _save(fig, path)


def plot_heatmap(values: list[list[float | None]], rows: list[str], columns: list[str], title: str = "",
                 xlabel: str = "", path: str | Path | None = None):
    """Plot a table of accuracies (None = diverged) as an annotated heatmap; save and return the figure."""
    data = np.array([[np.nan if v is None else 100 * v for v in row] for row in values], dtype=float)
    with plt.rc_context({**_STYLE, "axes.grid": False, "figure.figsize": (1.2 + 1.0 * len(columns), 0.9 + 0.55 * len(rows))}):
        fig, ax = plt.subplots()
        top = np.nanmax(data) if np.isfinite(data).any() else 100.0
        image = ax.imshow(data, cmap="viridis", aspect="auto", vmin=10.0, vmax=max(top, 11.0))  # 10 % = chance
        ax.set_xticks(range(len(columns)))
        ax.set_xticklabels(columns)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(rows)
        for i in range(len(rows)):
            for j in range(len(columns)):
                missing = np.isnan(data[i, j])
                ax.text(j, i, "diverged" if missing else f"{data[i, j]:.1f}", ha="center", va="center",
                        fontsize=8.5, color="black" if not missing and data[i, j] > 0.7 * top else "white")
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        fig.colorbar(image, ax=ax, label="accuracy (%)")
    return _save(fig, path)
