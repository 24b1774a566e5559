"""The results store: per-run files keyed by the run's full configuration.

Each run owns three files in the results folder, all named by a readable stem and a hash of its key:
the result (JSON, written once the run is finished), its checkpoint while it trains (written at every
epoch end, removed once the result is stored) and a lock file (held while a process trains it; it names
the holder: host, process, device, worker). Every write is atomic (write a temporary file, then rename),
so a kill at any moment leaves either the old file or the new one; two processes never train the same
run, so side-by-side jobs cannot collide. A lock is an flock, which the kernel releases when its holder
dies, however it dies: a stale lock file never blocks a run.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import UserError
from .files import write_atomically

RESULT_VISIBLE_SECONDS = 90  # an NFS client's folder cache (acdirmax) lasts 60 s by default


class RunInProgress(UserError):
    """Another process holds the run's lock: it is being trained right now."""


def config_digest(key: dict) -> str:
    """Return a stable hash of a configuration (canonical JSON: sorted keys, no whitespace)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class RunFiles:
    """The files of one run in a results folder, and the key they must hold."""
    key: dict
    result: Path
    checkpoint: Path
    lock: Path

    @classmethod
    def of(cls, results_dir: str | Path, key: dict, stem: str = "run") -> RunFiles:
        """Return the files of the run with this key (they need not exist yet)."""
        base = Path(results_dir) / f"{stem}-{config_digest(key)[:16]}"
        return cls(key, base.with_name(base.name + ".json"), base.with_name(base.name + ".ckpt"),
                   base.with_name(base.name + ".lock"))

    def load_result(self) -> dict | None:
        """Return the stored record of exactly this configuration, or None if it was never finished."""
        if not self.result.exists():
            return None
        try:
            record = json.loads(self.result.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise UserError(f"{self.result} is not valid JSON ({err}); delete it to rerun that configuration") from None
        if not isinstance(record, dict):
            raise UserError(f"{self.result} is not a stored run (a JSON object); delete it to rerun that configuration")
        if record.get("key") != self.key:  # a hash collision or a hand-edited file: never return the wrong run
            raise UserError(f"{self.result} holds a different configuration than its name says; delete it to rerun")
        return record

    def save_result(self, record: dict) -> Path:
        """Write the finished run's record atomically, then drop its checkpoint; return the result's path."""
        text = json.dumps({**record, "key": self.key}, indent=1, sort_keys=True)
        write_atomically(self.result, lambda f: f.write(text.encode()), locked=True)
        self.checkpoint.unlink(missing_ok=True)
        return self.result

    def load_checkpoint(self) -> dict | None:
        """Return the checkpoint of an unfinished run (tensors on the CPU), or None if there is none."""
        if not self.checkpoint.exists():
            return None
        try:
            state = torch.load(self.checkpoint, map_location="cpu", **_SAFE_LOAD)
        except FileNotFoundError:  # removed by its run's end since exists() (a cached answer on NFS)
            return None
        except Exception as err:  # torch raises many types on a damaged file
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise UserError(f"{self.checkpoint} cannot be read ({type(err).__name__}: {first_line}); delete it to "
                            "restart that run from its first epoch") from None
        if not isinstance(state, dict) or state.get("key") != self.key:
            raise UserError(f"{self.checkpoint} holds a different configuration than its name says; delete it")
        return state

    def save_checkpoint(self, state: dict) -> None:
        """Write a checkpoint atomically (a kill mid-write leaves the previous one)."""
        write_atomically(self.checkpoint, lambda f: torch.save({**state, "key": self.key}, f), locked=True)

    @contextlib.contextmanager
    def locked(self, holder: dict | None = None):
        """Hold this run's lock for the block, naming the holder in the lock file (who trains it, where);
        raise RunInProgress if another process holds it."""
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held_by = describe_holder(self.holder())
                raise RunInProgress(f"{self.result.name} is being trained by another process right now "
                                    f"({held_by}; it holds {self.lock})") from None
            except OSError as err:
                raise _unlockable(self.lock, err) from None
            try:
                if _read_lock(self.lock).get("stored"):
                    self._wait_for_result()
                _rewrite(handle, json.dumps({"pid": os.getpid(), **(holder or {})}, sort_keys=True))
                yield
            finally:
                # A lock file that names a holder is held (or its holder was killed). One that says "stored" tells
                # the next holder that the result exists, where a network filesystem's cache may still say it does
                # not: taking the lock refreshes the lock file's contents, not the folder's listing.
                _rewrite(handle, json.dumps({"stored": self.result.name}) if self.result.exists() else "")
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _wait_for_result(self, seconds: float | None = None) -> None:
        """Wait until the stored result is visible here (an NFS client caches "no such file" up to a minute);
        give up after `seconds` (someone deleted it to rerun the configuration)."""
        deadline = time.monotonic() + (RESULT_VISIBLE_SECONDS if seconds is None else seconds)
        while not self.result.exists() and time.monotonic() < deadline:
            time.sleep(0.5)

    def holder(self) -> dict:
        """Who holds this run's lock (or held it when killed), as its holder wrote it; {} if nobody."""
        return _read_holder(self.lock)

    def is_locked(self) -> bool:
        """True if another process trains this run right now."""
        if not self.lock.exists():
            return False
        with open(self.lock, "a+") as handle:  # readable too: NFS refuses a shared lock on a write-only file
            try:  # a shared probe: it never looks like a holder to another prober
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            except OSError as err:
                raise _unlockable(self.lock, err) from None
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False


