"""Prose for 3.3 and 3.4: learning-rate choices, overfitting, MLP against CNN, optimizers across seeds."""
from __future__ import annotations

from ..findings import (CHANCE, CHANCE_MARGIN, OVERFIT_RISE, Arm, LearningRateChoice, ModelComparison,
                        OptimizerRanking, OptimizerSweep, Overfitting, Verdict, notable_fall)
from ..findings.selection import SMALL_RATE
from ..formatting import count_of, join_words, pct, plural, points, rate, relative, secs, times

OBSERVED = "**Observed.** "
_RELATION = {"lower": "lower than", "equal": "equal to", "higher": "higher than"}


def _rates(lrs) -> str:
    return join_words(rate(lr) for lr in lrs)


def learning_rate_choice(c: LearningRateChoice, model: str = "CNN", reference_name: str = "the MLP's") -> str:
    """Return the Markdown of the chosen rate, how it relates to the reference, and which rates failed."""
    text = []
    if c.chosen is None:
        text.append(f"No candidate rate gave a usable {model} run, so no rate is chosen.")
    else:
        o = c.chosen_outcome
        versus = (f", {_RELATION[c.relation]} {reference_name} {rate(c.reference)}," if c.relation else "")
        over = "in its last epoch" if o.score_epochs == 1 else f"over the last {o.score_epochs} epochs"
        text.append(f"The chosen rate is {rate(c.chosen)}{versus} with a mean validation accuracy of "
                    f"{pct(o.score)} {over}.")
        if c.tied:
            text.append(f"{_rates(c.tied)} scored {pct(o.score)} as well; of equal scores the smaller rate is taken, "
                        "further from divergence.")
        lower = [x for x in c.outcomes if x.lr < c.reference] if c.relation in ("equal", "higher") else []
        if lower and all(x.state == "scored" for x in lower):  # ties go to the smaller rate: each scored below it
            text.append(f"Every lower candidate ({_rates(x.lr for x in lower)}) scored below it, so in these runs the "
                        f"{model} did not need a lower rate than {reference_name}.")
        if len(c.outcomes) == 1:
            text.append("It was the only candidate, so this is no choice among rates.")
        if o.at_chance:
            chance = f"Even this rate never got above {pct(CHANCE + CHANCE_MARGIN, 0)} on the validation split"
            fell_back = [x.lr for x in c.outcomes if x.state == "scored" and not x.at_chance]
            if fell_back:  # they rose above chance, yet scored no better by their last epochs
                whose = plural(len(fell_back), "its", "their")
                text.append(f"{chance}; {_rates(fell_back)} got above it, then fell back by {whose} last epochs.")
            elif c.diverged:
                text.append(f"{chance}; every other rate stayed at chance or diverged.")
            else:
                text.append(f"{chance}: the {model} did not learn at any candidate rate.")
    told = {c.chosen}  # the rates a sentence has spoken of: no later list names them again
    ref = c.at_reference
    if ref is not None and ref.lr != c.chosen:
        told.add(ref.lr)
        at = f"At {reference_name} rate the {model}"
        if ref.state == "scored" and ref.at_chance:
            text.append(f"{at} stayed at chance ({pct(ref.score)}, never above {pct(CHANCE + CHANCE_MARGIN, 0)} on "
                        "validation).")
        elif ref.state == "scored":
            text.append(f"{at} reached {pct(ref.score)}.")
        else:
            text.append({"diverged": f"{at} diverged (non-finite loss) in epoch {ref.epochs_run}.",
                         "missing": f"The {model} run at {reference_name} rate is missing.",
                         "no validation": f"{at} has no validation split to be scored on."}[ref.state])
    diverged, missing = [lr for lr in c.diverged if lr not in told], [lr for lr in c.missing if lr not in told]
    if diverged:
        text.append(f"Diverged: lr {_rates(diverged)}.")
    s = c.smallest
    slow = (s is not None and c.chosen is not None and s.lr not in told and s.state == "scored"
            and s.score < c.chosen_outcome.score and s.still_rising)
    at_chance = [lr for lr in c.at_chance if lr not in told]
    if at_chance:
        rising = "it" if len(at_chance) == 1 else "the smallest"
        text.append(f"Stayed at chance (never above {pct(CHANCE + CHANCE_MARGIN, 0)} on validation): "
                    f"lr {_rates(at_chance)}"
                    + (f"; {rising} was still rising at the end, too slow for {_epoch_count(s)}."
                       if slow and s.lr in at_chance else "."))
    if missing:
        text.append(f"Missing or without a validation split: lr {_rates(missing)}.")
    if s is not None and c.chosen is not None and s.state == "scored" and s.lr not in told and s.lr not in at_chance:
        text.append(f"The smallest rate, {rate(s.lr)}, reached {pct(s.score)}"
                    + (f": too slow for {_epoch_count(s)}, its validation accuracy still rising at the end."
                       if slow else "."))
    return OBSERVED + " ".join(text)


