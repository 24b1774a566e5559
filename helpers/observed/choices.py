"""Prose for 3.3 and 3.4: learning-rate choices, overfitting, MLP against CNN, optimizers across seeds."""
from __future__ import annotations

from ..findings import (CHANCE, CHANCE_MARGIN, Arm, LearningRateChoice, ModelComparison, OptimizerRanking,
                        OptimizerSweep, Overfitting, Verdict)
from ..formatting import join_words, pct, plural, points, rate, secs, times

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
            text.append(f"{_rates(c.tied)} scored exactly the same; the smaller rate is taken, further from divergence.")
        if len(c.outcomes) == 1:
            text.append("It was the only candidate, so this is no choice among rates.")
        if o.at_chance:
            text.append(f"Even this rate never got above {pct(CHANCE + CHANCE_MARGIN, 0)} on the validation split: "
                        f"the {model} did not learn at any candidate rate.")
    ref = c.at_reference
    if ref is not None and ref.lr != c.chosen:
        at = f"At {reference_name} rate the {model}"
        if ref.state == "scored":
            text.append(f"{at} reached {pct(ref.score)}.")
        else:
            text.append({"diverged": f"{at} diverged (non-finite loss) in epoch {ref.epochs_run}.",
                         "missing": f"The {model} run at {reference_name} rate is missing.",
                         "no validation": f"{at} has no validation split to be scored on."}[ref.state])
    if c.diverged:
        text.append(f"Diverged: lr {_rates(c.diverged)}.")
    others_at_chance = [lr for lr in c.at_chance if lr != c.chosen]
    if others_at_chance:
        text.append(f"Stayed at chance (never above {pct(CHANCE + CHANCE_MARGIN, 0)} on validation): "
                    f"lr {_rates(others_at_chance)}.")
    if c.missing:
        text.append(f"Missing or without a validation split: lr {_rates(c.missing)}.")
    s = c.smallest
    if s is not None and c.chosen is not None and s.lr != c.chosen and s.state == "scored":
        slow = s.score < c.chosen_outcome.score and s.still_rising
        text.append(f"The smallest rate, {rate(s.lr)}, reached {pct(s.score)}"
                    + (f": too slow for {s.epochs_run} {plural(s.epochs_run, 'epoch')}, its validation accuracy "
                       "still rising at the end." if slow else "."))
    return OBSERVED + " ".join(text)


def overfitting(o: Overfitting, name: str = "the CNN") -> str:
    """Return a sentence on whether the losses show overfitting (no "Observed." prefix: it continues a paragraph)."""
    owner = f"{name[0].upper()}{name[1:]}'s"
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
                       "on the test images it gets wrong.")
    return text + ": no sign of overfitting in the losses yet."


def _epochs(numbers) -> str:
    """Return "epoch 3 for every seed", "epoch 3" or "epochs 3, 5 and 7 (by seed)"."""
    numbers = list(numbers)
    if len(set(numbers)) == 1:
        return f"epoch {numbers[0]}" + (" for every seed" if len(numbers) > 1 else "")
    return f"epochs {join_words(numbers)} (by seed)"


def spread(a: Arm, digits: int = 1) -> str:
    """Return an arm's final test accuracy: "61.2 %" (one seed) or "61.2 % (3 seeds: 60.1 % to 62.0 %)"."""
    if a.n == 1:
        return pct(a.mean, digits)
    return f"{pct(a.mean, digits)} ({a.n} seeds: {pct(a.low, digits)} to {pct(a.high, digits)})"


def verdict(v: Verdict) -> str:
    """Return one sentence on whether the first arm beats the second across seeds."""
    if v.outcome == "missing":
        return f"Without runs of both {v.first} and {v.second} there is no comparison."
    gap = points(abs(v.difference))
    if v.outcome == "single seed":
        return f"Single seed: there is no spread to compare the difference of {gap} against."
    if v.outcome == "indistinguishable":
        return f"Their ranges overlap: at {v.seeds} seeds the two are indistinguishable (means {gap} apart)."
    return f"{v.winner} is ahead by {gap} (means), beyond the range of every seed of the other."


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
        if a.diverged_seeds:
            seeds = a.diverged_seeds
            text.append(f"The {a.label} diverged with {plural(len(seeds), 'seed')} {join_words(seeds)}.")
    text.append(verdict(c.verdict))
    if c.parameter_ratio is not None:
        text.append(f"The CNN has {times(c.parameter_ratio)} the MLP's parameters.")
    if c.epoch_time_ratio is not None:
        text.append(f"An epoch took {secs(cnn.median_epoch_time)} for the CNN and {secs(mlp.median_epoch_time)} for the "
                    f"MLP ({times(c.epoch_time_ratio)}).")
    if cnn.gap_mean is not None and mlp.gap_mean is not None:
        text.append(f"At the end the CNN fits its training data at {pct(cnn.final_train_mean)} (running average over the "
                    f"last epoch), {points(abs(cnn.gap_mean))} {'above' if cnn.gap_mean >= 0 else 'below'} its test "
                    f"accuracy; the MLP's training accuracy is {points(mlp.gap_mean, sign=True)} from its test accuracy.")
    if len(c.cnn_overfitting) == 1:
        text.append(overfitting(c.cnn_overfitting[0]))
    else:
        judged = [o for o in c.cnn_overfitting if o.epochs_considered >= 2]
        text.append(f"The CNN's losses show the signature of overfitting (test loss up since its lowest epoch, training "
                    f"loss down) in {c.cnn_overfit_seeds} of {len(c.cnn_overfitting)} seeds"
                    + (f"; its test loss is lowest in {_epochs(o.lowest_test_loss_epoch for o in judged)}."
                       if judged else "."))
    return " ".join(text)


