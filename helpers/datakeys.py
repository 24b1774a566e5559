"""The data part of a run's key, with the data or without them.

A run's key holds the fingerprint of the dataset files it trained on (helpers.data.locate). Where the files are
here, that is their fingerprint. Where they are not, a stored run is still found by its configuration: the stored
runs of that dataset in the results folder name the data they were trained on, and if they all name the same, that
is the key's. So a folder of stored runs (a grader's unpacked zip, a committed reference set) renders without the
datasets, and without downloading them; what still has to be trained needs them, and says so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .data import DATASET_NAMES, locate, official_fingerprint
from .errors import UserError


def stored_fingerprints(results_dir) -> dict[str, set[str]]:
    """The data fingerprints that the stored runs in a results folder were trained on, by dataset."""
    folder = Path(results_dir)
    if not folder.is_dir():
        return {}
    return _stored(folder.resolve(), folder.stat().st_mtime_ns)


_cache: dict[tuple[Path, int], dict[str, set[str]]] = {}


def _stored(folder: Path, mtime_ns: int) -> dict[str, set[str]]:
    """stored_fingerprints, read once per version of the folder (a result stored meanwhile changes its mtime)."""
    if (folder, mtime_ns) not in _cache:
        found: dict[str, set[str]] = {}
        for path in folder.glob("*.json"):
            try:
                key = json.loads(path.read_text(encoding="utf-8"))["key"]
                found.setdefault(key["dataset"], set()).add(key["data_fingerprint"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a result of this project: the store itself says so when it loads one
        _cache[(folder, mtime_ns)] = found
    return _cache[(folder, mtime_ns)]


def data_fingerprint(dataset: str, data_root, results_dir, download_missing: bool = True) -> str:
    """The data part of a run's key: the fingerprint of the dataset files here; without them, the one fingerprint of
    that dataset's stored runs in results_dir; without either, the files are downloaded (if allowed) or named."""
    try:
        return locate(dataset, data_root, download_missing=False).fingerprint
    except UserError as missing:
        stored = stored_fingerprints(results_dir).get(dataset, set()) if results_dir is not None else set()
        if len(stored) == 1:
            return next(iter(stored))
        if len(stored) > 1:
            raise UserError(f"{missing} The runs stored in {results_dir} were trained on {len(stored)} different "
                            f"copies of {DATASET_NAMES[dataset]} (fingerprints {', '.join(sorted(stored))}): put the "
                            "files they were trained on in the data root to choose one.") from None
        if not download_missing:
            raise
    return locate(dataset, data_root, download_missing=True).fingerprint


@dataclass(frozen=True)
class DataOrigin:
    """Which files of a dataset the runs train on, or trained on: here, or known only from the stored runs."""
    dataset: str
    fingerprint: str
    official: bool
    root: Path | None = None        # where the files are; None: not here, known from the stored runs
    differ: int = 0                 # files whose checksums are not the official release's (where the files are here)
    files: int = 0
    stand_in: bool = False          # generated stand-ins (helpers.synthetic)


def data_origin(dataset: str, data_root, results_dir) -> DataOrigin:
    """Where a dataset of the report comes from: its files here, else the stored runs' record of them."""
    try:
        files = locate(dataset, data_root, download_missing=False)
    except UserError:
        fingerprint = data_fingerprint(dataset, data_root, results_dir, download_missing=False)
        return DataOrigin(dataset, fingerprint, fingerprint == official_fingerprint(dataset))
    return DataOrigin(dataset, files.fingerprint, not files.differ, files.root, len(files.differ), len(files.paths),
                      files.stand_in)


def other_data_hint(datasets, data_root, results_dir) -> str:
    """Where runs are stored on other copies of a dataset than the files here: the sentence that says so (else "")."""
    notes = []
    for dataset in datasets:
        stored = stored_fingerprints(results_dir).get(dataset, set())
        try:
            here = locate(dataset, data_root, download_missing=False).fingerprint
        except UserError:
            continue
        if stored and here not in stored:
            notes.append(f"{DATASET_NAMES[dataset]} in {Path(data_root)} is not the copy the runs in {results_dir} were "
                         f"trained on (fingerprint {here}; theirs {', '.join(sorted(stored))})")
    return ("; ".join(notes) + ". Without the files here (DATA_ROOT naming a folder without them) the stored runs are "
            "found by their configuration and render without training.") if notes else ""
