"""The training loop, its history and timing, seeds, the results cache, and bad input."""
import json
import math
import os

import pytest
import torch

from helpers import results
from helpers.errors import UserError
from helpers.experiment import DeviceUnavailable, NotStored, RunConfig, run, run_files
from helpers.training import optimizer_class
from helpers.results import RunFiles, RunInProgress
from helpers.findings import choose_learning_rate


def small(**changes):
    base = dict(dataset="mnist", model="mlp", lr=0.5, epochs=4, batch_size=32, pipeline="resident", seed=1)
    return RunConfig(**{**base, **changes})


@pytest.mark.parametrize("pipeline", ["template", "resident"])
def test_accuracy_rises_on_a_learnable_task(synthetic_root, pipeline):
    history = run(small(pipeline=pipeline, epochs=4), synthetic_root, progress=False)
    accuracy = history.column("test_accuracy")
    assert history.status == "completed" and len(accuracy) == 4
    assert accuracy[-1] > 0.5 and accuracy[-1] > accuracy[0]


def test_history_records_times_and_environment(synthetic_root):
    history = run(small(val_size=100), synthetic_root, progress=False)
    cumulative = history.column("cumulative_train_time")
    assert all(b > a for a, b in zip(cumulative, cumulative[1:]))
    assert cumulative[-1] == pytest.approx(sum(history.column("train_time")))
    assert all(t > 0 for t in history.column("eval_time"))
    assert "val_accuracy" in history.records[0] and history.data["val"] == 100
    env = history.environment
    assert env["device"] == "cpu" and env["torch"] == torch.__version__ and env["cpu_threads"] >= 1


def test_seeded_runs_are_reproducible_on_cpu(synthetic_root):
    first = run(small(epochs=2, pipeline="template"), synthetic_root, progress=False)
    second = run(small(epochs=2, pipeline="template"), synthetic_root, progress=False)
    other = run(small(epochs=2, pipeline="template", seed=2), synthetic_root, progress=False)
    losses = first.column("train_loss")
    assert losses == second.column("train_loss")
    assert losses != other.column("train_loss")


def test_cache_hit_miss_and_no_overwrite(synthetic_root, tmp_path, monkeypatch):
    config = small(epochs=1)
    first = run(config, synthetic_root, tmp_path, progress=False)
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 1
    # Hit: no training at all (training would call the loop, which now fails).
    monkeypatch.setattr("helpers.experiment.train", lambda *a, **k: pytest.fail("retrained a stored config"))
    again = run(config, synthetic_root, tmp_path, progress=False, train_missing=False)
    assert again.records == first.records and again.config == config
    monkeypatch.undo()
    # Miss: another config gets its own file; the first file is untouched.
    before = files[0].read_bytes()
    run(small(epochs=1, lr=0.25), synthetic_root, tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.json"))) == 2 and files[0].read_bytes() == before


def test_not_stored_is_refused_without_training(synthetic_root, tmp_path):
    with pytest.raises(NotStored, match="no stored result"):
        run(small(epochs=1), synthetic_root, tmp_path, progress=False, train_missing=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_write_interrupted_before_its_rename_keeps_the_previous_files(tmp_path, monkeypatch, step):
    """Interrupted once the new bytes are in the temporary file: at its fsync, or at the rename itself."""
    running = RunFiles.of(tmp_path, {"run": 1})  # a run in progress, checkpointed after epoch 2
    running.save_checkpoint({"records": [{"epoch": 1}, {"epoch": 2}]})
    stored = RunFiles.of(tmp_path, {"run": 2})   # a finished run
    stored.save_result({"records": [{"epoch": 1}]})
    before = {path: path.read_bytes() for path in (running.checkpoint, stored.result)}
    written = []

    def interrupted(target, *args):
        written.append(os.fstat(target).st_size if step == "fsync" else os.path.getsize(target))
        raise KeyboardInterrupt
    monkeypatch.setattr(results.os, step, interrupted)
    three_epochs = {"records": [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}]}
    for write in (lambda: running.save_checkpoint(three_epochs), lambda: running.save_result(three_epochs),
                  lambda: stored.save_result(three_epochs)):
        with pytest.raises(KeyboardInterrupt):
            write()
    monkeypatch.undo()
    assert len(written) == 3 and all(size > 0 for size in written)  # each was interrupted with its bytes written
    assert {path: path.read_bytes() for path in before} == before  # the previous checkpoint and result, intact
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in before)  # no temporary file left
    assert len(running.load_checkpoint()["records"]) == 2 and stored.load_result()["records"] == [{"epoch": 1}]


def test_stored_file_with_other_config_is_refused(tmp_path):
    path = RunFiles.of(tmp_path, {"a": 1}).save_result({"x": 1})
    record = json.loads(path.read_text())
    record["key"] = {"a": 2}
    path.write_text(json.dumps(record))
    with pytest.raises(UserError, match="different configuration"):
        RunFiles.of(tmp_path, {"a": 1}).load_result()


def test_the_lock_tells_its_next_holder_that_the_run_is_stored(tmp_path, monkeypatch):
    # On NFS a folder's cached listing can deny a result for up to a minute after another node stored it;
    # the lock file's contents are fresh once the lock is taken, so it carries the news.
    import threading
    files = RunFiles.of(tmp_path, {"a": 1})
    with files.locked({"worker": "w1"}):
        assert files.holder()["worker"] == "w1" and files.is_locked()
        files.save_result({"x": 1})
    assert json.loads(files.lock.read_text()) == {"stored": files.result.name} and files.holder() == {}
    hidden = files.result.with_name("hidden.json")
    files.result.rename(hidden)  # as a stale cache would show it: the result "absent"
    threading.Timer(0.3, hidden.rename, [files.result]).start()
    with files.locked():
        assert files.load_result() == {"x": 1, "key": {"a": 1}}  # waited until the result was visible
    monkeypatch.setattr(results, "RESULT_VISIBLE_SECONDS", 0.2)
    files.result.unlink()  # deleted by its user to rerun: the next holder waits a little, then goes on
    with files.locked():
        assert files.load_result() is None
    assert files.lock.read_text() == ""


