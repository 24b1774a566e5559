"""Findings of choosing a learning rate on the validation split (3.3 for the CNN, 3.4 per optimizer)."""
from __future__ import annotations

from dataclasses import dataclass

from .runs import _ROUNDING, as_printed, at_chance, column, is_diverged

SELECTION_EPOCHS = 3    # the score is the mean validation accuracy over this many final epochs
ADAPTIVE = ("Adam", "RMSprop")
SMALL_RATE = 0.003      # "a small rate", as the per-parameter step normalisation of Adam/RMSprop predicts
STILL_RISING = 0.01     # "still rising": the score's epochs rise one after another, and by at least this much together
                        # (one point: a run at chance moves up and down by about that much)


@dataclass(frozen=True)
class RateOutcome:
    """One candidate learning rate: its state and selection score."""
    lr: float
    state: str                  # "scored", "diverged", "missing" (no run) or "no validation" (no val split)
    score: float | None         # mean validation accuracy over the last `score_epochs` epochs; scored runs only
    score_epochs: int           # min(3, epochs run) for a scored run, else 0
    epochs_run: int             # 0 for a missing run
    at_chance: bool             # a scored run that never reached chance + margin on validation
    still_rising: bool | None   # val. accuracy up in each of its last min(3, n) epochs, by STILL_RISING in all; None
                                # below 2 epochs


def rate_outcome(lr: float, history, last: int = SELECTION_EPOCHS) -> RateOutcome:
    """Return the state and score of the run at one candidate rate (history None: missing)."""
    accuracy = column(history, "val_accuracy") if history is not None else None
    epochs = len(column(history, "test_accuracy") or []) if history is not None else 0
    if history is None or epochs == 0:
        return RateOutcome(lr, "missing", None, 0, 0, False, None)
    if is_diverged(history):  # diverged rates are never chosen, whatever they scored before
        return RateOutcome(lr, "diverged", None, 0, epochs, False, None)
    if accuracy is None:
        return RateOutcome(lr, "no validation", None, 0, epochs, False, None)
    k = min(last, len(accuracy))
    last = accuracy[-k:]
    rising = (all(b > a for a, b in zip(last, last[1:])) and last[-1] - last[0] >= STILL_RISING - _ROUNDING
              if k >= 2 else None)
    return RateOutcome(lr, "scored", sum(accuracy[-k:]) / k, k, epochs, bool(at_chance(history)), rising)


@dataclass(frozen=True)
class LearningRateChoice:
    """The rate chosen by validation accuracy, the rates that failed, and how the choice relates to a reference.

    Rule: the highest score wins; among scores equal as printed (one decimal of a percent, a few images of the
    validation split) the smaller rate (further from divergence), so that the table never shows a tie broken the
    other way.
    No scored rate (all diverged, missing or without validation): no choice (`chosen` is None).
    """
    outcomes: tuple[RateOutcome, ...]   # one per candidate, in the order given
    chosen: float | None
    tied: tuple[float, ...]             # other rates whose score prints as the chosen one's (not chosen: larger)
    diverged: tuple[float, ...]
    at_chance: tuple[float, ...]        # scored rates that stayed at chance
    missing: tuple[float, ...]          # no run, or a run without a validation split
    reference: float | None             # e.g. the MLP's rate in 3.3
    relation: str | None                # chosen vs reference: "lower", "equal", "higher"; None if either is absent
    at_reference: RateOutcome | None    # the outcome at the reference rate, if it was a candidate
    smallest: RateOutcome | None        # the outcome at the smallest candidate rate

    def outcome(self, lr: float) -> RateOutcome | None:
        """Return the outcome of one rate (None if it was not a candidate)."""
        return next((o for o in self.outcomes if o.lr == lr), None)

    @property
    def chosen_outcome(self) -> RateOutcome | None:
        return None if self.chosen is None else self.outcome(self.chosen)

    @property
    def lower_all_below(self) -> tuple[float, ...]:
        """Where the chosen rate is not below the reference: the lower candidates, if every one was scored (and so,
        the rule taking the smaller rate of equal scores, scored below the chosen one); else ()."""
        lower = tuple(o.lr for o in self.outcomes if self.relation in ("equal", "higher") and o.lr < self.reference)
        return lower if lower and all(self.outcome(lr).state == "scored" for lr in lower) else ()

    @property
    def fell_back(self) -> tuple[float, ...]:
        """Where the chosen rate stayed at chance: the scored rates that rose above chance, yet scored no better by
        their last epochs."""
        o = self.chosen_outcome
        return tuple(x.lr for x in self.outcomes if x.state == "scored" and not x.at_chance) if o and o.at_chance else ()

    @property
    def smallest_too_slow(self) -> bool:
        """True if the smallest rate scored below the chosen one and was still rising at its end: too slow for the
        epochs given, not a worse rate."""
        s, chosen = self.smallest, self.chosen_outcome
        return bool(s is not None and chosen is not None and s.lr != chosen.lr and s.state == "scored"
                    and s.score < chosen.score and s.still_rising)


