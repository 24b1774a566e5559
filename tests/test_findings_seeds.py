"""Findings across seeds: arms, verdicts, the ranking."""
import statistics

import pytest

from findings_factory import make_history
from helpers.findings import arm, compare_arms, compare_models, rank_arms
from helpers import observed


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
