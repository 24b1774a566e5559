"""Checkpoints and resume: a run killed mid-epoch and started again ends bit-identical to an uninterrupted one."""
import json
import os
import select
import signal
import subprocess
import sys

import pytest
import torch

from helpers.experiment import RunConfig, run_files
from helpers.synthetic import write_stand_ins

from conftest import REPO
from helpers.gpucheck import PAUSING_RUN

pytestmark = pytest.mark.slow

# Each run goes in a fresh process with one thread, as an array task would: the same arithmetic every time.
# With "pause" the run stops one step into epoch 2 (after its first checkpoint), says so, and waits to be
# killed: the kill lands mid-epoch at a known point however loaded the machine is, not after a guessed sleep.
TRAIN = PAUSING_RUN + """
config = experiment.RunConfig(**json.loads(sys.argv[1]))
history = experiment.run(config, sys.argv[2], None if sys.argv[3] == "-" else sys.argv[3], progress=False)
print(json.dumps(history.to_record()))
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def start(config: RunConfig, data_root, results_dir, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", TRAIN, json.dumps(config.__dict__), str(data_root), str(results_dir),
                             *extra], cwd=REPO, env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def outcomes(record: dict) -> list[tuple]:
    """Everything an epoch computed, without the clock (and what else used the machine meanwhile)."""
    return [tuple((k, r[k]) for k in sorted(r) if not k.endswith("_time") and k != "conditions")
            for r in record["records"]]


@pytest.fixture(scope="module")
def resume_root(tmp_path_factory):
    """Synthetic data with a few dozen steps per epoch."""
    return write_stand_ins(tmp_path_factory.mktemp("resume-data"), n_mnist=2000, n_cifar=600, n_test=300)


@pytest.mark.parametrize("config", [
    RunConfig("mnist", "mlp", optimizer="SGD", lr=0.1, epochs=5, pipeline="template", val_size=500, seed=3),
    RunConfig("cifar10", "cnn", optimizer="Adam", lr=0.001, epochs=5, pipeline="resident", val_size=100, seed=2),
], ids=["template-sgd", "resident-adam"])
def test_killed_run_resumes_bit_identical_and_honestly_timed(config, resume_root, tmp_path):
    reference = start(config, resume_root, "-")
    uninterrupted = finish(reference)

    files = run_files(config, resume_root, tmp_path, download_missing=False)
    victim = start(config, resume_root, tmp_path, "pause")
    ready, _, _ = select.select([victim.stdout], [], [], 300)  # a bounded wait for the pause, then the kill
    said = victim.stdout.readline().strip() if ready else "nothing within 300 s"
    victim.send_signal(signal.SIGKILL)
    _, err = victim.communicate()
    assert said == "paused in epoch 2", err
    assert not files.result.exists(), "killed before the end, yet a result was stored"
    done_before_kill = len(files.load_checkpoint()["records"])
    assert done_before_kill == 1  # killed mid-epoch 2: that epoch's steps are lost, epoch 1 is kept

    resumed = finish(start(config, resume_root, tmp_path))
    assert outcomes(resumed) == outcomes(uninterrupted)  # bit-identical: losses and accuracies, every epoch
    assert [r["epoch"] for r in resumed["records"]] == list(range(1, config.epochs + 1))
    assert resumed["resumes"] == [{"after_epoch": done_before_kill, "device_name": resumed["environment"]["device_name"]}]
    times = [r["train_time"] for r in resumed["records"]]
    assert resumed["records"][-1]["cumulative_train_time"] == pytest.approx(sum(times))  # the cut epoch is not counted
    assert files.result.exists() and not files.checkpoint.exists()  # the checkpoint goes once the result is stored


def test_a_damaged_checkpoint_is_one_clear_error(synthetic_root, tmp_path):
    from helpers.errors import UserError
    config = RunConfig("mnist", "mlp", epochs=2, pipeline="resident")
    files = run_files(config, synthetic_root, tmp_path, download_missing=False)
    files.checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot be read.*delete it"):
        files.load_checkpoint()


def test_checkpoint_holds_every_random_state(synthetic_root, tmp_path, monkeypatch):
    """The checkpoint written after epoch 1 of 2: model, optimizer, generators, torch RNG and the records."""
    from helpers import experiment
    config = RunConfig("mnist", "mlp", epochs=2, pipeline="template", val_size=50)
    saved = []
    monkeypatch.setattr(experiment.RunFiles, "save_checkpoint", lambda self, state: saved.append(state))
    experiment.run(config, synthetic_root, tmp_path, progress=False)
    [state] = saved
    assert set(state) == {"model", "optimizer", "rng", "records", "resumes"}
    assert len(state["records"]) == 1 and len(state["rng"]["generators"]) == 3  # train, test and validation batches
    assert all(isinstance(g, torch.Tensor) for g in state["rng"]["generators"])
