"""Findings about one run: its headline numbers, whether it stayed at chance, whether it overfitted.

Everything here reads a History only through `column(name)`, `status`, `config`, `environment` and
`parameters`, so any object with those (a test's hand-made fake included) is a run.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

CHANCE = 0.1            # ten balanced classes
CHANCE_MARGIN = 0.05    # "at chance": never above CHANCE + this on the validation split
_ROUNDING = 1e-12       # 0.1 + 0.05 is 0.15000000000000002 in floats; 750/5000 must count as 15 %
SLOW_FIRST_EPOCH = 1.5  # a first epoch this many times the median one counts as start-up cost
BUSY_LOAD = 1.25        # a host whose 1-minute load exceeded this many times its cores (+ 0.5) was oversubscribed
OVERFIT_RISE = 0.02     # a test loss counts as risen when it ends this fraction above its lowest: epoch-to-epoch
                        # noise of a converged run's test loss stays below it, overfitting CNNs rise by tens of percent
JAGGED = 0.03           # a test accuracy that falls this much from one epoch to the next in the second half of a run
                        # is jagged: on real CIFAR-10 (30 epochs) the steadier runs fell by up to 1.4 (Adam 0.001)
                        # and 2.4 points (SGD 0.1), plain SGD at smaller rates and the MLP by 3.9 to 8.9


def as_printed(fraction: float) -> float:
    """The percentage the report prints for an accuracy (one decimal): numbers equal on the page compare equal."""
    return round(100 * fraction, 1)


def notable_fall(fall: float) -> bool:
    """True if a fall of test accuracy prints as JAGGED or more: large enough for a sentence of its own."""
    return as_printed(fall) >= as_printed(JAGGED)


def never_above_chance(best: float) -> bool:
    """True if a run's best accuracy is at most chance + CHANCE_MARGIN as printed (15.04 % is 15.0 %, not above)."""
    return as_printed(best) <= as_printed(CHANCE + CHANCE_MARGIN)


def column(history, name: str) -> list | None:
    """Return a per-epoch column of a run, or None if the run has no such column (or no epochs)."""
    try:
        values = list(history.column(name))
    except (KeyError, AttributeError):
        return None
    return values or None


def recorded_device(history) -> str | None:
    """Return the device the run actually ran on ("cpu"/"cuda"), as recorded, never as configured."""
    return (getattr(history, "environment", None) or {}).get("device")


def epoch_contended(conditions: dict | None) -> bool | None:
    """True if an epoch's time is not the run's own: other runs trained on its device meanwhile, or its host had
    more runnable processes than cores; None where the epoch recorded no conditions (results of older versions)."""
    if not conditions:
        return None
    load, cores = conditions.get("load"), conditions.get("cores")
    busy = load is not None and bool(cores) and load > BUSY_LOAD * cores + 0.5
    return bool(conditions.get("sharing")) or busy


def timing_of(history) -> tuple[str, list[int]]:
    """How the run's epochs were timed: "alone" (no epoch contended), "partly shared" (some), "shared" (every
    epoch) or "unknown" (not recorded); and the indices of the epochs timed alone (all of them where unknown)."""
    conditions = column(history, "conditions")
    if not conditions:  # not recorded (older results): every epoch counts as the run's own
        return "unknown", list(range(len(column(history, "train_time") or [])))
    contended = [epoch_contended(c) for c in conditions]
    alone = [i for i, c in enumerate(contended) if not c]
    if alone == [0] and len(contended) > 1:  # its start-up epoch alone is no measure of the run's epochs
        alone = []
    if all(c is None for c in contended):
        return "unknown", alone
    if len(alone) == len(contended):
        return "alone", alone
    return ("partly shared" if alone else "shared"), alone


def is_diverged(history) -> bool:
    """True if the run stopped because its loss became non-finite."""
    return getattr(history, "status", None) == "diverged"


