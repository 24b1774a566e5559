"""A GPU machine's session (helpers.gpu_session, carry, unpack) tried on the CPU with a generated carry: the datasets
written from the carried copies and compared byte for byte, one archive with the results and no checkpoint, data
that differ stop the training, a time limit that leaves no room to pack starts nothing, a different result is never
overwritten. (The calibration it runs: tests/test_calibrate.py.)"""
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import carry, gpu_session, unpack
from helpers.errors import UserError
from helpers.synthetic import write_mnist

from conftest import REPO

# Four one-epoch runs on the CPU: 3.2's two, the CNN and the MLP of 3.3 (3.4's SGD run is 3.3's CNN run).
TINY = {"devices": ["cpu"], "device": "cpu", "epochs": 1, "train_subset": 100, "test_subset": 50, "val_size": 50,
        "optimizers": ["SGD"], "lrs": [0.01], "seeds": 1}
# Stands in for a CIFAR-10 maker: the official layout, generated (the session puts the repository on PYTHONPATH).
MAKER = "import sys\nfrom helpers.synthetic import write_cifar10\nwrite_cifar10(sys.argv[1], n_train=500, n_test=100)\n"


@pytest.fixture(scope="module")
def carried(tmp_path_factory) -> Path:
    """A carry made from generated copies (the wheels are placeholders: submitit is installed here), and the data
    root it wrote here."""
    root = tmp_path_factory.mktemp("carry")
    copies, mnist = root / "copies", root / "mnist"
    copies.mkdir()
    (copies / "make_cifar10.py").write_text(MAKER)
    (copies / "cifar10-source.bin").write_bytes(b"read by a real maker only")
    write_mnist(root / "generated", n_train=600, n_test=100)
    (root / "generated" / "MNIST" / "raw").rename(mnist)
    folder = root / ".carry"
    for wheel in ("submitit-1.5.4", f"cloudpickle-{importlib.metadata.version('cloudpickle')}"):
        (folder / "wheels").mkdir(parents=True, exist_ok=True)
        (folder / "wheels" / f"{wheel}-py3-none-any.whl").touch()
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + env_path if env_path else "")  # the maker imports helpers
    said = []
    for _ in range(2):  # the second time it only checks
        carry.make_carry(folder, copies, mnist, root / "here", log=said.append)
    assert said[0].startswith("wrote ") and "is up to date" in said[2]
    assert len((folder / "data.sha256").read_text().splitlines()) == 11
    return folder


def session(tmp_path, carried, **changes) -> gpu_session.Session:
    return gpu_session.Session(**{"out": tmp_path / "out", "carry": carried, "data_root": tmp_path / "there",
                                  "device": "cpu", "workers": 2, "overrides": TINY, **changes})


def test_a_carry_without_the_cifar_maker_or_the_mnist_files_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="holds no make_cifar10.py"):
        carry.make_carry(tmp_path / "carry", tmp_path, tmp_path, tmp_path / "data")
    (tmp_path / "make_cifar10.py").touch()
    with pytest.raises(UserError, match="lacks train-images-idx3-ubyte.gz"):
        carry.make_carry(tmp_path / "carry", tmp_path, tmp_path, tmp_path / "data")


def test_data_written_there_are_compared_with_those_written_here(carried, tmp_path, monkeypatch):
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path / "results"))  # what the archive packs: nothing trained
    s = session(tmp_path, carried)
    s.out.mkdir()
    assert gpu_session.step_data(s) == "ok"
    assert (s.out / "data-check.txt").read_text().startswith("data: identical")
    (s.data_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"other bytes")
    assert gpu_session.step_data(s) == "ok"  # not the carried sums: written again from the copies
    # Data that differ are named, and the training is skipped, the archive still packed
    differ = tmp_path / "differ"
    carry_copy = differ / "carry"
    shutil.copytree(carried, carry_copy)
    sums = (carry_copy / "data.sha256").read_text().splitlines(keepends=True)
    (carry_copy / "data.sha256").write_text("".join("0" * 64 + line[64:] if "t10k-labels" in line else line
                                                    for line in sums))
    s = session(differ, carry_copy)
    s.out.mkdir()
    assert gpu_session.run_session(s, ["data", "train"]) == 1
    check = (s.out / "data-check.txt").read_text()
    assert check.startswith("data: DIFFERENT") and "\n  MNIST/raw/t10k-labels-idx1-ubyte.gz\n" in check
    assert check.count("\n  ") == 1 and "numpy" in check
    with tarfile.open(s.out / "gpu-session.tar.gz") as archive:
        assert archive.extractfile("session/data-check.txt").read().decode() == check
        assert not [m for m in archive.getnames() if m.startswith("results/")]  # nothing trained