def _unlockable(lock: Path, err: OSError) -> UserError:
    return UserError(f"cannot lock {lock} ({err.strerror or err}): its filesystem does not support file locks "
                     "(flock), which keep two workers from training one run. Put the results on a filesystem "
                     "that does, e.g. EML_RESULTS_ROOT=/path/on/such/a/filesystem.")


def node_local_locks(folder: Path, mountinfo: str | None = None) -> str | None:
    """Why file locks in this folder are seen on this node only, read from its mount (Linux's /proc/self/mountinfo):
    workers on other nodes would not see them. None where the mount shares them or cannot tell."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return None
    folder = Path(os.path.abspath(folder))
    mounts = {}
    for line in mountinfo.splitlines():  # ID PARENT DEV ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        fields, _, rest = line.partition(" - ")
        fields, rest = fields.split(), rest.split()
        if len(fields) >= 6 and len(rest) >= 2:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # \040 is a space
            mounts[point] = (rest[0], set(fields[5].split(",")) | set(",".join(rest[2:]).split(",")))
    point = max((p for p in mounts if folder == Path(p) or Path(p) in folder.parents), key=len, default=None)
    if point is None:
        return None
    fstype, options = mounts[point]
    if fstype.startswith("nfs") and options & {"local_lock=flock", "local_lock=all"}:
        lock = next(o for o in options if o.startswith("local_lock="))
        return f"{point} is an NFS mount with {lock}"
    if fstype == "lustre" and "localflock" in options:
        return f"{point} is a Lustre mount with localflock"
    if fstype == "beegfs" and not _beegfs_global_locks(options):
        return f"{point} is a BeeGFS mount without tuneUseGlobalFileLocks"
    return None


def _beegfs_global_locks(options: set[str]) -> bool:
    """True if the BeeGFS client's configuration shares file locks between nodes (its default does not)."""
    config = next((o.split("=", 1)[1] for o in options if o.startswith("cfgFile=")), "/etc/beegfs/beegfs-client.conf")
    try:
        text = Path(config).read_text()
    except OSError:
        return False
    return bool(re.search(r"^\s*tuneUseGlobalFileLocks\s*=\s*true\b", text, re.MULTILINE | re.IGNORECASE))


def _rewrite(handle, text: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(text)
    handle.flush()


def _read_lock(lock: Path) -> dict:
    try:
        value = json.loads(lock.read_text() or "{}")
    except (OSError, json.JSONDecodeError):  # absent, or being written this instant
        return {}
    return value if isinstance(value, dict) else {}


def _read_holder(lock: Path) -> dict:
    value = _read_lock(lock)
    return value if "pid" in value else {}  # {"stored": ...} is nobody's


def describe_holder(holder: dict) -> str:
    """A lock holder in words: "worker 7_1 on node3 (pid 4242)", or "pid 4242 on node3"."""
    where = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
    return f"worker {holder['worker']} ({where})" if holder.get("worker") else where


def lock_holders(results_root: Path) -> list[dict]:
    """What every lock file under a results root says of its holder (live or not: flock decides that)."""
    return [{**holder, "lock": str(lock)} for lock in sorted(Path(results_root).glob("*/*.lock"))
            if (holder := _read_holder(lock))]


# torch can refuse to unpickle anything but tensors and plain containers; our checkpoints hold nothing
# else, so ask for that where the running torch can (1.13's restricted unpickler cannot read a float).
_SAFE_LOAD = {"weights_only": True} if tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 1) else {}
