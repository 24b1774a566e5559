"""Findings across seeds: each arm (a configuration run with seeds 1..S) as mean and min..max range.

"A beats B" only when the ranges do not overlap: A's worst seed is above B's best (A.low > B.high), as the
report prints them (a percentage with one decimal): ranges that print as touching never read as apart.
Touching or overlapping ranges: indistinguishable at that many seeds. With a single seed in either
arm there is no spread to compare against: a state of its own ("single seed"), never a win.
A diverged seed counts with the test accuracy it ended with (a failure is part of the outcome).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from .overfitting import Overfitting, overfitting
from .runs import RunSummary, as_printed, never_above_chance, run_summary


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def above(worst: float, best: float) -> bool:
    """True if one arm's worst seed is above another's best as printed (pct: one decimal of a percent)."""
    return as_printed(worst) > as_printed(best)


def _seeded(histories) -> list:
    """Return the present runs of a History, a list of Histories or None, ordered by seed."""
    if histories is None:
        return []
    runs = list(histories) if isinstance(histories, (list, tuple)) else [histories]
    return sorted((h for h in runs if h is not None and run_summary(h) is not None), key=lambda h: h.config.seed)


@dataclass(frozen=True)
class Arm:
    """One configuration over its seeds: final test accuracy as mean and min..max range, and more means."""
    label: str
    runs: tuple[RunSummary, ...]        # one per seed present, by seed
    mean: float | None                  # final test accuracy, mean over seeds (None: no run)
    low: float | None                   # the worst seed's final test accuracy
    high: float | None                  # the best seed's
    first_epoch_mean: float | None      # test accuracy after epoch 1, mean over seeds
    first_epoch_low: float | None
    first_epoch_high: float | None
    final_train_mean: float | None
    gap_mean: float | None              # final train - test accuracy, mean over seeds
    median_epoch_time: float | None     # mean over seeds of each run's median epoch time (runs timed alone only)
    shared_runs: int = 0                # seeds timed while sharing the machine in every epoch (not in the time)

    @property
    def drop(self) -> float | None:
        """The largest epoch-to-epoch fall of test accuracy in the second half of any seed (None: none measured)."""
        return max((r.drop for r in self.runs if r.drop is not None), default=None)

    @property
    def slide(self) -> float | None:
        """How far the best test accuracy lies above the final one, mean over the seeds that trained to the end (a
        diverged run's last accuracy measures its failure; None: no such seed)."""
        return _mean(r.best_accuracy - r.final_accuracy for r in self.runs if not r.diverged)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.runs)

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def spread(self) -> float | None:
        """Max - min final test accuracy over the seeds (0 with one seed, None with none)."""
        return None if self.mean is None else self.high - self.low

    @property
    def diverged_seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.runs if r.diverged)

    @property
    def diverged_epochs(self) -> tuple[int, ...]:
        """The epoch in which each diverged seed's loss became non-finite (training stopped there), by seed."""
        return tuple(r.epochs_run for r in self.runs if r.diverged)

    @property
    def lrs(self) -> tuple[float, ...]:
        """The distinct learning rates of its runs (one, normally)."""
        return tuple(dict.fromkeys(r.lr for r in self.runs))

    @property
    def device_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.device_name for r in self.runs))

    @property
    def at_chance(self) -> bool:
        """True if no seed's test accuracy ever rose above chance + CHANCE_MARGIN (False without runs)."""
        return bool(self.runs) and all(never_above_chance(r.best_accuracy) for r in self.runs)


def arm(label: str, histories) -> Arm:
    """Return the arm of a History or list of Histories (one per seed; None entries are missing seeds)."""
    return arm_of(label, tuple(run_summary(h) for h in _seeded(histories)))


def arm_of(label: str, runs: tuple[RunSummary, ...]) -> Arm:
    """Return the arm of run summaries (by seed). How well it fits its training data is that of the seeds that did not
    diverge, where some did: a diverged run's last training accuracy measures its failure, not a fit."""
    finals, firsts = [r.final_accuracy for r in runs], [r.first_epoch_accuracy for r in runs]
    fitted = [r for r in runs if not r.diverged] or runs
    return Arm(label=label, runs=runs, mean=_mean(finals), low=min(finals, default=None),
               high=max(finals, default=None), first_epoch_mean=_mean(firsts),
               first_epoch_low=min(firsts, default=None), first_epoch_high=max(firsts, default=None),
               final_train_mean=_mean(r.final_train_accuracy for r in fitted), gap_mean=_mean(r.gap for r in fitted),
               median_epoch_time=_mean(r.median_epoch_time for r in runs if r.times_comparable),
               shared_runs=sum(not r.times_comparable for r in runs))


