"""Small display helpers for the notebooks: generated Markdown, and the smoke-run banner."""
from __future__ import annotations

import inspect
import textwrap

from IPython.display import Markdown, Math, display


def show_markdown(text: str) -> None:
    """Display generated Markdown (it becomes ordinary text in the PDF)."""
    display(Markdown(text))


_SETTING_NAMES = {"epochs": "epochs", "optimizer": "optimizer", "optimizers": "optimizers", "lr": "learning rate",
                  "mlp_lr": "MLP learning rate", "lrs": "learning rates", "batch_size": "batch size",
                  "test_batch_size": "test batch size", "seed": "seed", "val_size": "validation images",
                  "train_subset": "training subset", "test_subset": "test subset", "device": "device",
                  "devices": "devices", "pipeline": "pipeline", "pipelines": "pipelines", "seeds": "seeds"}


def show_settings(cfg) -> None:
    """Display the settings this notebook runs with, and a warning if the profile is not "full"."""
    if cfg.smoke:
        where = "synthetic stand-in data" if cfg.synthetic_data else f"data from {cfg.data_root}"
        show_markdown(f"> **Smoke run (profile `{cfg.profile}`)**: {where}, a few epochs. It checks that the "
                      "pipeline runs; its numbers say nothing about the exercise. Not for hand-in.")

    def shown(value) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    from .profiles import KNOWN
    parts = [f"{name} {', '.join(map(shown, value)) if isinstance(value, tuple) else shown(value)}"
             for key, name in _SETTING_NAMES.items() if key in KNOWN[cfg.exercise]
             and (value := getattr(cfg, key)) is not None]
    if parts:
        show_markdown(f"*Settings (profile `{cfg.profile}`):* " + "; ".join(parts) + ".")


def show_math(latex: str) -> None:
    """Display a LaTeX formula (e.g. matrices from helpers.gradients.equations_latex)."""
    display(Math(latex))


def show_source(obj) -> None:
    """Display the source code of a helper (e.g. a model class) as a code block in the text."""
    source = textwrap.dedent(inspect.getsource(obj))
    show_markdown(f"```python\n{source.rstrip()}\n```")
