"""From measured epoch times to the estimates `make status` uses for a course GPU node (helpers.status.EPOCH_SECONDS):
the model, written down once, that helpers.calibrate applies to what it measured.

A course task is one RTX 2080 Ti and one EPYC 7351P core (`--cpus-per-task 1`). Per kind of run (dataset, model,
device, pipeline), from t, the measured seconds of one full-size epoch (training and evaluation) of its slowest
optimizer, timed on one core of the measuring machine with one torch thread:
- CPU: S * t, S = COURSE_CORE_SLOWDOWN: how much longer the course's core takes for the same Python, PIL and
  one-thread torch work (assumed, see there).
- CUDA, resident: the host (Python and kernel launches, on the task's one core) and the GPU overlap, so an epoch
  takes the longer of the two: max(S * t, t_gpu * P / P_course). t_gpu = F / (eta * P): F the epoch's FLOPs (3
  forward passes per training image, 1 per evaluated one), P the measuring GPU's fp32 peak (FP32_PEAK) against the
  RTX 2080 Ti's 13.4 TFLOP/s (its memory bandwidth is about 5x lower too), eta the share of the peak the CNN
  reaches (`efficiency`, from its TF32 toggle; ASSUMED_EFFICIENCY without it). S * t bounds the
  host part from above: where the GPU was the longer part, t is more than the host's.
- CUDA, template: the loader process (`num_workers=1`: PIL, ToTensor and Normalize per image) and the training loop
  share the task's one core, so their work adds up: S * l + the resident estimate of the same dataset and model,
  l the loader's measured seconds per full-size epoch on one core. Without l: S * t, at least the resident estimate.
Kinds that were not measured (and CUDA ones from a GPU of unknown peak) keep the built-in figure. The CPU kinds and
the loader are best measured with the course's torch 1.13.1 (`python -m helpers.calibrate --cpu-only` in its env):
torch 2.x runs the same work on one core in 0.5-0.9x the time (helpers/status.py says where that was measured).
"""
from __future__ import annotations

import torch

from .models import build_model
from .status import EPOCH_IMAGES, EPOCH_SECONDS

# fp32 FLOP/s without tensor cores (vendor figures), by a part of the device name; the first match counts.
FP32_PEAK = (("H100 PCIe", 51.2e12), ("H100 NVL", 60.0e12), ("H100", 66.9e12), ("H200", 66.9e12),
             ("A100", 19.5e12), ("RTX 2080 Ti", 13.4e12))
COURSE_GPU = "RTX 2080 Ti"    # the course partition's GPU, one EPYC 7351P core per task
ASSUMED_EFFICIENCY = 1 / 3    # the fraction of the fp32 peak the CNN reaches, where its toggles give no figure
# Assumed, not measured (no course node at hand): a 2017 Zen 1 core at 2.9 GHz boost against the 2023-25 server
# cores that measure (3.7-3.8 GHz boost; 1.4-1.7x the work per clock by published single-thread scores). The cores
# that measure differ by as much: a lent H100's Xeon host core took 1.5-2.5x a Zen 5 core's time for the same work
# (2026-11-26), so a proposal from it counts a slow core twice; helpers/status.py says how its figures allow for that.
COURSE_CORE_SLOWDOWN = 2.0
TF32, EAGER = "TF32 allowed", "eager steps"  # calibrate's toggles of the CNN: how its run as trained (graphed) varies


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


def efficiency(rows: list[dict], toggled: list[dict], peak: float | None) -> float | None:
    """The share of the fp32 peak that the CNN's training reaches on the measured GPU (None: no figure). Host and GPU
    overlap, an epoch takes the longer of the two. Where TF32 (faster arithmetic) shortens the run as trained, the
    GPU is the longer part and the epoch's time is the GPU's (t: the run as trained, timed beside its toggles);
    where it does not, the host bounds the epoch and its time says nothing of the GPU's."""
    cnn = next((r for r in rows if r["kind"][:4] == ["cifar10", "cnn", "cuda", "resident"]), None)
    mine = [t for t in toggled if cnn and t["optimizer"] == cnn["kind"][4]]
    variant = {t["variant"]: t["train"] for t in mine}
    if not (peak and cnn and TF32 in variant):
        return None
    t = mine[0]["as_trained"]
    if variant[TF32] >= 0.9 * t:
        return None
    return min(1.0, 3 * forward_flops("cnn", "cifar10") * cnn["images"][0] / (t * peak))


def proposed_epoch_seconds(rows: list[dict], toggled: list[dict], device_name: str, loader: dict | None = None,
                           slowdown: float = COURSE_CORE_SLOWDOWN) -> tuple[dict, dict, str]:
    """Course-GPU estimates of EPOCH_SECONDS's kinds by the module's model: ({kind: seconds}, {kind: why}, the model
    in a line). `rows` are calibrate's measured kinds, `toggled` its CNN toggles, `loader` the template loader's
    seconds per full-size epoch on one core by dataset, `device_name` the measuring GPU (or a CPU: no CUDA kinds)."""
    slowest = {tuple(row["kind"][:4]): row for row in sorted(rows, key=lambda r: r["full_epoch"])}  # the last stays
    peak, course = peak_flops(device_name), peak_flops(COURSE_GPU)
    eta = efficiency(rows, toggled, peak)
    model = (f"proposed, from {device_name}: fp32 peak {peak / 1e12:.1f} TFLOP/s, the CNN at {eta or ASSUMED_EFFICIENCY:.0%}"
             f" of it ({'from its toggles' if eta else 'assumed'})" if peak else
             f"proposed, from {device_name} (no fp32 peak known: CUDA kinds keep the built-in figures)")
    model += f"; the course's core {slowdown:g}x slower (assumed)"
    proposed, why = dict(EPOCH_SECONDS), dict.fromkeys(EPOCH_SECONDS, "kept: not measured")
    for key in EPOCH_SECONDS:  # CPU and resident first: a template estimate builds on its resident one
        dataset, net, device, pipeline = key
        row = slowest.get(key)
        if row is None or device == "cuda" and (pipeline == "template" or not peak):
            continue
        if device == "cpu":
            proposed[key] = slowdown * row["full_epoch"]
            why[key] = f"measured {row['full_epoch']:.2f} s (one thread)"
        else:
            flops = forward_flops(net, dataset) * (3 * EPOCH_IMAGES[dataset][0] + EPOCH_IMAGES[dataset][1])
            t_gpu = flops / ((eta or ASSUMED_EFFICIENCY) * peak)
            proposed[key] = max(slowdown * row["full_epoch"], t_gpu * peak / course)
            why[key] = f"measured {row['full_epoch']:.2f} s, of which GPU work {min(t_gpu, row['full_epoch']):.2f} s"
    for key in [k for k in EPOCH_SECONDS if k[2:] == ("cuda", "template")]:
        resident, row, seconds = key[:2] + ("cuda", "resident"), slowest.get(key), (loader or {}).get(key[0])
        if seconds is not None:
            proposed[key] = slowdown * seconds + proposed[resident]
            why[key] = f"loader {seconds:.2f} s on one core, plus the resident run's {proposed[resident]:.2f} s"
        elif row is not None:  # an epoch of it does all a resident epoch does, and loads every image
            proposed[key] = max(slowdown * row["full_epoch"], proposed[resident])
            why[key] = f"measured {row['full_epoch']:.2f} s (input-bound)"
    return proposed, why, model
