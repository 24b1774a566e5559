"""Calibration on a lent GPU machine: the per-epoch time of every kind of run in the full profile, each run
alone on one core, as a course task has it; the template loader of a CUDA run on one core; what exact fp32,
foreach optimizers and an epoch without host syncs are worth; and from these, by helpers.estimates' model, a
proposed table of estimates for a course GPU node (helpers.status.EPOCH_SECONDS, which stays as it is).

    python -m helpers.calibrate [--device cuda|cpu] [--epochs 3] [--scale 1] [--cpu-only] [--data-root DIR] [--out FILE]

A kind is (dataset, model, device, pipeline, optimizer) of the full profile's plan; each runs once, alone, stored
nowhere, on `--scale` of the full-size data. `--device cpu` runs the CUDA kinds on the CPU (a trial: toggles n/a);
`--cpu-only` measures only what any machine can for the course: the CPU kinds and the template loader.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch

from .bench import first_and_median
from .data import load_split, locate
from .environment import cpu_model, describe_environment
from .errors import UserError, run_command
from .estimates import COURSE_CORE_SLOWDOWN, COURSE_GPU, proposed_epoch_seconds
from .experiment import RunConfig, resolve_device, run
from .models import build_model
from .pipelines import make_batches, make_splits, template_loader
from .plan import planned_runs
from .status import EPOCH_IMAGES, EPOCH_SECONDS, train_size
from .training import exact_float32, make_optimizer, synchronize, train_one_epoch


def kind_of(config: RunConfig, device: str) -> tuple:
    """A config's kind (dataset, model, device, pipeline, optimizer), with a CUDA run on `device`."""
    return config.dataset, config.model, "cpu" if config.device == "cpu" else device, config.pipeline, config.optimizer


def kinds(device: str, scale: float, epochs: int, data_root=None) -> list[RunConfig]:
    """One config per kind of the full profile's plan (its lowest rate: nothing diverges), the plan's CUDA
    runs on `device`, for `epochs` epochs on `scale` of the full-size data."""
    chosen: dict[tuple, RunConfig] = {}
    for planned in planned_runs("full", None, data_root):
        config = planned.config or planned.like
        key = kind_of(config, device)
        if key not in chosen or config.lr < chosen[key].lr:
            chosen[key] = replace(config, device=key[2])
    return [replace(c, epochs=epochs) if scale == 1 else replace(
        c, epochs=epochs, train_subset=max(10, round(train_size(c) * scale)), test_subset=max(10, round(10000 * scale)),
        val_size=max(10, round(c.val_size * scale)) if c.val_size else 0) for c in chosen.values()]


@contextmanager
def one_core():
    """This process, and the loader processes it starts, on one CPU core with one torch thread: a course task's
    `--cpus-per-task 1` (where the OS lets a process choose its cores; elsewhere one thread only)."""
    threads, cores = torch.get_num_threads(), os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    torch.set_num_threads(1)
    if cores:
        os.sched_setaffinity(0, {min(cores)})
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        if cores:
            os.sched_setaffinity(0, cores)


def loader_seconds(config: RunConfig, data_root) -> float:
    """Seconds the template loader of a CUDA run (the template's cuda_kwargs: a loader process doing the per-image
    PIL, ToTensor and Normalize, its batches handed to this process) takes for one full-size epoch of the config's
    data, training and evaluated images, on one core: what it adds to the work of a course GPU task's one core."""
    data = locate(config.dataset, data_root)
    splits = make_splits(load_split(data, True), load_split(data, False), config.val_size, config.train_subset,
                         config.test_subset, seed=config.seed)
    evaluated = [s for s in (splits.val, splits.test) if s is not None]
    with one_core():
        start = time.perf_counter()
        for split, size in [(splits.train, config.batch_size)] + [(s, config.test_batch_size) for s in evaluated]:
            for _ in template_loader(split, size, config.seed, train=split is splits.train, for_cuda=True):
                pass
        seconds = time.perf_counter() - start
    return seconds * sum(EPOCH_IMAGES[config.dataset]) / (len(splits.train) + sum(len(s) for s in evaluated))


