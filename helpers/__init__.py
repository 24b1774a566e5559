"""Helpers for the notebooks of Embedded Machine Learning, exercise 3: one import line per notebook.

Split by concern: profiles (settings), data, models, training, results, summaries, plots,
gradients (3.1's exact maths), report (the PDF build).
"""
from .errors import UserError
from .profiles import settings
from .models import CNN, MLP, build_model, count_parameters
from .training import evaluate, train
from .experiment import DeviceUnavailable, History, RunConfig, run, run_all
from .plan import chosen_rate, cnn_rate_runs, device_runs, mlp_runs, optimizer_rate_runs, seed_runs
from .summaries import (CHANCE_MARGIN, at_chance, choose_by_validation, device_label, markdown_table, pct, ratio, secs, selection_score,
                        summarize)
from .plots import plot_accuracy, plot_heatmap
from .notebook import show_markdown, show_math, show_settings, show_source

__all__ = [
    "UserError", "settings", "CNN", "MLP", "build_model", "count_parameters", "DeviceUnavailable", "History",
    "RunConfig", "evaluate", "chosen_rate", "cnn_rate_runs", "device_runs", "mlp_runs", "optimizer_rate_runs",
    "seed_runs", "CHANCE_MARGIN", "run", "run_all", "train", "at_chance", "choose_by_validation", "device_label", "markdown_table", "pct",
    "ratio", "secs", "selection_score", "summarize", "plot_accuracy", "plot_heatmap", "show_markdown",
    "show_math", "show_settings", "show_source",
]
