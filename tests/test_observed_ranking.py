"""Prose of 3.4 (the sweep, the optimizers ranked across seeds, verdicts): it never raises for any subset of runs,
and it says only what its finding supports."""

import pytest

from findings_factory import make_history
from helpers import observed
from helpers.findings import compare_arms, arm, compare_devices, compare_models, rank_arms, sweep
from observed_factory import rate_run, seeded_runs


@pytest.mark.parametrize("seeds", [1, 2, 3])
@pytest.mark.parametrize("arms", [["SGD"], ["SGD", "Adam"], ["SGD", "Adam", "RMSprop", "Adagrad"], []])
@pytest.mark.parametrize("missing", [False, True])
def test_optimizer_ranking_and_sweep_never_raise(seeds, arms, missing):
    finals = {"SGD": 0.55, "Adam": 0.70, "RMSprop": 0.69, "Adagrad": 0.60}
    histories = {opt: seeded_runs([finals[opt] + 0.01 * s for s in range(seeds)]) for opt in arms}
    if missing:
        histories["Lion"] = None
    r = rank_arms(histories)
    text = observed.optimizer_ranking(r)
    assert text.startswith("**Observed.** ")
    assert ("Single seed" in text) == (seeds == 1 and len(r.arms) > 1)
    assert ("o runs for Lion" in text) == missing
    assert ("leads: its worst seed" in text) == (r.leader is not None)
    runs = {(opt, lr): rate_run([0.2, finals[opt] * lr * 10], lr) for opt in arms for lr in (0.1, 0.01)}
    sweep_text = observed.optimizer_sweep(sweep(runs))
    assert sweep_text.startswith("**Observed.** ")
    assert observed.arms_table(r.arms).count("\n") == len(r.arms) + 1


def test_ranking_text_groups_and_leader():
    close = rank_arms({"SGD": seeded_runs([0.60, 0.64]), "Adam": seeded_runs([0.62, 0.66])})
    assert "cannot be told apart (their ranges overlap): Adam and SGD." in observed.optimizer_ranking(close)
    groups = observed.optimizer_ranking(rank_arms({"SGD": seeded_runs([0.50, 0.52]), "Adam": seeded_runs([0.62, 0.66]),
                                                   "RMSprop": seeded_runs([0.60, 0.63])}))
    assert "At 2 seeds their ranges separate, best first: Adam and RMSprop (overlapping: cannot be told apart), " \
           "then SGD." in groups
    clear = rank_arms({"SGD": seeded_runs([0.50, 0.52]), "Adam": seeded_runs([0.62, 0.66])})
    assert "Adam leads: its worst seed is above every other optimizer's best seed." in observed.optimizer_ranking(clear)


def test_ranking_text_with_a_missing_seed_compares_the_others():
    text = observed.optimizer_ranking(rank_arms({"Adam": seeded_runs([0.70, 0.72, 0.74]), "SGD": seeded_runs([0.50, 0.52, 0.53]),
                                                 "RMSprop": seeded_runs([0.90]), "Adagrad": seeded_runs([0.60])}))
    assert "Among the optimizers with several seeds, Adam leads: its worst seed is above every other one's best " \
           "seed." in text
    assert "RMSprop and Adagrad have a single seed: there is no spread to compare them against." in text
    assert "Single seed:" not in text and "RMSprop leads" not in text
    one = observed.optimizer_ranking(rank_arms({"Adam": seeded_runs([0.70, 0.72]), "SGD": seeded_runs([0.50, 0.52]),
                                                "RMSprop": seeded_runs([0.71, 0.73]), "Adagrad": seeded_runs([0.40])}))
    assert "At 2 seeds their ranges separate, best first: RMSprop and Adam (overlapping: cannot be told apart), " \
           "then SGD. Adagrad has a single seed: there is no spread to compare it against." in one


def test_a_single_seed_first_epoch_leader_has_no_mean():
    r = rank_arms({"Adam": seeded_runs([0.70, 0.72, 0.74]), "SGD": seeded_runs([0.50, 0.52]),
                   "RMSprop": [make_history([0.7, 0.72, 0.6], dataset="cifar10", model="cnn")]})
    assert "After the first epoch RMSprop has the highest test accuracy, 70.0 %." in observed.optimizer_ranking(r)


