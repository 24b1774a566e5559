"""The lent GPU machine's session (slurm/gpu-session.sh, `make gpu-carry`, `make gpu-unpack`) and its calibration
(helpers.calibrate), tried on the CPU with a generated carry folder: one archive comes back with the results and
no checkpoint, data that differ are named, a different result is never overwritten; the calibration has a row
per kind and its course-GPU model is the arithmetic its docstring says."""
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from helpers import calibrate, estimates
from helpers.experiment import RunConfig, run
from helpers.training import exact_float32, make_optimizer
from helpers.status import EPOCH_SECONDS
from helpers.synthetic import write_mnist, write_stand_ins

from conftest import copy_repo

# Four one-epoch runs on the CPU: 3.2's two, the CNN and the MLP of 3.3 (3.4's SGD run is 3.3's CNN run).
TINY = {"devices": ["cpu"], "device": "cpu", "epochs": 1, "train_subset": 100, "test_subset": 50, "val_size": 50,
        "optimizers": ["SGD"], "lrs": [0.01], "seeds": 1}
# Stands in for ../shared/data/make_cifar10.py: the official layout, generated (the session puts the repo on PYTHONPATH).
MAKER = "import sys\nfrom helpers.synthetic import write_cifar10\nwrite_cifar10(sys.argv[1], n_train=500, n_test=100)\n"
SESSION_FILES = {"session.log", "gpucheck.txt", "calibration.txt", "calibration.json", "data.sha256", "data-check.txt"}
CPU_KINDS = {("mnist", "mlp", "cpu", "template", "SGD"), ("mnist", "mlp", "cpu", "resident", "SGD"),
             ("cifar10", "mlp", "cpu", "resident", "SGD")} | {("cifar10", "cnn", "cpu", "resident", o)
                                                               for o in ("SGD", "Adam", "RMSprop", "Adagrad")}


def shell(repo: Path, *argv: str, timeout: float = 240, **env) -> subprocess.CompletedProcess:
    """Run a command in the repository copy as a user there would: its own results/, one thread, this Python."""
    base = {k: v for k, v in os.environ.items() if k not in ("EML_RESULTS_ROOT", "EML_DATA_ROOT")}
    return subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=timeout,
                          env={**base, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable, **env})


@pytest.fixture(scope="module")
def carried(tmp_path_factory) -> Path:
    """A repository copy whose .carry/ `make gpu-carry` filled from generated copies (no network: the wheels are
    placeholders, submitit is installed here; the session's unpacking of real ones was tried in a bare env)."""
    root = tmp_path_factory.mktemp("gpu-session")
    repo = copy_repo(root / "repo")
    shared, fashion = root / "shared", root / "fashion"
    shared.mkdir()
    (shared / "make_cifar10.py").write_text(MAKER)
    (shared / "cifar10-jpeg.tar.xz").write_bytes(b"read by the real make_cifar10.py only")
    (shared / "batches.meta").write_bytes(b"the same")
    shutil.copytree(write_mnist(root / "generated", n_train=600, n_test=100), fashion)
    (repo / ".carry").mkdir()
    for wheel in ("submitit-1.5.4", f"cloudpickle-{importlib.metadata.version('cloudpickle')}"):
        (repo / ".carry" / f"{wheel}-py3-none-any.whl").touch()
    env = dict(SHARED_DATA=str(shared), FASHION_MNIST=str(fashion))
    for message in ("wrote ", "is up to date"):  # the second time it only checks
        done = shell(repo, "make", "--no-print-directory", "gpu-carry", f"PY={sys.executable}",
                     f"DATA_ROOT={root / 'here'}", **env)
        assert done.returncode == 0 and message in done.stdout, done.stdout + done.stderr
    assert len((repo / ".carry" / "data.sha256").read_text().splitlines()) == 11
    return repo


def steps(log: str) -> dict:
    """The session's summary: {step: result} from the lines after "steps:"."""
    summary = log.split("\nsteps:\n")[-1]
    return {m[1]: m[2] for m in re.finditer(r"^(\w+) +(ok|DIFFERENT|OUT OF TIME|FAILED \(\d+\)) +\d+\.\d s$|^(train) +(SKIPPED) ",
                                            summary, re.M) for m in [[None, *filter(None, m.groups())]]}


