"""Findings of 3.3 and 3.4: choosing a learning rate on validation, the sweep."""

import pytest

from findings_factory import make_history
from helpers.findings import choose_learning_rate, rate_outcome, sweep


# ---------------------------------------------------------------------------------------------
# 3.3 and 3.4: choosing a learning rate
# ---------------------------------------------------------------------------------------------

def _rate_run(val, lr, status="completed", **changes):
    return make_history([v + 0.01 for v in val], val_accuracy=val, lr=lr, status=status, dataset="cifar10",
                        model="cnn", **changes)


def test_rate_choice_by_mean_of_the_last_three_epochs():
    vals = {0.1: [0.5, 0.6, 0.4, 0.45, 0.5], 0.01: [0.3, 0.5, 0.55, 0.5, 0.52], 0.001: [0.2, 0.3, 0.35, 0.4, 0.45]}
    c = choose_learning_rate({lr: _rate_run(v, lr) for lr, v in vals.items()}, reference=0.1)
    means = {lr: sum(v[-3:]) / 3 for lr, v in vals.items()}
    assert c.chosen == max(means, key=means.get) == 0.01 and c.relation == "lower"
    assert c.chosen_outcome.score == pytest.approx(means[0.01]) and c.chosen_outcome.score_epochs == 3
    assert c.at_reference.lr == 0.1 and c.at_reference.score == pytest.approx(means[0.1])
    assert c.smallest.lr == 0.001 and c.smallest.still_rising and c.diverged == () and c.tied == ()


def test_a_diverged_rate_is_never_chosen_and_all_diverged_is_no_choice():
    runs = {0.1: _rate_run([0.9, 0.1], 0.1, status="diverged"), 0.01: _rate_run([0.3, 0.4], 0.01)}
    c = choose_learning_rate(runs, reference=0.1)
    assert c.chosen == 0.01 and c.diverged == (0.1,) and c.at_reference.state == "diverged"
    assert c.at_reference.epochs_run == 2 and c.chosen_outcome.score_epochs == 2  # fewer epochs than 3: all of them
    none = choose_learning_rate({0.1: runs[0.1]}, reference=0.01)
    assert none.chosen is None and none.relation is None and none.diverged == (0.1,) and none.at_reference is None


def test_rate_ties_go_to_the_smaller_rate_whatever_the_order():
    for order in ([0.1, 0.01], [0.01, 0.1]):
        c = choose_learning_rate({lr: _rate_run([0.5, 0.6], lr) for lr in order}, reference=0.01)
        assert c.chosen == 0.01 and c.tied == (0.1,) and c.relation == "equal"


def test_scores_equal_as_printed_go_to_the_smaller_rate():
    """60.12 % and 60.08 % both print as 60.1 %: the table shows a tie, so the tie rule decides, not 2 images."""
    c = choose_learning_rate({0.1: _rate_run([0.6012], 0.1), 0.01: _rate_run([0.6008], 0.01)})
    assert c.chosen == 0.01 and c.tied == (0.1,)
    apart = choose_learning_rate({0.1: _rate_run([0.6016], 0.1), 0.01: _rate_run([0.6008], 0.01)})
    assert apart.chosen == 0.1 and apart.tied == ()  # 60.2 % against 60.1 %


def test_single_candidate_missing_runs_and_runs_without_validation():
    single = choose_learning_rate({0.03: _rate_run([0.4], 0.03)}, reference=0.1)
    assert single.chosen == 0.03 and single.relation == "lower" and single.smallest.still_rising is None
    c = choose_learning_rate({0.1: None, 0.01: make_history([0.5], lr=0.01), 0.001: _rate_run([0.2], 0.001)},
                             reference=1.0)
    assert c.chosen == 0.001 and c.missing == (0.1, 0.01) and c.relation == "lower" and c.at_reference is None
    assert [o.state for o in c.outcomes] == ["missing", "no validation", "scored"]
    assert choose_learning_rate({}).chosen is None


def test_rates_at_chance_are_flagged_and_can_only_win_when_all_are():
    c = choose_learning_rate({0.1: _rate_run([0.1, 0.11], 0.1), 0.01: _rate_run([0.1, 0.12], 0.01)}, reference=0.1)
    assert c.at_chance == (0.1, 0.01) and c.chosen == 0.01 and c.chosen_outcome.at_chance and c.relation == "lower"


