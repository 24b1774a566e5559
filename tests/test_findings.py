"""Findings as data: each decision checked on hand-made runs against the same fact computed a second, obvious way."""
import statistics
from itertools import combinations

import numpy as np
import pytest
import sympy as sp

from findings_factory import SHEET, make_history
from helpers.findings import (arm, at_chance, choose_learning_rate, column, compare_arms, compare_devices,
                              compare_models, compare_pipelines, overfitting, rank_arms, rate_outcome, run_summary,
                              step_effect, sweep)
from helpers import observed
from helpers.findings.devices import scatter
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


# ---------------------------------------------------------------------------------------------
# 3.2
# ---------------------------------------------------------------------------------------------

def _pair(cpu_acc, gpu_acc, cpu_time=2.0, gpu_time=0.5, **gpu_changes):
    return {("cpu", "template"): make_history(cpu_acc, train_time=[cpu_time] * len(cpu_acc)),
            ("cuda", "template"): make_history(gpu_acc, train_time=[gpu_time] * len(gpu_acc), device="cuda",
                                               **gpu_changes)}


def test_devices_within_noise():
    cpu = [0.90, 0.95, 0.96, 0.97, 0.962, 0.968, 0.965]
    c = compare_devices(_pair(cpu, cpu[:-1] + [0.963]))
    band = scatter(cpu[-5:])
    assert c.noise_epochs == 5 and c.noise_band == pytest.approx(band) and 0 < band < max(cpu[-5:]) - min(cpu[-5:])
    assert c.accuracy_difference == pytest.approx(0.963 - 0.965) and c.within_noise is (0.002 <= band) is True
    assert c.speedup == 4.0 and c.gpu_faster and c.missing == ()


def test_the_noise_band_is_the_scatter_around_the_trend_not_the_rise_of_a_curve_still_learning():
    assert scatter([0.80, 0.82, 0.84, 0.86, 0.88]) == pytest.approx(0) and scatter([0.8, 0.9, 0.8]) == pytest.approx(0.1)
    rising = [0.50, 0.60, 0.70, 0.75, 0.80, 0.85, 0.90]  # +5 points an epoch: a max - min band of 20 points
    c = compare_devices(_pair(rising, rising[:-1] + [0.87]))
    assert c.noise_band == pytest.approx(0) and c.within_noise is False  # 3 points are no noise here
    assert compare_devices(_pair(rising, rising[:-2])).within_noise is None  # 6 epochs against 7: not the same training
    assert compare_devices(_pair([0.8, 0.9, 0.9], [0.8, 0.9, 0.91])).noise_band is None  # 2 after the first: a line
    # A short run's whole rise is no noise either: the first epoch stays out of the window.
    short = compare_devices(_pair([0.50, 0.70, 0.80, 0.85, 0.90], [0.50, 0.70, 0.75, 0.78, 0.80]))
    assert short.noise_epochs == 4 and short.noise_band < 0.04 and short.within_noise is False  # max - min: 0.2


def test_devices_beyond_noise_and_gpu_slower():
    c = compare_devices(_pair([0.9, 0.9, 0.9, 0.9], [0.9, 0.9, 0.9, 0.8], cpu_time=1.0, gpu_time=2.0))
    assert c.noise_epochs == 3 and c.noise_band == 0 and c.within_noise is False  # epochs 2 to 4, not the first
    assert c.speedup == 0.5 and c.gpu_faster is False


def test_devices_with_one_epoch_have_no_noise_band():
    c = compare_devices(_pair([0.9], [0.91]))
    assert c.noise_epochs == 0 and c.noise_band is None and c.within_noise is None
    assert "1 epoch leaves no epoch-to-epoch noise to compare that against" in observed.devices(c)
    assert c.accuracy_difference == pytest.approx(0.01)


@pytest.mark.parametrize("keep", [(), ("cpu", "template"), ("cuda", "template")])
def test_devices_with_a_side_missing(keep):
    runs = {k: v for k, v in _pair([0.9, 0.91], [0.9, 0.92]).items() if k == keep}
    c = compare_devices(runs)
    assert set(c.missing) == {"cpu", "cuda"} - {keep[0] if keep else None}
    assert c.speedup is None and c.accuracy_difference is None and c.within_noise is None


def test_devices_go_by_the_recorded_device_and_the_pipeline():
    # Filed under "cuda" but recorded on the CPU: it is a CPU run. A resident run is not a template run.
    runs = {("cuda", "template"): make_history([0.9], device="cpu"),
            ("cpu", "resident"): make_history([0.8], pipeline="resident"),
            ("cpu", "template"): None}
    c = compare_devices(runs)
    assert c.gpu is None and c.cpu.final_accuracy == 0.9
    assert compare_devices(runs, pipeline="resident").cpu.final_accuracy == 0.8
    assert compare_devices(list(runs.values())).cpu.final_accuracy == 0.9  # an iterable works too


