"""Helpers for the notebooks of Embedded Machine Learning, exercise 3: one import line per notebook.

Split by concern: profiles (settings), data, models, training (the loop), experiment (one run, its
store and resume), plan (every run the report needs), findings (what the text claims, as data),
observed (that text), formatting (numbers as text), plots, gradients (3.1's exact maths), report,
document and handin (the PDF), jobs and cluster (SLURM).

Names are imported from their module on first use, so that a cluster task or `make gpu-check`
(`python -m helpers.jobs`, `python -m helpers.gpucheck`) needs the training stack alone (torch, torchvision, numpy,
Pillow, tqdm), not the notebook stack.
"""
import importlib

_HOMES = {
    "errors": ["UserError"],
    "profiles": ["settings"],
    "models": ["CNN", "MLP", "build_model", "count_parameters"],
    "training": ["evaluate", "train"],
    "experiment": ["DeviceUnavailable", "History", "RunConfig", "run", "run_all", "run_arms"],
    "plan": ["chosen_optimizer_runs", "chosen_rate", "chosen_seed_runs", "cnn_rate_runs", "device_runs", "mlp_runs",
             "optimizer_rate_runs", "seed_runs"],
    "gradients": ["autograd_gradients", "chain_rule", "equations_latex", "exact_decimal", "forward", "gradients_agree",
                  "make_problem", "sgd_step", "squared_gradient_norm", "symbolic_gradients"],
    "findings": ["CHANCE_MARGIN", "at_chance", "choose_learning_rate", "compare_devices", "compare_models", "compare_pipelines", "rank_arms",
                 "run_summary", "step_effect", "sweep"],
    "formatting": ["markdown_table", "pct", "points", "ratio", "secs", "times"],
    "plots": ["plot_accuracy", "plot_heatmap", "seed_band"],
    "observed": ["device_label"],
    "notebook": ["show_markdown", "show_math", "show_settings", "show_source"],
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
_SUBMODULES = ("findings", "observed")  # `from helpers import observed`, then observed.devices(...)
__all__ = sorted(_MODULE_OF) + list(_SUBMODULES)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__():
    return __all__
