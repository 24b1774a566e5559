"""Calibration on a lent GPU machine: the per-epoch time of every kind of run in the full profile, each run
alone; what exact fp32, foreach optimizers and an epoch without host syncs are worth; and from these a
proposed table of estimates for a course GPU node (helpers.status.EPOCH_SECONDS, which stays as it is).

    python -m helpers.calibrate [--device cuda|cpu] [--epochs 3] [--scale 1] [--data-root DIR] [--out FILE]

A kind is (dataset, model, device, pipeline, optimizer) of the full profile's plan; each runs once, alone, stored
nowhere, on `--scale` of the full-size data. `--device cpu` runs the CUDA kinds on the CPU (a trial: toggles n/a).
"""
from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path

import torch

from .data import load_split, locate
from .environment import cpu_model, describe_environment
from .errors import UserError, run_command
from .experiment import RunConfig, resolve_device, run
from .models import build_model
from .pipelines import make_batches, make_splits
from .plan import planned_runs
from .status import EPOCH_SECONDS, train_size
from .training import exact_float32, make_optimizer, synchronize, train_one_epoch

# Images per full-size epoch of the profile's runs: trained, and evaluated (test, and CIFAR-10's validation split).
FULL_SIZES = {"mnist": (60000, 10000), "cifar10": (45000, 15000)}
# fp32 FLOP/s without tensor cores (vendor figures), by a part of the device name; the first match counts.
FP32_PEAK = (("H100 PCIe", 51.2e12), ("H100 NVL", 60.0e12), ("H100", 66.9e12), ("H200", 66.9e12),
             ("A100", 19.5e12), ("RTX 2080 Ti", 13.4e12))
COURSE_GPU = "RTX 2080 Ti"    # the course partition's GPU, one EPYC 7351P core per task
ASSUMED_EFFICIENCY = 1 / 3    # the fraction of the fp32 peak the CNN reaches, where its toggles give no figure


def peak_flops(device_name: str) -> float | None:
    """The GPU's fp32 (non-tensor) peak in FLOP/s, or None for a device not in FP32_PEAK."""
    return next((peak for part, peak in FP32_PEAK if part in device_name), None)


def forward_flops(model: str, dataset: str) -> float:
    """FLOPs of one image's forward pass (two per multiply-add of the convolutions and linear layers)."""
    net, total = build_model(model, dataset), [0.0]

    def count(layer, inputs, out):  # a convolution's weights are used once per output position
        total[0] += 2 * layer.weight.numel() * (out[0, 0].numel() if isinstance(layer, torch.nn.Conv2d) else 1)
    for layer in net.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            layer.register_forward_hook(count)
    with torch.no_grad():
        net(torch.zeros(1, *((1, 28, 28) if dataset == "mnist" else (3, 32, 32))))
    return total[0]


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


def first_and_median(times: list[float]) -> tuple[float, float]:
    """The first epoch's time and the median of the later ones (the first's alone if there is no other)."""
    return times[0], statistics.median(times[1:]) if len(times) > 1 else times[0]


def measure(config: RunConfig, data_root, **toggles) -> dict:
    """One run of the config alone, stored nowhere (on the CPU with one thread, a course task's one core): its times."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1 if config.device == "cpu" else saved)
    try:
        history = run(config, data_root, results_dir=None, progress=False, **toggles)
    finally:
        torch.set_num_threads(saved)
    (first_train, train), (first_eval, evaluation) = (first_and_median(history.column(c))
                                                      for c in ("train_time", "eval_time"))
    full_train, full_eval = FULL_SIZES[config.dataset]
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
    """Training seconds per epoch of the run as helpers.experiment trains it, but with a host sync per step."""
    device = resolve_device(config.device)
    data = locate(config.dataset, data_root)
    splits = make_splits(load_split(data, True), load_split(data, False), config.val_size, config.train_subset,
                         seed=config.seed)  # the training split of the run as trained; the rest is not evaluated
    exact_float32(device)
    torch.manual_seed(config.seed)
    model = build_model(config.model, config.dataset).to(device)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, device)
    batches = make_batches(splits.train, config.pipeline, config.batch_size, device, config.seed, train=True)
    return [train_one_epoch(model, optimizer, host_sync_each_step(batches, device), device)[2] for _ in range(config.epochs)]


def toggles(configs: list[RunConfig], rows: list[dict], data_root) -> list[dict]:
    """The CIFAR-10 CNN (resident; SGD and Adam) with TF32 allowed, foreach off, a host sync per step, each
    against its row as trained (exact fp32, foreach, no host sync); training seconds, later epochs' median."""
    variants = {"TF32 allowed": lambda c: measure(c, data_root, tf32=True)["train"],
                "foreach off": lambda c: measure(c, data_root, foreach=False)["train"],
                "host sync every step": lambda c: first_and_median(host_sync_times(c, data_root))[1]}
    return [{"optimizer": c.optimizer, "variant": name, "train": seconds, "as_trained": row["train"],
             "ratio": seconds / row["train"]}
            for c, row in zip(configs, rows) if (c.model, c.pipeline) == ("cnn", "resident") and c.optimizer in ("SGD", "Adam")
            for name, variant in variants.items() for seconds in [variant(c)]]