def test_a_run_held_by_another_process_is_not_trained_twice(synthetic_root, tmp_path):
    config = small(epochs=1)
    files = run_files(config, synthetic_root, tmp_path)
    import select, subprocess, sys
    # The holder keeps the lock until it is killed (its stdin never ends before), however slow this machine is.
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.readline()",
                               str(files.lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert select.select([holder.stdout], [], [], 120)[0] and holder.stdout.readline().strip() == "locked"
        assert files.is_locked()
        with pytest.raises(RunInProgress, match="being trained by another process"):
            run(config, synthetic_root, tmp_path, progress=False)
    finally:
        holder.kill()
        holder.communicate()
    assert not files.is_locked()
    assert run(config, synthetic_root, tmp_path, progress=False).status == "completed"


def test_divergence_is_recorded_not_raised(synthetic_root):
    config = small(dataset="cifar10", model="cnn", optimizer="SGD", lr=100.0, epochs=5, train_subset=200)
    history = run(config, synthetic_root, progress=False)
    assert history.status == "diverged" and len(history.records) < 5
    assert history.records[-1]["train_loss"] is None  # non-finite, stored as null (valid JSON)
    good = run(small(epochs=1, val_size=50), synthetic_root, progress=False)
    assert choose_learning_rate({100.0: _with_val(history), 0.5: good}).chosen == 0.5  # a diverged rate never wins


def _with_val(history):
    for record in history.records:
        record.setdefault("val_accuracy", record["test_accuracy"])
    return history


@pytest.mark.parametrize("changes, message", [
    (dict(optimizer="Adamm"), "unknown optimizer 'Adamm'.*Adam"),
    (dict(optimizer="LBFGS"), "needs a closure"),
    (dict(device="tpu"), "unknown device"),
    (dict(pipeline="fast"), "unknown pipeline"),
    (dict(model="cnn"), "use 'mlp'"),
    (dict(lr=-1), "learning rate"),
    (dict(lr=float("inf")), "learning rate"),  # JSON's 1e400
    (dict(lr=float("nan")), "learning rate"),
    (dict(epochs=0), "epochs"),
    (dict(seed="1"), "seed must be a non-negative integer"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(val_size=-1), "val_size must be a non-negative"),
    # 0 would read as "no subset", and train on the whole set
    (dict(train_subset=0), "train_subset must be a positive number"),
    (dict(test_subset=-5), "test_subset must be a positive number"),
    (dict(val_size=60000), "val_size 60,000 leaves no training image: MNIST has 60,000"),
    (dict(val_size=5000, train_subset=56000), "val_size 5,000 plus train_subset 56,000 is more than MNIST's 60,000"),
    (dict(train_subset=60001), "^train_subset 60,001 is more than MNIST's 60,000 training images$"),
    (dict(test_subset=10001), "test_subset 10,001 is more than MNIST's 10,000 test images"),
])
def test_bad_config_is_rejected_clearly(changes, message):
    with pytest.raises(UserError, match=message):
        small(**changes)


def test_optimizers_by_name_any_case():
    assert optimizer_class("adam") is torch.optim.Adam and optimizer_class("RMSProp") is torch.optim.RMSprop
    assert small(optimizer="adam") == small(optimizer="Adam")  # one configuration, one stored run


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_gpu_is_a_clear_error(synthetic_root):
    with pytest.raises(DeviceUnavailable, match="CUDA was asked for.*device='cpu'"):
        run(small(device="cuda"), synthetic_root, progress=False)


@pytest.mark.slow
def test_cnn_beats_chance_on_real_cifar10(real_cifar_root):
    """A few hundred steps of the CNN on the real CIFAR-10 copy: at least twice chance (10 %)."""
    config = RunConfig(dataset="cifar10", model="cnn", optimizer="SGD", lr=0.03, epochs=1, batch_size=64,
                       train_subset=16000, test_subset=2000, pipeline="resident", seed=1)  # 250 steps
    history = run(config, real_cifar_root, progress=False)
    assert history.status == "completed"
    assert history.column("test_accuracy")[-1] > 0.2  # twice chance
    assert math.isfinite(history.records[-1]["test_loss"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_run_arms_names_each_seed_it_cannot_run(synthetic_root, tmp_path):
    from types import SimpleNamespace
    from helpers import observed
    from helpers.experiment import run_arms
    s = SimpleNamespace(data_root=synthetic_root, results_dir=tmp_path, graphs=True)
    arms = {"MLP": {2: small(epochs=1, seed=2), 1: small(epochs=1)}, "CNN": {1: small(epochs=1, device="cuda")}}
    runs, missing = run_arms(arms, s, progress=False)
    assert [h.config.seed for h in runs["MLP"]] == [1, 2] and runs["CNN"] == []  # by seed, whatever the order given
    assert list(missing) == ["CNN seed 1"] and "CUDA was asked for" in missing["CNN seed 1"]
    assert observed.missing_runs(missing).startswith("**Missing run: CNN seed 1.** It could not run here")
