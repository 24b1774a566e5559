"""The time model: what a run of the full profile takes per epoch on a course GPU node (`make status` before a run of
its kind is stored), from the calibrations committed in helpers/calibrations/ by the model written down once here.

A course task is one RTX 2080 Ti and one EPYC 7351P core (`--cpus-per-task 1`). Per kind of run (dataset, model,
device, pipeline), from t, the measured seconds of one full-size epoch (training and evaluation) of its slowest
optimizer, timed on one core of the measuring machine with one torch thread (helpers.calibrate):
- CPU: S * t, S = COURSE_CORE_SLOWDOWN: how much longer the course's core takes for the same Python, PIL and
  one-thread torch work (assumed, see there).
- CUDA, resident: the host (Python and kernel launches, on the task's one core) and the GPU overlap, so an epoch
  takes the longer of the two: max(S * t, F / (eta * P_course)). F is the epoch's FLOPs (3 forward passes per
  training image, 1 per evaluated one), P_course the RTX 2080 Ti's fp32 peak (13.4 TFLOP/s, GPUS), eta the share
  of its peak the CNN reaches at batches of 64 (`efficiency`). Batches of 64 leave a big GPU far from full (an H200
  trains the CNN's epoch 1.7x faster at batch 256); a GPU is as full at batch 64 as the measuring one at batch
  64 * k, k the ratio of the threads the two hold at once (H200: 3.9), so eta is measured there: the CNN's SGD run
  at the calibrated batch nearest 64 * k, where the GPU bounds the epoch (TF32 shortens the run as trained: then
  larger batches, fewer steps, are GPU-bound too); without that, ASSUMED_EFFICIENCY. S * t bounds the host part
  from above: where the GPU was the longer part, t is more than the host's. Checked on an H200 that MPS limited to
  the 2080 Ti's threads (26 %): batch 64 took 0.84 s an epoch where this rule predicts 0.98 s from the whole H200 at
  batch 256 (reference/h200-2026-12-04/session/4/). Memory-bound kernels (element-wise ones, the optimizers' updates)
  scale with the bandwidth, 7.8x lower on the course GPU than on an H200, which the rule does not count: an
  estimate, not a bound.
- CUDA, template: the loader process (`num_workers=1`: PIL, ToTensor and Normalize per image) and the training loop
  share the task's one core, so their work adds up: S * l + the resident estimate of the same dataset and model,
  l the loader's measured seconds per full-size epoch on one core. Without l: S * t, at least the resident estimate.
Kinds that no committed calibration measured (none of them is in the full profile's plan) keep FALLBACK's figure.
The CPU kinds and the loader are best measured with the course's torch 1.13.1 (`python -m helpers.calibrate --part
cpu` in its env), the CUDA kinds on a GPU (`--part cuda`); docs/maintaining.md says how to add a calibration.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from .course import COURSE_GPU
from .data import OFFICIAL_SIZES
from .models import build_model
from .profiles import PROFILES
from .runconfig import RunConfig

# fp32 FLOP/s without tensor cores and threads resident at once (SMs x threads per SM), by a part of the device
# name (vendor figures); the first match counts.
GPUS = (("H100 PCIe", 51.2e12, 114 * 2048), ("H100 NVL", 60.0e12, 132 * 2048), ("H100", 66.9e12, 132 * 2048),
        ("H200", 66.9e12, 132 * 2048), ("A100", 19.5e12, 108 * 2048), ("RTX 2080 Ti", 13.4e12, 68 * 1024))
TRAINED_BATCH = RunConfig.batch_size  # the template's batch size: the batches a run as trained steps on
ASSUMED_EFFICIENCY = 1 / 3    # the fraction of the fp32 peak the CNN reaches, where its toggles give no figure
# Assumed, not measured (no course node at hand): a 2017 Zen 1 core at 2.9 GHz boost against the 2023-25 server
# cores that measure (3.7-3.8 GHz boost; 1.4-1.7x the work per clock by published single-thread scores). The cores
# that measure differ by as much (docs/maintaining.md): measure the CPU kinds on a fast core.
COURSE_CORE_SLOWDOWN = 2.0
# calibrate's toggles of the CNN: how its run as trained (exact fp32, graphed, fused Adam, batches of 64) varies
TF32, EAGER, FOREACH = "TF32 allowed", "eager steps", "multi-tensor step"


def batch_variant(batch_size: int) -> str:
    """The toggle's name for the CNN trained at another batch size."""
    return f"batch {batch_size}"


def variant_batch(name: str) -> int | None:
    """The batch size of a toggle named by batch_variant (None for another toggle)."""
    return int(name.split()[1]) if name.startswith("batch ") else None