def _epoch_count(o) -> str:
    return f"{o.epochs_run} {plural(o.epochs_run, 'epoch')}"


def overfitting(o: Overfitting, name: str = "the CNN") -> str:
    """Return a sentence on whether the losses show overfitting (no "Observed." prefix: it continues a paragraph)."""
    owner = f"{name[0].upper()}{name[1:]}'s"
    if o.diverged:
        when = ("in its first epoch" if o.epochs_considered == 0 else
                f"after {o.epochs_considered} {plural(o.epochs_considered, 'epoch')}")
        return f"{owner} loss became non-finite {when}: the run diverged, which is unstable training, not overfitting."
    if o.epochs_considered == 0:
        return f"{owner} losses are not finite, so they say nothing about overfitting."
    if o.epochs_considered == 1:
        return f"With one epoch of finite losses there is no trend in {name}'s losses to judge overfitting by."
    if o.lowest_test_loss_epoch == o.epochs_considered:
        return (f"{owner} test loss is lowest after its last epoch ({o.final_test_loss:.3f}): no sign of overfitting "
                "in the losses yet.")
    text = (f"{owner} test loss is lowest in epoch {o.lowest_test_loss_epoch} ({o.lowest_test_loss:.3f}) and "
            f"{o.final_test_loss:.3f} after epoch {o.epochs_considered}, while its training loss went from "
            f"{o.train_loss_at_lowest:.3f} to {o.final_train_loss:.3f} over the same epochs")
    if o.overfitting:
        return text + (": the signature of overfitting, the network grows more confident on the training images and "
                       f"on the test images it gets wrong.{_accuracy_since_lowest([o])}")
    if o.train_loss_fell and o.rise is not None and o.rise > 0:
        return text + (f": a rise of {pct(o.rise)}, within the {pct(OVERFIT_RISE, 0)} that epoch-to-epoch noise can "
                       "make, so no clear sign of overfitting yet.")
    return text + ": no sign of overfitting in the losses yet."


def _accuracy_since_lowest(overfit: list[Overfitting], whose: str = "its") -> str:
    """Return " " and a sentence on what the test accuracy did after the lowest test loss in the runs that overfit
    ("" if none has the accuracies; `whose` names one run's: "its", "that seed's"): a loss that rises while the
    accuracy rises counts more confident mistakes, not more of them."""
    runs = [o for o in overfit if o.accuracy_change is not None]
    way = [(o.printed_accuracy_change > 0) - (o.printed_accuracy_change < 0) for o in runs]
    why = "the rising test loss is more confident mistakes, not more of them"
    if len(runs) == 1:
        o, subject = runs[0], f"{whose} test accuracy"
        since = f"{pct(o.accuracy_at_lowest)} in epoch {o.lowest_test_loss_epoch} to {pct(o.final_accuracy)} at the end"
        sentence = {1: f"yet {subject} still rose, from {since}: {why}.", -1: f"{subject} fell too, from {since}.",
                    0: f"{subject} ended where it stood then, at {pct(o.final_accuracy)}."}[way[0]]
        return f" {sentence[0].upper()}{sentence[1:]}"
    if not runs:
        return ""
    changes = sorted(abs(o.printed_accuracy_change) / 100 for o in runs)
    by = points(changes[0]) if points(changes[0]) == points(changes[-1]) else \
        f"{points(changes[0]).split()[0]} to {points(changes[-1])}"
    if all(w == 1 for w in way):
        return f" Yet in each of them the test accuracy still rose after the lowest test loss, by {by}: {why}."
    if all(w == -1 for w in way):
        return f" In each of them the test accuracy fell too after the lowest test loss, by {by}."
    if all(w == 0 for w in way):
        return " In each of them the test accuracy ended where it stood at the lowest test loss."
    moves = [f"{verb} in {way.count(k)}" for k, verb in ((1, "rose"), (-1, "fell"), (0, "stayed level")) if k in way]
    return f" After the lowest test loss the test accuracy {join_words(moves)} of these {len(runs)} seeds."


