"""`make gpu-check`: clear without CUDA; its self-contained checks hold where they can run (the CPU)."""
import subprocess
import sys

import pytest
import torch

from helpers import gpucheck

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


@pytest.mark.parametrize("check", [gpucheck._generator_check, gpucheck._timing_check])
def test_generator_and_timing_checks_pass_on_the_cpu(check):
    name, result, _, detail = check("cpu")
    assert result == "ok", detail