@pytest.mark.slow
def test_the_session_on_the_cpu_brings_back_one_archive_with_results_and_no_checkpoints(carried, tmp_path):
    out = tmp_path / "out"
    done = shell(carried, "bash", "slurm/gpu-session.sh", OUT=str(out), DATA_ROOT=str(tmp_path / "there"),
                 DEVICE="cpu", WORKERS="2", OVERRIDES=json.dumps(TINY), CAL_EPOCHS="2", CAL_SCALE="0.01",
                 SESSION_LIMIT="3000")
    log = (out / "session.log").read_text()
    assert done.returncode == 0, log[-3000:] + done.stderr
    assert steps(log) == dict.fromkeys(["data", "check", "calibrate", "train", "pack"], "ok")
    assert "every run is stored" in log
    # 3.2's runs alone first (one worker, one unit), then two workers for the rest, each inside SESSION_LIMIT
    assert re.search(r"train: 1 worker\(s\) --units 1 for at most \d+ s\n(.*\n)*train: 2 worker\(s\) for at most", log)
    assert {p.name for p in out.iterdir()} == SESSION_FILES | {"gpu-session.tar.gz"}  # the device returns at most 8
    assert (out / "data-check.txt").read_text().startswith("data: identical")
    with tarfile.open(out / "gpu-session.tar.gz") as archive:
        members = [m.name for m in archive.getmembers() if m.isfile()]
        stored = sorted(p.name for p in (carried / "results" / "full").glob("*.json"))
        assert sorted(m.split("/", 2)[-1] for m in members if m.startswith("results/full/")) == stored
        assert len(stored) == 4 and all(json.load(archive.extractfile(f"results/full/{n}"))["key"] for n in stored)
        assert {m.split("/")[1] for m in members if m.startswith("session/")} == SESSION_FILES | {"overrides.json"}
        assert 2 <= len([m for m in members if re.fullmatch(r"workers/\d+_\d+_log\.out", m)]) <= 3  # 1 alone, then 2
        assert not [m for m in members if m.endswith((".ckpt", ".lock"))]
        assert json.load(archive.extractfile("session/overrides.json")) == TINY


@pytest.mark.slow
def test_data_that_differ_are_named_and_the_session_still_packs(carried, tmp_path):
    carry = shutil.copytree(carried / ".carry", tmp_path / "carry")
    sums = (carry / "data.sha256").read_text().replace("  MNIST/raw/t10k-labels", "0  MNIST/raw/t10k-labels")
    (carry / "data.sha256").write_text("".join(line[1:] if "t10k-labels" in line else line
                                               for line in sums.splitlines(keepends=True)))
    out = tmp_path / "out"
    done = shell(carried, "bash", "slurm/gpu-session.sh", CARRY=str(carry), OUT=str(out), STEPS="data train pack",
                 DATA_ROOT=str(tmp_path / "there"))
    assert done.returncode != 0
    assert steps(done.stdout) == {"data": "DIFFERENT", "train": "SKIPPED", "pack": "ok"}  # no training on other bytes
    check = (out / "data-check.txt").read_text()
    assert check.startswith("data: DIFFERENT") and "\n  MNIST/raw/t10k-labels-idx1-ubyte.gz\n" in check
    assert check.count("\n  ") == 1 and "numpy" in check
    with tarfile.open(out / "gpu-session.tar.gz") as archive:
        assert archive.extractfile("session/data-check.txt").read().decode() == check


@pytest.mark.slow
def test_training_never_starts_when_the_session_limit_leaves_no_time_to_pack(carried, tmp_path):
    out = tmp_path / "out"
    done = shell(carried, "bash", "slurm/gpu-session.sh", OUT=str(out), STEPS="train pack", SESSION_LIMIT="60",
                 DATA_ROOT=str(tmp_path / "there"), DEVICE="cpu", OVERRIDES=json.dumps(TINY))
    assert steps(done.stdout) == {"train": "OUT OF TIME", "pack": "ok"} and done.returncode != 0
    assert re.search(r"train: not started, -?\d+ s left of SESSION_LIMIT=60", done.stdout)
    assert (out / "gpu-session.tar.gz").exists()