def measure(config: RunConfig, data_root, **toggles) -> dict:
    """One run of the config alone, stored nowhere, on one core (a course task's): its times."""
    with one_core():
        history = run(config, data_root, results_dir=None, progress=False, **toggles)
    (first_train, train), (first_eval, evaluation) = (first_and_median(history.column(c))
                                                      for c in ("train_time", "eval_time"))
    full_train, full_eval = EPOCH_IMAGES[config.dataset]
    return {"kind": [config.dataset, config.model, config.device, config.pipeline, config.optimizer],
            "lr": config.lr, "epochs": len(history.records), "status": history.status,
            "images": [history.data["train"], history.data["val"] + history.data["test"]],
            "first_train": first_train, "train": train, "first_eval": first_eval, "eval": evaluation,
            "full_epoch": train * full_train / history.data["train"]  # train + eval per epoch at full size
            + evaluation * full_eval / (history.data["val"] + history.data["test"])}


def host_sync_each_step(batches, device: torch.device):
    """One epoch's batches, the host waiting for the device after each step, as a `loss.item()` per step would
    make it (the training loop itself never waits inside an epoch)."""
    for batch in batches:
        yield batch
        synchronize(device)  # the step that used the batch has been queued: wait until it is done


def host_sync_times(config: RunConfig, data_root) -> list[float]:
    """Training seconds per epoch of the run as helpers.experiment trains it, but with a host sync per step; on one
    core, as measure() times the run."""
    device = resolve_device(config.device)
    data = locate(config.dataset, data_root)
    splits = make_splits(load_split(data, True), load_split(data, False), config.val_size, config.train_subset,
                         seed=config.seed)  # the training split of the run as trained; the rest is not evaluated
    exact_float32(device)
    torch.manual_seed(config.seed)
    model = build_model(config.model, config.dataset).to(device)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, device)
    batches = make_batches(splits.train, config.pipeline, config.batch_size, device, config.seed, train=True)
    with one_core():  # as the run it is compared with (measure)
        return [train_one_epoch(model, optimizer, host_sync_each_step(batches, device), device)[2]
                for _ in range(config.epochs)]


def toggles(configs: list[RunConfig], data_root) -> list[dict]:
    """The CIFAR-10 CNN (resident; SGD and Adam) with TF32 allowed, foreach off, a host sync per step, each
    against the run as trained (exact fp32, foreach, no host sync) timed again just before them: on an H100 the
    same run timed minutes apart differed by 10-20 %, more than some toggles change. Training seconds, later
    epochs' median."""
    variants = {"TF32 allowed": lambda c: measure(c, data_root, tf32=True)["train"],
                "foreach off": lambda c: measure(c, data_root, foreach=False)["train"],
                "host sync every step": lambda c: first_and_median(host_sync_times(c, data_root))[1]}
    toggled = []
    for c in configs:
        if (c.model, c.pipeline) != ("cnn", "resident") or c.optimizer not in ("SGD", "Adam"):
            continue
        baseline = measure(c, data_root)["train"]
        for name, variant in variants.items():
            seconds = variant(c)
            toggled.append({"optimizer": c.optimizer, "variant": name, "train": seconds, "as_trained": baseline,
                            "ratio": seconds / baseline})
    return toggled


def plan_seconds(rows: list[dict], device: str, data_root=None) -> dict:
    """The full profile's training on the measured machine, one run after another: seconds in all, of 3.2's
    unit (one worker trains it whole), and per epoch of every run (E epochs take about E times that)."""
    by_kind = {tuple(r["kind"]): r for r in rows}
    runs = [(p, c, by_kind[kind_of(c, device)]) for p in planned_runs("full", None, data_root) for c in [p.config or p.like]]
    seconds = [(p, c.epochs * r["full_epoch"] + r["first_train"] - r["train"]) for p, c, r in runs]
    return {"runs": len(runs), "all": sum(s for _, s in seconds), "3.2": sum(s for p, s in seconds if "3.2" in p.exercises),
            "per_epoch": sum(r["full_epoch"] for _, _, r in runs)}


