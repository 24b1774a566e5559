"""Calibration: the per-epoch time of every kind of run in the full profile, each run alone on one core, as a
course task has it (a graphed kind also with eager steps); the template loader of a CUDA run on one core; what
exact fp32 and graphed steps are worth; and from these, by helpers.estimates' model, a proposed table of estimates
for a course GPU node (helpers.estimates.EPOCH_SECONDS comes from the calibrations committed in helpers/calibrations/).

    python -m helpers.calibrate [--device cuda|cpu] [--epochs 3] [--scale 1] [--part all|cpu|cuda] [--data-root DIR]
                                [--out FILE]

A kind is (dataset, model, device, pipeline, optimizer) of the full profile's plan; each runs once, alone, stored
nowhere, on `--scale` of the full-size data. `--device cpu` runs the CUDA kinds on the CPU (a trial: toggles n/a).
`--part cpu` measures what any machine can for the course (the CPU kinds and the template loader, best with the
course's torch), `--part cuda` what needs the GPU (the CUDA kinds with resident batches, and the toggles).
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
from .course import COURSE_CPU, COURSE_GPU
from .estimates import (COURSE_CORE_SLOWDOWN, EAGER, EPOCH_IMAGES, EPOCH_SECONDS, FOREACH, TF32, batch_variant,
                        proposed_epoch_seconds, train_size)
from .experiment import RunConfig, resolve_device
from .pipelines import make_splits, template_loader
from .plan import planned_runs
from .preparation import prepare_run
from .training import train


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


def measure(config: RunConfig, data_root, graphs: bool = True, **toggles) -> dict:
    """One run of the config alone, stored nowhere, on one core (a course task's): its times. `graphs` and `toggles`
    (tf32, foreach) choose how a CUDA run computes (helpers.preparation.prepare_run)."""
    with one_core():
        device = resolve_device(config.device)
        prepared = prepare_run(config, data_root, device, graphs, **toggles)
        records, status = train(prepared.model, prepared.optimizer, prepared.train_batches, prepared.eval_batches,
                                config.epochs, device, progress=False, steps=prepared.steps)
    (first_train, train_s), (first_eval, evaluation) = (first_and_median([r[c] for r in records])
                                                        for c in ("train_time", "eval_time"))
    splits = prepared.splits
    images = [len(splits.train), len(splits.test) + (len(splits.val) if splits.val is not None else 0)]
    full_train, full_eval = EPOCH_IMAGES[config.dataset]
    return {"kind": [config.dataset, config.model, config.device, config.pipeline, config.optimizer],
            "lr": config.lr, "epochs": len(records), "status": status, "images": images,
            "graphed": records[-1]["graphed"], "steps": prepared.steps_record(),
            "queued": prepared.steps.queued if prepared.steps else None,  # host seconds to queue the last epoch's steps
            "first_train": first_train, "train": train_s, "first_eval": first_eval, "eval": evaluation,
            "full_epoch": train_s * full_train / images[0] + evaluation * full_eval / images[1]}  # at full size


FILL_BATCHES = (128, 256, 512)  # SGD's CNN at larger batches: how far batches of 64 leave the measuring GPU unfilled


def toggled_variants(optimizer: str, data_root) -> dict:
    """The variants of the CNN's run as trained, by name: TF32 and eager steps (SGD and Adam); Adam with its
    multi-tensor step instead of the fused one; SGD at larger batches (the same images, fewer steps)."""
    variants = {TF32: lambda c: measure(c, data_root, tf32=True)["train"],
                EAGER: lambda c: measure(c, data_root, graphs=False)["train"]}
    if optimizer == "Adam":
        variants[FOREACH] = lambda c: measure(c, data_root, foreach=True)["train"]
    if optimizer == "SGD":
        variants.update({batch_variant(n): (lambda c, n=n: measure(replace(c, batch_size=n), data_root)["train"])
                         for n in FILL_BATCHES})
    return variants


def toggles(configs: list[RunConfig], data_root) -> list[dict]:
    """The CIFAR-10 CNN (resident; SGD and Adam) in its toggled variants, each against the run as trained (exact
    fp32, graphed, batches of 64) timed again just before them: on an H100 the same run timed minutes apart differed
    by 10-20 %, more than some toggles change. Training seconds, later epochs' median."""
    toggled = []
    for c in configs:
        if (c.model, c.pipeline) != ("cnn", "resident") or c.optimizer not in ("SGD", "Adam"):
            continue
        baseline = measure(c, data_root)["train"]
        for name, variant in toggled_variants(c.optimizer, data_root).items():
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


PARTS = {"all": "every kind, the template loader and the toggles",
         "cpu": "the CPU kinds and the template loader: what any machine can measure for the course",
         "cuda": "the CUDA kinds with resident batches, graphed and eager, and the toggles: what needs the GPU"}


def kinds_of_part(part: str, device: str, scale: float, epochs: int, data_root=None) -> list[RunConfig]:
    """The kinds a part of the calibration measures (for "cpu", the CUDA template kinds only for their loader)."""
    if part == "cpu":
        return [c for c in kinds("cuda", scale, epochs, data_root) if c.device == "cpu" or c.pipeline == "template"]
    configs = kinds(device, scale, epochs, data_root)
    return [c for c in configs if c.device == "cuda" and c.pipeline == "resident"] if part == "cuda" else configs


def measured_rows(configs: list[RunConfig], data_root, out) -> list[dict]:
    """A row per kind as it is trained (`as_trained`), and for a graphed kind one more with eager steps."""
    out(f"{'kind':40s} {'steps':>7s} {'images':>13s} {'train 1st':>9s} {'later':>7s} {'eval 1st':>8s} {'later':>7s} "
        f"{'full epoch':>10s}")
    rows = []

    def add(row: dict) -> None:
        rows.append(row)
        out(f"{' '.join(row['kind']):40s} {'graphed' if row['graphed'] else 'eager':>7s} "
            f"{'/'.join(map(str, row['images'])):>13s} {row['first_train']:9.3f} {row['train']:7.3f} "
            f"{row['first_eval']:8.3f} {row['eval']:7.3f} {row['full_epoch']:10.2f}"
            + ("" if row["status"] == "completed" else f"  ({row['status']} after {row['epochs']} epochs)")
            + (f"  (last epoch queued in {row['queued']:.3f} s)" if row["queued"] is not None else ""))
    for config in configs:
        add({**measure(config, data_root), "as_trained": True})
        if rows[-1]["steps"]["graphed"]:
            add({**measure(config, data_root, graphs=False), "as_trained": False})
    return rows


def calibrate(device: str, epochs: int, scale: float, data_root=None, out=print, part: str = "all") -> dict:
    """Measure the part's kinds (printing each row as it is measured), the loader, the toggles and the proposal;
    return them all. Kinds a part does not measure keep their built-in figures in the proposal."""
    configs = kinds_of_part(part, device, scale, epochs, data_root)
    device = "cpu" if part == "cpu" else device
    name = torch.cuda.get_device_name(0) if device == "cuda" else cpu_model()
    out(f"calibration on {name} ({PARTS[part]}): torch {torch.__version__}, {epochs} epoch(s) per run on {scale:g} of "
        "the full-size data, each run on one core with one thread; seconds (later: the median after the first; full "
        "epoch: train + eval at full size)")
    rows = measured_rows([c for c in configs if c.device == "cpu" or part != "cpu"], data_root, out)
    as_trained = [r for r in rows if r["as_trained"]]
    templates = {c.dataset: c for c in configs if c.pipeline == "template"}  # the loader's work is the same on each
    loader = {dataset: loader_seconds(config, data_root) for dataset, config in templates.items()}
    if loader:
        out("\nthe template loader of a CUDA run alone (a loader process: PIL, ToTensor, Normalize), both processes on "
            "one core, seconds per full-size epoch: " + ", ".join(f"{d} {seconds:.2f}" for d, seconds in loader.items()))
    toggled = toggles(configs, data_root) if device == "cuda" else []
    out("\nCIFAR-10 CNN, cuda, resident, training seconds per epoch (later epochs' median) against as trained (exact "
        "fp32, graphed): " + ("" if toggled else f"{TF32}, {EAGER}: n/a on a CPU (CUDA-only)"))
    for t in toggled:
        out(f"  {t['optimizer']:5s} {t['variant']:13s} {t['train']:7.3f}, as trained {t['as_trained']:7.3f}: x{t['ratio']:.2f}")
    proposed, why, model = proposed_epoch_seconds(as_trained, toggled, name if device == "cuda" else "a CPU", loader)
    out(f"\nEPOCH_SECONDS for a course GPU node ({COURSE_GPU}, one {COURSE_CPU} core per task), {model}; from this "
        "calibration alone (--out's JSON in helpers/calibrations/ makes it part of the committed ones):\nEPOCH_SECONDS = {")
    for key, seconds in proposed.items():
        out(f"    {key!r}: {seconds:.2f},  # {why[key]}; built in: {EPOCH_SECONDS[key]:g}")
    out("}")
    plan = plan_seconds(as_trained, device, data_root) if part == "all" else None
    if plan:
        out(f"\nthe full profile here, one run after another: {plan['runs']} runs, {plan['all'] / 60:.1f} min of training "
            f"(3.2's unit, one worker: {plan['3.2'] / 60:.1f} min); one epoch of every run: {plan['per_epoch']:.1f} s")
    return {"device": name, "environment": describe_environment(resolve_device(device)), "epochs": epochs,
            "scale": scale, "part": part, "rows": rows, "loader": loader, "toggles": toggled, "model": model,
            "plan": plan, "core_slowdown": COURSE_CORE_SLOWDOWN,
            "proposed": [{"kind": list(k), "seconds": v, "why": why[k], "built_in": EPOCH_SECONDS[k]}
                         for k, v in proposed.items()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run, the first reported apart (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full-size data (default 1; tests)")
    parser.add_argument("--part", default="all", choices=list(PARTS),
                        help="; ".join(f"{k}: {v}" for k, v in PARTS.items()))
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default=None, help="also write everything as JSON to this file")
    args = parser.parse_args(argv)

    def body():
        if not 0 < args.scale <= 1 or args.epochs < 1:
            raise UserError(f"--scale must be in (0, 1] and --epochs at least 1, got {args.scale} and {args.epochs}")
        resolve_device("cpu" if args.part == "cpu" else args.device)
        result = calibrate(args.device, args.epochs, args.scale, args.data_root, lambda line: print(line, flush=True),
                           args.part)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return run_command(body)


if __name__ == "__main__":
    raise SystemExit(main())
