"""Profiles: the one place that says which settings each notebook runs with.

`full` is the sheet's settings (what the hand-in PDF shows); `smoke` runs every notebook in
seconds on small synthetic data, for tests and CI, and its PDF is marked as not for hand-in.
A notebook asks for its settings with `settings("3.2", profile, overrides, data_root)`.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from types import SimpleNamespace

from .data import resolve_data_root
from .errors import UserError
from .synthetic import ensure_synthetic_data

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_ROOT_ENV = "EML_RESULTS_ROOT"  # where results/PROFILE/ lives, if not in the repository (the tests use it)

# Notebook of each exercise, in sheet order (the PDF's chapter order).
NOTEBOOKS = {
    "3.1": "notebooks/ex3_1_gradients.ipynb",
    "3.2": "notebooks/ex3_2_autograd_mlp.ipynb",
    "3.3": "notebooks/ex3_3_mlp_vs_cnn.ipynb",
    "3.4": "notebooks/ex3_4_optimizers.ipynb",
}

# The course template's defaults (exercise03_template.py, from pytorch/examples mnist/main.py).
TEMPLATE_DEFAULTS = dict(batch_size=64, test_batch_size=1000, lr=0.1, optimizer="SGD", seed=1)

# CIFAR-10 settings shared by 3.3 and 3.4, so that the CNN/SGD runs of 3.3 are the SGD row of
# the 3.4 sweep (same configuration, so the results cache runs each of them once).
_CIFAR_FULL = dict(
    TEMPLATE_DEFAULTS,
    epochs=30,
    lrs=[0.1, 0.03, 0.01, 0.003, 0.001],
    val_size=5000,          # held out from the 50,000 training images to choose learning rates
    train_subset=None, test_subset=None,
    device="cuda", pipeline="resident",
    seeds=3,                # the chosen configurations run with seeds seed, seed+1, ...: a spread behind every comparison
)
_CIFAR_SMOKE = dict(_CIFAR_FULL, epochs=2, lrs=[0.03, 0.003], val_size=100, train_subset=500,
                    test_subset=200, device="cpu", seeds=2)

PROFILES = {
    "full": {
        "3.1": dict(),
        "3.2": dict(TEMPLATE_DEFAULTS, epochs=30, train_subset=None, test_subset=None,
                    devices=["cpu", "cuda"], pipelines=["template", "resident"]),
        "3.3": dict(_CIFAR_FULL, mlp_lr=TEMPLATE_DEFAULTS["lr"]),
        "3.4": dict(_CIFAR_FULL, optimizers=["SGD", "Adam", "RMSprop", "Adagrad"]),
    },
    "smoke": {
        "3.1": dict(),
        "3.2": dict(TEMPLATE_DEFAULTS, epochs=2, train_subset=1000, test_subset=200,
                    devices=["cpu", "cuda"], pipelines=["template", "resident"]),
        "3.3": dict(_CIFAR_SMOKE, mlp_lr=TEMPLATE_DEFAULTS["lr"]),
        "3.4": dict(_CIFAR_SMOKE, optimizers=["SGD", "Adam", "RMSprop", "Adagrad"]),
    },
}
SYNTHETIC_PROFILES = {"smoke"}  # profiles that run on generated data, never on the real datasets


def check_profile(profile: str) -> str:
    """Return the profile name if it exists, else raise a UserError listing the known ones."""
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    return profile


def settings(exercise: str, profile: str = "full", overrides: dict | None = None,
             data_root: str | Path | None = None) -> SimpleNamespace:
    """Return the settings of one notebook under a profile, with overrides applied and paths resolved."""
    check_profile(profile)
    if exercise not in NOTEBOOKS:
        raise UserError(f"unknown exercise {exercise!r}; known: {', '.join(NOTEBOOKS)}")
    values = copy.deepcopy(PROFILES[profile][exercise])
    unknown = sorted(set(overrides or {}) - set(values))
    if unknown:
        raise UserError(f"unknown override(s) {', '.join(unknown)} for {exercise}; "
                        f"known: {', '.join(sorted(values)) or 'none'}")
    values.update(overrides or {})
    synthetic = profile in SYNTHETIC_PROFILES and data_root is None
    if synthetic:
        data_root = ensure_synthetic_data(REPO_ROOT / "build" / "synthetic-data")
    return SimpleNamespace(
        exercise=exercise, profile=profile, smoke=profile != "full", synthetic_data=synthetic,
        data_root=resolve_data_root(data_root),
        results_dir=Path(os.environ.get(RESULTS_ROOT_ENV) or REPO_ROOT / "results") / profile,
        figures_dir=REPO_ROOT / "figures" / profile,
        **values,
    )


def overrides_for(exercise: str, overrides: dict | None) -> dict:
    """Return the part of profile-wide overrides that a notebook knows (e.g. epochs: 3.2 to 3.4)."""
    known = set().union(*(PROFILES[p][exercise] for p in PROFILES))
    return {k: v for k, v in (overrides or {}).items() if k in known}


def check_overrides(overrides: dict | None) -> dict:
    """Return profile-wide overrides if every key is a setting of some notebook, else raise a UserError."""
    if overrides is not None and not isinstance(overrides, dict):
        raise UserError(f"overrides must be a mapping such as {{\"epochs\": 5}}, got {overrides!r}")
    known = set().union(*(values for p in PROFILES.values() for values in p.values()))
    unknown = sorted(set(overrides or {}) - known)
    if unknown:
        raise UserError(f"unknown override(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return dict(overrides or {})


def chapter_settings(profile: str, overrides: dict | None = None, data_root=None) -> dict:
    """Return the settings of every notebook under a profile and profile-wide overrides, by exercise."""
    check_overrides(overrides)
    return {ex: settings(ex, profile, overrides_for(ex, overrides), data_root) for ex in NOTEBOOKS}