@pytest.mark.slow
def test_unpack_never_overwrites_a_different_result_and_adds_the_new_ones(carried, tmp_path):
    staged = tmp_path / "staged"
    (staged / "results" / "full").mkdir(parents=True)
    (staged / "session").mkdir()
    (staged / "results" / "full" / "unpack-a.json").write_text('{"from": "the GPU"}')
    (staged / "results" / "full" / "unpack-b.json").write_text('{"from": "the GPU, new"}')
    (staged / "session" / "overrides.json").write_text(json.dumps(TINY))
    archive = tmp_path / "gpu-session.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staged / "results", "results")
        tar.add(staged / "session", "session")
    here = carried / "results" / "full"
    here.mkdir(parents=True, exist_ok=True)
    (here / "unpack-a.json").write_text('{"from": "this machine"}')
    unpack = ("make", "--no-print-directory", "gpu-unpack", f"PY={sys.executable}", f"ARCHIVE={archive}",
              f"DATA_ROOT={carried.parent / 'here'}")
    refused = shell(carried, *unpack)
    assert refused.returncode != 0 and "refused, nothing unpacked" in refused.stderr
    assert str(here / "unpack-a.json") in refused.stderr
    assert (here / "unpack-a.json").read_text() == '{"from": "this machine"}' and not (here / "unpack-b.json").exists()
    (here / "unpack-a.json").write_text('{"from": "the GPU"}')  # the same file: no conflict
    done = shell(carried, *unpack)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "unpacked 1 new result(s)" in done.stdout and "(1 there already, identical)" in done.stdout
    assert (here / "unpack-b.json").read_text() == '{"from": "the GPU, new"}'
    assert f"OVERRIDES='{json.dumps(TINY)}'" in done.stdout and "runs stored" in done.stdout  # the plan's status


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> Path:
    """Generated data large enough for a hundredth of the full sizes (600 MNIST, 450 + 50 CIFAR-10 images)."""
    return write_stand_ins(tmp_path_factory.mktemp("stand-ins"), n_mnist=600, n_cifar=500, n_test=100)


