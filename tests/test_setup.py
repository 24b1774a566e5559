"""make course-venv: a venv on top of the course env that adds the project's packages and leaves the env as it is.

The course env (conda, Python 3.10, torch 1.13.1) is stood in for by a Python 3.10 prefix of its own, as conda's
is, whose torch, torchvision and numpy are metadata-only stand-ins at the versions of an older course env (numpy
1.22, which today's matplotlib would replace). Set EML_COURSE_ENV_PYTHON to a real env's python to test on that.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

COURSE = {"torch": "1.13.1", "torchvision": "0.14.1", "numpy": "1.22.4"}


def python310() -> str | None:
    """Return a Python 3.10 interpreter (pyenv's, else python3.10 on PATH), or None."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob("3.10.*/bin/python3.10"))
    return str(found[-1]) if found else shutil.which("python3.10")


def pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


def stand_in_course_env(root: Path, python: str) -> str:
    """Return the python of a new prefix that runs `python`'s build with a site-packages of its own."""
    real = Path(python).resolve()
    stdlib = real.parent.parent / "lib" / "python3.10"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(real, root / "bin" / "python3.10")
    site = root / "lib" / "python3.10" / "site-packages"
    site.mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (site.parent / entry.name).symlink_to(entry)
    for name, version in COURSE.items():
        (site / name).mkdir()
        (site / name / "__init__.py").write_text(f"__version__ = {version!r}\n")
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "RECORD").write_text(f"{name}/__init__.py,,\n")
    return str(root / "bin" / "python3.10")


STATE = """
import importlib.metadata as m, json, os, site, sys
sites = site.getsitepackages()
files = sorted(os.path.join(d, f) for s in sites for d, dirs, fs in os.walk(s) if "__pycache__" not in d for f in fs)
print(json.dumps({"dists": sorted(f"{d.metadata['Name']}=={d.version}" for d in m.distributions()), "files": files}))
"""

SEEN = """
import json, sys, torch, torchvision, numpy, helpers, helpers.document, papermill, typst
print(json.dumps({m.__name__: [getattr(m, "__version__", None), m.__file__]
                  for m in (torch, torchvision, numpy, helpers, papermill)} | {"prefix": sys.prefix}))
"""


def run_json(python: str, code: str) -> dict:
    # Run outside the repository: `python -c` puts its working directory on sys.path, where the project's own
    # egg-info (written by `pip install -e .`) would count as a distribution of the env.
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=Path(python).parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def course_python(tmp_path) -> str:
    if os.environ.get("EML_COURSE_ENV_PYTHON"):
        return os.environ["EML_COURSE_ENV_PYTHON"]
    python = python310()
    if python is None:
        pytest.skip("no Python 3.10 (the course env's) here: neither pyenv's 3.10.x nor python3.10 on PATH")
    return stand_in_course_env(tmp_path / "course-env", python)


def test_course_venv_adds_the_project_and_leaves_the_course_env_as_it_is(course_python, tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    if not pypi_reachable():
        pytest.skip("pypi.org is not reachable: make course-venv installs the report's packages from PyPI")
    before = run_json(course_python, STATE)
    venv = tmp_path / "venv-course"
    result = subprocess.run(["make", "-C", str(REPO), "course-venv", f"PYTHON={course_python}", f"COURSE_VENV={venv}"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

    assert run_json(course_python, STATE) == before  # not one package or file added, removed or replaced
    seen = run_json(str(venv / "bin" / "python"), SEEN)
    base = {name: run_json(course_python, f"import json, {name}; print(json.dumps({name}.__version__))")
            for name in ("torch", "torchvision", "numpy")}
    for name, version in base.items():  # the course env's own, not a newer one in the venv
        assert seen[name][0] == version and not seen[name][1].startswith(seen["prefix"]), seen[name]
    assert seen["helpers"][1] == str(REPO / "helpers" / "__init__.py")
    assert seen["papermill"][1].startswith(seen["prefix"])
    assert (venv / ".gitignore").read_text() == "*\n"
