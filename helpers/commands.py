"""The `make` commands the project prints (hints, `make status`, the PDF's closing page), written once: as a user types
them, with the settings of this build (profile, overrides, data and results folders, Python)."""
from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from .data import DATA_ROOT_ENV, resolve_data_root
from .profiles import DEFAULT_RESULTS_ROOT, REPO_ROOT, SYNTHETIC_PROFILES, results_root


@dataclass(frozen=True)
class Build:
    """The settings this PDF was built with (as `make pdf` got them)."""
    profile: str
    overrides: dict
    data_root: str | None
    workers: int
    python: str            # the interpreter, relative to the repository where it lies inside
    results_root: str | None = None  # $EML_RESULTS_ROOT's folder where it is not the repository's results/


def shown(path: Path) -> str:
    """A path as a command names it: relative to the repository where it lies inside."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def this_build(profile: str, overrides: dict | None, data_root, workers: int) -> Build:
    """The build's settings, with the Python it runs on, and the folders that environment variables chose: the
    commands on the page name them, so that they read from the same data and results."""
    if data_root is None and os.environ.get(DATA_ROOT_ENV) and profile not in SYNTHETIC_PROFILES:
        data_root = shown(resolve_data_root())
    results = results_root()
    return Build(profile, dict(overrides or {}), str(data_root) if data_root else None, workers,
                 shown(Path(sys.executable)),
                 None if results.resolve() == DEFAULT_RESULTS_ROOT.resolve() else shown(results))


def make_command(target: str, build: Build, **variables) -> str:
    """`make TARGET` as a user types it, with this build's profile, overrides, data root, results folder and Python."""
    parts = ["make", target] + ([f"PROFILE={build.profile}"] if build.profile != "full" else [])
    if build.results_root:  # the Makefile's RESULTS is $EML_RESULTS_ROOT for every command it runs
        parts.append(f"RESULTS={shlex.quote(build.results_root)}")
    if build.overrides:  # with JSON's spaces: the page breaks a long command there
        parts.append(f"OVERRIDES='{json.dumps(build.overrides)}'")
    if build.data_root:
        parts.append(f"DATA_ROOT={shlex.quote(build.data_root)}")
    parts += [f"{name.upper()}={value}" for name, value in variables.items()]
    if build.python != ".venv/bin/python":
        parts.append(f"PY={build.python}")
    return " ".join(parts)


def plan_command(target: str, profile: str, overrides: dict | None, data_root) -> str:
    """`make TARGET` for the plan of this profile, overrides and data root, with this Python (for hints to the user)."""
    return make_command(target, this_build(profile, overrides, data_root, workers=1))
