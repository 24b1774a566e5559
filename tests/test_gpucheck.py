"""The machine checks. `make gpu-check`: clear without CUDA; its checks hold where they can run (the CPU) and
fail where they should. `make bench`: on a machine without datasets it times stand-ins and says so."""
import os
import re
import subprocess
import sys

import pytest
import torch

from helpers import bench, gpucheck
from helpers.data import read_idx

from conftest import REPO


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_so_and_fails():
    result = subprocess.run([sys.executable, "-m", "helpers.gpucheck"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1 and "no CUDA here" in result.stdout and "Traceback" not in result.stderr


def test_it_needs_torch_alone():
    code = ("import sys, helpers.gpucheck, helpers.jobs; "
            "print([m for m in ('matplotlib', 'IPython', 'papermill', 'nbformat', 'yaml') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_every_check_passes_on_the_cpu_end_to_end(tmp_path):
    """`python -m helpers.gpucheck --device cpu`: the whole table, each row ok, nothing left behind."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "helpers.gpucheck", "--device", "cpu"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("gpu-check on CPU: torch ") and lines[-1] == "18 of 18 checks passed"
    rows = {cells[0]: cells[1] for cells in (re.split(r"\s{2,}", line) for line in lines[2:-1])}
    assert rows == {name: "ok" for name in [
        "mnist MLP template", "mnist MLP resident", "cifar10 CNN template", "cifar10 CNN resident",
        "optimizer SGD", "optimizer Adam", "optimizer RMSprop", "optimizer Adagrad", "optimizer AdamW",
        "checkpoint, kill, resume", "graphed = eager: MLP SGD", "graphed = eager: MLP Adagrad, eager step",
        "graphed = eager: CNN SGD, deterministic cuDNN", "graphed = eager: CNN Adam, capturable",
        "resume across the switch: SGD", "resume across the switch: Adam",
        "seeded batch generators", "timing with synchronisation"]}
    assert "killed in epoch 2 after the checkpoint of epoch 1, resumed to 3 epochs" in result.stdout
    # the stand-in of the capture on the CPU: every epoch through the graphed bookkeeping, numbers identical
    assert result.stdout.count("(2 of 2 epochs graphed): parameters identical") == 4
    assert result.stdout.count("both end exactly as the uninterrupted eager run") == 2
    assert list(tmp_path.iterdir()) == []  # the stand-ins, runs and checkpoints went with its temporary folder


@pytest.mark.parametrize("check", [gpucheck._generator_check, gpucheck._timing_check])
def test_generator_and_timing_checks_pass_on_the_cpu(check):
    name, result, _, detail = check("cpu")
    assert result == "ok", detail


def test_timing_check_fails_when_the_clock_stops_before_the_work_is_done(monkeypatch):
    """Work that is only queued when the clock stops (as on CUDA without synchronisation) must fail the check."""
    monkeypatch.setattr(gpucheck, "_matmuls", lambda x, w, count: x)  # queued elsewhere: returns at once
    name, result, _, detail = gpucheck._timing_check("cpu", n=1024)
    assert result == "FAILED", detail


@pytest.mark.slow
def test_bench_without_datasets_times_stand_ins_and_says_so(tmp_path):
    """`python -m helpers.bench` (the module behind `make bench`) on a machine without datasets or GPU; the
    stand-ins at a twentieth of the official sizes and two epochs per pipeline, so that it takes seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    stand_ins = tmp_path / "stand-ins"
    result = subprocess.run([sys.executable, "-m", "helpers.bench", "--data-root", str(tmp_path / "no-data"),
                             "--stand-ins", str(stand_ins), "--stand-in-scale", "0.05", "--epochs", "2"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("machine: ") and "GPU: none" in lines[0]
    assert lines[1] == (f"data: generated stand-ins in the official formats, 3,000 + 500 MNIST and 2,500 + 500 CIFAR-10 "
                        f"images, in {stand_ins} (no dataset found in {tmp_path / 'no-data'}; timing only, the "
                        "accuracies mean nothing)")
    for pipeline, line in zip(("template", "resident"), lines[2:4]):
        assert re.fullmatch(rf"MNIST MLP  cpu  {pipeline} +epoch 1 +\d+\.\d\d s   later epochs \(median\) +\d+\.\d\d s",
                            line), line
    assert re.fullmatch(r"MNIST MLP  cpu  resident is \d+\.\dx faster than template per epoch", lines[4]), lines[4]
    assert len(lines) == 5 and "Traceback" not in result.stderr
    raw = stand_ins / "MNIST" / "raw"
    assert [len(read_idx(raw / f"{part}-labels-idx1-ubyte.gz")) for part in ("train", "t10k")] == [3000, 500]
    assert not (tmp_path / "no-data").exists()


def test_bench_stand_ins_are_of_the_official_sizes_unless_scaled():
    assert bench.stand_in_sizes() == {"n_mnist": 60000, "n_cifar": 50000, "n_test": 10000}  # `make bench`
    assert bench.stand_in_sizes(0.05) == {"n_mnist": 3000, "n_cifar": 2500, "n_test": 500}
