"""One training run as an experiment: where it runs, and its store (what a run is: helpers.runconfig).

`run(config)` is what notebooks and cluster tasks call: it returns the stored History of that exact
configuration if there is one; otherwise it trains (continuing from the run's checkpoint if an
earlier attempt was cut off), stores the result and returns it.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from .environment import describe_environment, device_identity, timing_conditions
from .datakeys import data_fingerprint
from .errors import UserError
from .models import count_parameters
from .preparation import prepare_run
from .results import RunFiles, RunInProgress
from .runconfig import DEVICES, History, RunConfig, is_int  # noqa: F401 (the run's types, as experiment.<name>)
from .training import random_state, train


class DeviceUnavailable(UserError):
    """The configuration asks for a device this machine does not have (and no stored result exists)."""


class NotStored(UserError):
    """The run has no stored result and training was not allowed here."""


def resolve_device(name: str) -> torch.device:
    """Return the torch device; asking for CUDA on a machine without it is a clear DeviceUnavailable."""
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"CUDA was asked for, but this machine has none (torch {torch.__version__}, "
            f"torch.cuda.is_available() is False). Run it on a GPU node (README: make sbatch), "
            f"or choose device='cpu'.")
    return torch.device(name)


def run_files(config: RunConfig, data_root: str | Path | None, results_dir: str | Path,
              download_missing: bool = True) -> RunFiles:
    """Return the store files of a run: its key is the full config plus a fingerprint of the data files (without the
    files here, that of the runs stored in results_dir: helpers.datakeys)."""
    fingerprint = data_fingerprint(config.dataset, data_root, results_dir, download_missing)
    return RunFiles.of(results_dir, {**asdict(config), "data_fingerprint": fingerprint}, stem=config.stem)


def run(config: RunConfig, data_root: str | Path | None = None, results_dir: str | Path | None = None,
        progress: bool = True, train_missing: bool = True, graphs: bool = True) -> History:
    """Return the History of this configuration: loaded from results_dir if it was run, else trained now.

    Without results_dir nothing is stored (benchmarks). With train_missing=False a run that is not
    stored raises NotStored instead of training. `graphs=False` trains a CUDA run's steps eagerly instead of
    replaying a CUDA graph (helpers.graphs): the same numbers, so it is recorded, not part of the run's key.
    """
    if results_dir is None:
        return train_run(config, data_root, None, progress, graphs=graphs)
    files = run_files(config, data_root, results_dir)
    stored = files.load_result()
    if stored is not None:
        return History.from_record(stored)
    if not train_missing:
        raise NotStored(f"{config.label} has no stored result in {results_dir}")
    device = resolve_device(config.device)
    with files.locked(lock_holder(config, device)):
        return train_claimed(config, files, data_root, progress, graphs=graphs)


def lock_holder(config: RunConfig, device: torch.device, **about) -> dict:
    """What a lock file says of the process that trains a run: the run, where it computes, and `about` (worker, job)."""
    return {"run": config.stem, **device_identity(device), **about}


def train_claimed(config: RunConfig, files: RunFiles, data_root, progress: bool = True,
                  about: dict | None = None, graphs: bool = True) -> History:
    """Train and store a run whose lock this process holds; a run stored meanwhile by another process is loaded.

    `about` goes into the run's environment record: how it was started (e.g. the worker and its launch).
    """
    stored = files.load_result()
    if stored is not None:
        return History.from_record(stored)
    history = train_run(config, data_root, files, progress, about, graphs)
    files.save_result(history.to_record())
    return history


def train_run(config: RunConfig, data_root, files: RunFiles | None, progress: bool, about: dict | None = None,
              graphs: bool = True) -> History:
    """Train one run, continuing after the last epoch of its checkpoint if `files` has one; return its History."""
    device = resolve_device(config.device)
    prepared = prepare_run(config, data_root, device, graphs, log=lambda line: print(f"{config.label}: {line}"))
    if files is not None and prepared.dataset.fingerprint != files.key["data_fingerprint"]:
        raise UserError(f"{config.label}: the data in {prepared.dataset.root} (fingerprint {prepared.dataset.fingerprint})"
                        f" are not those the runs in {files.result.parent} were trained on "
                        f"({files.key['data_fingerprint']}); a run trained on them would be stored under the wrong key. "
                        "Put those files in the data root, or choose another results folder.")
    environment = {**describe_environment(device), **(about or {})}
    records, resumes = [], []
    checkpoint = files.load_checkpoint() if files is not None else None
    if checkpoint is not None:
        prepared.restore(checkpoint)
        records = checkpoint["records"]
        resumes = checkpoint["resumes"] + [{"after_epoch": len(records), "device_name": environment["device_name"]}]

    def save_checkpoint(records_so_far):
        files.save_checkpoint({"model": prepared.model.state_dict(), "optimizer": prepared.optimizer.state_dict(),
                               "rng": random_state(prepared.generators, device), "records": list(records_so_far),
                               "resumes": resumes})

    conditions = timing_conditions(device, files and files.lock.parent.parent)
    records, status = train(prepared.model, prepared.optimizer, prepared.train_batches, prepared.eval_batches,
                            config.epochs, device, records=records,
                            on_epoch_end=save_checkpoint if files is not None else None,
                            progress=progress, desc=config.label, conditions=conditions, steps=prepared.steps)
    splits = prepared.splits
    return History(config=config, records=records, status=status, parameters=count_parameters(prepared.model),
                   environment={**environment, "steps": prepared.steps_record()}, resumes=resumes,
                   data={"fingerprint": prepared.dataset.fingerprint, "root": str(prepared.dataset.root),
                         "train": len(splits.train), "val": len(splits.val) if splits.val is not None else 0,
                         "test": len(splits.test)})


def run_all(configs: dict, s, progress: bool = True) -> tuple[dict, dict]:
    """Run (or load) every config of a {key: RunConfig} dict with a notebook's data and results folders.

    Returns ({key: History}, {key: reason}): the second holds the runs this machine cannot do (a GPU
    run without a GPU, a run another process is training right now), so that a notebook can say so.
    """
    histories, missing = {}, {}
    for key, config in configs.items():
        try:
            histories[key] = run(config, s.data_root, s.results_dir, progress=progress, graphs=s.graphs)
        except (DeviceUnavailable, RunInProgress) as err:
            missing[key] = str(err)
    return histories, missing


def run_arms(arms: dict[str, dict], s, progress: bool = True) -> tuple[dict[str, list], dict[str, str]]:
    """Run (or load) the seeds of each arm, {label: {seed: RunConfig}}: ({label: [History, ...]}, by seed, and
    {"label seed k": reason} for the seeds this machine cannot run, as run_all says them)."""
    runs, missing = {}, {}
    for label, seeds in arms.items():
        histories, cannot = run_all(seeds, s, progress)
        runs[label] = [histories[seed] for seed in sorted(histories)]
        missing.update({f"{label} seed {seed}": reason for seed, reason in cannot.items()})
    return runs, missing
