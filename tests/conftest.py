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


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_test_process():
    """With pytest-xdist's workers on the machine's cores, each worker's torch (and the processes it starts) computes
    on one thread: a core each, instead of every worker's threads fighting over every core."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch
        torch.set_num_threads(1)
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    yield


SMOKE_GROUP = ("members:\n  - name: Jürgen Groß\n    student_id: '4242'\n  - name: Ada O'Neil & Co\n"
               "willing_to_present: {'3.1': yes, '3.2': no, '3.3': yes, '3.4': yes}\n")


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory):
    """The smoke PDF, built once per test run for every test that reads it (tests/test_report.py,
    tests/test_handin_zip.py), whichever pytest-xdist worker asks first; the others wait for it. Its runs are stored
    in a results folder of its own, which nothing else writes: a test that packs or stores works on a copy
    (`smoke_build_copy`). Its group file has names that need care."""
    import fcntl
    from types import SimpleNamespace
    from pypdf import PdfReader
    from helpers import report
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # this run's, the same in every worker
    folder = tmp_path_factory.getbasetemp().parent / f"smoke-build-{run}" if run else tmp_path_factory.mktemp("smoke")
    folder.mkdir(exist_ok=True)
    build_root, results_root, group = folder / "build", folder / "results", folder / "group.yml"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the build fails
        if not (folder / "built").exists():
            group.write_text(SMOKE_GROUP, encoding="utf-8")
            with pytest.MonkeyPatch.context() as env:
                env.setenv("EML_RESULTS_ROOT", str(results_root))
                report.build_pdf("smoke", group, build_root=build_root)
            (folder / "built").touch()
    pdf = report.pdf_path("smoke", build_root)
    return SimpleNamespace(pdf=pdf, text="\n".join(page.extract_text() for page in PdfReader(pdf).pages),
                           build_root=build_root, group=group, results_root=results_root)


@pytest.fixture
def smoke_build_copy(smoke_build, tmp_path, monkeypatch):
    """A test's own copy of the smoke build and its results (copy2: the times the zip checks stay), the results
    folder its EML_RESULTS_ROOT: to pack, or to add files to, without touching the shared one."""
    from types import SimpleNamespace
    shutil.copytree(smoke_build.build_root, tmp_path / "build")
    shutil.copytree(smoke_build.results_root, tmp_path / "results")
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path / "results"))
    return SimpleNamespace(pdf=tmp_path / "build" / smoke_build.pdf.relative_to(smoke_build.build_root),
                           build_root=tmp_path / "build", group=smoke_build.group, results_root=tmp_path / "results")


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


# The SLURM tests submit jobs, hurry requeues and set the partition down and up again: they run only against the
# project's own single-node SLURM (its cluster name, set by slurm/start-local-slurm.sh), and only when asked to
# (`make test-all`, which CI runs). On any other SLURM (a course login node) they skip, and no job is submitted.
LOCAL_CLUSTER = "eml-local"
SLURM_OPT_IN = "EML_TEST_SLURM"
PARTITION = "exercise-eml"


def slurm_skip_reason() -> str | None:
    """Why the SLURM tests do not run here, in one line (None: they do)."""
    if os.environ.get(SLURM_OPT_IN) != "1":
        return (f"the SLURM tests submit jobs: they run with `make test-all` ({SLURM_OPT_IN}=1), against the project's "
                f"own local SLURM only (as root: bash slurm/start-local-slurm.sh)")
    if shutil.which("scontrol") is None or shutil.which("sbatch") is None:
        return "no SLURM here (start the project's own as root: bash slurm/start-local-slurm.sh)"
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True)
    name = next((line.split("=", 1)[1].strip() for line in config.stdout.splitlines()
                 if line.split("=", 1)[0].strip() == "ClusterName"), None)
    if name != LOCAL_CLUSTER:
        return (f"this SLURM is cluster {name!r}, not the project's local one ({LOCAL_CLUSTER!r}, "
                "slurm/start-local-slurm.sh): the tests submit nothing to it")
    state = subprocess.run(["sinfo", "--noheader", f"--partition={PARTITION}", "--format=%a"], capture_output=True,
                           text=True)
    if state.returncode != 0 or state.stdout.strip() != "up":
        return f"the local SLURM's partition {PARTITION} is not up (bash slurm/start-local-slurm.sh)"
    return None


# Nine short runs: 3.2's, the CNN sweep (SGD, Adam at two rates; SGD's shared by 3.3 and 3.4), the MLP's two
# seeds, and the second seed of SGD's and of Adam's chosen rate, which wait for their sweeps.
SMALL = {"devices": ["cpu"], "pipelines": ["resident"], "optimizers": ["SGD", "Adam"], "lrs": [0.03, 0.003],
         "seeds": 2, "epochs": 1}


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A results folder of the test's own for the smoke profile (EML_RESULTS_ROOT), its stand-in data written."""
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path / "results"))
    from helpers.profiles import chapter_settings
    chapter_settings("smoke")  # the stand-in data exists before any worker starts
    return tmp_path / "results" / "smoke"