def test_verdict_texts():
    a, b = arm("A", seeded_runs([0.7, 0.72])), arm("B", seeded_runs([0.6, 0.62]))
    assert observed.verdict(compare_arms(a, b)) == "A is ahead by 10.0 points (means), beyond the range of every seed of the other."
    assert "A has a single seed" in observed.verdict(compare_arms(arm("A", seeded_runs([0.7])), b))
    assert "no comparison" in observed.verdict(compare_arms(arm("A", None), b))


def test_sweep_text_in_the_singular_and_plural():
    one = {("SGD", 0.01): rate_run([0.3, 0.5], 0.01), ("Adam", 0.001): rate_run([0.3, 0.6], 0.001),
           ("Adam", 0.01): rate_run([0.3, 0.4], 0.01)}
    assert "Adam chose a small rate (0.003 or below), as its per-parameter" in observed.optimizer_sweep(sweep(one))
    alone = observed.optimizer_sweep(sweep({("Adam", 0.001): one["Adam", 0.001]}))
    assert "small rate" not in alone  # its only candidate: no choice to explain
    assert observed.optimizer_sweep(sweep({("SGD", 0.01): one["SGD", 0.01]})).startswith("**Observed.** Chosen rate: SGD 0.01.")
    two = {**one, ("RMSprop", 0.001): rate_run([0.3, 0.6], 0.001), ("RMSprop", 0.1): rate_run([0.1, 0.1], 0.1)}
    text = observed.optimizer_sweep(sweep(two))
    assert "Adam and RMSprop chose small rates (0.003 or below), as their per-parameter" in text
    assert "Stuck at chance (never above 15 % on the validation split): RMSprop at 0.1." in text
    assert "No run of the sweep diverged." in text
    assert "No stored run of the sweep diverged." in observed.optimizer_sweep(sweep({**two, ("SGD", 0.1): None}))
    learned = {key: run for key, run in two.items() if key != ("RMSprop", 0.1)}
    assert "No run stayed at chance." in observed.optimizer_sweep(sweep(learned))
    scored = "Of the runs scored on the validation split, none stayed at chance."
    assert scored in observed.optimizer_sweep(sweep({**learned, ("SGD", 0.1): None}))
    assert scored in observed.optimizer_sweep(sweep({**learned, ("SGD", 0.1): rate_run([0.3, 0.1], 0.1, "diverged")}))
    unscored = make_history([0.1, 0.1], lr=0.1, dataset="cifar10", model="cnn")  # no validation split: not judged
    assert scored in observed.optimizer_sweep(sweep({**learned, ("SGD", 0.1): unscored}))


def test_sweep_names_each_chosen_rate_once_and_each_optimizer_once_per_list():
    runs = {("SGD", 0.1): rate_run([0.3, 0.5], 0.1), ("SGD", 0.01): rate_run([0.1, 0.12], 0.01),
            ("SGD", 0.001): rate_run([0.1, 0.11], 0.001), ("Adam", 0.1): rate_run([0.1, 0.1], 0.1),
            ("Adam", 0.001): rate_run([0.3, 0.6], 0.001), ("RMSprop", 0.01): rate_run([0.3, 0.4], 0.01),
            ("RMSprop", 0.001): rate_run([0.3, 0.6], 0.001)}
    assert observed.optimizer_sweep(sweep(runs)) == (
        "**Observed.** Chosen rates: SGD 0.1, Adam 0.001 and RMSprop 0.001. No run of the sweep diverged. Stuck at chance "
        "(never above 15 % on the validation split): SGD at 0.01 and 0.001; Adam at 0.1. Adam and RMSprop chose small "
        "rates (0.003 or below), as their per-parameter step normalisation predicts.")


def test_ranking_calls_the_gap_widest_by_size_and_says_its_direction_in_words():
    r = rank_arms({"Adam": [make_history([0.5, 0.6], train_accuracy=[0.6, 0.621])],
                   "SGD": [make_history([0.5, 0.6], train_accuracy=[0.5, 0.56])]})
    assert ("The final gap between training accuracy (running average over the last epoch) and test accuracy is "
            "widest for SGD (4.0 points, test above training) and narrowest for Adam (2.1 points, training above "
            "test).") in observed.optimizer_ranking(r)


