"""The results store through `run`: new data is a new run; a bad file is one clear error and loses nothing."""
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from helpers import results
from helpers.errors import UserError
from helpers.experiment import NotStored, RunConfig, run, run_files
from helpers.synthetic import write_mnist


def small(**changes) -> RunConfig:
    return RunConfig(**{**dict(dataset="mnist", model="mlp", lr=0.5, epochs=1, batch_size=32, pipeline="resident"),
                        **changes})


def snapshot(folder) -> dict:
    """Every file in the results folder and its bytes."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_changed_data_files_give_a_new_key_and_a_new_run(fresh_synthetic_root, tmp_path):
    store = tmp_path / "results"
    config = small()
    first = run(config, fresh_synthetic_root, store, progress=False)
    old = run_files(config, fresh_synthetic_root, store, download_missing=False)
    before = snapshot(store)

    write_mnist(fresh_synthetic_root, n_train=100, n_test=50, seed=1)  # same sizes and names, other images
    new = run_files(config, fresh_synthetic_root, store, download_missing=False)
    assert new.key != old.key and new.result != old.result
    with pytest.raises(NotStored):  # the result made from the old files is not the answer for the new ones
        run(config, fresh_synthetic_root, store, progress=False, train_missing=False)
    second = run(config, fresh_synthetic_root, store, progress=False)
    assert second.data["fingerprint"] != first.data["fingerprint"]
    assert second.records[0]["train_loss"] != first.records[0]["train_loss"]  # trained on the new images
    assert {name: data for name, data in snapshot(store).items() if name in before} == before  # the old run kept
    assert new.result.exists()


# Each is a result file that cannot be a stored run.
INVALID_RESULTS = [
    pytest.param(b"", id="empty"),
    pytest.param(b'{"records": [{"epoch": 1, "train_loss"', id="truncated"),
    pytest.param(b"\x80\x02}q\x00(X\x04\x00\x00\x00data", id="not-text"),
    pytest.param(b"[]", id="a-list"),
    pytest.param(b"null", id="null"),
]


@pytest.mark.parametrize("content", INVALID_RESULTS)
def test_an_invalid_result_file_is_one_clear_error_and_stays(fresh_synthetic_root, tmp_path, content):
    store = tmp_path / "results"
    config = small()
    files = run_files(config, fresh_synthetic_root, store, download_missing=False)
    store.mkdir()
    files.result.write_bytes(content)
    for train_missing in (True, False):
        with pytest.raises(UserError, match=re.escape(str(files.result))):
            run(config, fresh_synthetic_root, store, progress=False, train_missing=train_missing)
    assert snapshot(store) == {files.result.name: content}  # not deleted, not overwritten, nothing trained


def checkpoint_of(config: RunConfig, data_root, store, monkeypatch):
    """A real checkpoint: the run's files after its first of two epochs (storing the result is cut off)."""
    def cut_off(self, record):
        raise KeyboardInterrupt
    with monkeypatch.context() as patch:
        patch.setattr(results.RunFiles, "save_result", cut_off)
        with pytest.raises(KeyboardInterrupt):
            run(config, data_root, store, progress=False)
    files = run_files(config, data_root, store, download_missing=False)
    assert files.checkpoint.exists() and not files.result.exists()
    return files


@pytest.mark.parametrize("damage", ["another-configuration", "unreadable"])
def test_a_bad_checkpoint_is_one_clear_error_and_stays(fresh_synthetic_root, tmp_path, monkeypatch, damage):
    store = tmp_path / "results"
    other = checkpoint_of(small(epochs=2), fresh_synthetic_root, store, monkeypatch)
    config = small(epochs=2, lr=0.25)
    files = run_files(config, fresh_synthetic_root, store, download_missing=False)
    if damage == "another-configuration":
        shutil.copyfile(other.checkpoint, files.checkpoint)  # e.g. copied by hand under another run's name
        message = re.escape(str(files.checkpoint)) + " holds a different configuration"
    else:
        files.checkpoint.write_bytes(other.checkpoint.read_bytes()[:200])  # cut short
        message = re.escape(str(files.checkpoint)) + " cannot be read"
    before = snapshot(store)
    with pytest.raises(UserError, match=message):
        run(config, fresh_synthetic_root, store, progress=False)
    after = snapshot(store)
    assert {name: after.get(name) for name in before} == before  # both checkpoints still there, unchanged
    assert not files.result.exists() and not other.result.exists()