def test_devices_with_a_diverged_run_judge_no_noise():
    c = compare_devices(_pair([0.9] * 4, [0.9, 0.1], status="diverged", test_loss=[1.0, None], train_loss=[1.0, None]))
    assert c.gpu.diverged and c.gpu.epochs_run == 2 and c.noise_band == 0 and c.within_noise is None
    # A collapsing CPU run would make a wide "band" that hides any difference: no band at all.
    runs = {"cpu": make_history([0.9, 0.95, 0.1], status="diverged"), "gpu": make_history([0.9, 0.95, 0.96], device="cuda")}
    c = compare_devices(runs)
    assert c.cpu.diverged and c.noise_band is None and c.within_noise is None and c.accuracy_difference == pytest.approx(0.86)


CELLS = [("cpu", "template"), ("cpu", "resident"), ("cuda", "template"), ("cuda", "resident")]
TIMES = {("cpu", "template"): 10.0, ("cpu", "resident"): 4.0, ("cuda", "template"): 8.0, ("cuda", "resident"): 0.5}


def _cells(keep):
    # Three epochs each; only the GPU/template run has a slow first one (3x its median).
    return {k: make_history([0.9] * 3, train_time=[TIMES[k] * (3 if k == ("cuda", "template") else 1), TIMES[k], TIMES[k]],
                            device=k[0], pipeline=k[1]) for k in keep}


@pytest.mark.parametrize("keep", [c for n in range(5) for c in combinations(CELLS, n)])
def test_pipelines_every_subset(keep):
    c = compare_pipelines(_cells(keep))
    assert set(c.missing) == set(CELLS) - set(keep) and len(c.runs) == len(keep)
    assert {g.device for g in c.gains} == {d for d in ("cpu", "cuda") if (d, "template") in keep and (d, "resident") in keep}
    for g in c.gains:
        assert g.speedup == pytest.approx(TIMES[g.device, "template"] / TIMES[g.device, "resident"])
        assert g.input_share == pytest.approx(1 - TIMES[g.device, "resident"] / TIMES[g.device, "template"])
    both = {p for p in ("template", "resident") if ("cpu", p) in keep and ("cuda", p) in keep}
    assert (c.template_speedup is not None) == ("template" in both)
    assert (c.compute_speedup == pytest.approx(4.0 / 0.5)) if "resident" in both else c.compute_speedup is None
    assert set(c.slow_first_epochs) == {k for k in keep if k == ("cuda", "template")}


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


# ---------------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------------

def _seeds(finals, first=None, **changes):
    return [make_history([first if first is not None else f - 0.2, f], seed=i + 1, **changes) for i, f in enumerate(finals)]


def test_arm_mean_and_range_over_seeds():
    finals = [0.62, 0.60, 0.65]
    a = arm("Adam", list(reversed(_seeds(finals))) + [None])  # order and missing seeds do not matter
    assert a.seeds == (1, 2, 3) and a.n == 3
    assert a.mean == pytest.approx(statistics.mean(finals)) and (a.low, a.high) == (min(finals), max(finals))
    assert a.spread == pytest.approx(0.05)
    single = arm("SGD", make_history([0.5]))
    assert single.n == 1 and single.spread == 0 and arm("none", None).mean is None and arm("none", []).n == 0


def test_an_arm_is_at_chance_when_no_seed_ever_rose_above_fifteen_percent():
    assert arm("MLP", [make_history([0.1, 0.15], seed=1), make_history([0.09, 0.1], seed=2)]).at_chance
    assert not arm("MLP", [make_history([0.1, 0.15], seed=1), make_history([0.16, 0.1], seed=2)]).at_chance
    assert not arm("none", None).at_chance


@pytest.mark.parametrize("a, b, outcome", [
    ([0.70, 0.72], [0.60, 0.65], "first"),
    ([0.60, 0.65], [0.70, 0.72], "second"),
    ([0.60, 0.70], [0.65, 0.72], "indistinguishable"),
    ([0.65, 0.70], [0.60, 0.65], "indistinguishable"),   # touching ranges: not separated
    ([0.90], [0.60, 0.65], "single seed"),               # one seed: no spread, never a win
    ([0.90], [0.10], "single seed"),
    ([], [0.60, 0.65], "missing"),
])
def test_compare_arms(a, b, outcome):
    v = compare_arms(arm("A", _seeds(a)), arm("B", _seeds(b)))
    assert v.outcome == outcome
    assert v.winner == {"first": "A", "second": "B"}.get(outcome)
    if a and b:
        assert v.difference == pytest.approx(statistics.mean(a) - statistics.mean(b))


