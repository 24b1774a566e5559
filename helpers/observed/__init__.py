"""Prose renderers: one function per finding, returning Markdown ("**Observed.** ...").

Grammar and number formats live here; every decision lives in helpers.findings, so a sentence says
only what its finding supports. Usage: `show_markdown(observed.devices(compare_devices(histories)))`.
"""
from .choices import (arms_table, learning_rate_choice, model_comparison, optimizer_ranking, optimizer_sweep,
                      overfitting, spread, verdict)
from .runs import device_word, devices, faster, pipelines, run_sentence, step_effect, step_rates

__all__ = ["arms_table", "device_word", "devices", "faster", "learning_rate_choice", "model_comparison",
           "optimizer_ranking", "optimizer_sweep", "overfitting", "pipelines", "run_sentence", "spread", "step_effect",
           "step_rates", "verdict"]