def test_ranking_names_a_group_of_overlapping_ranges_once():
    text = observed.optimizer_ranking(rank_arms({"SGD": seeded_runs([0.50, 0.52]), "Adam": seeded_runs([0.62, 0.66]),
                                                 "RMSprop": seeded_runs([0.60, 0.63])}))
    assert ("At 2 seeds their ranges separate, best first: Adam and RMSprop (overlapping: cannot be told apart), "
            "then SGD.") in text
    assert text.count("Adam and RMSprop") == 1 and "Separated by" not in text
    led = observed.optimizer_ranking(rank_arms({"A": seeded_runs([0.8, 0.82]), "B": seeded_runs([0.6, 0.62]),
                                                "C": seeded_runs([0.5, 0.52]), "D": seeded_runs([0.51, 0.55])}))
    assert ("A leads: its worst seed is above every other optimizer's best seed. Behind it their ranges separate, "
            "best first: B, then D and C (overlapping: cannot be told apart).") in led


def test_ranking_never_calls_a_pair_that_seeds_separate_indistinguishable():
    """Seen on real CIFAR-10: four optimizers chained by overlaps, yet SGD's best seed below two others' worst."""
    chain = rank_arms({"Adagrad": seeded_runs([0.478, 0.485, 0.492]), "RMSprop": seeded_runs([0.447, 0.48, 0.489]),
                       "Adam": seeded_runs([0.414, 0.43, 0.491]), "SGD": seeded_runs([0.404, 0.41, 0.43])})
    text = observed.optimizer_ranking(chain)
    assert "cannot be told apart (their ranges overlap)" not in text
    assert ("At 3 seeds, the ranges of Adagrad, RMSprop, Adam and SGD overlap in a chain, yet SGD's best seed is "
            "below the worst of Adagrad and RMSprop; every other pair of them cannot be told apart.") in text
    behind = observed.optimizer_ranking(rank_arms({"A": seeded_runs([0.8, 0.82]), "B": seeded_runs([0.60, 0.66]),
                                                   "C": seeded_runs([0.57, 0.62]), "D": seeded_runs([0.55, 0.58]),
                                                   "E": seeded_runs([0.40, 0.45])}))
    assert ("Behind it their ranges separate, best first: B, C and D (overlapping in a chain, yet D's best seed is "
            "below B's worst), then E.") in behind


def test_one_optimizer_is_described_never_ranked():
    text = observed.optimizer_ranking(rank_arms({"Adam": [make_history([0.3, 0.5], seed=s) for s in (1, 2)]}))
    assert text.startswith("**Observed.** Adam reached 50.0 % (same for both seeds) final test accuracy.")
    assert not any(word in text for word in ("rank", "leads", "top-", "apart", "other optimizer", "separate"))
    two = observed.optimizer_ranking(rank_arms({"Adam": [make_history([0.3, 0.5])], "SGD": [make_history([0.2, 0.4])]}))
    assert "Final test accuracy ranks Adam" in two
    assert "The best test accuracy (of 2 epochs) came for Adam in epoch 2; SGD in epoch 2." in two


def test_the_ranking_says_where_each_optimizer_peaked_and_how_far_it_slid_back():
    """Real CIFAR-10, 30 epochs: Adam at 0.001 led from epoch 1, peaked in epoch 6 and ended below SGD."""
    adam = make_history([0.518, 0.63, 0.654, 0.64, 0.62, 0.615], dataset="cifar10", model="cnn", optimizer="Adam")
    sgd = make_history([0.363, 0.5, 0.58, 0.6, 0.62, 0.618], dataset="cifar10", model="cnn")
    text = observed.optimizer_ranking(rank_arms({"SGD": [sgd], "Adam": [adam]}))
    assert ("The best test accuracy (of 6 epochs) came for SGD in epoch 5; Adam in epoch 3, 3.9 points above its "
            "final accuracy.") in text
    seeds = [make_history([0.5, 0.654, 0.615], seed=1), make_history([0.5, 0.66, 0.62], seed=2)]
    alone = observed.optimizer_ranking(rank_arms({"Adam": seeds}))
    assert ("The best test accuracy of Adam came in epoch 2 for every seed, on average 4.0 points above its final "
            "accuracy, of 3 epochs.") in alone