def test_ranking_groups_overlapping_ranges():
    arms = {"SGD": _seeds([0.50, 0.52]), "Adam": _seeds([0.70, 0.74], first=0.495), "RMSprop": _seeds([0.69, 0.71]),
            "Adagrad": _seeds([0.60, 0.66]), "Lion": []}
    r = rank_arms(arms)
    assert [a.label for a in r.arms] == ["Adam", "RMSprop", "Adagrad", "SGD"] and r.missing == ("Lion",)
    assert r.groups == (("Adam", "RMSprop"), ("Adagrad",), ("SGD",)) and r.leader is None and r.seeds == 2
    assert r.first_epoch_leader == "RMSprop" and r.first_epoch_clear is False  # 0.49..0.51 overlaps Adam's 0.495


def test_ranking_chains_overlaps_and_finds_a_clear_leader():
    r = rank_arms({"A": _seeds([0.80, 0.82], first=0.6), "B": _seeds([0.60, 0.66]), "C": _seeds([0.64, 0.70])})
    assert r.groups == (("A",), ("C", "B")) and r.leader == "A" and r.first_epoch_clear is True


def test_ranking_keeps_the_pairs_that_a_chain_of_overlaps_joins_but_seeds_separate():
    """Overlap does not carry over: A overlaps B and B overlaps C, yet A's worst seed can be above C's best."""
    r = rank_arms({"Adagrad": _seeds([0.478, 0.485, 0.492]), "RMSprop": _seeds([0.447, 0.48, 0.489]),
                   "Adam": _seeds([0.414, 0.43, 0.491]), "SGD": _seeds([0.404, 0.41, 0.43])})
    assert r.groups == (("Adagrad", "RMSprop", "Adam", "SGD"),) and r.leader is None
    assert r.apart_in_groups == (("Adagrad", "SGD"), ("RMSprop", "SGD"))
    assert rank_arms({"A": _seeds([0.5, 0.6]), "B": _seeds([0.55, 0.65])}).apart_in_groups == ()


def test_ranking_with_one_seed_has_no_groups_and_equal_means_keep_their_order():
    r = rank_arms({"SGD": _seeds([0.6]), "Adam": _seeds([0.7]), "Adagrad": _seeds([0.6])})
    assert [a.label for a in r.arms] == ["Adam", "SGD", "Adagrad"]
    assert r.groups is None and r.leader is None and r.first_epoch_clear is None and r.seeds == 1
    solo = rank_arms({"SGD": _seeds([0.6, 0.61])})
    assert solo.leader is None and solo.groups == (("SGD",),)
    empty = rank_arms({"SGD": None})
    assert empty.arms == () and empty.missing == ("SGD",) and empty.first_epoch_leader is None


def test_a_missing_seed_leaves_its_arm_out_of_the_comparison_not_the_others():
    r = rank_arms({"Adam": _seeds([0.70, 0.72, 0.74]), "SGD": _seeds([0.50, 0.52, 0.53]), "RMSprop": _seeds([0.90])})
    assert [a.label for a in r.arms] == ["RMSprop", "Adam", "SGD"] and r.single == ("RMSprop",) and r.seeds == 3
    assert r.groups == (("Adam",), ("SGD",)) and r.leader == "Adam"  # not RMSprop: one seed is never a win
    assert r.first_epoch_clear is None
    lone = rank_arms({"Adam": _seeds([0.70, 0.72]), "SGD": _seeds([0.5])})
    assert lone.groups == (("Adam",),) and lone.leader is None and lone.single == ("SGD",) and lone.seeds == 2


def test_ranking_gap_between_train_and_test():
    r = rank_arms({"A": [make_history([0.5, 0.6], train_accuracy=[0.6, 0.9])],
                   "B": [make_history([0.5, 0.6], train_accuracy=[0.6, 0.62])]})
    assert (r.widest_gap, r.narrowest_gap) == ("A", "B")


def test_ranking_gap_compares_sizes_whatever_the_direction():
    # Adam: training 2.1 points above test; SGD: test 4.0 points above training, the wider gap in size.
    r = rank_arms({"Adam": [make_history([0.5, 0.6], train_accuracy=[0.6, 0.621])],
                   "SGD": [make_history([0.5, 0.6], train_accuracy=[0.5, 0.56])],
                   "RMSprop": [make_history([0.5, 0.6], train_accuracy=[0.5, 0.63])]})
    sizes = {a.label: abs(a.gap_mean) for a in r.arms}
    assert (r.widest_gap, r.narrowest_gap) == (max(sizes, key=sizes.get), min(sizes, key=sizes.get)) == ("SGD", "Adam")


