"""Helpers for the notebooks of Embedded Machine Learning, exercise 3: one import line per notebook.

Split by concern: profiles (settings), data, models, training, results, summaries, plots,
gradients (3.1's exact maths), report (the build), document (the PDF renderer), handin (title page, 3.5).
"""
from .errors import UserError
from .profiles import settings
from .models import CNN, MLP, build_model, count_parameters
from .training import DeviceUnavailable, History, RunConfig, evaluate, run, run_all, train
from .summaries import (CHANCE_MARGIN, at_chance, choose_by_validation, device_label, markdown_table, pct, ratio, secs, selection_score,
                        summarize)
from .plots import plot_accuracy, plot_heatmap
from .notebook import show_markdown, show_math, show_settings, show_source

__all__ = [
    "UserError", "settings", "CNN", "MLP", "build_model", "count_parameters", "DeviceUnavailable", "History",
    "RunConfig", "evaluate", "CHANCE_MARGIN", "run", "run_all", "train", "at_chance", "choose_by_validation", "device_label", "markdown_table", "pct",
    "ratio", "secs", "selection_score", "summarize", "plot_accuracy", "plot_heatmap", "show_markdown",
    "show_math", "show_settings", "show_source",
]
