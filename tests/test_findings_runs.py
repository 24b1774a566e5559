"""Findings of one run and of 3.1's step: summaries, chance, overfitting, jagged curves; the step checked in float64."""
import statistics

import numpy as np
import pytest
import sympy as sp

from findings_factory import SHEET, make_history
from helpers.findings import arm, at_chance, column, overfitting, run_summary, step_effect
from helpers.gradients import autograd_gradients, make_problem


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------

def test_run_summary_matches_the_columns():
    acc, times = [0.5, 0.7, 0.7, 0.6], [4.0, 1.0, 1.2, 0.9]
    s = run_summary(make_history(acc, train_time=times, train_accuracy=[0.6, 0.8, 0.9, 0.95]))
    assert (s.final_accuracy, s.best_accuracy, s.best_epoch, s.epochs_run) == (0.6, 0.7, 2, 4)  # first of equal bests
    assert s.median_epoch_time == statistics.median(times) and s.total_train_time == pytest.approx(sum(times))
    assert s.first_epoch_slow and s.gap == pytest.approx(0.95 - 0.6) and s.first_epoch_accuracy == 0.5


def test_run_summary_one_epoch_is_never_slow_and_missing_is_none():
    assert not run_summary(make_history([0.3], train_time=[5.0])).first_epoch_slow
    assert not run_summary(make_history([0.3, 0.4], train_time=[1.4, 1.0])).first_epoch_slow  # 1.4 < 1.5 x 1.2
    assert run_summary(None) is None and run_summary(make_history([])) is None


def test_column_of_an_unrecorded_quantity_is_none():
    h = make_history([0.5])
    assert column(h, "val_accuracy") is None and column(h, "test_accuracy") == [0.5]


@pytest.mark.parametrize("val, expected", [([0.1, 0.12, 0.149], True), ([0.1, 750 / 5000], True), ([0.1, 0.151], False),
                                           ([0.9], False)])
def test_at_chance_means_never_above_fifteen_percent(val, expected):
    assert at_chance(make_history([0.1] * len(val), val_accuracy=val)) is expected
    assert at_chance(make_history([0.1] * len(val))) is None  # no validation split: cannot say


def test_overfitting_signature():
    test_loss, train_loss = [1.0, 0.8, 0.9, 1.1], [1.5, 1.0, 0.7, 0.5]
    o = overfitting(make_history([0.5] * 4, test_loss=test_loss, train_loss=train_loss))
    lowest = int(np.argmin(test_loss))
    assert o.lowest_test_loss_epoch == lowest + 1 and o.lowest_test_loss == 0.8
    assert o.test_loss_rose == (test_loss[-1] > test_loss[lowest]) is True
    assert o.train_loss_fell == (train_loss[-1] < train_loss[lowest]) is True and o.overfitting


def test_the_drop_is_the_largest_epoch_to_epoch_fall_after_the_first_rise_that_the_curve_climbs_back_from():
    # 6 epochs: the second half is epochs 3-6 (3 changes); a rise, however steep, is no drop
    assert run_summary(make_history([0.1, 0.5, 0.52, 0.40, 0.50, 0.51])).drop == pytest.approx(0.12)
    assert run_summary(make_history([0.1, 0.2, 0.35, 0.5, 0.6, 0.7])).drop == 0
    assert run_summary(make_history([0.1, 0.5, 0.6, 0.65, 0.1, 0.1])).drop == 0  # a collapse, not noise
    assert run_summary(make_history([0.1, 0.5, 0.52, 0.40, 0.48, 0.48])).drop == 0  # never back within 3 points
    assert run_summary(make_history([0.1, 0.5, 0.52])).drop is None  # too short for a second half
    assert run_summary(make_history([0.1, 0.5, 0.52, 0.2], status="diverged")).drop is None
    two = arm("A", [make_history([0.1, 0.5, 0.52, 0.50, 0.53], seed=1),
                    make_history([0.1, 0.5, 0.60, 0.52, 0.60], seed=2)])
    assert two.drop == pytest.approx(0.08)


def test_at_chance_is_judged_as_printed():
    assert at_chance(make_history([0.1] * 2, val_accuracy=[0.1, 0.1504])) is True  # prints 15.0 %: not above 15 %
    assert at_chance(make_history([0.1] * 2, val_accuracy=[0.1, 0.1506])) is False  # 15.1 %
    assert arm("A", [make_history([0.1, 0.1504])]).at_chance and not arm("A", [make_history([0.1, 0.1506])]).at_chance


def test_overfitting_keeps_the_test_accuracy_at_the_lowest_test_loss_and_at_the_end():
    o = overfitting(make_history([0.40, 0.50, 0.55, 0.57], test_loss=[1.0, 0.8, 0.9, 1.1],
                                 train_loss=[1.5, 1.0, 0.7, 0.5]))
    assert (o.accuracy_at_lowest, o.final_accuracy) == (0.50, 0.57) and o.accuracy_change == pytest.approx(0.07)
    cut = overfitting(make_history([0.4, 0.5, 0.1], test_loss=[1.0, 0.8, None], train_loss=[1.0, 0.7, None],
                                   status="diverged"))
    assert cut.final_accuracy == 0.5  # the last epoch with finite losses, not the diverged one