def trained(a: Arm) -> Arm:
    """The arm of its seeds that did not diverge."""
    return arm_of(a.label, tuple(r for r in a.runs if not r.diverged))


@dataclass(frozen=True)
class Verdict:
    """Whether one arm beats another on final test accuracy across seeds."""
    first: str
    second: str
    outcome: str                # "first", "second", "indistinguishable", "single seed" or "missing"
    difference: float | None    # mean of first - mean of second
    seeds: int                  # the smaller number of seeds of the two arms
    single: tuple[str, ...] = ()  # the arms with a single seed

    @property
    def winner(self) -> str | None:
        return {"first": self.first, "second": self.second}.get(self.outcome)


def compare_arms(a: Arm, b: Arm) -> Verdict:
    """Return whether a beats b, b beats a, or neither can be told at these seeds."""
    seeds = min(a.n, b.n)
    difference = None if a.mean is None or b.mean is None else a.mean - b.mean
    if seeds == 0:
        outcome = "missing"
    elif seeds == 1:
        outcome = "single seed"
    elif above(a.low, b.high):
        outcome = "first"
    elif above(b.low, a.high):
        outcome = "second"
    else:
        outcome = "indistinguishable"
    return Verdict(a.label, b.label, outcome, difference, seeds, tuple(x.label for x in (a, b) if x.n == 1))


@dataclass(frozen=True)
class ModelComparison:
    """MLP against CNN (3.3): accuracy across seeds, size, time per epoch, overfitting per seed."""
    mlp: Arm
    cnn: Arm
    verdict: Verdict                        # first = CNN, second = MLP
    parameter_ratio: float | None           # CNN parameters / MLP parameters
    epoch_time_ratio: float | None          # CNN / MLP median epoch time (means over the seeds timed alone); None
                                            # unless every run recorded the same device
    cnn_overfitting: tuple[Overfitting, ...]   # one per CNN seed, by seed
    mlp_overfitting: tuple[Overfitting, ...]
    same_device: bool | None                # every run recorded the same device name; None if an arm is empty
    trained_above: str | None = None        # where some seeds diverged: the model whose every seed that trained to
                                            # the end lies above every such seed of the other (as printed), else None

    @property
    def cnn_overfit_seeds(self) -> int:
        return sum(o.overfitting for o in self.cnn_overfitting)


def compare_models(mlp, cnn) -> ModelComparison:
    """Return the MLP/CNN comparison from a History or a list of Histories (one per seed) each."""
    mlp_arm, cnn_arm = arm("MLP", mlp), arm("CNN", cnn)
    both = mlp_arm.n and cnn_arm.n
    names = set(mlp_arm.device_names) | set(cnn_arm.device_names)
    same = len(names) == 1
    return ModelComparison(
        mlp=mlp_arm, cnn=cnn_arm, verdict=compare_arms(cnn_arm, mlp_arm),
        parameter_ratio=cnn_arm.runs[0].parameters / mlp_arm.runs[0].parameters
        if both and mlp_arm.runs[0].parameters else None,
        epoch_time_ratio=cnn_arm.median_epoch_time / mlp_arm.median_epoch_time
        if both and same and cnn_arm.median_epoch_time and mlp_arm.median_epoch_time else None,
        cnn_overfitting=tuple(overfitting(h) for h in _seeded(cnn)),
        mlp_overfitting=tuple(overfitting(h) for h in _seeded(mlp)),
        same_device=same if both else None, trained_above=trained_above(cnn_arm, mlp_arm))


def trained_above(a: Arm, b: Arm) -> str | None:
    """Where either arm has diverged seeds: the label of the one whose trained seeds all lie above the other's trained
    seeds (as printed; one seed suffices: a fact about these seeds, not a verdict), else None."""
    if not (a.diverged_seeds or b.diverged_seeds):
        return None
    x, y = trained(a), trained(b)
    if not (x.n and y.n):
        return None
    return x.label if above(x.low, y.high) else y.label if above(y.low, x.high) else None
