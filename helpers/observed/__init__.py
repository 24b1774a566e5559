"""Prose renderers: one function per finding, returning Markdown ("**Observed.** ...").

Grammar and number formats live here; every decision lives in helpers.findings, so a sentence says
only what its finding supports. Usage: `show_markdown(observed.devices(compare_devices(histories)))`.
"""
from .models import model_comparison, overfitting, spread, verdict
from .optimizers import optimizer_ranking, optimizer_sweep
from .rates import learning_rate_choice
from .runs import (device_label, device_word, devices, faster, missing_runs, pipelines, rate_label, run_sentence,
                   step_effect, step_rates)
from .tables import arms_table, rate_table, runs_table, score_span, step_rates_table, sweep_grid, sweep_table

__all__ = ["arms_table", "device_label", "device_word", "devices", "faster", "learning_rate_choice", "missing_runs",
           "model_comparison", "optimizer_ranking", "optimizer_sweep", "overfitting", "pipelines", "rate_label",
           "rate_table", "run_sentence", "runs_table", "score_span", "spread", "step_effect", "step_rates",
           "step_rates_table", "sweep_grid", "sweep_table", "verdict"]
