"""Prose for 3.3's models across seeds: MLP against CNN, overfitting; and the arms' shared phrases (spread, verdict)."""
from __future__ import annotations

from ..findings import CHANCE, CHANCE_MARGIN, OVERFIT_RISE, Arm, ModelComparison, Overfitting, Verdict, notable_fall
from ..findings.seeds import trained
from ..formatting import count_of, join_words, pct, plural, points, rate, relative, secs, times
from .runs import OBSERVED


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


def epochs_phrase(numbers, seed: str = "seed") -> str:
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


def seeds_range(a: Arm, digits: int = 1) -> str:
    """An arm's seeds and their final test accuracies: "one seed (61.9 %)", "3 seeds (43.2 % to 45.8 %)"."""
    if a.n == 1:
        return f"one seed ({pct(a.mean, digits)})"
    return f"{a.n} seeds ({pct(a.low, digits)} to {pct(a.high, digits)})"


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
            text.append(diverged(a))
    text.append(verdict(c.verdict, article="the "))
    if c.trained_above:
        winner, other = (cnn, mlp) if c.trained_above == "CNN" else (mlp, cnn)
        won, lost = trained(winner), trained(other)
        text.append(f"Of the seeds that trained to the end, the {winner.label}'s {seeds_range(won)} "
                    f"{plural(won.n, 'lies', 'lie')} above the {other.label}'s {seeds_range(lost)}.")
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
        means = "" if cnn.n == 1 and mlp.n == 1 else " (means over the seeds that trained to the end)" \
            if cnn.diverged_seeds or mlp.diverged_seeds else " (means over the seeds)"
        text.append(f"At the end the CNN fits its training data at {pct(cnn.final_train_mean)} (running average over the "
                    f"last epoch), {relative(cnn.gap_mean, 'its test accuracy')}; the MLP's training accuracy is "
                    f"{relative(mlp.gap_mean, 'its test accuracy')}{means}.")
    text.append(_overfitting_over_seeds(c.cnn_overfitting, c.cnn_overfit_seeds))
    return " ".join(text)


def diverged(a: Arm, article: str = "the ") -> str:
    """The seeds of an arm that diverged, where, and, where its first seed (on which a rate is chosen) trained to the
    end, what that says of the rate ("the " names the arm "the CNN", "" names it "SGD")."""
    seeds, epochs = a.diverged_seeds, a.diverged_epochs
    first, name = a.runs[0], f"{article}{a.label}"
    edge = (f", at the rate {rate(first.lr)} chosen on its first seed (seed {first.seed}), which trained to the end: at "
            f"that rate {name} is at the edge of stability" if not first.diverged and len(a.lrs) == 1 else "")
    return (f"{name[0].upper()}{name[1:]} diverged with {plural(len(seeds), 'seed')} {join_words(seeds)} (its loss became "
            f"non-finite in {plural(len(epochs), 'epoch')} {join_words(epochs)}){edge}.")


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
            f"loss is lowest in {epochs_phrase((o.lowest_test_loss_epoch for o in judged), seed)}."
            + _accuracy_since_lowest([o for o in judged if o.overfitting], whose="that seed's"))
