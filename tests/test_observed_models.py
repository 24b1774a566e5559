"""Prose of 3.3 (learning-rate choices, MLP against CNN, overfitting): it never raises for any subset of runs, and it
says only what its finding supports; each fact once, signs as words."""
from itertools import product

import pytest

from findings_factory import make_history
from helpers import observed
from helpers.findings import choose_learning_rate, compare_models, overfitting, rank_arms
from observed_factory import RATE_SCENARIOS, cnn_and_chance_mlp, rate_run, seeded_runs, times_named


@pytest.mark.parametrize("scenario", RATE_SCENARIOS)
@pytest.mark.parametrize("reference", [0.1, 0.5, None])
def test_learning_rate_choice_never_raises(scenario, reference):
    c = choose_learning_rate(RATE_SCENARIOS[scenario], reference=reference)
    text = observed.learning_rate_choice(c)
    assert text.startswith("**Observed.** ")
    assert ("No candidate rate gave a usable" in text) == (c.chosen is None)
    assert ("lower than the MLP's" in text) == (c.relation == "lower")
    assert ("as well; of equal scores the smaller rate" in text) == bool(c.tied)
    assert ("only candidate" in text) == (scenario == "single")
    assert ("too slow" in text) == (scenario == "normal")  # 0.001: below the chosen 0.01, still rising


def test_rate_choice_text_names_the_chosen_rate_and_the_diverged_reference():
    runs = {0.1: rate_run([0.3, 0.1], 0.1, "diverged"), 0.01: rate_run([0.3, 0.5], 0.01)}
    text = observed.learning_rate_choice(choose_learning_rate(runs, reference=0.1))
    assert "The chosen rate is 0.01, lower than the MLP's 0.1," in text and "over the last 2 epochs" in text
    assert "At the MLP's rate the CNN diverged (non-finite loss) in epoch 2." in text and "Diverged: lr" not in text


@pytest.mark.parametrize("test_loss, train_loss, phrase", [
    ([1.0, 0.8, 1.1], [1.0, 0.8, 0.5], "the signature of overfitting"),
    ([1.0, 0.8, 0.7], [1.0, 0.8, 0.5], "lowest after its last epoch"),
    ([1.0, 0.8, 1.1], [1.0, 0.8, 0.9], "no sign of overfitting"),
    ([1.0, 0.8, 0.81], [1.0, 0.8, 0.5], "a rise of 1.2 %, within the 2 % that epoch-to-epoch noise can make"),
    ([1.0], [1.0], "no trend"),
    ([None], [None], "not finite"),
    ([1.0, 1.2, None], [1.0, 0.7, None], "non-finite after 2 epochs: the run diverged"),
])
def test_overfitting_text(test_loss, train_loss, phrase):
    status = "diverged" if test_loss[-1] is None and len(test_loss) > 1 else "completed"
    text = observed.overfitting(overfitting(make_history([0.5] * len(test_loss), test_loss=test_loss,
                                                         train_loss=train_loss, status=status)))
    assert phrase in text and text.startswith(("The CNN's", "With one epoch"))
    assert ("signature of overfitting" in text) == (phrase == "the signature of overfitting")


@pytest.mark.parametrize("mlp_seeds, cnn_seeds, diverged", list(product([0, 1, 3], [0, 1, 3], [None, 2])))
def test_model_comparison_never_raises(mlp_seeds, cnn_seeds, diverged):
    c = compare_models(seeded_runs([0.45, 0.46, 0.47][:mlp_seeds], "mlp"), seeded_runs([0.6, 0.65, 0.7][:cnn_seeds], "cnn", diverged))
    text = observed.model_comparison(c)
    assert text.startswith("**Observed")
    assert "GPU" not in text  # every run here is recorded on the CPU
    assert ("single seed" in text.lower()) == (c.verdict.outcome == "single seed")
    assert ("is ahead by" in text) == (c.verdict.winner is not None)
    assert ("indistinguishable" in text) == (c.verdict.outcome == "indistinguishable")


def test_a_chosen_rate_at_or_above_the_reference_says_no_lower_rate_was_needed():
    runs = {0.1: rate_run([0.5, 0.6, 0.62], 0.1), 0.01: rate_run([0.4, 0.5, 0.55], 0.01),
            0.001: rate_run([0.2, 0.3, 0.35], 0.001)}
    text = observed.learning_rate_choice(choose_learning_rate(runs, reference=0.1))
    assert ("The chosen rate is 0.1, equal to the MLP's 0.1, with a mean validation accuracy of 57.3 % over the last 3 "
            "epochs. Every lower candidate (0.01 and 0.001) scored below it, so in the sweep (one seed per rate) the "
            "CNN did not need a lower rate than the MLP's.") in text  # other seeds may diverge at it (3.3, 30 epochs)
    unknown = observed.learning_rate_choice(choose_learning_rate({**runs, 0.001: None}, reference=0.1))
    assert "did not need" not in unknown  # a lower rate without a run might have scored better
    assert "did not need" not in observed.learning_rate_choice(choose_learning_rate(runs, reference=1.0))  # lower


