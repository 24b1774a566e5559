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

from .runs import Overfitting, RunSummary, as_printed, never_above_chance, overfitting, run_summary


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
        """How far the best test accuracy lies above the final one, mean over the seeds (None: no run)."""
        return _mean(r.best_accuracy - r.final_accuracy for r in self.runs)

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
    runs = tuple(run_summary(h) for h in _seeded(histories))
    finals, firsts = [r.final_accuracy for r in runs], [r.first_epoch_accuracy for r in runs]
    return Arm(label=label, runs=runs, mean=_mean(finals), low=min(finals, default=None),
               high=max(finals, default=None), first_epoch_mean=_mean(firsts),
               first_epoch_low=min(firsts, default=None), first_epoch_high=max(firsts, default=None),
               final_train_mean=_mean(r.final_train_accuracy for r in runs), gap_mean=_mean(r.gap for r in runs),
               median_epoch_time=_mean(r.median_epoch_time for r in runs if r.times_comparable),
               shared_runs=sum(not r.times_comparable for r in runs))


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
        same_device=same if both else None)


@dataclass(frozen=True)
class OptimizerRanking:
    """Every arm ranked by mean final test accuracy, grouped where seeds cannot separate them."""
    arms: tuple[Arm, ...]                       # present arms by mean, best first (equal means: given order)
    missing: tuple[str, ...]                    # arms without any run
    single: tuple[str, ...]                     # arms with a single seed: ranked, never compared (no spread)
    seeds: int                                  # the smallest number of seeds of a compared arm, else of a present
                                                # one (0: none)
    groups: tuple[tuple[str, ...], ...] | None  # the arms with several seeds, in runs whose ranges connect, best
                                                # first; None: no arm has several seeds
    apart_in_groups: tuple[tuple[str, str], ...]  # pairs of one group that seeds still separate (first above second)
    leader: str | None                          # the best arm if its range is above every other compared arm's
    first_epoch_leader: str | None              # highest mean test accuracy after epoch 1 (equal: the better ranked)
    first_epoch_clear: bool | None              # its worst seed above every other arm's best seed; None: an arm
                                                # has a single seed
    widest_gap: str | None                      # largest |mean train - test gap| at the end, either direction
    narrowest_gap: str | None                   # smallest |mean train - test gap| (equal sizes: the better ranked)

    def arm(self, label: str) -> Arm | None:
        return next((a for a in self.arms if a.label == label), None)


def _groups(arms: list[Arm]) -> tuple[tuple[str, ...], ...]:
    """Group arms (sorted best first) whose min..max ranges overlap or touch, chained: an interval union."""
    groups, floor = [], None
    for a in sorted(arms, key=lambda a: -a.high):
        if groups and not above(floor, a.high):
            groups[-1].append(a.label)
            floor = min(floor, a.low)
        else:
            groups.append([a.label])
            floor = a.low
    order = {a.label: i for i, a in enumerate(arms)}
    return tuple(tuple(sorted(g, key=order.__getitem__)) for g in groups)


def _apart_in_groups(groups, arms: list[Arm]) -> tuple[tuple[str, str], ...]:
    """Pairs inside one group whose ranges do not overlap (the first's worst seed above the second's best): a chain
    of overlaps joins them (A overlaps B, B overlaps C), yet seeds tell these two apart (A above C)."""
    by_label = {a.label: a for a in arms}
    return tuple((high, low) for group in groups or () for i, high in enumerate(group) for low in group[i + 1:]
                 if above(by_label[high].low, by_label[low].high))


def rank_arms(histories) -> OptimizerRanking:
    """Return the ranking of {label: History | [History, ...] | None} (e.g. each optimizer at its chosen rate)."""
    arms = [arm(label, h) for label, h in histories.items()]
    present = sorted((a for a in arms if a.n), key=lambda a: -a.mean)  # stable: equal means keep given order
    compared = [a for a in present if a.n >= 2]  # a missing seed leaves its arm out, not the others' spread
    seeds = min((a.n for a in compared or present), default=0)
    groups = _groups(compared) if compared else None
    leader = groups[0][0] if groups and len(groups[0]) == 1 and len(compared) > 1 else None
    first = max(present, key=lambda a: a.first_epoch_mean, default=None)
    clear = None
    if first is not None and len(compared) == len(present):
        clear = all(above(first.first_epoch_low, a.first_epoch_high) for a in present if a is not first)
    gaps = [a for a in present if a.gap_mean is not None]
    return OptimizerRanking(
        arms=tuple(present), missing=tuple(a.label for a in arms if not a.n),
        single=tuple(a.label for a in present if a.n == 1), seeds=seeds, groups=groups,
        apart_in_groups=_apart_in_groups(groups, compared),
        leader=leader, first_epoch_leader=first and first.label, first_epoch_clear=clear,
        widest_gap=max(gaps, key=lambda a: abs(a.gap_mean)).label if gaps else None,
        narrowest_gap=min(gaps, key=lambda a: abs(a.gap_mean)).label if gaps else None)


rank_optimizers = rank_arms