@pytest.mark.slow
def test_the_calibration_on_the_cpu_has_a_row_per_kind_and_the_proposed_table(stand_ins, tmp_path):
    out = tmp_path / "calibration.json"
    done = subprocess.run([sys.executable, "-m", "helpers.calibrate", "--device", "cpu", "--epochs", "2", "--scale",
                           "0.01", "--data-root", str(stand_ins), "--out", str(out)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert {tuple(r["kind"]) for r in result["rows"]} == CPU_KINDS and len(result["rows"]) == len(CPU_KINDS)
    assert all(r[t] > 0 for r in result["rows"] for t in ("first_train", "train", "first_eval", "eval", "full_epoch"))
    assert result["toggles"] == [] and "n/a on a CPU (CUDA-only)" in done.stdout
    proposed = {tuple(p["kind"]): p["seconds"] for p in result["proposed"]}
    assert proposed.keys() == EPOCH_SECONDS.keys() and "proposed, from a CPU" in done.stdout
    slowdown = result["core_slowdown"]
    for row in result["rows"]:  # a CPU kind's proposal: its slowest optimizer's full-size epoch on the course's core
        slowest = max(r["full_epoch"] for r in result["rows"] if r["kind"][:4] == row["kind"][:4])
        assert proposed[tuple(row["kind"][:4])] == pytest.approx(slowdown * slowest)
    assert list(result["loader"]) == ["mnist"] and result["loader"]["mnist"] > 0  # 3.2's GPU template run's loader
    template, resident = ("mnist", "mlp", "cuda", "template"), ("mnist", "mlp", "cuda", "resident")
    assert proposed[template] == pytest.approx(slowdown * result["loader"]["mnist"] + EPOCH_SECONDS[resident])
    assert all(proposed[k] == EPOCH_SECONDS[k] for k in proposed if k[2] == "cuda" and k != template)  # kept
    assert result["plan"]["runs"] == 35 and result["plan"]["all"] > 30 * result["plan"]["per_epoch"] * 0.9


@pytest.mark.slow
def test_the_cpu_only_calibration_measures_the_cpu_kinds_and_the_loader_on_one_core(stand_ins, monkeypatch):
    cores = []
    monkeypatch.setattr(calibrate, "run", lambda config, *a, **kw: cores.append(os.sched_getaffinity(0)) or run(
        config, *a, **kw))
    lines, before = [], os.sched_getaffinity(0)
    result = calibrate.calibrate("cuda", 1, 0.01, stand_ins, lines.append, cpu_only=True)  # runs here without CUDA
    assert {tuple(r["kind"][:4]) for r in result["rows"]} == {("mnist", "mlp", "cpu", "template"),
                                                                ("mnist", "mlp", "cpu", "resident")}
    assert len(cores) == 2 and all(len(c) == 1 for c in cores)  # each run on one core, as a course task
    assert os.sched_getaffinity(0) == before  # given back
    assert result["loader"]["mnist"] > 0 and result["plan"] is None and result["toggles"] == []
    assert "the template loader of a CUDA run alone" in "\n".join(lines)


@pytest.mark.slow
def test_the_cuda_toggles_run_their_code_on_the_cpu(stand_ins, monkeypatch):
    """TF32 allowed, foreach off, a host sync per step: the code the GPU session runs, here where it changes nothing;
    each variant asks for its own setting (what run and synchronize are called with is recorded)."""
    configs = [c for c in calibrate.kinds("cpu", 0.01, 2, stand_ins) if c.model == "cnn"]
    asked, syncs = [], []
    monkeypatch.setattr(calibrate, "run", lambda config, *a, **kw: asked.append((config.optimizer, kw)) or run(config, *a, **kw))
    monkeypatch.setattr(calibrate, "synchronize", lambda device: syncs.append((device, os.sched_getaffinity(0))))
    toggled = calibrate.toggles(configs, stand_ins)
    assert [(t["optimizer"], t["variant"]) for t in toggled] == [
        (o, v) for o in ("SGD", "Adam") for v in ("TF32 allowed", "foreach off", "host sync every step")]
    assert all(t["train"] > 0 and t["ratio"] == t["train"] / t["as_trained"] for t in toggled)
    toggles = [(o, {k: v for k, v in kw.items() if k in ("tf32", "foreach")}) for o, kw in asked]
    assert toggles == [(o, t) for o in ("SGD", "Adam") for t in ({}, {"tf32": True}, {"foreach": False})]  # {}: as
    # trained, timed again just before its variants
    steps = 2 * -(-450 // 64)  # two epochs of 450 images in batches of 64, per optimizer: one sync after each step
    assert len(syncs) == 2 * steps and all(d.type == "cpu" and len(cores) == 1 for d, cores in syncs)  # one core


def test_the_course_estimate_is_the_docstrings_arithmetic():
    # The CNN's forward pass, layer by layer: two FLOPs per multiply-add.
    cnn = 2 * (3 * 32 * 9 * 30 * 30 + 32 * 64 * 9 * 14 * 14 + 64 * 128 * 9 * 12 * 12 + 18432 * 128 + 128 * 10)
    assert estimates.forward_flops("cnn", "cifar10") == cnn
    mlp = 2 * (784 * 512 + 512 * 128 + 128 * 10)
    assert estimates.forward_flops("mlp", "mnist") == mlp
    rows = [{"kind": ["cifar10", "cnn", "cuda", "resident", "SGD"], "images": [45000, 15000], "train": 0.9, "full_epoch": 1.0},
            {"kind": ["cifar10", "cnn", "cuda", "resident", "Adam"], "images": [45000, 15000], "train": 1.0, "full_epoch": 1.1},
            {"kind": ["mnist", "mlp", "cuda", "template", "SGD"], "images": [60000, 10000], "train": 5.5, "full_epoch": 6.0},
            {"kind": ["cifar10", "cnn", "cuda", "template", "SGD"], "images": [45000, 15000], "train": 1.8, "full_epoch": 2.0},
            {"kind": ["mnist", "mlp", "cuda", "resident", "SGD"], "images": [60000, 10000], "train": 0.3, "full_epoch": 0.4},
            {"kind": ["mnist", "mlp", "cpu", "resident", "SGD"], "images": [60000, 10000], "train": 1.5, "full_epoch": 1.9}]
    h100, ratio, s = 66.9e12, 66.9 / 13.4, 1.5  # s: the course's core against the measuring one

    def proposal(tf32: float, sync: float, gpu_seconds: float, device="NVIDIA H100 80GB HBM3", loader=None):
        """The proposal from SGD's toggles, and the docstring's figures for a GPU time of the CNN's training."""
        toggled = [{"optimizer": "SGD", "variant": "TF32 allowed", "train": tf32, "as_trained": 0.9},
                   {"optimizer": "SGD", "variant": "host sync every step", "train": sync, "as_trained": 0.9}]
        eta = 3 * cnn * 45000 / (gpu_seconds * h100)
        return estimates.proposed_epoch_seconds(rows, toggled, device, loader, slowdown=s), eta

    # TF32 saves time: the GPU is the longer part, its time is the epoch's (0.9 s of training).
    (proposed, why, model), eta = proposal(tf32=0.6, sync=1.2, gpu_seconds=0.9)
    cnn_resident = max(s * 1.1, 0.9 * 150000 / 135000 * ratio)
    assert proposed["cifar10", "cnn", "cuda", "resident"] == pytest.approx(cnn_resident)
    assert proposed["cifar10", "cnn", "cuda", "template"] == pytest.approx(max(s * 2.0, cnn_resident))  # not s * 2.0
    mlp_resident = max(s * 0.4, mlp * 190000 / (eta * h100) * ratio)
    assert proposed["mnist", "mlp", "cuda", "resident"] == pytest.approx(mlp_resident)
    assert proposed["mnist", "mlp", "cuda", "template"] == s * 6.0 and proposed["mnist", "mlp", "cpu", "resident"] == s * 1.9
    assert proposed["cifar10", "cnn", "cpu", "resident"] == EPOCH_SECONDS["cifar10", "cnn", "cpu", "resident"]
    assert model.startswith("proposed, from NVIDIA H100 80GB HBM3") and f"{eta:.0%} of it (from its toggles)" in model
    assert model.endswith("the course's core 1.5x slower (assumed)")
    # The loader measured: it and the training loop share the course task's one core, their times add up.
    (with_loader, why, _), _ = proposal(tf32=0.6, sync=1.2, gpu_seconds=0.9, loader={"mnist": 2.5})
    assert with_loader["mnist", "mlp", "cuda", "template"] == pytest.approx(s * 2.5 + mlp_resident)
    assert why["mnist", "mlp", "cuda", "template"].startswith("loader 2.50 s on one core")
    # TF32 saves nothing: the host is the longer part; a sync per step adds the GPU's hidden 0.3 s.
    (proposed, _, model), eta = proposal(tf32=0.88, sync=1.2, gpu_seconds=0.3)
    assert proposed["cifar10", "cnn", "cuda", "resident"] == pytest.approx(max(s * 1.1, 0.3 * 150000 / 135000 * ratio))
    assert f"{eta:.0%} of it" in model
    # Judged against the run as trained timed beside the toggles (1.0 s), not the row timed minutes before (0.9 s).
    beside = [{"optimizer": "SGD", "variant": v, "train": t, "as_trained": 1.0}
              for v, t in (("TF32 allowed", 0.88), ("host sync every step", 1.2))]
    assert estimates.efficiency(rows, beside, h100) == pytest.approx(3 * cnn * 45000 / (1.0 * h100))  # TF32 saved 12 %
    (kept, _, _), _ = proposal(tf32=0.6, sync=1.2, gpu_seconds=0.9, device="Some Future GPU")  # no known peak
    assert kept["cifar10", "cnn", "cuda", "resident"] == EPOCH_SECONDS["cifar10", "cnn", "cuda", "resident"]
    assumed = estimates.proposed_epoch_seconds(rows, [], "NVIDIA H200", slowdown=s)  # no toggles: the assumed share
    assert assumed[0]["cifar10", "cnn", "cuda", "resident"] == pytest.approx(max(s * 1.1, cnn * 150000 * 3 / h100 * ratio))
    assert "33% of it (assumed)" in assumed[2]


def test_tf32_and_foreach_are_explicit_and_default_to_todays_behaviour(stand_ins):
    params = [torch.nn.Parameter(torch.zeros(2))]
    cuda, cpu = torch.device("cuda"), torch.device("cpu")  # only their type decides; nothing runs on them
    assert make_optimizer("Adam", params, 0.1, cuda).defaults["foreach"] is True
    assert make_optimizer("Adam", params, 0.1, cuda, foreach=False).defaults["foreach"] is False
    assert make_optimizer("Adam", params, 0.1, cpu).defaults["foreach"] is None
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.benchmark)
    try:
        exact_float32(cuda, tf32=True)
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        exact_float32(cuda)
        assert not (torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.benchmark = saved
    with pytest.raises(ValueError, match="not stored"):  # a stored result's key would not say how it was computed
        run(RunConfig("mnist", "mlp", epochs=1, train_subset=50, test_subset=20), stand_ins, stand_ins / "results",
            tf32=True)