def test_a_printed_tie_at_chance_is_no_rate_that_fell_back():
    c = choose_learning_rate({0.1: rate_run([0.1504] * 3, 0.1), 0.01: rate_run([0.15] * 3, 0.01)})
    text = observed.learning_rate_choice(c)
    assert c.chosen == 0.01 and c.at_chance == (0.1, 0.01) and "fell back" not in text
    assert "the CNN did not learn at any candidate rate" in text


def test_rate_choice_names_a_rate_at_chance_once_even_when_it_is_the_smallest():
    runs = {0.1: rate_run([0.3, 0.4, 0.45], 0.1), 0.01: rate_run([0.3, 0.5, 0.6], 0.01),
            0.001: rate_run([0.10, 0.11, 0.12], 0.001)}
    text = observed.learning_rate_choice(choose_learning_rate(runs, reference=0.1))
    assert text == ("**Observed.** The chosen rate is 0.01, lower than the MLP's 0.1, with a mean validation accuracy of "
                    "46.7 % over the last 3 epochs. At the MLP's rate the CNN reached 38.3 %. Stayed at chance (never "
                    "above 15 % on validation): lr 0.001; it was still rising at the end, too slow for 3 epochs.")
    two = {0.1: runs[0.1], 0.01: runs[0.01], 0.003: rate_run([0.10, 0.10, 0.10], 0.003), 0.001: runs[0.001]}
    text = observed.learning_rate_choice(choose_learning_rate(two, reference=0.1))
    assert "lr 0.003 and 0.001; the smallest was still rising at the end, too slow for 3 epochs." in text
    assert times_named(text, "0.001") == times_named(text, "0.003") == 1


def test_rate_choice_names_the_reference_rate_once_whatever_its_state():
    at_chance = {0.1: rate_run([0.1, 0.11], 0.1), 0.01: rate_run([0.3, 0.5], 0.01)}
    text = observed.learning_rate_choice(choose_learning_rate(at_chance, reference=0.1))
    assert "At the MLP's rate the CNN stayed at chance (10.5 %, never above 15 % on validation)." in text
    assert "Stayed at chance" not in text and times_named(text, "0.1") == 1
    smallest = {0.3: rate_run([0.3, 0.5], 0.3), 0.1: rate_run([0.2, 0.3], 0.1)}
    text = observed.learning_rate_choice(choose_learning_rate(smallest, reference=0.1))
    assert "At the MLP's rate the CNN reached 25.0 %." in text and "smallest" not in text and times_named(text, "0.1") == 1
    missing = {0.1: None, 0.01: rate_run([0.3, 0.5], 0.01)}
    text = observed.learning_rate_choice(choose_learning_rate(missing, reference=0.1))
    assert "The CNN run at the MLP's rate is missing." in text and "Missing or without" not in text


def test_model_comparison_reads_signs_as_words_and_says_each_fact_once():
    assert observed.model_comparison(cnn_and_chance_mlp()) == (
        "**Observed** (on Test CPU, 2 threads). The CNN reached 70.0 % (same for both seeds) test accuracy, the MLP "
        "10.0 % (same for both seeds). The MLP stayed at chance (never above 15 % test accuracy) with both seeds. "
        "The CNN is ahead by 60.0 points (means), beyond the range of every seed of the other. The CNN has 3.0x the "
        "MLP's parameters. An epoch took 3.00 s for the CNN and 1.00 s for the MLP (3.0x as long). At the end the CNN "
        "fits its training data at 68.0 % (running average over the last epoch), 2.0 points below its test accuracy; "
        "the MLP's training accuracy is 0.4 points above its test accuracy (means over the seeds). The CNN's test loss "
        "is lowest after its "
        "last epoch for every seed: no sign of overfitting in the losses yet.")


@pytest.mark.parametrize("seeds, train_loss, phrase", [
    ((1, 2), None, "in both seeds; its test loss is lowest in epoch 2 for every seed."),
    ((1, 2), [1.0, 1.1, 1.2], "in neither seed; its test loss is lowest in epoch 2 for every seed."),
    ((1, 2, 3), lambda s: None if s == 1 else [1.0, 1.1, 1.2], "in 1 of 3 seeds; its test loss"),
    ((1, 2, 3), [1.0, 1.1, 1.2], "in none of the 3 seeds; its test loss"),
])
def test_model_comparison_counts_overfitting_seeds_in_words(seeds, train_loss, phrase):
    text = observed.model_comparison(cnn_and_chance_mlp([1.0, 0.8, 0.9], train_loss, seeds))
    assert "signature of overfitting (test loss more than 2 % above its lowest at the end, training loss down) " \
        + phrase in text