def _epochs(numbers, seed: str = "seed") -> str:
    """Return "epoch 3 for every seed", "epoch 3" or "epochs 3, 5 and 7 (by seed)" (`seed`: "judged seed", where
    the numbers are some seeds' only)."""
    numbers = list(numbers)
    if len(set(numbers)) == 1:
        return f"epoch {numbers[0]}" + (f" for every {seed}" if len(numbers) > 1 else "")
    return f"epochs {join_words(numbers)} (by {seed})"


def spread(a: Arm, digits: int = 1) -> str:
    """Return an arm's final test accuracy: "61.2 %" (one seed) or "61.2 % (3 seeds: 60.1 % to 62.0 %)"."""
    if a.n == 1:
        return pct(a.mean, digits)
    if pct(a.low, digits) == pct(a.high, digits):
        return f"{pct(a.mean, digits)} (same for {count_of(a.n, a.n, 'seed')})"
    return f"{pct(a.mean, digits)} ({a.n} seeds: {pct(a.low, digits)} to {pct(a.high, digits)})"


def jagged(arms) -> str:
    """Return a sentence on the arms whose test accuracy falls from one epoch to the next late in training and climbs
    back ("" if none does): their final accuracies, which the comparisons use, are noisy readings."""
    rough = [a for a in arms if a.drop is not None and notable_fall(a.drop)]
    if not rough:
        return ""
    sizes = join_words(f"{points(a.drop)} ({a.label})" for a in rough)
    seeds = ", the largest over the seeds" if any(a.n > 1 for a in rough) else ""
    final = "the final one compared here" if len(arms) > 1 else "the final one"
    return (f"In the second half of training the test accuracy fell by up to {sizes} from one epoch to the "
            f"next and climbed back{seeds}, so a single epoch's accuracy, such as {final}, is a noisy reading.")


def verdict(v: Verdict, article: str = "") -> str:
    """Return one sentence on whether the first arm beats the second across seeds ("the " names them "the CNN")."""
    if v.outcome == "missing":
        return f"Without runs of both {article}{v.first} and {article}{v.second} there is no comparison."
    gap = points(abs(v.difference))
    if v.outcome == "single seed":
        who = "Single seed" if len(v.single) != 1 else f"{article}{v.single[0]} has a single seed"
        return f"{who[0].upper()}{who[1:]}: there is no spread to compare the difference of {gap} against."
    if v.outcome == "indistinguishable":
        return f"Their ranges overlap: at {v.seeds} seeds the two are indistinguishable (means {gap} apart)."
    winner = f"{article}{v.winner}"
    return f"{winner[0].upper()}{winner[1:]} is ahead by {gap} (means), beyond the range of every seed of the other."


def model_comparison(c: ModelComparison) -> str:
    """Return the Markdown of MLP against CNN: accuracy across seeds, size, epoch time, train/test gap, overfitting."""
    cnn, mlp = c.cnn, c.mlp
    if not (cnn.n and mlp.n):
        absent = join_words(a.label for a in (cnn, mlp) if not a.n)
        count = 2 - bool(cnn.n) - bool(mlp.n)
        return f"{OBSERVED}The {absent} {plural(count, 'run is', 'runs are')} missing, so there is no comparison."
    where = (f" (on {join_words(cnn.device_names)})" if c.same_device
             else f" (CNN on {join_words(cnn.device_names)}, MLP on {join_words(mlp.device_names)})")
    text = [f"**Observed**{where}. The CNN reached {spread(cnn)} test accuracy, the MLP {spread(mlp)}."]
    for a in (cnn, mlp):
        if a.at_chance:
            text.append(f"The {a.label} stayed at chance (never above {pct(CHANCE + CHANCE_MARGIN, 0)} test accuracy)"
                        + (f" with {count_of(a.n, a.n, 'seed')}." if a.n > 1 else "."))
        if a.diverged_seeds:
            seeds = a.diverged_seeds
            text.append(f"The {a.label} diverged with {plural(len(seeds), 'seed')} {join_words(seeds)}.")
    text.append(verdict(c.verdict, article="the "))
    if rough := jagged((cnn, mlp)):
        text.append(rough)
    if c.parameter_ratio is not None:
        text.append(f"The CNN has {times(c.parameter_ratio)} the MLP's parameters.")
    shared = [a for a in (cnn, mlp) if a.shared_runs]
    if c.epoch_time_ratio is not None:
        seeds = join_words(f"{a.shared_runs} {a.label} {plural(a.shared_runs, 'seed')}" for a in shared)
        left_out = f" (left out: {seeds}, timed while other runs shared the machine)" if shared else ""
        text.append(f"An epoch took {secs(cnn.median_epoch_time)} for the CNN and {secs(mlp.median_epoch_time)} for the "
                    f"MLP ({times(c.epoch_time_ratio)} as long){left_out}.")
    elif not c.same_device:
        text.append("Their epoch times are not compared: the runs did not all run on the same device.")
    elif shared:
        untimed = join_words(a.label for a in shared if a.median_epoch_time is None)
        text.append(f"Their epoch times are not compared: every seed of the {untimed} was timed while other runs "
                    "shared the machine.")
    if cnn.gap_mean is not None and mlp.gap_mean is not None:
        means = " (means over the seeds)" if cnn.n > 1 or mlp.n > 1 else ""
        text.append(f"At the end the CNN fits its training data at {pct(cnn.final_train_mean)} (running average over the "
                    f"last epoch), {relative(cnn.gap_mean, 'its test accuracy')}; the MLP's training accuracy is "
                    f"{relative(mlp.gap_mean, 'its test accuracy')}{means}.")
    text.append(_overfitting_over_seeds(c.cnn_overfitting, c.cnn_overfit_seeds))
    return " ".join(text)


