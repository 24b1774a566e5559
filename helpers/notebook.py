"""Small display helpers for the notebooks: generated Markdown, and the smoke-run banner."""
from __future__ import annotations

import inspect
import textwrap

from IPython.display import Markdown, display


def show_markdown(text: str) -> None:
    """Display generated Markdown (it becomes ordinary text in the PDF)."""
    display(Markdown(text))


def smoke_banner(cfg) -> None:
    """Display a warning if the notebook runs under a profile other than "full"."""
    if cfg.smoke:
        where = "synthetic stand-in data" if cfg.synthetic_data else f"data from {cfg.data_root}"
        show_markdown(f"> **Smoke run (profile `{cfg.profile}`)**: {where}, a few epochs. It checks that the "
                      "pipeline runs; its numbers say nothing about the exercise. Not for hand-in.")


def show_source(obj) -> None:
    """Display the source code of a helper (e.g. a model class) as a code block in the text."""
    source = textwrap.dedent(inspect.getsource(obj))
    show_markdown(f"```python\n{source.rstrip()}\n```")