@pytest.mark.parametrize("accuracy, phrase", [
    ([0.40, 0.52, 0.55, 0.572], "Yet its test accuracy still rose, from 52.0 % in epoch 2 to 57.2 % at the end: the "
                                "rising test loss is more confident mistakes, not more of them."),
    ([0.40, 0.52, 0.50, 0.48], "Its test accuracy fell too, from 52.0 % in epoch 2 to 48.0 % at the end."),
    ([0.40, 0.52, 0.53, 0.5204], "Its test accuracy ended where it stood then, at 52.0 %."),
])
def test_overfitting_says_what_the_test_accuracy_did_after_the_lowest_test_loss(accuracy, phrase):
    o = overfitting(make_history(accuracy, test_loss=[1.0, 0.8, 0.9, 1.1], train_loss=[1.5, 1.0, 0.7, 0.5]))
    assert observed.overfitting(o).endswith("on the test images it gets wrong. " + phrase)


@pytest.mark.parametrize("finals, phrase", [
    ([0.60, 0.62, 0.63], "Yet in each of them the test accuracy still rose after the lowest test loss, by 5.0 to 8.0 "
                         "points: the rising test loss is more confident mistakes, not more of them."),
    ([0.50, 0.52, 0.50], "In each of them the test accuracy fell too after the lowest test loss, by 3.0 to 5.0 points."),
    ([0.60, 0.52, 0.57], "After the lowest test loss the test accuracy rose in 2 and fell in 1 of these 3 seeds."),
    ([0.60, 0.55, 0.57], "After the lowest test loss the test accuracy rose in 2 and stayed level in 1 of these 3 seeds."),
    ([0.5502, 0.55, 0.5504], "In each of them the test accuracy ended where it stood at the lowest test loss."),
    ([0.5506, 0.62, 0.60], "Yet in each of them the test accuracy still rose after the lowest test loss, by 0.1 to 7.0 "
                           "points: the rising test loss is more confident mistakes, not more of them."),  # as printed
])
def test_overfitting_over_seeds_says_what_their_test_accuracy_did(finals, phrase):
    cnn = [make_history([0.40, 0.55, 0.56, final], test_loss=[1.0, 0.8, 0.9, 1.1], train_loss=[1.5, 1.0, 0.7, 0.5],
                        seed=seed, dataset="cifar10", model="cnn") for seed, final in enumerate(finals, 1)]
    mlp = [make_history([0.40, 0.45, 0.46, 0.47], seed=seed, dataset="cifar10") for seed in (1, 2, 3)]
    text = observed.model_comparison(compare_models(mlp, cnn))
    assert "in all 3 seeds; its test loss is lowest in epoch 2 for every seed." in text and text.endswith(phrase)


def test_jagged_curves_are_named_with_their_largest_epoch_to_epoch_fall():
    mlp = make_history([0.2, 0.3, 0.40, 0.32, 0.45, 0.44], dataset="cifar10")        # second half: falls 8 points
    cnn = make_history([0.1, 0.3, 0.45, 0.56, 0.565, 0.57], dataset="cifar10", model="cnn")  # steep, never falls
    text = observed.model_comparison(compare_models(mlp, cnn))
    assert ("In the second half of training the test accuracy fell by up to 8.0 points (MLP) from one epoch to the "
            "next and climbed back, so a single epoch's accuracy, such as the final one compared here, is a noisy "
            "reading.") in text
    small = observed.model_comparison(compare_models(make_history([0.2, 0.3, 0.4, 0.371, 0.41], dataset="cifar10"),
                                                     cnn))
    assert "noisy reading" not in small  # 2.9 points: below JAGGED
    collapse = observed.model_comparison(compare_models(make_history([.1, .5, .6, .65, .1, .1], dataset="cifar10"),
                                                        cnn))
    assert "noisy reading" not in collapse and "the MLP 10.0 %" in collapse
    ranking = observed.optimizer_ranking(rank_arms({"SGD": [mlp], "Adam": seeded_runs([0.6, 0.62])}))
    assert "fell by up to 8.0 points (SGD) from one epoch" in ranking
    both = observed.optimizer_ranking(rank_arms({"SGD": [mlp, make_history([0.2, 0.3, 0.4, 0.5, 0.41, 0.5], seed=2)]}))
    assert ("fell by up to 9.0 points (SGD) from one epoch to the next and climbed back, the largest over the seeds, "
            "so a single epoch's accuracy, such as the final one, is a noisy reading.") in both