def calibrate(device: str, epochs: int, scale: float, data_root=None, out=print, cpu_only: bool = False) -> dict:
    """Measure every kind (printing each row as it is measured), the loader, the toggles and the proposal; return them
    all. `cpu_only`: the plan's CPU kinds and the loader alone (the CUDA kinds keep their built-in figures)."""
    configs = [c for c in kinds("cuda", scale, epochs, data_root) if c.device == "cpu" or c.pipeline == "template"] \
        if cpu_only else kinds(device, scale, epochs, data_root)
    device = "cpu" if cpu_only else device
    name = torch.cuda.get_device_name(0) if device == "cuda" else cpu_model()
    out(f"calibration on {name}: torch {torch.__version__}, {epochs} epoch(s) per run on {scale:g} of the full-size "
        "data, each run on one core with one thread; seconds (later: the median after the first; full epoch: train + "
        "eval at full size)")
    out(f"{'kind':40s} {'images':>13s} {'train 1st':>9s} {'later':>7s} {'eval 1st':>8s} {'later':>7s} {'full epoch':>10s}")
    rows = []
    for config in [c for c in configs if c.device == "cpu" or not cpu_only]:  # cpu_only: of CUDA kinds, the loader
        rows.append(r := measure(config, data_root))
        out(f"{' '.join(r['kind']):40s} {'/'.join(map(str, r['images'])):>13s} {r['first_train']:9.3f} {r['train']:7.3f} "
            f"{r['first_eval']:8.3f} {r['eval']:7.3f} {r['full_epoch']:10.2f}"
            + ("" if r["status"] == "completed" else f"  ({r['status']} after {r['epochs']} epochs)"))
    templates = {c.dataset: c for c in configs if c.pipeline == "template"}  # the loader's work is the same on each
    loader = {dataset: loader_seconds(config, data_root) for dataset, config in templates.items()}
    out("\nthe template loader of a CUDA run alone (a loader process: PIL, ToTensor, Normalize), both processes on one "
        "core, seconds per full-size epoch: "
        + ", ".join(f"{dataset} {seconds:.2f}" for dataset, seconds in loader.items()))
    toggled = toggles(configs, data_root) if device == "cuda" else []
    out("\nCIFAR-10 CNN, cuda, resident, training seconds per epoch (later epochs' median) against as trained (exact "
        "fp32, foreach, no host sync): " + ("" if toggled else "TF32 allowed, foreach off, host sync: n/a on a CPU (CUDA-only)"))
    for t in toggled:
        out(f"  {t['optimizer']:5s} {t['variant']:21s} {t['train']:7.3f}, as trained {t['as_trained']:7.3f}: x{t['ratio']:.2f}")
    proposed, why, model = proposed_epoch_seconds(rows, toggled, name if device == "cuda" else "a CPU", loader)
    out(f"\nEPOCH_SECONDS for a course GPU node ({COURSE_GPU}, one EPYC 7351P core per task), {model}; "
        "helpers/status.py is not changed:\nEPOCH_SECONDS = {")
    for key, seconds in proposed.items():
        out(f"    {key!r}: {seconds:.2f},  # {why[key]}; built in: {EPOCH_SECONDS[key]:g}")
    out("}")
    plan = None if cpu_only else plan_seconds(rows, device, data_root)
    if plan:
        out(f"\nthe full profile here, one run after another: {plan['runs']} runs, {plan['all'] / 60:.1f} min of training "
            f"(3.2's unit, one worker: {plan['3.2'] / 60:.1f} min); one epoch of every run: {plan['per_epoch']:.1f} s")
    return {"device": name, "environment": describe_environment(resolve_device(device)), "epochs": epochs,
            "scale": scale, "rows": rows, "loader": loader, "toggles": toggled, "model": model, "plan": plan,
            "core_slowdown": COURSE_CORE_SLOWDOWN,
            "proposed": [{"kind": list(k), "seconds": v, "why": why[k], "built_in": EPOCH_SECONDS[k]}
                         for k, v in proposed.items()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run, the first reported apart (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full-size data (default 1; tests)")
    parser.add_argument("--cpu-only", action="store_true", help="only the CPU kinds and the template loader")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default=None, help="also write everything as JSON to this file")
    args = parser.parse_args(argv)

    def body():
        if not 0 < args.scale <= 1 or args.epochs < 1:
            raise UserError(f"--scale must be in (0, 1] and --epochs at least 1, got {args.scale} and {args.epochs}")
        resolve_device("cpu" if args.cpu_only else args.device)
        result = calibrate(args.device, args.epochs, args.scale, args.data_root, lambda line: print(line, flush=True),
                           args.cpu_only)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return run_command(body)


if __name__ == "__main__":
    raise SystemExit(main())