def test_results_stored_before_records_were_called_so_still_load(fresh_synthetic_root, tmp_path, monkeypatch):
    store = tmp_path / "results"
    config = small(epochs=2)
    trained = run(config, fresh_synthetic_root, store, progress=False)
    files = run_files(config, fresh_synthetic_root, store, download_missing=False)
    record = json.loads(files.result.read_text())
    record["epochs"] = record.pop("records")  # the older name of the per-epoch records
    files.result.write_text(json.dumps(record))
    monkeypatch.setattr("helpers.experiment.train", lambda *a, **k: pytest.fail("retrained a stored run"))
    loaded = run(config, fresh_synthetic_root, store, progress=False, train_missing=False)
    assert loaded.records == trained.records and len(loaded.records) == 2
    assert loaded.config == config and loaded.status == trained.status


def test_a_temporary_file_left_by_a_killed_writer_goes_with_the_next_write(tmp_path):
    files = results.RunFiles.of(tmp_path, {"a": 1}, stem="run")
    leftover = tmp_path / f".{files.checkpoint.name}-k1ll3d.tmp"  # what a SIGKILL between write and rename leaves
    other = tmp_path / f".{files.result.name}-k1ll3d.tmp"          # another file's: not touched by this write
    leftover.write_bytes(b"half a checkpoint")
    other.write_bytes(b"half a result")
    files.save_checkpoint({"records": []})
    assert not leftover.exists() and other.exists() and files.load_checkpoint()["records"] == []


def test_stored_files_are_readable_as_ordinary_files_for_the_group(tmp_path):
    old = os.umask(0o022)
    try:
        files = results.RunFiles.of(tmp_path, {"a": 1}, stem="run")
        files.save_result({"records": []})
        files.save_checkpoint({"records": []})
    finally:
        os.umask(old)
    assert stat.S_IMODE(files.result.stat().st_mode) == 0o644
    assert stat.S_IMODE(files.checkpoint.stat().st_mode) == 0o644


# Mounts as /proc/self/mountinfo lists them: a home on NFS with shared locks, a scratch whose locks stay on the node,
# Lustre with and without localflock (a mount point with a space, escaped as \040), BeeGFS by its default client.
MOUNTINFO = r"""22 1 0:21 / / rw - ext4 /dev/sda1 rw
40 22 0:50 / /home rw,relatime shared:20 - nfs4 server:/export/home rw,vers=4.2,local_lock=none,addr=10.0.0.1
41 22 0:51 / /scratch rw,relatime - nfs server:/scratch rw,vers=3,local_lock=all
42 22 0:52 / /work\040dir rw - lustre 1@o2ib:/fs rw,localflock
43 22 0:53 / /lustre rw - lustre 1@o2ib:/fs rw,flock
44 22 0:54 / /beegfs rw - beegfs beegfs_nodev rw,cfgFile=/nonexistent/beegfs-client.conf
45 40 0:55 / /home/u/local rw - nfs4 server:/x rw,local_lock=flock
"""


@pytest.mark.parametrize("folder, reason", [
    ("/home/u/eml/results", None),
    ("/scratch/u/eml/results", "/scratch is an NFS mount with local_lock=all"),
    ("/home/u/local/eml/results", "/home/u/local is an NFS mount with local_lock=flock"),  # the deepest mount
    ("/work dir/eml/results", "/work dir is a Lustre mount with localflock"),
    ("/lustre/eml/results", None),
    ("/beegfs/eml/results", "/beegfs is a BeeGFS mount without tuneUseGlobalFileLocks"),
    ("/tmp/results", None),
])
def test_mounts_whose_locks_stay_on_one_node_are_named(folder, reason):
    """make sbatch warns about them: workers on two nodes would not see each other's locks."""
    assert results.node_local_locks(Path(folder), MOUNTINFO) == reason


def test_a_beegfs_client_with_global_locks_shares_them(tmp_path):
    config = tmp_path / "beegfs-client.conf"
    config.write_text("sysMgmtdHost = mgmt\ntuneUseGlobalFileLocks = true\n")
    mountinfo = f"44 22 0:54 / /beegfs rw - beegfs beegfs_nodev rw,cfgFile={config}\n"
    assert results.node_local_locks(Path("/beegfs/results"), mountinfo) is None
