"""The ranking of arms (3.4: each optimizer at its chosen rate over its seeds), grouped where seeds cannot separate them.

As in helpers.findings.seeds: an arm beats another only when its worst seed lies above the other's best, as printed.
"""
from __future__ import annotations

from dataclasses import dataclass

from .seeds import Arm, above, arm


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
