"""`make test` never submits to a cluster: the SLURM tests run only against the project's own local SLURM, and only
when asked to (`make test-all`). Tried here with stand-in SLURM commands that log every call."""
import os
import stat
import subprocess
import sys

import pytest

from conftest import LOCAL_CLUSTER, REPO, SLURM_OPT_IN, slurm_skip_reason


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """scontrol, sinfo, squeue, sbatch and scancel that log their calls; `cluster` names the cluster they report."""
    calls = tmp_path / "calls.log"

    def install(cluster: str):
        for command in ("scontrol", "sinfo", "squeue", "sbatch", "scancel"):
            script = tmp_path / "bin" / command
            script.parent.mkdir(exist_ok=True)
            script.write_text(f"#!/bin/sh\necho {command} \"$@\" >> {calls}\n"
                              + {"scontrol": f"echo 'ClusterName             = {cluster}'\n"
                                             "echo 'PartitionName=exercise-eml MaxTime=00:30:00 State=UP'\n",
                                 "sinfo": "echo up\n", "sbatch": "echo Submitted batch job 99\n"}.get(command, ""))
            script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
        return calls
    return install


def test_without_the_opt_in_no_slurm_is_even_asked(fake_slurm, monkeypatch):
    calls = fake_slurm(LOCAL_CLUSTER)
    monkeypatch.delenv(SLURM_OPT_IN, raising=False)
    assert "make test-all" in slurm_skip_reason()
    assert not calls.exists()


def test_a_slurm_that_is_not_the_projects_gets_no_job(fake_slurm, monkeypatch, tmp_path):
    calls = fake_slurm("course-cluster")
    monkeypatch.setenv(SLURM_OPT_IN, "1")
    assert "cluster 'course-cluster', not the project's local one" in slurm_skip_reason()
    # The whole SLURM module, collected and run against it: every test skips, nothing is submitted or changed.
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_slurm.py",
                           "-rs"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "skipped" in done.stdout and "passed" not in done.stdout, done.stdout[-2000:]
    logged = calls.read_text()
    assert "sbatch" not in logged and "scancel" not in logged and "update" not in logged and "squeue" not in logged


def test_the_projects_own_slurm_is_recognised(fake_slurm, monkeypatch):
    fake_slurm(LOCAL_CLUSTER)
    monkeypatch.setenv(SLURM_OPT_IN, "1")
    assert slurm_skip_reason() is None