def efficiency(rows: list[dict], toggled: list[dict], peak: float | None) -> float | None:
    """The share of the fp32 peak that the CNN's training reaches on the measured GPU (None: no figure). Host and GPU
    overlap, an epoch takes the longer of the two. TF32 shortens it only where the GPU is the longer: then its time
    is the epoch's; else waiting for the GPU after every step adds the GPU's time, hidden before: t_sync - t."""
    cnn = next((r for r in rows if r["kind"][:4] == ["cifar10", "cnn", "cuda", "resident"]), None)
    variant = {t["variant"]: t["train"] for t in toggled if cnn and t["optimizer"] == cnn["kind"][4]}
    if not (peak and cnn and "TF32 allowed" in variant and "host sync every step" in variant):
        return None
    gpu = cnn["train"] if variant["TF32 allowed"] < 0.9 * cnn["train"] else variant["host sync every step"] - cnn["train"]
    return min(1.0, 3 * forward_flops("cnn", "cifar10") * cnn["images"][0] / (gpu * peak)) if gpu > 0 else None


def proposed_epoch_seconds(rows: list[dict], toggled: list[dict], device_name: str) -> tuple[dict, dict, str]:
    """Course-GPU estimates of EPOCH_SECONDS's kinds from the measured rows: ({kind: seconds}, {kind: why}, model).

    The model, per kind (t: measured seconds per full-size epoch, training and evaluation; the slowest optimizer):
    - CPU: t, one thread on the lent machine's core taken as one EPYC 7351P core of the course.
    - CUDA, resident: the host (Python, kernel launches) and the GPU overlap, t = max(t_host, t_gpu). The host's
      part stays on the course node (per core, as measured); the GPU's grows by P / P_course, its fp32 peak
      (FP32_PEAK) against the RTX 2080 Ti's 13.4 TFLOP/s (its memory bandwidth is about 5x lower too): course =
      max(t, t_gpu * P / P_course). t_gpu = F / (eta * P): F the epoch's FLOPs (3 forward passes per training
      image, 1 per evaluated one), eta the share of the peak the CNN reaches (`efficiency`, from its TF32 and
      host-sync toggles; ASSUMED_EFFICIENCY without them).
    - CUDA, template: input-bound (one loader process does the per-image PIL work, taken as measured per core,
      while the GPU computes): the larger of t and the resident estimate of the same dataset and model.
    Kinds not measured (CUDA ones: or without a known peak) keep the built-in figure.
    """
    slowest = {tuple(row["kind"][:4]): row for row in sorted(rows, key=lambda r: r["full_epoch"])}  # the last stays
    peak, course = peak_flops(device_name), peak_flops(COURSE_GPU)
    eta = efficiency(rows, toggled, peak)
    model = (f"proposed, from {device_name}: fp32 peak {peak / 1e12:.1f} TFLOP/s, the CNN at {eta or ASSUMED_EFFICIENCY:.0%}"
             f" of it ({'from its toggles' if eta else 'assumed'})" if peak else
             f"proposed, from {device_name} (no fp32 peak known: CUDA kinds keep the built-in figures)")
    proposed, why = {}, {}
    for key in EPOCH_SECONDS:
        dataset, net, device, pipeline = key
        row = slowest.get(key)
        if row is None or (device == "cuda" and not peak):
            proposed[key], why[key] = EPOCH_SECONDS[key], "kept: not measured"
        elif device == "cpu" or pipeline == "template":
            proposed[key] = row["full_epoch"]
            why[key] = f"measured {row['full_epoch']:.2f} s" + (" (one thread)" if device == "cpu" else " (input-bound)")
        else:
            flops = forward_flops(net, dataset) * (3 * FULL_SIZES[dataset][0] + FULL_SIZES[dataset][1])
            t_gpu = flops / ((eta or ASSUMED_EFFICIENCY) * peak)
            proposed[key] = max(row["full_epoch"], t_gpu * peak / course)
            why[key] = f"measured {row['full_epoch']:.2f} s, of which GPU work {min(t_gpu, row['full_epoch']):.2f} s"
    for key in [k for k in proposed if k[2:] == ("cuda", "template") and k[:2] + ("cuda", "resident") in slowest]:
        proposed[key] = max(proposed[key], proposed[key[:2] + ("cuda", "resident")])
    return proposed, why, model