def choose_learning_rate(histories, reference: float | None = None,
                         last: int = SELECTION_EPOCHS) -> LearningRateChoice:
    """Return the choice among {lr: History | None} by mean validation accuracy over the last epochs."""
    outcomes = tuple(rate_outcome(lr, h, last) for lr, h in histories.items())
    scored = [o for o in outcomes if o.state == "scored"]
    chosen = min(scored, key=lambda o: (-as_printed(o.score), o.lr)) if scored else None
    relation = None
    if chosen is not None and reference is not None:
        relation = "lower" if chosen.lr < reference else "equal" if chosen.lr == reference else "higher"
    return LearningRateChoice(
        outcomes=outcomes, chosen=chosen and chosen.lr,
        tied=tuple(o.lr for o in scored
                   if chosen and o is not chosen and as_printed(o.score) == as_printed(chosen.score)),
        diverged=tuple(o.lr for o in outcomes if o.state == "diverged"),
        at_chance=tuple(o.lr for o in scored if o.at_chance),
        missing=tuple(o.lr for o in outcomes if o.state in ("missing", "no validation")),
        reference=reference, relation=relation,
        at_reference=next((o for o in outcomes if reference is not None and o.lr == reference), None),
        smallest=min(outcomes, key=lambda o: o.lr) if outcomes else None)


@dataclass(frozen=True)
class OptimizerSweep:
    """Every optimizer's learning-rate choice, and what failed across the sweep."""
    choices: tuple[tuple[str, LearningRateChoice], ...]   # (optimizer, its choice), in the order of the runs
    diverged: tuple[tuple[str, float], ...]
    at_chance: tuple[tuple[str, float], ...]
    missing: tuple[tuple[str, float], ...]
    no_choice: tuple[str, ...]          # optimizers without any usable rate
    adaptive_small: tuple[str, ...]     # Adam/RMSprop that chose a rate <= SMALL_RATE where larger ones were tried

    @property
    def outcomes(self) -> tuple[RateOutcome, ...]:
        """Every run's outcome, optimizer by optimizer."""
        return tuple(o for _, c in self.choices for o in c.outcomes)

    def chosen(self, optimizer: str) -> float | None:
        """Return the rate chosen for an optimizer (None: no choice or not in the sweep)."""
        return next((c.chosen for name, c in self.choices if name == optimizer), None)


def sweep(runs) -> OptimizerSweep:
    """Return the sweep's findings from {(optimizer, lr): History | None}."""
    optimizers = list(dict.fromkeys(opt for opt, _ in runs))
    choices = tuple((opt, choose_learning_rate({lr: h for (o, lr), h in runs.items() if o == opt}))
                    for opt in optimizers)

    def each(field: str) -> tuple[tuple[str, float], ...]:
        return tuple((opt, lr) for opt, c in choices for lr in getattr(c, field))

    return OptimizerSweep(
        choices=choices, diverged=each("diverged"), at_chance=each("at_chance"), missing=each("missing"),
        no_choice=tuple(opt for opt, c in choices if c.chosen is None),
        adaptive_small=tuple(opt for opt, c in choices if opt in ADAPTIVE and c.chosen is not None
                             and c.chosen <= SMALL_RATE and any(o.lr > SMALL_RATE for o in c.outcomes)))
