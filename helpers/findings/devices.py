"""Findings of 3.2: CPU against GPU, and the template input pipeline against the resident one.

Runs are sorted by the device they recorded (`environment["device"]`), never by the key a notebook
filed them under, so a finding calls a run "GPU" only if it ran on CUDA.
"""
from __future__ import annotations

from dataclasses import dataclass

from .runs import _ROUNDING, RunSummary, column, recorded_device, run_summary, times_comparable

DEVICES = ("cpu", "cuda")
PIPELINES = ("template", "resident")
NOISE_EPOCHS = 5  # the CPU run's last epochs whose scatter around their trend is the noise band


def scatter(values: list[float]) -> float:
    """Max - min of the values' residuals from their least-squares line: how far a curve jumps from epoch to epoch,
    without the rise of a curve still learning (a steady rise of 2 points is no noise that hides 2 points)."""
    n = len(values)
    mid, mean = (n - 1) / 2, sum(values) / n
    slope = sum((i - mid) * (v - mean) for i, v in enumerate(values)) / sum((i - mid) ** 2 for i in range(n))
    residuals = [v - mean - slope * (i - mid) for i, v in enumerate(values)]
    return max(residuals) - min(residuals)


def _runs(histories) -> list:
    """Return the runs of a {key: History | None} mapping or an iterable, missing ones dropped."""
    values = histories.values() if hasattr(histories, "values") else histories
    return [h for h in values if h is not None and run_summary(h) is not None]


def _slot(runs, device: str, pipeline: str):
    """Return the first run that recorded this device and used this pipeline, or None."""
    return next((h for h in runs if recorded_device(h) == device and h.config.pipeline == pipeline), None)


def _speedup(slow: RunSummary | None, fast: RunSummary | None) -> float | None:
    """Return slow / fast median epoch time (> 1: `fast` is faster); None where either is missing, zero, or was
    timed while sharing its machine (then the ratio would measure the sharing, not the runs)."""
    if not times_comparable(slow, fast) or not slow.median_epoch_time or not fast.median_epoch_time:
        return None
    return slow.median_epoch_time / fast.median_epoch_time


def shared_timing(*summaries: RunSummary | None) -> tuple[RunSummary, ...]:
    """The runs among these whose every epoch was timed while other runs shared the machine."""
    return tuple(s for s in summaries if s is not None and not s.times_comparable)


@dataclass(frozen=True)
class DeviceComparison:
    """The same configuration on the CPU and on the GPU: time per epoch and whether the accuracies differ."""
    pipeline: str
    cpu: RunSummary | None
    gpu: RunSummary | None
    speedup: float | None               # CPU median epoch time / GPU median epoch time (> 1: GPU faster); None
                                        # where a side is missing or was timed while sharing the machine
    accuracy_difference: float | None   # GPU final test accuracy - CPU final test accuracy
    noise_epochs: int | None            # k = min(5, CPU epochs run - 1): the epochs the noise band spans
    noise_band: float | None            # the scatter of the CPU's test accuracy around its trend over its last k
                                        # epochs (None: k < 3, or diverged)
    within_noise: bool | None           # |difference| <= band (at least one test image); None when a side or the
                                        # band is missing, a run diverged, or the two ran different numbers of epochs
    shared: tuple[RunSummary, ...] = () # runs timed while sharing the machine in every epoch: times not compared
    one_image: float | None = None      # one test image's share of the test set (None: the run did not record it)
    same_every_epoch: bool = False      # both ran the same epochs and scored the same test accuracy after each

    @property
    def gpu_faster(self) -> bool | None:
        return None if self.speedup is None else self.speedup > 1

    @property
    def missing(self) -> tuple[str, ...]:
        """The devices without a run: "cpu", "cuda"."""
        return tuple(d for d, s in (("cpu", self.cpu), ("cuda", self.gpu)) if s is None)


