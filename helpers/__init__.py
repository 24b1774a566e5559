"""Helpers for the notebooks of Embedded Machine Learning, exercise 3: one import line per notebook.

Split by concern: profiles (settings), data, models, training, results, summaries, plots,
gradients (3.1's exact maths), findings (what the text claims, as data), observed (that text),
formatting (numbers as text), report (the PDF build).
"""
from .errors import UserError
from .profiles import settings
from .models import CNN, MLP, build_model, count_parameters
from .training import DeviceUnavailable, History, RunConfig, evaluate, run, run_all, train
from .summaries import (CHANCE_MARGIN, at_chance, choose_by_validation, device_label, markdown_table, pct, ratio, secs, selection_score,
                        summarize)
from .findings import (choose_learning_rate, compare_devices, compare_models, compare_pipelines, rank_arms, run_summary,
                       step_effect, sweep)
from . import findings, observed
from .formatting import points, times
from .plots import plot_accuracy, plot_heatmap, seed_band
from .notebook import show_markdown, show_math, show_settings, show_source

__all__ = [
    "UserError", "settings", "CNN", "MLP", "build_model", "count_parameters", "DeviceUnavailable", "History",
    "RunConfig", "evaluate", "CHANCE_MARGIN", "run", "run_all", "train", "at_chance", "choose_by_validation", "device_label", "markdown_table", "pct",
    "ratio", "secs", "selection_score", "summarize", "plot_accuracy", "plot_heatmap", "show_markdown",
    "show_math", "show_settings", "show_source", "choose_learning_rate", "compare_devices", "compare_models",
    "compare_pipelines", "rank_arms", "run_summary", "step_effect", "sweep", "findings", "observed", "points", "times", "seed_band",
]