def test_compare_models_across_seeds():
    mlp = _seeds([0.45, 0.47], parameters=1000, dataset="cifar10")
    cnn = [make_history([0.5, 0.7, 0.72], seed=s, test_loss=[1.0, 0.9, 1.1 if s == 1 else 0.8], parameters=2500,
                        dataset="cifar10", model="cnn", train_time=[3.0] * 3) for s in (1, 2)]
    c = compare_models(mlp, cnn)
    assert c.verdict.outcome == "first" and c.verdict.winner == "CNN" and c.parameter_ratio == 2.5
    assert c.epoch_time_ratio == 3.0 and c.cnn_overfit_seeds == 1 and c.same_device
    assert [o.lowest_test_loss_epoch for o in c.cnn_overfitting] == [2, 3]
    missing = compare_models(None, cnn[0])
    assert missing.verdict.outcome == "missing" and missing.parameter_ratio is None and missing.same_device is None
    elsewhere = [make_history([0.5, 0.7, 0.72], seed=s, model="cnn", dataset="cifar10", device="cuda",
                              device_name="Test GPU", train_time=[1.0] * 3) for s in (1, 2)]
    apart = compare_models(mlp, elsewhere)  # CNN on a GPU, MLP on a CPU: their epoch times measure the machines
    assert apart.same_device is False and apart.epoch_time_ratio is None
    text = observed.model_comparison(apart)
    assert "not compared: the runs did not all run on the same device" in text and "as long" not in text


# ---------------------------------------------------------------------------------------------
# Times measured while other runs shared the machine
# ---------------------------------------------------------------------------------------------

def test_an_epoch_is_its_runs_own_unless_another_run_shared_its_device_or_the_host_was_oversubscribed():
    from helpers.findings.runs import epoch_contended
    assert epoch_contended({"sharing": 0, "load": 2.3, "cores": 2}) is False       # its own two threads and a kernel
    assert epoch_contended({"sharing": 1, "load": 1.0, "cores": 16}) is True       # another run on the same device
    assert epoch_contended({"sharing": 0, "load": 4.0, "cores": 2}) is True        # twice as many runnable as cores
    assert epoch_contended({"sharing": 0, "load": None, "cores": 2}) is False
    assert epoch_contended(None) is None and epoch_contended({}) is None           # not recorded


def test_a_run_timed_partly_alone_gives_the_median_of_its_own_epochs():
    times = [5.0, 1.0, 9.0, 1.2, 9.5]
    run = make_history([0.5] * 5, train_time=times, sharing=[0, 0, 1, 0, 2])
    s = run_summary(run)
    assert s.timing == "partly shared" and s.epochs_alone == 3
    assert s.median_epoch_time == statistics.median([5.0, 1.0, 1.2]) and s.times_comparable
    assert run_summary(make_history([0.5] * 2, sharing=[1, 1])).timing == "shared"
    assert run_summary(make_history([0.5] * 2, sharing=[0, 0])).timing == "alone"
    old = run_summary(make_history([0.5] * 2, train_time=[3.0, 1.0]))  # stored before conditions were recorded
    assert old.timing == "unknown" and old.times_comparable and old.median_epoch_time == 2.0


def test_times_of_runs_that_shared_the_machine_in_every_epoch_are_never_compared():
    cpu = make_history([0.5, 0.6], train_time=[10.0, 10.0], device="cpu", sharing=[0, 0])
    gpu_shared = make_history([0.5, 0.6], train_time=[1.0, 1.0], device="cuda", sharing=[1, 2])
    gpu_alone = make_history([0.5, 0.6], train_time=[1.0, 1.0], device="cuda", sharing=[0, 0])
    shared = compare_devices([cpu, gpu_shared])
    assert shared.speedup is None and [s.device for s in shared.shared] == ["cuda"]
    assert shared.accuracy_difference is not None  # accuracies are compared whatever the timing
    assert compare_devices([cpu, gpu_alone]).speedup == 10.0 and not compare_devices([cpu, gpu_alone]).shared
    resident = make_history([0.5, 0.6], train_time=[2.0, 2.0], device="cpu", pipeline="resident", load=[9.0, 9.0])
    pipelines = compare_pipelines([cpu, resident, gpu_alone])
    assert pipelines.gains == () and pipelines.shared == (("cpu", "resident"),)
    mlp = [make_history([0.4] * 2, seed=s, train_time=[1.0, 1.0], sharing=[1, 1]) for s in (1, 2)]
    cnn = [make_history([0.6] * 2, seed=s, model="cnn", dataset="cifar10", train_time=[4.0, 4.0]) for s in (1, 2)]
    models = compare_models(mlp, cnn)
    assert models.epoch_time_ratio is None and models.mlp.shared_runs == 2 and models.mlp.median_epoch_time is None
    mlp[0] = make_history([0.4] * 2, seed=1, train_time=[2.0, 2.0])  # one seed timed alone: its time stands for both
    assert compare_models(mlp, cnn).epoch_time_ratio == 2.0