CALIBRATIONS = Path(__file__).parent / "calibrations"  # the measurements EPOCH_SECONDS comes from (JSON, calibrate's)
# Seconds per full-size epoch on a course GPU node of the kinds no committed calibration measures (none is in the full
# profile's plan): the CPU CIFAR-10 kinds measured with the course's torch on a Zen 5 core x 2, the CUDA CIFAR-10
# template kinds by the model from the loader on that core and an eager H100 epoch (2026-11-26).
FALLBACK = {("mnist", "mlp", "cuda", "template"): 9.64, ("mnist", "mlp", "cuda", "resident"): 2.10,
            ("mnist", "mlp", "cpu", "template"): 11.8, ("mnist", "mlp", "cpu", "resident"): 6.0,
            ("cifar10", "cnn", "cuda", "template"): 9.68, ("cifar10", "cnn", "cuda", "resident"): 2.78,
            ("cifar10", "cnn", "cpu", "template"): 113.0, ("cifar10", "cnn", "cpu", "resident"): 106.0,
            ("cifar10", "mlp", "cuda", "template"): 8.53, ("cifar10", "mlp", "cuda", "resident"): 1.63,
            ("cifar10", "mlp", "cpu", "template"): 23.2, ("cifar10", "mlp", "cpu", "resident"): 16.3}
# The images a full-profile epoch trains on and evaluates: 3.2's MNIST runs hold nothing out; the CIFAR-10 runs
# hold out the profile's validation split (5,000 of the 50,000), evaluated with the 10,000 test images.
_HELD_OUT = {"mnist": 0, "cifar10": PROFILES["full"]["3.3"]["val_size"]}
EPOCH_IMAGES = {name: (n_train - _HELD_OUT[name], n_test + _HELD_OUT[name])
                for name, (n_train, n_test) in OFFICIAL_SIZES.items()}


def train_size(config) -> int:
    """The number of training images of a run (its subset, or the training set less the validation split)."""
    return config.train_subset or OFFICIAL_SIZES[config.dataset][0] - config.val_size


def kind(config) -> tuple[str, str, str, str]:
    """Runs of one kind take the same time per training image: dataset, model, device, pipeline."""
    return config.dataset, config.model, config.device, config.pipeline


def gpu_figures(device_name: str) -> tuple[float, int] | None:
    """The GPU's fp32 (non-tensor) peak in FLOP/s and the threads it holds at once, or None for one not in GPUS."""
    return next(((peak, threads) for part, peak, threads in GPUS if part in device_name), None)


def peak_flops(device_name: str) -> float | None:
    """The GPU's fp32 (non-tensor) peak in FLOP/s, or None for a device not in GPUS."""
    figures = gpu_figures(device_name)
    return figures[0] if figures else None


def course_fill_batch(device_name: str) -> float:
    """The batch size at which the measuring GPU is as full as the course GPU at batches of 64 (threads ratio)."""
    return TRAINED_BATCH * gpu_figures(device_name)[1] / gpu_figures(COURSE_GPU)[1]


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


def efficiency(rows: list[dict], toggled: list[dict], device_name: str) -> tuple[float, int] | None:
    """The share of the fp32 peak that the CNN's training reaches on the measured GPU, filled as the course GPU is by
    batches of 64, and the batch it was timed at (None: no figure). Host and GPU overlap, an epoch takes the longer of
    the two. Where TF32 (faster arithmetic) shortens the run as trained, the GPU is the longer part and the epoch's
    time is the GPU's (t: the run as trained, timed beside its toggles), and so at larger batches (fewer steps, less
    host work); where it does not, the host bounds the epoch and its time says nothing of the GPU's."""
    peak = peak_flops(device_name)
    cnn = next((r for r in rows if r["kind"][:4] == ["cifar10", "cnn", "cuda", "resident"]), None)
    mine = [t for t in toggled if cnn and t["optimizer"] == cnn["kind"][4]]
    variant = {t["variant"]: t["train"] for t in mine}
    if not (peak and cnn and TF32 in variant):
        return None
    t = mine[0]["as_trained"]
    if variant[TF32] >= 0.9 * t:
        return None
    timed = {TRAINED_BATCH: t}
    timed.update((variant_batch(name), seconds) for name, seconds in variant.items() if variant_batch(name))
    batch = min(timed, key=lambda n: abs(math.log(n / course_fill_batch(device_name))))
    return min(1.0, 3 * forward_flops("cnn", "cifar10") * cnn["images"][0] / (timed[batch] * peak)), batch