def compare_devices(histories, pipeline: str | None = None) -> DeviceComparison:
    """Return CPU vs GPU for the runs of one pipeline among `histories` (a mapping or iterable; any may be absent);
    by default the sheet's, the template's, or where it did not run the first pipeline that did."""
    runs = _runs(histories)
    if pipeline is None:
        pipeline = next((p for p in PIPELINES if any(h.config.pipeline == p for h in runs)), PIPELINES[0])
    cpu_run, gpu_run = _slot(runs, "cpu", pipeline), _slot(runs, "cuda", pipeline)
    cpu, gpu = run_summary(cpu_run), run_summary(gpu_run)
    k = band = within = difference = one_image = None
    if cpu is not None:
        tested = (getattr(cpu_run, "data", None) or {}).get("test")
        one_image = 1 / tested if tested else None
        # The last epochs but never the first (the steepest part of the rise, no line's trend); two epochs lie on
        # their trend line, leaving no scatter to measure, and a diverged run's collapse is no noise: no band rather
        # than a band of zero or of the collapse.
        k = min(NOISE_EPOCHS, cpu.epochs_run - 1)
        band = scatter(column(cpu_run, "test_accuracy")[-k:]) if k >= 3 and not cpu.diverged else None
    same = False
    if cpu is not None and gpu is not None:
        difference = gpu.final_accuracy - cpu.final_accuracy
        same = column(cpu_run, "test_accuracy") == column(gpu_run, "test_accuracy")
        # No band is finer than one test image: a band of 0 must not call one image's difference "beyond noise".
        within = (None if band is None or gpu.diverged or gpu.epochs_run != cpu.epochs_run  # not the same training
                  else abs(difference) <= max(band, one_image or 0) + _ROUNDING)
    return DeviceComparison(
        pipeline=pipeline, cpu=cpu, gpu=gpu,
        speedup=_speedup(cpu, gpu), accuracy_difference=difference, noise_epochs=k, noise_band=band,
        within_noise=within, shared=shared_timing(cpu, gpu), one_image=one_image, same_every_epoch=same)


@dataclass(frozen=True)
class PipelineGain:
    """On one device: how much shorter an epoch is with the resident pipeline than with the template's."""
    device: str                 # recorded: "cpu" or "cuda"
    device_name: str
    template_epoch: float       # median epoch time (s)
    resident_epoch: float
    speedup: float              # template / resident (> 1: resident faster)
    input_share: float          # 1 - resident / template: the share of a template epoch spent on input (< 0: none)


@dataclass(frozen=True)
class PipelineComparison:
    """Both pipelines on both devices: per-device gains, and CPU-to-GPU speed-ups per pipeline."""
    runs: tuple[RunSummary, ...]                 # every run present, CPU before GPU, template before resident
    gains: tuple[PipelineGain, ...]              # the devices that have both pipelines
    template_speedup: float | None               # CPU / GPU epoch time with the template pipeline (what a user sees)
    compute_speedup: float | None                # CPU / GPU epoch time with the resident pipeline (the GPU's own gain)
    slow_first_epochs: tuple[tuple[str, str], ...]   # (device, pipeline) whose first epoch was slow
    missing: tuple[tuple[str, str], ...]         # (device, pipeline) cells of the 2 x 2 without a run
    shared: tuple[tuple[str, str], ...] = ()     # (device, pipeline) timed while sharing the machine: not compared
    other_machines: tuple[tuple[str, tuple[str, str]], ...] = ()  # (device, (template's, resident's device names))
                                                 # whose two pipelines ran on different machines: no gain
    graphed: tuple[tuple[str, str], ...] = ()    # (device, pipeline) whose training steps replayed a CUDA graph


def compare_pipelines(histories) -> PipelineComparison:
    """Return the pipeline comparison of `histories` (a mapping or iterable; any subset of the 2 x 2 may be absent)."""
    runs = _runs(histories)
    cells = {(d, p): run_summary(_slot(runs, d, p)) for d in DEVICES for p in PIPELINES}
    gains, other_machines = [], []
    for device in DEVICES:
        template, resident = cells[device, "template"], cells[device, "resident"]
        if template and resident and template.device_name != resident.device_name:  # the machines' difference, too
            other_machines.append((device, (template.device_name, resident.device_name)))
            continue
        factor = _speedup(template, resident)
        if factor is not None:
            t, r = template.median_epoch_time, resident.median_epoch_time
            gains.append(PipelineGain(device, template.device_name, t, r, factor, 1 - r / t))

    def speedup(pipeline: str) -> float | None:
        return _speedup(cells["cpu", pipeline], cells["cuda", pipeline])

    present = [(key, s) for key, s in cells.items() if s is not None]
    return PipelineComparison(
        runs=tuple(s for _, s in present), gains=tuple(gains),
        template_speedup=speedup("template"), compute_speedup=speedup("resident"),
        slow_first_epochs=tuple(key for key, s in present if s.first_epoch_slow),
        missing=tuple(key for key, s in cells.items() if s is None),
        shared=tuple(key for key, s in present if not s.times_comparable), other_machines=tuple(other_machines),
        graphed=tuple(key for key, s in present if s.steps in ("graphed", "partly graphed")))