def _overfitting_over_seeds(judgements: tuple[Overfitting, ...], overfit: int) -> str:
    """Return the CNN's overfitting over its seeds: one seed's sentence, "lowest after the last epoch", or a count."""
    if len(judgements) == 1:
        return overfitting(judgements[0])
    judged = [o for o in judgements if o.judged]
    diverged = sum(o.diverged for o in judgements)
    unjudged = (f" ({count_of(diverged, len(judgements), 'seed')} diverged, which is not overfitting)"
                if diverged else "")
    if not judged:
        return f"The CNN's losses cannot show overfitting for any seed{unjudged}."
    if all(o.lowest_test_loss_epoch == o.epochs_considered for o in judged):
        every = "every seed" if len(judged) == len(judgements) else count_of(len(judged), len(judged), "judged seed")
        return (f"The CNN's test loss is lowest after its last epoch for {every}{unjudged}: no sign of overfitting in "
                "the losses yet.")
    seed = "judged seed" if len(judged) < len(judgements) else "seed"  # a diverged seed's losses say nothing here
    return (f"The CNN's losses show the signature of overfitting (test loss more than {pct(OVERFIT_RISE, 0)} above its "
            f"lowest at the end, training loss down) in {count_of(overfit, len(judged), seed)}{unjudged}; its test "
            f"loss is lowest in {_epochs((o.lowest_test_loss_epoch for o in judged), seed)}."
            + _accuracy_since_lowest([o for o in judged if o.overfitting], whose="that seed's"))


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
                f"No {'stored ' if s.missing else ''}run diverged.")
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
    far = (f", {'on average ' if a.n > 1 else ''}{points(a.slide)} above its final accuracy"
           if notable_fall(a.slide) else "")
    return f"in {_epochs(s.best_epoch for s in a.runs)}{far}"


def optimizer_ranking(r: OptimizerRanking) -> str:
    """Return the Markdown of the ranking across seeds: order, what seeds can separate, first epoch, train/test gap."""
    if not r.arms:
        return (f"{OBSERVED}No optimizer has a run to rank"
                + (f" (no runs for {join_words(r.missing)})." if r.missing else "."))
    if len(r.arms) == 1:  # nothing to rank: its own numbers only
        text = [f"{r.arms[0].label} reached {spread(r.arms[0])} final test accuracy."]
    else:
        text = [f"Final test accuracy ranks {join_words(f'{a.label} {spread(a)}' for a in r.arms)}."]
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
    epochs = plural(max(s.epochs_run for s in runs), "epoch")
    run = f"of {join_words(dict.fromkeys(s.epochs_run for s in runs))} {epochs} run"
    if len(r.arms) == 1:
        text.append(f"The best test accuracy of {r.arms[0].label} came {_peak(r.arms[0])}, {run}.")
    else:  # every optimizer's: one that peaks early and slides back is the adaptive methods' early lead, or overfitting
        text.append(f"The best test accuracy ({run}) came for {'; '.join(f'{a.label} {_peak(a)}' for a in r.arms)}.")
    if r.missing:
        text.append(f"No runs for {join_words(r.missing)}.")
    return OBSERVED + " ".join(text)