@pytest.mark.parametrize("test_loss, train_loss, rose, fell", [
    ([1.0, 0.9, 0.8], [1.0, 0.9, 0.8], False, False),   # still improving: lowest is the last epoch
    ([1.0, 0.8, 0.9], [1.0, 0.9, 1.2], True, False),    # both rose: instability, not overfitting
    ([1.0, 0.8, 0.8], [1.0, 0.9, 0.5], False, True),    # equal lows: the first counts, and equal is not a rise
])
def test_overfitting_needs_both_halves(test_loss, train_loss, rose, fell):
    o = overfitting(make_history([0.5] * 3, test_loss=test_loss, train_loss=train_loss))
    assert (o.test_loss_rose, o.train_loss_fell, o.overfitting) == (rose, fell, False)


@pytest.mark.parametrize("final, rose", [(0.815, False), (0.817, True)])
def test_a_test_loss_counts_as_risen_only_beyond_epoch_to_epoch_noise(final, rose):
    o = overfitting(make_history([0.5] * 3, test_loss=[1.0, 0.8, final], train_loss=[1.0, 0.9, 0.5]))
    assert o.test_loss_rose is rose and o.overfitting is rose and o.judged
    assert o.rise == pytest.approx(final / 0.8 - 1)


def test_a_diverged_run_reads_its_finite_epochs_but_is_never_called_overfitting():
    o = overfitting(make_history([0.5, 0.5, 0.1], test_loss=[1.0, 1.2, None], train_loss=[1.0, 0.7, None],
                                 status="diverged"))
    assert o.epochs_considered == 2 and o.final_test_loss == 1.2 and o.test_loss_rose and o.train_loss_fell
    assert o.diverged and not o.overfitting and not o.judged
    nothing = overfitting(make_history([0.1], test_loss=[None], train_loss=[None], status="diverged"))
    assert nothing.epochs_considered == 0 and nothing.lowest_test_loss_epoch is None and not nothing.overfitting
    one = overfitting(make_history([0.5], test_loss=[1.0], train_loss=[1.0]))
    assert one.epochs_considered == 1 and not one.overfitting


# ---------------------------------------------------------------------------------------------
# 3.1
# ---------------------------------------------------------------------------------------------

def _numpy_loss(p: dict, lr: float = 0.0, grads: dict | None = None) -> tuple[float, float, np.ndarray]:
    """Loss, output and pre-activations after a step of lr along grads, in float64."""
    g = grads or {k: 0 for k in ("W1", "b1", "W2", "b2")}
    W1, b1, W2, b2 = (np.array(p[k], float) - lr * np.asarray(g[k], float) for k in ("W1", "b1", "W2", "b2"))
    x, y = np.array(p["x"], float), np.array(p["y"], float)
    z = x @ W1 + b1
    f = np.maximum(0, z) @ W2 + b2
    return float(((y - f) ** 2).sum() / 2), float(f[0, 0]), z[0]


def test_step_effect_of_the_sheet_agrees_with_float64():
    e = step_effect(make_problem(**SHEET))
    grads = {k: v.numpy() for k, v in autograd_gradients(make_problem(**SHEET)).items()}
    before, f0, z = _numpy_loss(SHEET)
    after, f1, _ = _numpy_loss(SHEET, 0.1, grads)
    assert float(e.loss_before) == pytest.approx(before) and float(e.loss_after) == pytest.approx(after)
    assert e.change == ("rose" if after > before else "fell") == "rose"
    norm2 = sum(float((g ** 2).sum()) for g in grads.values())
    assert float(e.squared_gradient_norm) == pytest.approx(norm2)
    assert e.first_order_decrease == sp.Rational(1, 10) * e.squared_gradient_norm  # stays exact
    assert e.predicted_beyond_loss == (0.1 * norm2 > before) is True
    assert e.crossed_target == ((f0 + 1.75) * (f1 + 1.75) < 0) is True
    assert e.dead_neurons == tuple(int(j) + 1 for j in np.flatnonzero(z <= 0)) == (2,) and e.dead_all_negative
    assert e.zero_inputs == (3,) and e.dead_unchanged and e.zero_input_rows_unchanged
    losses = {r: _numpy_loss(SHEET, float(r), grads)[0] for r in ("0.001", "0.003", "0.01", "0.03", "0.1")}
    assert e.best_rate == min(losses, key=losses.get)
    assert e.lowering_rates == tuple(r for r, v in losses.items() if v < before)
    assert all(isinstance(v, sp.Rational) for _, v in e.rate_losses)


def test_a_small_step_lowers_the_loss():
    e = step_effect(make_problem(**{**SHEET, "lr": 0.001}))
    assert e.change == "fell" and e.loss_after < e.loss_before
    assert not e.predicted_beyond_loss and not e.crossed_target


def test_equal_losses_choose_the_smaller_rate_and_zero_preactivations_are_dead_not_negative():
    # Only b2 moves (every hidden neuron has z = 0): f = b2 - lr (b2 - y), so the loss is symmetric around lr = 1.
    p = make_problem(W1=[[0]], b1=[[0]], W2=[[1]], b2=[[1]], x=[[1]], y=[[0]], lr=0.5)
    e = step_effect(p, rates=("1.5", "0.5"))
    assert dict(e.rate_losses)["0.5"] == dict(e.rate_losses)["1.5"] and e.best_rate == "0.5"
    assert e.dead_neurons == (1,) and not e.dead_all_negative and e.zero_inputs == ()
    assert step_effect(p, rates=()).best_rate is None