def optimizer_sweep(s: OptimizerSweep) -> str:
    """Return the Markdown of the sweep: the chosen rates, and which runs diverged, stayed at chance or are missing."""
    if not s.choices:
        return f"{OBSERVED}The sweep has no runs."
    chosen = join_words(f"{opt} {rate(c.chosen) if c.chosen is not None else 'none (no usable rate)'}"
                        for opt, c in s.choices)
    text = [f"{plural(len(s.choices), 'Chosen rate')}: {chosen}."]
    pairs = (lambda items: join_words(f"{opt} at {rate(lr)}" for opt, lr in items))
    text.append(f"Diverged runs: {pairs(s.diverged)}." if s.diverged else "No run present diverged.")
    text.append(f"Stuck at chance (never above {pct(CHANCE + CHANCE_MARGIN, 0)} on the validation split): "
                f"{pairs(s.at_chance)}."
                if s.at_chance else "No converging run stayed at chance.")
    if s.missing:
        text.append(f"Missing or without a validation split: {pairs(s.missing)}.")
    if s.adaptive_small:
        n = len(s.adaptive_small)
        text.append(f"{join_words(s.adaptive_small)} chose {plural(n, 'a small rate', 'small rates')} "
                    f"({_rates(s.chosen(o) for o in s.adaptive_small)}), as {plural(n, 'its', 'their')} per-parameter "
                    "step normalisation predicts.")
    return OBSERVED + " ".join(text)


def optimizer_ranking(r: OptimizerRanking) -> str:
    """Return the Markdown of the ranking across seeds: order, what seeds can separate, first epoch, train/test gap."""
    if not r.arms:
        return (f"{OBSERVED}No optimizer has a run to rank"
                + (f" (no runs for {join_words(r.missing)})." if r.missing else "."))
    order = join_words(f"{a.label} {spread(a)}" for a in r.arms)
    text = [f"Final test accuracy ranks {order}."]
    if r.groups is None:
        if len(r.arms) > 1:
            text.append("Single seed: there is no spread to compare these differences against.")
    elif len(r.arms) > 1:
        tied = [g for g in r.groups if len(g) > 1]
        if r.leader:
            text.append(f"{r.leader} leads: its worst seed is above every other optimizer's best seed.")
        if tied:
            text.append(f"At {r.seeds} seeds, these cannot be told apart (their ranges overlap): "
                        + "; ".join(join_words(g) for g in tied) + ".")
        if len(r.groups) > 2 or (len(r.groups) == 2 and not r.leader):
            text.append("Separated by their ranges: " + ", then ".join(join_words(g) for g in r.groups) + ".")
    if len(r.arms) > 1:
        lead = r.arm(r.first_epoch_leader)
        clear = {True: ", above every other optimizer's seeds", False: ", within the range of others' seeds",
                 None: ""}[r.first_epoch_clear]
        mean = "mean " if r.seeds > 1 else ""
        text.append(f"After the first epoch {lead.label} has the highest {mean}test accuracy, "
                    f"{pct(lead.first_epoch_mean)}{clear}.")
    if r.widest_gap and r.widest_gap != r.narrowest_gap:
        w, n = r.arm(r.widest_gap), r.arm(r.narrowest_gap)
        text.append(f"The final gap between training and test accuracy is widest for {w.label} "
                    f"({points(w.gap_mean, sign=True)}) and narrowest for {n.label} ({points(n.gap_mean, sign=True)}).")
    top = r.arms[0]
    runs = join_words(dict.fromkeys(s.epochs_run for s in top.runs))
    text.append(f"The best test accuracy of the top-ranked {top.label} came in {_epochs(s.best_epoch for s in top.runs)}, "
                f"of {runs} {plural(max(s.epochs_run for s in top.runs), 'epoch')} run.")
    if r.missing:
        text.append(f"No runs for {join_words(r.missing)}.")
    return OBSERVED + " ".join(text)