def plan_seconds(rows: list[dict], device: str, data_root=None) -> dict:
    """The full profile's training on the measured machine, one run after another: seconds in all, of 3.2's
    unit (one worker trains it whole), and per epoch of every run (E epochs take about E times that)."""
    by_kind = {tuple(r["kind"]): r for r in rows}
    runs = [(p, c, by_kind[kind_of(c, device)]) for p in planned_runs("full", None, data_root) for c in [p.config or p.like]]
    seconds = [(p, c.epochs * r["full_epoch"] + r["first_train"] - r["train"]) for p, c, r in runs]
    return {"runs": len(runs), "all": sum(s for _, s in seconds), "3.2": sum(s for p, s in seconds if "3.2" in p.exercises),
            "per_epoch": sum(r["full_epoch"] for _, _, r in runs)}


def calibrate(device: str, epochs: int, scale: float, data_root=None, out=print) -> dict:
    """Measure every kind (printing each row as it is measured), the toggles and the proposal; return them all."""
    name = torch.cuda.get_device_name(0) if device == "cuda" else cpu_model()
    out(f"calibration on {name}: torch {torch.__version__}, {epochs} epoch(s) per run on {scale:g} of the full-size "
        "data, CPU runs with one thread; seconds (later: the median after the first; full epoch: train + eval at full size)")
    out(f"{'kind':40s} {'images':>13s} {'train 1st':>9s} {'later':>7s} {'eval 1st':>8s} {'later':>7s} {'full epoch':>10s}")
    configs, rows = kinds(device, scale, epochs, data_root), []
    for config in configs:
        rows.append(r := measure(config, data_root))
        out(f"{' '.join(r['kind']):40s} {'/'.join(map(str, r['images'])):>13s} {r['first_train']:9.3f} {r['train']:7.3f} "
            f"{r['first_eval']:8.3f} {r['eval']:7.3f} {r['full_epoch']:10.2f}"
            + ("" if r["status"] == "completed" else f"  ({r['status']} after {r['epochs']} epochs)"))
    toggled = toggles(configs, rows, data_root) if device == "cuda" else []
    out("\nCIFAR-10 CNN, cuda, resident, training seconds per epoch (later epochs' median) against as trained (exact "
        "fp32, foreach, no host sync): " + ("" if toggled else "TF32 allowed, foreach off, host sync: n/a on a CPU (CUDA-only)"))
    for t in toggled:
        out(f"  {t['optimizer']:5s} {t['variant']:21s} {t['train']:7.3f}, as trained {t['as_trained']:7.3f}: x{t['ratio']:.2f}")
    proposed, why, model = proposed_epoch_seconds(rows, toggled, name if device == "cuda" else "a CPU")
    out(f"\nEPOCH_SECONDS for a course GPU node ({COURSE_GPU}, one EPYC 7351P core per task), {model}; "
        "helpers/status.py is not changed:\nEPOCH_SECONDS = {")
    for key, seconds in proposed.items():
        out(f"    {key!r}: {seconds:.2f},  # {why[key]}; built in: {EPOCH_SECONDS[key]:g}")
    out("}")
    plan = plan_seconds(rows, device, data_root)
    out(f"\nthe full profile here, one run after another: {plan['runs']} runs, {plan['all'] / 60:.1f} min of training "
        f"(3.2's unit, one worker: {plan['3.2'] / 60:.1f} min); one epoch of every run: {plan['per_epoch']:.1f} s")
    return {"device": name, "environment": describe_environment(resolve_device(device)), "epochs": epochs,
            "scale": scale, "rows": rows, "toggles": toggled, "model": model, "plan": plan,
            "proposed": [{"kind": list(k), "seconds": v, "why": why[k], "built_in": EPOCH_SECONDS[k]}
                         for k, v in proposed.items()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run, the first reported apart (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full-size data (default 1; tests)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default=None, help="also write everything as JSON to this file")
    args = parser.parse_args(argv)

    def body():
        if not 0 < args.scale <= 1 or args.epochs < 1:
            raise UserError(f"--scale must be in (0, 1] and --epochs at least 1, got {args.scale} and {args.epochs}")
        resolve_device(args.device)
        result = calibrate(args.device, args.epochs, args.scale, args.data_root, lambda line: print(line, flush=True))
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return run_command(body)


if __name__ == "__main__":
    raise SystemExit(main())