@dataclass(frozen=True)
class RunSummary:
    """The headline numbers of one run (accuracies in [0, 1], times in seconds)."""
    label: str
    seed: int
    lr: float
    device: str | None              # recorded: "cpu" or "cuda"
    device_name: str
    pipeline: str
    status: str                     # "completed" or "diverged"
    epochs_planned: int
    epochs_run: int
    final_accuracy: float           # test accuracy after the last epoch run
    best_accuracy: float
    best_epoch: int                 # first epoch that reached best_accuracy
    first_epoch_accuracy: float
    final_train_accuracy: float | None
    gap: float | None               # final train accuracy - final test accuracy
    first_epoch_time: float
    median_epoch_time: float
    total_train_time: float
    total_eval_time: float
    first_epoch_slow: bool          # first epoch, timed alone, > SLOW_FIRST_EPOCH x median (never with one epoch)
    parameters: int
    timing: str = "unknown"         # "alone", "partly shared", "shared" or "unknown": see timing_of
    epochs_alone: int = 0           # the epochs timed alone; median_epoch_time is theirs where some were shared
    drop: float | None = None       # largest fall of test accuracy from one epoch to the next in the second half of
                                    # the run that it recovers from, 0 if none (None: fewer than 4 epochs, diverged)
    graphed_epochs: int | None = None  # epochs whose training steps replayed a CUDA graph (None: not recorded)

    @property
    def steps(self) -> str:
        """How its training steps ran: "graphed" (every epoch), "eager", "partly graphed", or "" where not recorded."""
        if self.graphed_epochs is None:
            return ""
        return {0: "eager", self.epochs_run: "graphed"}.get(self.graphed_epochs, "partly graphed")

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    @property
    def times_comparable(self) -> bool:
        """True if its epoch time is the run's own (at least one epoch timed alone, or not recorded)."""
        return self.timing != "shared"


def times_comparable(*summaries: RunSummary | None) -> bool:
    """True if these runs' epoch times may be compared: each measured without other runs on its device."""
    return all(s is not None and s.times_comparable for s in summaries)


def second_half_drop(accuracy: list[float]) -> float | None:
    """Return the largest fall between consecutive epochs over the run's second half (epochs 15-30 of 30) that the
    curve climbs back from (to within JAGGED of where it fell from), 0 if none: jagged, not a collapse. The second
    half leaves out the first fast rise (None below 4 epochs)."""
    n = len(accuracy)
    if n < 4:
        return None
    half = accuracy[n - n // 2 - 1:]
    return max((half[i] - half[i + 1] for i in range(len(half) - 1)
                if half[i + 1] < half[i] and max(half[i + 1:]) >= half[i] - JAGGED), default=0.0)


def run_summary(history) -> RunSummary | None:
    """Return the headline numbers of a run on its test split (None for a missing run or one without epochs)."""
    accuracy = column(history, "test_accuracy") if history is not None else None
    times = column(history, "train_time") if accuracy else None
    if not accuracy or not times:
        return None
    best = max(range(len(accuracy)), key=accuracy.__getitem__)  # max keeps the first of equal values
    train_accuracy = column(history, "train_accuracy")
    final_train = train_accuracy[-1] if train_accuracy else None
    timing, alone = timing_of(history)
    median = statistics.median([times[i] for i in alone if i < len(times)] or times)
    cumulative = column(history, "cumulative_train_time")
    config = history.config
    return RunSummary(
        label=getattr(config, "label", str(config)), seed=config.seed, lr=config.lr,
        device=recorded_device(history), device_name=(history.environment or {}).get("device_name", "unknown device"),
        pipeline=config.pipeline, status=history.status, epochs_planned=config.epochs, epochs_run=len(accuracy),
        final_accuracy=accuracy[-1], best_accuracy=accuracy[best], best_epoch=best + 1,
        first_epoch_accuracy=accuracy[0], final_train_accuracy=final_train,
        gap=None if final_train is None else final_train - accuracy[-1],
        first_epoch_time=times[0], median_epoch_time=median,
        total_train_time=cumulative[-1] if cumulative else sum(times),
        total_eval_time=sum(column(history, "eval_time") or []),
        # slow from start-up, not from sharing: only a first epoch timed alone
        first_epoch_slow=len(times) > 1 and 0 in alone and times[0] > SLOW_FIRST_EPOCH * median,
        parameters=history.parameters, timing=timing, epochs_alone=len(alone),
        drop=None if history.status == "diverged" else second_half_drop(accuracy),
        graphed_epochs=None if (graphed := column(history, "graphed")) is None else sum(map(bool, graphed)))


def at_chance(history, split: str = "val") -> bool | None:
    """True if the run was never above chance + CHANCE_MARGIN on the split; None if it has no such split."""
    accuracy = column(history, f"{split}_accuracy")
    return None if accuracy is None else never_above_chance(max(accuracy))
