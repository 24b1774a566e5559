"""Results as JSON files keyed by their full configuration.

A configuration that was already run is loaded instead of retrained; a different configuration
gets a different file and never overwrites another; writes are atomic (write, then rename), so an
interrupted run leaves no half file.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from .errors import UserError


def config_digest(key: dict) -> str:
    """Return a stable hash of a configuration (canonical JSON: sorted keys, no whitespace)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def result_path(results_dir: str | Path, key: dict, stem: str = "run") -> Path:
    """Return the file that holds (or will hold) the result of this configuration."""
    return Path(results_dir) / f"{stem}-{config_digest(key)[:16]}.json"


def load_result(results_dir: str | Path, key: dict, stem: str = "run") -> dict | None:
    """Return the stored record of exactly this configuration, or None if it was never run."""
    path = result_path(results_dir, key, stem)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON ({err}); delete it to rerun that configuration") from None
    if record.get("key") != key:  # a hash collision or a hand-edited file: never return the wrong run
        raise UserError(f"{path} holds a different configuration than its name says; delete it to rerun")
    return record


def save_result(results_dir: str | Path, key: dict, record: dict, stem: str = "run") -> Path:
    """Write the record of this configuration atomically and return its path."""
    path = result_path(results_dir, key, stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({**record, "key": key}, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_all(results_dir: str | Path) -> list[dict]:
    """Return every stored record in a results folder (for summaries such as the title page)."""
    folder = Path(results_dir)
    records = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            records.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            continue
    return records