def proposed_epoch_seconds(rows: list[dict], toggled: list[dict], device_name: str, loader: dict | None = None,
                           slowdown: float = COURSE_CORE_SLOWDOWN, base: dict | None = None) -> tuple[dict, dict, str]:
    """Course-GPU estimates of EPOCH_SECONDS's kinds by the module's model: ({kind: seconds}, {kind: why}, the model
    in a line). `rows` are calibrate's measured kinds, `toggled` its CNN toggles, `loader` the template loader's
    seconds per full-size epoch on one core by dataset, `device_name` the measuring GPU (or a CPU: no CUDA kinds).
    Kinds not measured keep `base`'s figure (default: EPOCH_SECONDS)."""
    slowest = {tuple(row["kind"][:4]): row for row in sorted(rows, key=lambda r: r["full_epoch"])}  # the last stays
    peak, course = peak_flops(device_name), peak_flops(COURSE_GPU)
    measured = efficiency(rows, toggled, device_name)
    eta = measured[0] if measured else ASSUMED_EFFICIENCY
    share = ("assumed" if not measured else f"from its toggles, at batch {measured[1]}" + (
        f": as full as the course GPU at {TRAINED_BATCH}" if measured[1] != TRAINED_BATCH else ""))
    model = (f"proposed, from {device_name}: fp32 peak {peak / 1e12:.1f} TFLOP/s, the CNN at {eta:.0%} of it ({share})"
             if peak else f"proposed, from {device_name} (no fp32 peak known: CUDA kinds keep the built-in figures)")
    model += f"; the course's core {slowdown:g}x slower (assumed)"
    base = EPOCH_SECONDS if base is None else base
    proposed, why = dict(base), dict.fromkeys(base, "kept: not measured")
    for key in base:  # CPU and resident first: a template estimate builds on its resident one
        dataset, net, device, pipeline = key
        row = slowest.get(key)
        if row is None or device == "cuda" and (pipeline == "template" or not peak):
            continue
        if device == "cpu":
            proposed[key] = slowdown * row["full_epoch"]
            why[key] = f"measured {row['full_epoch']:.2f} s (one thread)"
        else:
            flops = forward_flops(net, dataset) * (3 * EPOCH_IMAGES[dataset][0] + EPOCH_IMAGES[dataset][1])
            on_course = flops / (eta * course)  # the epoch's arithmetic on the course GPU
            proposed[key] = max(slowdown * row["full_epoch"], on_course)
            why[key] = f"measured {row['full_epoch']:.2f} s; its GPU work on the course GPU {on_course:.2f} s"
    for key in [k for k in base if k[2:] == ("cuda", "template")]:
        resident, row, seconds = key[:2] + ("cuda", "resident"), slowest.get(key), (loader or {}).get(key[0])
        if seconds is not None:
            proposed[key] = slowdown * seconds + proposed[resident]
            why[key] = f"loader {seconds:.2f} s on one core, plus the resident run's {proposed[resident]:.2f} s"
        elif row is not None:  # an epoch of it does all a resident epoch does, and loads every image
            proposed[key] = max(slowdown * row["full_epoch"], proposed[resident])
            why[key] = f"measured {row['full_epoch']:.2f} s (input-bound)"
    return proposed, why, model


def calibrated(calibrations: list[dict], base: dict = FALLBACK) -> tuple[dict, dict, str]:
    """The model applied to several calibrations together (e.g. the CPU kinds and loader measured with the course's
    torch, the CUDA kinds on a GPU): each kind from the calibration that measured it as trained, the CNN's toggles and
    the GPU from the one on a GPU; ({kind: seconds}, {kind: why}, the model in a line)."""
    rows = [r for c in calibrations for r in c["rows"] if r.get("as_trained", True)]
    toggled = [t for c in calibrations for t in c.get("toggles", [])]
    loader = {k: v for c in calibrations for k, v in (c.get("loader") or {}).items()}
    gpus = [c["device"] for c in calibrations if c.get("environment", {}).get("device") == "cuda"]
    return proposed_epoch_seconds(rows, toggled, gpus[0] if gpus else "a CPU", loader, base=base)


def committed_calibrations(folder: Path = CALIBRATIONS) -> list[dict]:
    """The calibrations committed with the project (helpers/calibrations/*.json)."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


EPOCH_SECONDS, EPOCH_SECONDS_WHY, EPOCH_SECONDS_MODEL = calibrated(committed_calibrations())


def built_in_epoch_seconds(config) -> float:
    """The estimate of one epoch of the run on a course GPU node (scaled down for subsets)."""
    return EPOCH_SECONDS[kind(config)] * train_size(config) / EPOCH_IMAGES[config.dataset][0]
