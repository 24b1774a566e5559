"""Plots of accuracy over epochs or over training time, in one consistent style, saved as PNG, SVG or PDF.

In a notebook the figures are shown as SVG: vector graphics, sharp in the PDF at any zoom.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from .findings.runs import timing_of

_STYLE = {"figure.figsize": (7.0, 4.2), "figure.dpi": 110, "savefig.dpi": 160, "axes.grid": True,
          "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False, "legend.fontsize": 8.5,
          "legend.frameon": False, "font.size": 10, "pdf.fonttype": 42}  # PDF: embedded TrueType, text stays text
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
    """Save the figure if a path is given (its suffix decides the format: .png, or vector .svg/.pdf); return it."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, bbox_inches="tight")
    plt.close(fig)  # shown once, as the returned figure, not again by the inline backend
    return fig


@dataclass(frozen=True)
class SeedBand:
    """One configuration's accuracy curve over its seeds: per-epoch mean and min..max, up to the common length."""
    xs: tuple[float, ...]       # epoch numbers, or mean cumulative training time (s) at each epoch
    mean: tuple[float, ...]     # accuracy in [0, 1]
    low: tuple[float, ...]
    high: tuple[float, ...]
    seeds: int
    epochs: int                 # the common length: the shortest run's epochs
    cut: bool                   # a run (e.g. a diverged seed) was shorter, so longer runs are cut to `epochs`


def _runs(value) -> list:
    runs = list(value) if isinstance(value, (list, tuple)) else [value]
    return [h for h in runs if h is not None]


def seed_band(histories, x: str = "epoch", split: str = "test") -> SeedBand | None:
    """Return the mean and min..max band of one History or a list of them (one per seed); None if there is none."""
    runs = [h for h in _runs(histories) if h.column(f"{split}_accuracy")]
    if not runs:
        return None
    column, _ = _X[x]
    lengths = [len(h.column(f"{split}_accuracy")) for h in runs]
    n = min(lengths)
    ys = np.array([h.column(f"{split}_accuracy")[:n] for h in runs], dtype=float)
    xs = np.array([h.column(column)[:n] for h in runs], dtype=float).mean(axis=0)
    return SeedBand(tuple(xs.tolist()), tuple(ys.mean(axis=0).tolist()), tuple(ys.min(axis=0).tolist()),
                    tuple(ys.max(axis=0).tolist()), len(runs), n, max(lengths) > n)


def timed_alone(label: str, value) -> tuple[str, list]:
    """A curve over training time: its seeds timed alone where only some were (another run training on the same
    machine stretches the time axis), the label saying how many; all of them otherwise (the text says why)."""
    runs = _runs(value)
    alone = [h for h in runs if timing_of(h)[0] in ("alone", "unknown")]
    if not alone or len(alone) == len(runs):
        return label, runs
    return f"{label}: {len(alone)} of {len(runs)} seeds, those timed alone", alone


def _legend(label: str, band: SeedBand, shared_note: bool = False) -> str:
    if band.seeds == 1 or shared_note:
        return label
    note = f"mean of {band.seeds} seeds, band min–max"
    return f"{label} ({note}; to epoch {band.epochs}: a shorter run)" if band.cut else f"{label} ({note})"


def _seed_note(bands: list[SeedBand]) -> str | None:
    """Return the legend's title when every curve is the mean of the same number of seeds, none cut; else None."""
    if bands and len({b.seeds for b in bands}) == 1 and bands[0].seeds > 1 and not any(b.cut for b in bands):
        return f"Mean of {bands[0].seeds} seeds, band min–max"
    return None


class _PlainLogFormatter(ticker.Formatter):
    """Log-axis labels as plain numbers (0.2, 30, 400, not 2e-01): matplotlib's LogFormatter picks which ticks get one."""

    def __init__(self, **options):
        self.picker = ticker.LogFormatter(**options)

    def set_axis(self, axis):
        super().set_axis(axis)
        self.picker.set_axis(axis)

    def set_locs(self, locs):
        self.picker.set_locs(locs)

    def __call__(self, value, pos=None):
        return f"{value:g}" if self.picker(value, pos) else ""


def _legend_below(ax, title: str | None = None):
    """Draw the legend under the axes, below the x-axis label, so that it never covers a curve."""
    fig = ax.figure
    try:  # the lowest point of the tick labels and the axis label, in axes coordinates
        bottom = ax.xaxis.get_tightbbox(fig.canvas.get_renderer()).y0
        y = ax.transAxes.inverted().transform((0, bottom))[1] - 0.02
    except AttributeError:  # a canvas without a renderer: a fixed offset of the usual label height
        y = -0.2
    labels = ax.get_legend_handles_labels()[1]
    columns = 2 if len(labels) > 1 and max(len(text) for text in labels) <= 45 else 1
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, y), ncol=columns, title=title,
                     title_fontsize=_STYLE["legend.fontsize"])


def plot_accuracy(histories: dict, x: str = "epoch", split: str = "test", title: str = "",
                  path: str | Path | None = None, log_x: bool = False):
    """Plot accuracy over epochs or training time of {label: History or [History per seed]}; save and return the figure.

    With several seeds per label: the per-epoch mean as a line, min..max over the seeds shaded, all
    cut to the shortest run (a diverged seed stops early; the legend says so). Labels without runs are left out.
    Over training time, seeds timed while other runs shared the machine are left out where others were not.
    """
    _, xlabel = _X[x]
    if x == "time":
        histories = dict(timed_alone(label, value) for label, value in histories.items())
    bands = {label: band for label, value in histories.items() if (band := seed_band(value, x, split)) is not None}
    note = _seed_note(list(bands.values()))
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots()
        for label, band in bands.items():
            line, = ax.plot(band.xs, [100 * v for v in band.mean], marker="o", markersize=2.5, linewidth=1.4,
                            label=_legend(label, band, shared_note=note is not None))
            if band.seeds > 1:
                ax.fill_between(band.xs, [100 * v for v in band.low], [100 * v for v in band.high],
                                color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{'Test' if split == 'test' else 'Validation'} accuracy (%)")
        if log_x:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(_PlainLogFormatter())
            ax.xaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
        elif x == "epoch":
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))  # epochs are whole: no tick at 1.5
        ax.set_title(title)
        if ax.lines:
            _legend_below(ax, note)
        return _save(fig, path)  # inside the style: savefig reads its dpi and font type from it


def plot_heatmap(values: list[list[float | None]], rows: list[str], columns: list[str], title: str = "",
                 xlabel: str = "", path: str | Path | None = None, empty: list[list[str]] | None = None):
    """Plot a table of accuracies as an annotated heatmap (None cells: the text in `empty`, default "diverged")."""
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
                note = empty[i][j] if empty is not None else "diverged"
                ax.text(j, i, note if missing else f"{data[i, j]:.1f}", ha="center", va="center",
                        fontsize=8.5, color="black" if not missing and data[i, j] > 0.7 * top else "white")
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        fig.colorbar(image, ax=ax, label="accuracy (%)")
        return _save(fig, path)