def test_training_never_starts_when_the_limit_leaves_no_time_to_stop_and_pack(carried, tmp_path, capsys):
    s = session(tmp_path, carried, limit=gpu_session.STOP_RESERVE + 10)
    assert gpu_session.step_train(s) == "OUT OF TIME"
    assert "train: not started" in capsys.readouterr().out


@pytest.mark.slow
def test_the_session_on_the_cpu_brings_back_one_archive_with_results_and_no_checkpoints(carried, tmp_path):
    out, results = tmp_path / "out", tmp_path / "results"
    # Every step but the check (the whole of gpu-check runs on the CPU in tests/test_gpucheck.py)
    done = subprocess.run([sys.executable, "-m", "helpers.gpu_session", "run", "--steps", "data,calibrate,train",
                           "--device", "cpu", "--calibrate", "all",
                           "--cal-epochs", "2", "--cal-scale", "0.01", "--workers", "2", "--overrides", json.dumps(TINY),
                           "--limit", "3000", "--out", str(out), "--carry", str(carried), "--data-root",
                           str(tmp_path / "there")], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "EML_RESULTS_ROOT": str(results)})
    log = (out / "session.log").read_text()
    assert done.returncode == 0, log[-3000:] + done.stderr
    summary = log.split("\nsteps:\n")[-1]
    assert [line.split()[:2] for line in summary.splitlines()[:3]] == [[s, "ok"] for s in ("data", "calibrate",
                                                                                             "train")]
    assert "every run is stored" in log and "first side-by-side" in log
    files = set(gpu_session.SESSION_FILES) - {"gpucheck.txt"}
    assert {p.name for p in out.iterdir()} == files | {"gpu-session.tar.gz"}  # the device returns at most 8
    with tarfile.open(out / "gpu-session.tar.gz") as archive:
        names = archive.getnames()
        stored = sorted(p.name for p in (results / "full").glob("*.json"))
        assert sorted(n.split("/", 2)[-1] for n in names if n.startswith("results/full/")) == stored and len(stored) == 4
        assert not [n for n in names if n.endswith((".ckpt", ".lock"))]
        assert {n.split("/")[1] for n in names if n.startswith("session/")} == files | {"overrides.json"}
        assert json.load(archive.extractfile("session/overrides.json")) == TINY
        assert [n for n in names if n.startswith("workers/") and n.endswith("_log.out")]
    # 3.2's CPU runs side by side with (here: no) GPU runs, each on its own cores; then the two workers
    records = [json.loads(p.read_text()) for p in (results / "full").glob("mnist-*.json")]
    assert {r["environment"]["launch"].get("first") for r in records} == {"side-by-side"}


def test_unpack_never_overwrites_a_different_result_and_adds_the_new_ones(tmp_path, monkeypatch, capsys):
    archive = tmp_path / "gpu-session.tar.gz"
    staged = {"results/full/unpack-a.json": b'{"from": "the GPU"}', "results/full/unpack-b.json": b'{"new": 1}',
              "session/overrides.json": json.dumps(TINY).encode(), "session/data-check.txt": b"data: identical",
              "elsewhere/evil.json": b"{}"}
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in staged.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    members = unpack.archive_members(archive)
    assert "elsewhere/evil.json" not in members  # only what a session writes
    here = tmp_path / "results"
    here.mkdir()
    (here / "unpack-a.json").write_text('{"from": "this machine"}')
    with pytest.raises(UserError, match="refused, nothing unpacked") as refused:
        unpack.store_results(members, here)
    assert str(here / "unpack-a.json") in str(refused.value) and not (here / "unpack-b.json").exists()
    (here / "unpack-a.json").write_text('{"from": "the GPU"}')  # the same file: no conflict
    assert unpack.store_results(members, here) == (1, 1)
    assert (here / "unpack-b.json").read_text() == '{"new": 1}'
    with pytest.raises(UserError, match="cannot be unpacked"):
        unpack.archive_members(tmp_path / "results" / "unpack-a.json")
    # The whole unpack: results into the results root, the session's files apart, then the plan's status with the
    # session's overrides.
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path / "root"))
    monkeypatch.setattr(unpack, "UNPACKED", tmp_path / "unpacked")
    shown = []
    monkeypatch.setattr(unpack, "show_status", lambda profile, overrides, data_root: shown.append((profile, overrides)))
    lines = []
    unpack.unpack(archive, tmp_path / "data", out=lines.append)
    assert lines[0].startswith("unpacked 2 new result(s)") and lines[1] == "data: identical"
    assert (tmp_path / "root" / "full" / "unpack-b.json").exists() and shown == [("full", TINY)]
    assert sorted(p.name for p in (tmp_path / "unpacked" / "session").iterdir()) == ["data-check.txt", "overrides.json"]
