"""Prose for 3.3's (and 3.4's) learning-rate choices: the chosen rate, how it relates to the reference, what failed."""
from __future__ import annotations

from ..findings import CHANCE, CHANCE_MARGIN, LearningRateChoice
from ..formatting import join_words, pct, plural, rate
from .runs import OBSERVED

_RELATION = {"lower": "lower than", "equal": "equal to", "higher": "higher than"}


def _epoch_count(o) -> str:
    return f"{o.epochs_run} {plural(o.epochs_run, 'epoch')}"


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
        if c.lower_all_below:
            text.append(f"Every lower candidate ({_rates(c.lower_all_below)}) scored below it, so in the sweep (one "
                        f"seed per rate) the {model} did not need a lower rate than {reference_name}.")
        if len(c.outcomes) == 1:
            text.append("It was the only candidate, so this is no choice among rates.")
        if o.at_chance:
            chance = f"Even this rate never got above {pct(CHANCE + CHANCE_MARGIN, 0)} on the validation split"
            if c.fell_back:
                whose = plural(len(c.fell_back), "its", "their")
                text.append(f"{chance}; {_rates(c.fell_back)} got above it, then fell back by {whose} last epochs.")
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
    slow = c.smallest_too_slow and s.lr not in told
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
