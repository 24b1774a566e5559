"""Prose for 3.4: the optimizer sweep and the optimizers ranked across seeds."""
from __future__ import annotations

from ..findings import CHANCE, CHANCE_MARGIN, Arm, OptimizerRanking, OptimizerSweep, notable_fall
from ..findings.selection import SMALL_RATE
from ..formatting import join_words, pct, plural, points, rate
from .models import diverged, epochs_phrase, jagged, spread
from .rates import _rates
from .runs import OBSERVED


def _by_optimizer(pairs) -> str:
    """Return (optimizer, rate) pairs with each optimizer named once: "SGD at 0.01 and 0.001; Adam at 0.1"."""
    rates = {}
    for opt, lr in pairs:
        rates.setdefault(opt, []).append(lr)
    return "; ".join(f"{opt} at {_rates(lrs)}" for opt, lrs in rates.items())


def optimizer_sweep(s: OptimizerSweep) -> str:
    """Return the Markdown of the sweep: the chosen rates, and which runs diverged, stayed at chance or are missing."""
    if not s.choices:
        return f"{OBSERVED}The sweep has no runs."
    chosen = join_words(f"{opt} {rate(c.chosen) if c.chosen is not None else 'none (no usable rate)'}"
                        for opt, c in s.choices)
    text = [f"{plural(len(s.choices), 'Chosen rate')}: {chosen}."]
    text.append(f"Diverged runs: {_by_optimizer(s.diverged)}." if s.diverged else
                f"No {'stored ' if s.missing else ''}run of the sweep diverged.")
    if s.at_chance:
        text.append(f"Stuck at chance (never above {pct(CHANCE + CHANCE_MARGIN, 0)} on the validation split): "
                    f"{_by_optimizer(s.at_chance)}.")
    elif any(o.state == "scored" for o in s.outcomes):  # only a scored run can be judged (diverged, missing: not)
        text.append("No run stayed at chance." if all(o.state == "scored" for o in s.outcomes) else
                    "Of the runs scored on the validation split, none stayed at chance.")
    if s.missing:
        text.append(f"Missing or without a validation split: {_by_optimizer(s.missing)}.")
    if s.adaptive_small:
        n = len(s.adaptive_small)
        text.append(f"{join_words(s.adaptive_small)} chose {plural(n, 'a small rate', 'small rates')} "
                    f"({rate(SMALL_RATE)} or below), as {plural(n, 'its', 'their')} per-parameter "
                    "step normalisation predicts.")
    return OBSERVED + " ".join(text)


def _gap(gap: float) -> str:
    """Return a train - test gap by its size, the direction in words: "4.0 points, test above training"."""
    size = points(abs(gap))
    if round(100 * abs(gap), 1) == 0:
        return size
    return f"{size}, {'training above test' if gap > 0 else 'test above training'}"


def _apart(group, apart_pairs) -> str:
    """The pairs of an overlapping group that seeds still separate, in words ("" if none), by the lower arm of each:
    "SGD's best seed is below the worst of Adagrad and RMSprop"."""
    above = {low: [high for high, other in apart_pairs if other == low] for low in group}
    return join_words(f"{low}'s best seed is below " + (f"{highs[0]}'s worst" if len(highs) == 1 else
                                                        f"the worst of {join_words(highs)}")
                      for low, highs in above.items() if highs)


def _overlapping(group, apart_pairs) -> str:
    """What a group of several overlapping arms is, after its names in a ranking ("" for one arm)."""
    if len(group) == 1:
        return ""
    apart = _apart(group, apart_pairs)
    return f" (overlapping in a chain, yet {apart})" if apart else " (overlapping: cannot be told apart)"


def _peak(a: Arm) -> str:
    """Return where an arm's best test accuracy came, and how far above its final one where that is a notable fall:
    "in epoch 6, 3.9 points above its final accuracy"."""
    trained_to_the_end = a.n - len(a.diverged_seeds)
    far = (f", {'on average ' if trained_to_the_end > 1 else ''}{points(a.slide)} above its final accuracy"
           + (" (diverged seeds left out)" if a.diverged_seeds else "")
           if a.slide is not None and notable_fall(a.slide) else "")
    return f"in {epochs_phrase(s.best_epoch for s in a.runs)}{far}"


