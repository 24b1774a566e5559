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
    """Display the settings this notebook runs with, each one changed from its profile's marked (the prose around
    names the sheet's values), and a warning if the profile is not "full"."""
    if cfg.smoke:
        where = "synthetic stand-in data" if cfg.synthetic_data else f"data from {cfg.data_root}"
        show_markdown(f"> **Smoke run (profile `{cfg.profile}`)**: {where}, a few epochs. It checks that the "
                      "pipeline runs; its numbers say nothing about the exercise. Not for hand-in.")
    if line := settings_line(cfg):
        show_markdown(line)
    from .profiles import short_of_sheet
    if not cfg.smoke and (short := short_of_sheet(cfg)):
        show_markdown(f"> **Short of the sheet**: {'; '.join(short)}. The results below are these settings', not "
                      "the hand-in's.")


def settings_line(cfg) -> str:
    """One line of the notebook's settings: "*Settings (profile `full`):* **epochs 10** (profile full: 30); ..."."""
    from .profiles import KNOWN, changed_settings

    def shown(value) -> str:
        if isinstance(value, (tuple, list)):
            return ", ".join(map(shown, value))
        return f"{value:g}" if isinstance(value, float) else "none" if value is None else str(value)

    changed = changed_settings(cfg)
    parts = []
    for key, name in _SETTING_NAMES.items():
        if key not in KNOWN[cfg.exercise] or (value := getattr(cfg, key)) is None:
            continue
        if key in changed:
            parts.append(f"**{name} {shown(value)}** (profile {cfg.profile}: {shown(changed[key][1])})")
        else:
            parts.append(f"{name} {shown(value)}")
    return f"*Settings (profile `{cfg.profile}`):* " + "; ".join(parts) + "." if parts else ""


def show_math(latex: str) -> None:
    """Display a LaTeX formula (e.g. matrices from helpers.gradients.equations_latex)."""
    display(Math(latex))


def show_source(obj) -> None:
    """Display the source code of a helper (e.g. a model class) as a code block in the text."""
    source = textwrap.dedent(inspect.getsource(obj))
    show_markdown(f"```python\n{source.rstrip()}\n```")