def test_sweep_collects_choices_failures_and_small_adaptive_rates():
    runs = {("SGD", 0.1): _rate_run([0.5, 0.6], 0.1), ("SGD", 0.001): _rate_run([0.2, 0.3], 0.001),
            ("Adam", 0.1): _rate_run([0.1, 0.1], 0.1, status="diverged"), ("Adam", 0.001): _rate_run([0.6, 0.7], 0.001),
            ("RMSprop", 0.1): _rate_run([0.1, 0.11], 0.1), ("RMSprop", 0.01): _rate_run([0.1, 0.1], 0.01, status="diverged"),
            ("Adagrad", 0.1): None}
    s = sweep(runs)
    assert [opt for opt, _ in s.choices] == ["SGD", "Adam", "RMSprop", "Adagrad"]
    assert (s.chosen("SGD"), s.chosen("Adam"), s.chosen("RMSprop"), s.chosen("Adagrad")) == (0.1, 0.001, 0.1, None)
    assert s.diverged == (("Adam", 0.1), ("RMSprop", 0.01)) and s.at_chance == (("RMSprop", 0.1),)
    assert s.missing == (("Adagrad", 0.1),) and s.no_choice == ("Adagrad",)
    assert s.adaptive_small == ("Adam",)  # RMSprop chose 0.1: not small; SGD is not adaptive
    assert s.chosen("Lion") is None and sweep({}).choices == ()
    assert len(s.outcomes) == 7 and s.outcomes[-1].state == "missing"
    only_small = sweep({("Adam", 0.001): _rate_run([0.6, 0.7], 0.001)})
    assert only_small.chosen("Adam") == 0.001 and only_small.adaptive_small == ()  # no larger rate tried: no choice


@pytest.mark.parametrize("val, rising", [([0.098, 0.10, 0.115], True), ([0.09, 0.10, 0.10], False),
                                         ([0.5, 0.505], False), ([0.5, 0.52], True),
                                         ([0.2, 0.105, 0.108, 0.115], True),   # a real-data run's last epochs
                                         ([0.09, 0.12, 0.11, 0.13], False)])   # up by 2 points, but not steadily
def test_still_rising_means_above_epoch_to_epoch_noise(val, rising):
    assert rate_outcome(0.001, _rate_run(val, 0.001)).still_rising is rising


def test_what_the_choice_says_of_the_other_rates_is_decided_here_not_in_the_prose():
    """Every lower candidate scored below a chosen reference rate; rates that rose and fell back where the chosen one
    stayed at chance; the smallest rate too slow (still rising, below the chosen one)."""
    runs = {0.1: _rate_run([0.3, 0.5, 0.6], 0.1), 0.01: _rate_run([0.3, 0.4, 0.5], 0.01),
            0.001: _rate_run([0.1, 0.2, 0.3], 0.001)}
    c = choose_learning_rate(runs, reference=0.1)
    assert c.chosen == 0.1 and c.lower_all_below == (0.01, 0.001) and c.fell_back == ()
    assert c.smallest_too_slow  # 0.001 below the chosen and still rising
    assert choose_learning_rate({**runs, 0.01: None}, reference=0.1).lower_all_below == ()  # one missing: no claim
    assert choose_learning_rate(runs, reference=0.01).lower_all_below == (0.001,)  # below the reference, scored
    assert choose_learning_rate(runs, reference=1.0).lower_all_below == ()  # chosen below the reference: no claim
    flat = {0.1: _rate_run([0.1, 0.12, 0.1], 0.1), 0.01: _rate_run([0.3, 0.1, 0.1], 0.01)}
    at_chance = choose_learning_rate(flat)
    assert at_chance.chosen_outcome.at_chance and at_chance.fell_back == (0.01,) or at_chance.chosen == 0.01
    assert not choose_learning_rate({0.1: _rate_run([0.3, 0.5, 0.6], 0.1),
                                     0.001: _rate_run([0.5, 0.4, 0.3], 0.001)}).smallest_too_slow  # falling: not slow