def optimizer_ranking(r: OptimizerRanking) -> str:
    """Return the Markdown of the ranking across seeds: order, what seeds can separate, first epoch, train/test gap."""
    if not r.arms:
        return (f"{OBSERVED}No optimizer has a run to rank"
                + (f" (no runs for {join_words(r.missing)})." if r.missing else "."))
    if len(r.arms) == 1:  # nothing to rank: its own numbers only
        text = [f"{r.arms[0].label} reached {spread(r.arms[0])} final test accuracy."]
    else:
        text = [f"Final test accuracy ranks {join_words(f'{a.label} {spread(a)}' for a in r.arms)}."]
    text += [diverged(a, article="") for a in r.arms if a.diverged_seeds]
    if r.groups is None:
        if len(r.arms) > 1:
            text.append("Single seed: there is no spread to compare these differences against.")
    elif len(r.arms) > 1:
        if r.leader and r.single:
            text.append(f"Among the optimizers with several seeds, {r.leader} leads: its worst seed is above every "
                        "other one's best seed.")
        elif r.leader:
            text.append(f"{r.leader} leads: its worst seed is above every other optimizer's best seed.")
        rest = r.groups[1:] if r.leader else r.groups
        if len(rest) == 1 and len(rest[0]) > 1:
            group, apart = rest[0], _apart(rest[0], r.apart_in_groups)
            if apart:  # overlap does not carry over: A overlaps B and B overlaps C, yet A can be above C
                text.append(f"At {r.seeds} seeds, the ranges of {join_words(group)} overlap in a chain, yet {apart}; "
                            "every other pair of them cannot be told apart.")
            else:
                text.append(f"At {r.seeds} seeds, these cannot be told apart (their ranges overlap): {join_words(group)}.")
        elif len(rest) > 1:  # each group once, in order; a group of several is one that seeds cannot split as a whole
            text.append(f"{'Behind it' if r.leader else f'At {r.seeds} seeds'} their ranges separate, best first: "
                        + ", then ".join(join_words(g) + _overlapping(g, r.apart_in_groups) for g in rest) + ".")
        if r.single:  # a missing seed: its arm is ranked by its one run, never compared
            text.append(f"{join_words(r.single)} {'has' if len(r.single) == 1 else 'have'} a single seed: there is no "
                        f"spread to compare {'it' if len(r.single) == 1 else 'them'} against.")
    if rough := jagged(r.arms):
        text.append(rough)
    if len(r.arms) > 1:
        lead = r.arm(r.first_epoch_leader)
        clear = {True: ", above every other optimizer's seeds", False: ", within the range of others' seeds",
                 None: ""}[r.first_epoch_clear]
        mean = "mean " if lead.n > 1 else ""
        level = [a.label for a in r.arms if pct(a.first_epoch_mean) == pct(lead.first_epoch_mean)]  # as printed
        if len(level) > 1:
            text.append(f"After the first epoch {join_words(level)} share the highest {mean}test accuracy, "
                        f"{pct(lead.first_epoch_mean)}.")
        else:
            text.append(f"After the first epoch {lead.label} has the highest {mean}test accuracy, "
                        f"{pct(lead.first_epoch_mean)}{clear}.")
    if r.widest_gap and r.widest_gap != r.narrowest_gap and \
            points(abs(r.arm(r.widest_gap).gap_mean)) != points(abs(r.arm(r.narrowest_gap).gap_mean)):
        def level(label):  # every arm whose gap prints as this one's: a tie as printed is named as one
            size = points(abs(r.arm(label).gap_mean))
            return join_words(f"{a.label} ({_gap(a.gap_mean)})" for a in r.arms
                              if a.gap_mean is not None and points(abs(a.gap_mean)) == size)
        text.append(f"The final gap between training accuracy (running average over the last epoch) and test accuracy "
                    f"is widest for {level(r.widest_gap)} and narrowest for {level(r.narrowest_gap)}.")
    runs = [s for a in r.arms for s in a.runs]
    longest = max(s.epochs_run for s in runs)
    run = f"of {longest} {plural(longest, 'epoch')}" + (
        ", or until a run diverged" if any(s.diverged for s in runs) else "")
    if len(r.arms) == 1:
        text.append(f"The best test accuracy of {r.arms[0].label} came {_peak(r.arms[0])}, {run}.")
    else:  # every optimizer's: one that peaks early and slides back is the adaptive methods' early lead, or overfitting
        text.append(f"The best test accuracy ({run}) came for {'; '.join(f'{a.label} {_peak(a)}' for a in r.arms)}.")
    if r.missing:
        text.append(f"No runs for {join_words(r.missing)}.")
    return OBSERVED + " ".join(text)