def test_a_tie_as_printed_is_no_superlative():
    tied = rank_arms({"SGD": [make_history([0.2, 0.5], train_accuracy=[0.2, 0.55])],
                      "Adam": [make_history([0.20004, 0.6], train_accuracy=[0.2, 0.650001])]})
    text = observed.optimizer_ranking(tied)
    assert "After the first epoch Adam and SGD share the highest test accuracy, 20.0 %." in text
    assert "widest" not in text  # both gaps print as 5.0 points: no widest, no narrowest


def test_a_single_seed_on_one_side_is_named():
    one = compare_arms(arm("CNN", [make_history([0.5, 0.7])]), arm("MLP", seeded_runs([0.4, 0.45], model="mlp")))
    assert observed.verdict(one, article="the ").startswith("The CNN has a single seed: there is no spread")
    both = compare_arms(arm("CNN", [make_history([0.5, 0.7])]), arm("MLP", [make_history([0.5, 0.4])]))
    assert observed.verdict(both).startswith("Single seed: there is no spread")


def test_what_prints_the_same_is_never_called_apart_or_different():
    """Seeds compared as printed (one decimal of a percent), ties of the gap named together, 1.00x is equally fast."""
    cnn, mlp = seeded_runs([0.4131, 0.4131, 0.4132]), seeded_runs([0.4128, 0.4129, 0.4129], model="mlp")
    assert compare_models(mlp, cnn).verdict.outcome == "indistinguishable"  # 41.3 % against 41.3 %
    assert rank_arms({"Adam": seeded_runs([0.45, 0.4130, 0.4131]), "SGD": seeded_runs([0.4128, 0.4129, 0.4129])}).leader is None
    gaps = {name: [make_history([test], train_accuracy=[train], seed=seed) for seed in (1, 2)]
            for name, test, train in (("A", 0.60, 0.6501), ("B", 0.59, 0.6399), ("C", 0.58, 0.59))}
    assert ("widest for A (5.0 points, training above test) and B (5.0 points, training above test) and narrowest "
            "for C") in observed.optimizer_ranking(rank_arms(gaps))
    same = [make_history([0.9, 0.95, 0.96, 0.97], train_time=[1.004] * 4),
            make_history([0.9, 0.95, 0.96, 0.97], train_time=[1.0] * 4, device="cuda")]
    text = observed.devices(compare_devices(same))
    assert "the GPU trained equally fast as the CPU" in text and "compressed" not in text


def test_seeds_that_diverged_are_named_in_the_ranking_and_left_out_of_the_slide():
    """Real CIFAR-10, 30 epochs (H200): SGD at its chosen 0.1 trained to the end with seed 1 and diverged with seeds 2
    and 3; the ranking names them as 3.3 does, and how far SGD slid back is its trained seed's, not a failure's."""
    sgd = [make_history([0.3, 0.62, 0.6], seed=1),
           make_history([0.3, 0.55, 0.1], seed=2, status="diverged"),
           make_history([0.3, 0.58], seed=3, status="diverged")]
    adam = [make_history([0.5, 0.63, 0.64], seed=s, optimizer="Adam", lr=0.001) for s in (1, 2, 3)]
    text = observed.optimizer_ranking(rank_arms({"SGD": sgd, "Adam": adam}))
    assert ("SGD diverged with seeds 2 and 3 (its loss became non-finite in epochs 3 and 2), at the rate 0.1 chosen on "
            "its first seed (seed 1), which trained to the end: at that rate SGD is at the edge of stability.") in text
    assert "The best test accuracy (of 3 epochs, or until a run diverged) came for" in text
    assert "SGD in epochs 2, 2 and 2 (by seed)" in text or "SGD in epoch 2 for every seed" in text
    assert "above its final accuracy" not in text.split("SGD in epoch")[-1]  # seed 1 slid 2 points: not notable
    slid = [make_history([0.3, 0.7, 0.6], seed=1), make_history([0.3, 0.55, 0.1], seed=2, status="diverged")]
    text = observed.optimizer_ranking(rank_arms({"SGD": slid, "Adam": adam}))
    assert "10.0 points above its final accuracy (diverged seeds left out)" in text  # not (10 + 45) / 2