def test_one_overfitting_seed_of_several_is_named_as_that_seed():
    cnn = [make_history([0.40, 0.55, 0.56, 0.60], test_loss=[1.0, 0.8, 0.9, 1.1] if seed == 1 else None,
                        train_loss=[1.5, 1.0, 0.7, 0.5], seed=seed, dataset="cifar10", model="cnn") for seed in (1, 2)]
    mlp = [make_history([0.40, 0.45, 0.46, 0.47], seed=seed, dataset="cifar10") for seed in (1, 2)]
    text = observed.model_comparison(compare_models(mlp, cnn))
    assert text.endswith("in 1 of 2 seeds; its test loss is lowest in epochs 2 and 4 (by seed). Yet that seed's test "
                         "accuracy still rose, from 55.0 % in epoch 2 to 60.0 % at the end: the rising test loss is more "
                         "confident mistakes, not more of them.")


def test_a_chosen_rate_at_chance_does_not_say_no_rate_learned_when_one_did_and_fell_back():
    runs = {0.001: rate_run([0.11, 0.12, 0.12, 0.13], 0.001), 0.01: rate_run([0.35, 0.10, 0.10, 0.10], 0.01)}
    text = observed.learning_rate_choice(choose_learning_rate(runs))
    assert "0.01 got above it, then fell back by its last epochs." in text and "did not learn" not in text
    flat = {0.001: rate_run([0.11, 0.12, 0.12], 0.001), 0.01: rate_run([0.1, 0.1, 0.1], 0.01)}
    assert "the CNN did not learn at any candidate rate" in observed.learning_rate_choice(choose_learning_rate(flat))


def test_overfitting_over_seeds_counts_only_the_judged_seeds_where_one_diverged():
    up, down, cnn = [1.0, 0.8, 0.9], [1.0, 0.8, 0.6], dict(model="cnn", dataset="cifar10")
    seeds = [make_history([0.5, 0.6, 0.6], test_loss=up, train_loss=down, seed=s, **cnn) for s in (1, 2)]
    seeds.append(make_history([0.5, 0.6, 0.1], test_loss=[0.5, 0.7, None], train_loss=[1.0, 0.9, None],
                              status="diverged", seed=3, **cnn))
    text = observed.model_comparison(compare_models([make_history([0.5, 0.55, 0.56], seed=s) for s in (1, 2, 3)], seeds))
    assert ("in both judged seeds (1 of 3 seeds diverged, which is not overfitting); its test loss is lowest in epoch 2 "
            "for every judged seed.") in text


def test_diverged_seeds_say_where_and_the_seeds_that_trained_are_compared_apart():
    """3.3 on real CIFAR-10 (an H200, 30 epochs): at the rate chosen on seed 1, seeds 2 and 3 of the CNN diverged in
    epochs 24 and 25. The verdict over all seeds stays (a failure is part of the outcome); the seeds that trained
    are compared as the facts they are, and the training fit is theirs, not the diverged runs' last batches'."""
    mlp = seeded_runs([0.432, 0.444, 0.458], "mlp")
    cnn = seeded_runs([0.619, 0.5, 0.5], "cnn", diverged_seed=2)
    cnn[2] = make_history([0.3] * 3 + [0.1], seed=3, status="diverged", test_loss=[1.0] * 3 + [None],
                          train_loss=[1.0] * 3 + [None], train_accuracy=[0.4] * 3 + [0.1], dataset="cifar10",
                          model="cnn")
    c = compare_models(mlp, cnn)
    assert c.cnn.diverged_seeds == (2, 3) and c.cnn.diverged_epochs == (2, 4) and c.trained_above == "CNN"
    assert c.cnn.gap_mean == pytest.approx(cnn[0].records[-1]["train_accuracy"] - 0.619)  # seed 1's fit alone
    text = observed.model_comparison(c)
    assert ("The CNN diverged with seeds 2 and 3 (its loss became non-finite in epochs 2 and 4), at the rate 0.1 "
            "chosen on its first seed (seed 1), which trained to the end: at that rate the CNN is at the edge of "
            "stability.") in text
    assert "indistinguishable" in text  # over all seeds, as before
    assert "Of the seeds that trained to the end, the CNN's one seed (61.9 %) lies above the MLP's 3 seeds (43.2 % to " \
           "45.8 %)." in text
    assert "(means over the seeds that trained to the end)" in text
    # no diverged seed: no such sentence; trained seeds that overlap: none either
    assert compare_models(mlp, seeded_runs([0.62, 0.63, 0.64], "cnn")).trained_above is None
    assert compare_models(mlp, seeded_runs([0.44, 0.4, 0.45], "cnn", diverged_seed=2)).trained_above is None
