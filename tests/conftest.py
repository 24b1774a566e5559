"""Shared fixtures: synthetic datasets in the official on-disk formats, real copies where present."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.synthetic import write_cifar10, write_mnist, write_stand_ins

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session", autouse=True)
def own_results_root(tmp_path_factory):
    """The tests store their runs apart from the user's results/ (notebook kernels inherit the variable)."""
    root = tmp_path_factory.mktemp("results")
    os.environ["EML_RESULTS_ROOT"] = str(root)
    yield root
    os.environ.pop("EML_RESULTS_ROOT", None)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A data root with small synthetic MNIST (idx .gz) and CIFAR-10 (python batches), marked as stand-ins."""
    return write_stand_ins(tmp_path_factory.mktemp("synthetic"), n_mnist=600, n_cifar=500, n_test=200)


@pytest.fixture
def fresh_synthetic_root(tmp_path) -> Path:
    """A synthetic data root of the test's own, free to be damaged; unmarked, so it is warned about as a real copy."""
    write_mnist(tmp_path, n_train=100, n_test=50)
    write_cifar10(tmp_path, n_train=100, n_test=50)
    return tmp_path


@pytest.fixture(scope="session")
def real_cifar_root(tmp_path_factory) -> Path:
    """The real CIFAR-10 copy from ../shared/data in the official layout (made once per session)."""
    script = SHARED_DATA / "make_cifar10.py"
    if not (script.exists() and (SHARED_DATA / "cifar10-jpeg.tar.xz").exists()):
        pytest.skip(f"real CIFAR-10 copy not found in {SHARED_DATA}")
    root = tmp_path_factory.mktemp("real-cifar")
    subprocess.run([sys.executable, str(script), str(root)], check=True, capture_output=True)
    return root


@pytest.fixture(scope="session")
def real_mnist_format_root(tmp_path_factory) -> Path:
    """Debian's Fashion-MNIST (real idx files) laid out as torchvision's MNIST/raw/."""
    files = sorted(FASHION_MNIST.glob("*-ubyte.gz")) if FASHION_MNIST.exists() else []
    if len(files) != 4:
        pytest.skip(f"no real MNIST-format files in {FASHION_MNIST} (apt-get install dataset-fashion-mnist)")
    root = tmp_path_factory.mktemp("real-mnist-format")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in files:
        os.symlink(f, raw / f.name)
    return root


@pytest.fixture
def group_file(tmp_path) -> Path:
    path = tmp_path / "group.yml"
    path.write_text("members:\n  - name: Jürgen Groß\n    student_id: 4242\n  - name: Ada O'Neil & Co\n"
                    "willing_to_present:\n  3.1: yes\n  3.2: no\n  '3.3': yes\n  '3.4': yes\n", encoding="utf-8")
    return path


def copy_repo(root: Path) -> Path:
    """Copy the repository's files (tracked and new, not ignored) into root, as a fresh clone would have them."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    return root


def make(repo: Path, *args: str, overrides: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `make ARGS` in a copy of the repository with this Python, as a user types it (its own results/)."""
    extra = [f"OVERRIDES={json.dumps(overrides)}"] if overrides else []
    env = {k: v for k, v in os.environ.items() if k != "EML_RESULTS_ROOT"}
    return subprocess.run(["make", "--no-print-directory", *args, *extra, f"PY={sys.executable}"], cwd=repo,
                          capture_output=True, text=True, timeout=timeout, env=env)


def wait_until(condition, timeout: float, what: str, interval: float = 0.1):
    """Wait for an event (a file appearing, a line in a log) instead of sleeping a guessed time; return its value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not seen within {timeout} s"
        time.sleep(interval)
    return value


def without_clock(records: list) -> list:
    """An epoch's records without what the clock and the machine's load decide: what the epoch computed."""
    return [{k: v for k, v in r.items() if not k.endswith("_time") and k != "conditions"} for r in records]


def reference_records(slot: str, overrides: dict, cwd: Path = REPO, results_root=None) -> list:
    """A smoke run of the plan trained once without interruption, in a fresh one-thread process (as a worker with
    one CPU), from the repository at cwd; stores nothing."""
    code = ("import json, sys; from helpers.plan import planned_runs; from helpers.experiment import run; "
            "from helpers.profiles import chapter_settings; overrides = json.loads(sys.argv[1]); "
            "[p] = [p for p in planned_runs('smoke', overrides) if p.slot == sys.argv[2]]; "
            "root = chapter_settings('smoke', overrides)['3.3'].data_root; "
            "print(json.dumps(run(p.config, root, None, progress=False).records))")
    env = {"OMP_NUM_THREADS": "1", "PATH": os.environ["PATH"],
           **({"EML_RESULTS_ROOT": str(results_root)} if results_root else {})}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(overrides), slot], cwd=cwd, env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])
