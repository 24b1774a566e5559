"""Prose renderers: they never raise for any subset of runs, and they say only what their finding supports."""
import re
from itertools import combinations, product

import pytest

from findings_factory import SHEET, make_history
from helpers import observed
from helpers.findings import (choose_learning_rate, compare_arms, arm, compare_devices, compare_models,
                              compare_pipelines, overfitting, rank_arms, run_summary, step_effect, sweep)
from helpers.gradients import make_problem

NO_GPU = "**There is no GPU run in this report** (none was configured, or none could run here), so the plot " \
         "shows the CPU run only; nothing here is a GPU measurement."


def _run(kind: str, device: str, pipeline: str = "template"):
    """A run of a kind: absent, normal, fast, slow, diverged, one epoch, or filed as CUDA but recorded on the CPU."""
    n, time = 5, {"cpu": 2.0, "cuda": 0.5}[device]
    if kind == "absent":
        return None
    if kind == "slow":
        time = 4.0
    if kind == "diverged":
        return make_history([0.9, 0.1], test_loss=[1.0, None], train_loss=[1.0, None], status="diverged", device=device,
                            pipeline=pipeline, train_time=[time] * 2)
    if kind == "one epoch":
        n = 1
    recorded = "cpu" if kind == "recorded on cpu" else device
    return make_history([0.9, 0.95, 0.96, 0.97, 0.965][:n], train_time=[time] * n, device=recorded, pipeline=pipeline)


def _no_cuda(histories) -> bool:
    return all(h is None or h.environment["device"] != "cuda" for h in histories)


@pytest.mark.parametrize("cpu, gpu", list(product(["absent", "normal", "diverged", "one epoch"],
                                             ["absent", "normal", "slow", "diverged", "one epoch", "recorded on cpu"])))
def test_devices_never_raise_and_never_call_a_cpu_run_gpu(cpu, gpu):
    runs = {("cpu", "template"): _run(cpu, "cpu"), ("cuda", "template"): _run(gpu, "cuda")}
    c = compare_devices(runs)
    text = observed.devices(c)
    assert text.startswith("**Observed.** ")
    if _no_cuda(runs.values()):
        assert "GPU" not in text.replace(NO_GPU, "")
    assert ("faster" in text) == bool(c.speedup and c.speedup > 1)
    assert ("slower" in text) == bool(c.speedup and c.speedup < 1)
    assert ("within that epoch-to-epoch noise" in text) == bool(c.within_noise and c.accuracy_difference)
    assert ("accuracies are identical" in text) == (c.accuracy_difference == 0 and c.cpu.status == c.gpu.status
                                                    == "completed")
    assert ("no measure of floating-point noise" in text) == ("diverged" in (cpu, gpu) and c.cpu is not None
                                                              and c.gpu is not None)
    assert ("compressed to the left" in text) == bool(c.within_noise and c.speedup > 1)


def test_devices_text_of_identical_accuracies_and_of_one_test_image():
    flat = [0.5, 0.9, 0.9, 0.9, 0.9, 0.9]  # the CPU's last five epochs do not move: a band of 0
    cpu = make_history(flat, device="cpu", test_images=10_000, train_time=[2.0] * 6)
    same = observed.devices(compare_devices([cpu, make_history(flat, device="cuda", train_time=[0.5] * 6)]))
    assert ("The test accuracies are identical after every one of the 6 epochs (final: 90.00 %): whatever "
            "floating-point rounding") in same and "compressed to the left" in same
    once = observed.devices(compare_devices([cpu, make_history([0.51] + flat[1:], device="cuda", train_time=[0.5] * 6)]))
    assert "The final accuracies are identical, 90.00 %: whatever floating-point" in once  # epoch 1 differed
    gpu = make_history(flat[:-1] + [0.9001], device="cuda", train_time=[0.5] * 6)
    c = compare_devices([cpu, gpu])
    assert c.within_noise and c.one_image == 1e-4
    text = observed.devices(c)
    assert ("differ by 0.01 points (one test image); over its last 5 epochs the CPU run alone scatters around its "
            "trend within 0.00 points, and no difference is finer than one test image, so the difference is within") in text
    unknown = compare_devices([make_history(flat, device="cpu", train_time=[2.0] * 6), gpu])
    assert unknown.one_image is None and unknown.within_noise is False  # without the test count: beyond a band of 0


def test_the_device_comparison_takes_the_pipeline_that_ran():
    runs = [_run("normal", "cpu", "resident"), _run("normal", "cuda", "resident")]
    c = compare_devices(runs)
    assert c.pipeline == "resident" and c.cpu is not None and c.gpu is not None
    assert compare_devices(runs + [_run("normal", "cpu")]).pipeline == "template"  # the sheet's, where it ran


def test_devices_text_of_one_epoch_and_of_a_slower_gpu():
    one = observed.devices(compare_devices({"a": _run("one epoch", "cpu"), "b": make_history([0.91], device="cuda")}))
    assert "after 1 epoch, in" in one and "no epoch-to-epoch noise" in one
    slow = observed.devices(compare_devices({"a": _run("normal", "cpu"), "b": _run("slow", "cuda")}))
    assert "the GPU trained 2.0x slower than the CPU" in slow


CELLS = [("cpu", "template"), ("cpu", "resident"), ("cuda", "template"), ("cuda", "resident")]


@pytest.mark.parametrize("keep", [c for n in range(5) for c in combinations(CELLS, n)])
@pytest.mark.parametrize("resident_slower", [False, True])
def test_pipelines_never_raise_and_never_call_a_cpu_run_gpu(keep, resident_slower):
    times = {"template": 1.0, "resident": 3.0 if resident_slower else 0.25}
    runs = {k: make_history([0.9, 0.9], train_time=[times[k[1]] * (1 if k[0] == "cpu" else 0.5)] * 2, device=k[0],
                            pipeline=k[1]) for k in keep}
    text = observed.pipelines(compare_pipelines(runs))
    assert text.startswith("**Observed.** ")
    if _no_cuda(runs.values()):
        assert "On the GPU" not in text and "CPU to GPU" not in text
    gains = ("% of a template epoch there is the input pipeline" in text)
    assert gains == (not resident_slower and any(("cpu" if d == "cpu" else "cuda", "resident") in keep and
                                                 (d, "template") in keep for d in ("cpu", "cuda")))


def test_pipelines_say_where_the_gpu_gains_less_than_expected():
    """The H100 session (10 epochs, MNIST): the resident GPU epoch was longer than the resident CPU epoch."""
    def cells(gpu_resident):
        return [make_history([0.85] * 3, train_time=[t] * 3, device=d, pipeline=p) for d, p, t in (
            ("cpu", "template", 7.58), ("cpu", "resident", 0.98), ("cuda", "template", 8.16),
            ("cuda", "resident", gpu_resident))]
    text = observed.pipelines(compare_pipelines(cells(1.28)))
    assert ("Against the expectation, the resident pipeline gains less on the GPU (6.4x) than on the CPU (7.7x): "
            "without the loader, a GPU epoch still takes 1.28 s against the CPU's 0.98 s") in text
    assert "the second compares the devices themselves, the input pipeline set aside" in text
    faster_gpu = observed.pipelines(compare_pipelines(cells(0.2)))  # gains 40.8x on the GPU: as expected
    assert "Against the expectation" not in faster_gpu
    less = [make_history([0.85] * 3, train_time=[t] * 3, device=d, pipeline=p) for d, p, t in (
        ("cpu", "template", 7.58), ("cpu", "resident", 0.98), ("cuda", "template", 2.0), ("cuda", "resident", 0.5))]
    assert "gains less on the GPU (4.0x) than on the CPU (7.7x). " in observed.pipelines(compare_pipelines(less))


def _rate_run(val, lr, status="completed"):
    return make_history([0.5] * len(val), val_accuracy=val, lr=lr, status=status, dataset="cifar10", model="cnn")


RATE_SCENARIOS = {
    "normal": {0.1: _rate_run([0.3, 0.4, 0.45], 0.1), 0.01: _rate_run([0.3, 0.5, 0.6], 0.01),
               0.001: _rate_run([0.2, 0.25, 0.3], 0.001)},
    "all diverged": {0.1: _rate_run([0.1], 0.1, "diverged"), 0.01: _rate_run([0.1, 0.1], 0.01, "diverged")},
    "single": {0.1: _rate_run([0.3], 0.1)},
    "tie": {0.1: _rate_run([0.3, 0.5], 0.1), 0.01: _rate_run([0.3, 0.5], 0.01)},
    "all at chance": {0.1: _rate_run([0.1, 0.12], 0.1), 0.01: _rate_run([0.11, 0.1], 0.01)},
    "missing": {0.1: None, 0.01: make_history([0.5], lr=0.01), 0.001: _rate_run([0.3], 0.001)},
    "none": {},
}


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
    runs = {0.1: _rate_run([0.3, 0.1], 0.1, "diverged"), 0.01: _rate_run([0.3, 0.5], 0.01)}
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


def _seeds(finals, model="cnn", diverged_seed=None):
    runs = []
    for i, final in enumerate(finals):
        seed = i + 1
        if seed == diverged_seed:
            runs.append(make_history([0.3, 0.1], seed=seed, status="diverged", test_loss=[1.0, None],
                                     train_loss=[1.0, None], dataset="cifar10", model=model))
        else:
            runs.append(make_history([final - 0.1, final - 0.05, final], seed=seed, dataset="cifar10", model=model))
    return runs


@pytest.mark.parametrize("mlp_seeds, cnn_seeds, diverged", list(product([0, 1, 3], [0, 1, 3], [None, 2])))
def test_model_comparison_never_raises(mlp_seeds, cnn_seeds, diverged):
    c = compare_models(_seeds([0.45, 0.46, 0.47][:mlp_seeds], "mlp"), _seeds([0.6, 0.65, 0.7][:cnn_seeds], "cnn", diverged))
    text = observed.model_comparison(c)
    assert text.startswith("**Observed")
    assert "GPU" not in text  # every run here is recorded on the CPU
    assert ("single seed" in text.lower()) == (c.verdict.outcome == "single seed")
    assert ("is ahead by" in text) == (c.verdict.winner is not None)
    assert ("indistinguishable" in text) == (c.verdict.outcome == "indistinguishable")


@pytest.mark.parametrize("seeds", [1, 2, 3])
@pytest.mark.parametrize("arms", [["SGD"], ["SGD", "Adam"], ["SGD", "Adam", "RMSprop", "Adagrad"], []])
@pytest.mark.parametrize("missing", [False, True])
def test_optimizer_ranking_and_sweep_never_raise(seeds, arms, missing):
    finals = {"SGD": 0.55, "Adam": 0.70, "RMSprop": 0.69, "Adagrad": 0.60}
    histories = {opt: _seeds([finals[opt] + 0.01 * s for s in range(seeds)]) for opt in arms}
    if missing:
        histories["Lion"] = None
    r = rank_arms(histories)
    text = observed.optimizer_ranking(r)
    assert text.startswith("**Observed.** ")
    assert ("Single seed" in text) == (seeds == 1 and len(r.arms) > 1)
    assert ("o runs for Lion" in text) == missing
    assert ("leads: its worst seed" in text) == (r.leader is not None)
    runs = {(opt, lr): _rate_run([0.2, finals[opt] * lr * 10], lr) for opt in arms for lr in (0.1, 0.01)}
    sweep_text = observed.optimizer_sweep(sweep(runs))
    assert sweep_text.startswith("**Observed.** ")
    assert observed.arms_table(r.arms).count("\n") == len(r.arms) + 1


def test_ranking_text_groups_and_leader():
    close = rank_arms({"SGD": _seeds([0.60, 0.64]), "Adam": _seeds([0.62, 0.66])})
    assert "cannot be told apart (their ranges overlap): Adam and SGD." in observed.optimizer_ranking(close)
    groups = observed.optimizer_ranking(rank_arms({"SGD": _seeds([0.50, 0.52]), "Adam": _seeds([0.62, 0.66]),
                                                   "RMSprop": _seeds([0.60, 0.63])}))
    assert "At 2 seeds their ranges separate, best first: Adam and RMSprop (overlapping: cannot be told apart), " \
           "then SGD." in groups
    clear = rank_arms({"SGD": _seeds([0.50, 0.52]), "Adam": _seeds([0.62, 0.66])})
    assert "Adam leads: its worst seed is above every other optimizer's best seed." in observed.optimizer_ranking(clear)


def test_ranking_text_with_a_missing_seed_compares_the_others():
    text = observed.optimizer_ranking(rank_arms({"Adam": _seeds([0.70, 0.72, 0.74]), "SGD": _seeds([0.50, 0.52, 0.53]),
                                                 "RMSprop": _seeds([0.90]), "Adagrad": _seeds([0.60])}))
    assert "Among the optimizers with several seeds, Adam leads: its worst seed is above every other one's best " \
           "seed." in text
    assert "RMSprop and Adagrad have a single seed: there is no spread to compare them against." in text
    assert "Single seed:" not in text and "RMSprop leads" not in text
    one = observed.optimizer_ranking(rank_arms({"Adam": _seeds([0.70, 0.72]), "SGD": _seeds([0.50, 0.52]),
                                                "RMSprop": _seeds([0.71, 0.73]), "Adagrad": _seeds([0.40])}))
    assert "At 2 seeds their ranges separate, best first: RMSprop and Adam (overlapping: cannot be told apart), " \
           "then SGD. Adagrad has a single seed: there is no spread to compare it against." in one


def test_a_chosen_rate_at_or_above_the_reference_says_no_lower_rate_was_needed():
    runs = {0.1: _rate_run([0.5, 0.6, 0.62], 0.1), 0.01: _rate_run([0.4, 0.5, 0.55], 0.01),
            0.001: _rate_run([0.2, 0.3, 0.35], 0.001)}
    text = observed.learning_rate_choice(choose_learning_rate(runs, reference=0.1))
    assert ("The chosen rate is 0.1, equal to the MLP's 0.1, with a mean validation accuracy of 57.3 % over the last 3 "
            "epochs. Every lower candidate (0.01 and 0.001) scored below it, so in these runs the CNN did not need a "
            "lower rate than the MLP's.") in text
    unknown = observed.learning_rate_choice(choose_learning_rate({**runs, 0.001: None}, reference=0.1))
    assert "did not need" not in unknown  # a lower rate without a run might have scored better
    assert "did not need" not in observed.learning_rate_choice(choose_learning_rate(runs, reference=1.0))  # lower


def test_a_printed_tie_at_chance_is_no_rate_that_fell_back():
    c = choose_learning_rate({0.1: _rate_run([0.1504] * 3, 0.1), 0.01: _rate_run([0.15] * 3, 0.01)})
    text = observed.learning_rate_choice(c)
    assert c.chosen == 0.01 and c.at_chance == (0.1, 0.01) and "fell back" not in text
    assert "the CNN did not learn at any candidate rate" in text


def test_a_single_seed_first_epoch_leader_has_no_mean():
    r = rank_arms({"Adam": _seeds([0.70, 0.72, 0.74]), "SGD": _seeds([0.50, 0.52]),
                   "RMSprop": [make_history([0.7, 0.72, 0.6], dataset="cifar10", model="cnn")]})
    assert "After the first epoch RMSprop has the highest test accuracy, 70.0 %." in observed.optimizer_ranking(r)


def test_verdict_texts():
    a, b = arm("A", _seeds([0.7, 0.72])), arm("B", _seeds([0.6, 0.62]))
    assert observed.verdict(compare_arms(a, b)) == "A is ahead by 10.0 points (means), beyond the range of every seed of the other."
    assert "A has a single seed" in observed.verdict(compare_arms(arm("A", _seeds([0.7])), b))
    assert "no comparison" in observed.verdict(compare_arms(arm("A", None), b))


def test_step_effect_text_of_the_sheet():
    e = step_effect(make_problem(**SHEET))
    text = observed.step_effect(e)
    assert "the loss rose from 2 to 18.8498" in text and "lands on its other side" in text
    assert "Hidden neuron $h_2$ received no gradient: its pre-activation is negative" in text
    assert "Input 3 is 0, so row 3 of $W_1$" in text
    assert observed.step_rates(e) == "Among these rates, 0.03 lowers the loss most (to 0.1082); the sheet's 0.1 raises it."


def test_step_effect_text_in_the_plural_and_for_a_small_step():
    p = make_problem(W1=[[-1, -1, 1]], b1=[[0, 0, 0]], W2=[[1], [1], [1]], b2=[[0]], x=[[1]], y=[[2]], lr=0.01)
    text = observed.step_effect(step_effect(p))
    assert "Hidden neurons $h_1$ and $h_2$ received no gradient: their pre-activations are negative" in text
    assert "their columns of $W_1$, biases and weights in $W_2$ are unchanged" in text
    assert "fell" in text and "too long" not in text and "Input" not in text


def test_sweep_text_in_the_singular_and_plural():
    one = {("SGD", 0.01): _rate_run([0.3, 0.5], 0.01), ("Adam", 0.001): _rate_run([0.3, 0.6], 0.001),
           ("Adam", 0.01): _rate_run([0.3, 0.4], 0.01)}
    assert "Adam chose a small rate (0.003 or below), as its per-parameter" in observed.optimizer_sweep(sweep(one))
    alone = observed.optimizer_sweep(sweep({("Adam", 0.001): one["Adam", 0.001]}))
    assert "small rate" not in alone  # its only candidate: no choice to explain
    assert observed.optimizer_sweep(sweep({("SGD", 0.01): one["SGD", 0.01]})).startswith("**Observed.** Chosen rate: SGD 0.01.")
    two = {**one, ("RMSprop", 0.001): _rate_run([0.3, 0.6], 0.001), ("RMSprop", 0.1): _rate_run([0.1, 0.1], 0.1)}
    text = observed.optimizer_sweep(sweep(two))
    assert "Adam and RMSprop chose small rates (0.003 or below), as their per-parameter" in text
    assert "Stuck at chance (never above 15 % on the validation split): RMSprop at 0.1." in text
    assert "No run diverged." in text
    assert "No stored run diverged." in observed.optimizer_sweep(sweep({**two, ("SGD", 0.1): None}))
    learned = {key: run for key, run in two.items() if key != ("RMSprop", 0.1)}
    assert "No run stayed at chance." in observed.optimizer_sweep(sweep(learned))
    scored = "Of the runs scored on the validation split, none stayed at chance."
    assert scored in observed.optimizer_sweep(sweep({**learned, ("SGD", 0.1): None}))
    assert scored in observed.optimizer_sweep(sweep({**learned, ("SGD", 0.1): _rate_run([0.3, 0.1], 0.1, "diverged")}))
    unscored = make_history([0.1, 0.1], lr=0.1, dataset="cifar10", model="cnn")  # no validation split: not judged
    assert scored in observed.optimizer_sweep(sweep({**learned, ("SGD", 0.1): unscored}))


def test_tables_mark_states_and_name_devices_as_recorded():
    runs = {0.1: _rate_run([0.3, 0.1], 0.1, "diverged"), 0.01: _rate_run([0.3, 0.5], 0.01), 0.001: None}
    table = observed.rate_table(choose_learning_rate(runs)).splitlines()
    assert table[2].startswith("| 0.1 | – (diverged) |") and "40.0 % **chosen**" in table[3] and "no run" in table[4]
    assert "| val. acc. (mean, last 2 epochs) |" in table[0]  # two epochs run: the score is their mean, not "3"
    s = sweep({("SGD", 0.1): runs[0.1], ("SGD", 0.01): runs[0.01], ("Adam", 0.01): _rate_run([0.1, 0.1], 0.01)})
    sweep_rows = observed.sweep_table(s).splitlines()
    assert "not run" in sweep_rows[3] and "(at chance) **chosen**" in sweep_rows[3]
    grid = observed.sweep_grid(s)
    assert observed.score_span(s.outcomes) == "last 2 epochs" and observed.score_span(()) == "last 3 epochs"
    assert grid["values"] == [[None, pytest.approx(0.4)], [None, pytest.approx(0.1)]]
    assert grid["empty"] == [["diverged", ""], ["not run", ""]] and grid["columns"] == ["0.1", "0.01"]
    table = observed.runs_table(compare_pipelines({1: _run("normal", "cpu"), 2: _run("recorded on cpu", "cuda")}).runs)
    assert "GPU" not in table and table.count("CPU (") == 1  # the run filed as CUDA ran on the CPU: one CPU/template cell
    e = step_effect(make_problem(**SHEET))
    assert observed.step_rates_table(e).splitlines()[-1] == "| 0.1 | 18.8498 | +16.8498 |"


# ---------------------------------------------------------------------------------------------
# Sentences read on a real-data report: each fact once, signs as words, superlatives by size
# ---------------------------------------------------------------------------------------------

def _named(text: str, lr: str) -> int:
    """How often a rate is written in a text (0.01 is not counted inside 0.001, nor 0.1 inside 0.15)."""
    return len(re.findall(rf"(?<![\d.]){re.escape(lr)}(?![\d])", text))


def test_rate_choice_names_a_rate_at_chance_once_even_when_it_is_the_smallest():
    runs = {0.1: _rate_run([0.3, 0.4, 0.45], 0.1), 0.01: _rate_run([0.3, 0.5, 0.6], 0.01),
            0.001: _rate_run([0.10, 0.11, 0.12], 0.001)}
    text = observed.learning_rate_choice(choose_learning_rate(runs, reference=0.1))
    assert text == ("**Observed.** The chosen rate is 0.01, lower than the MLP's 0.1, with a mean validation accuracy of "
                    "46.7 % over the last 3 epochs. At the MLP's rate the CNN reached 38.3 %. Stayed at chance (never "
                    "above 15 % on validation): lr 0.001; it was still rising at the end, too slow for 3 epochs.")
    two = {0.1: runs[0.1], 0.01: runs[0.01], 0.003: _rate_run([0.10, 0.10, 0.10], 0.003), 0.001: runs[0.001]}
    text = observed.learning_rate_choice(choose_learning_rate(two, reference=0.1))
    assert "lr 0.003 and 0.001; the smallest was still rising at the end, too slow for 3 epochs." in text
    assert _named(text, "0.001") == _named(text, "0.003") == 1


def test_rate_choice_names_the_reference_rate_once_whatever_its_state():
    at_chance = {0.1: _rate_run([0.1, 0.11], 0.1), 0.01: _rate_run([0.3, 0.5], 0.01)}
    text = observed.learning_rate_choice(choose_learning_rate(at_chance, reference=0.1))
    assert "At the MLP's rate the CNN stayed at chance (10.5 %, never above 15 % on validation)." in text
    assert "Stayed at chance" not in text and _named(text, "0.1") == 1
    smallest = {0.3: _rate_run([0.3, 0.5], 0.3), 0.1: _rate_run([0.2, 0.3], 0.1)}
    text = observed.learning_rate_choice(choose_learning_rate(smallest, reference=0.1))
    assert "At the MLP's rate the CNN reached 25.0 %." in text and "smallest" not in text and _named(text, "0.1") == 1
    missing = {0.1: None, 0.01: _rate_run([0.3, 0.5], 0.01)}
    text = observed.learning_rate_choice(choose_learning_rate(missing, reference=0.1))
    assert "The CNN run at the MLP's rate is missing." in text and "Missing or without" not in text


def test_sweep_names_each_chosen_rate_once_and_each_optimizer_once_per_list():
    runs = {("SGD", 0.1): _rate_run([0.3, 0.5], 0.1), ("SGD", 0.01): _rate_run([0.1, 0.12], 0.01),
            ("SGD", 0.001): _rate_run([0.1, 0.11], 0.001), ("Adam", 0.1): _rate_run([0.1, 0.1], 0.1),
            ("Adam", 0.001): _rate_run([0.3, 0.6], 0.001), ("RMSprop", 0.01): _rate_run([0.3, 0.4], 0.01),
            ("RMSprop", 0.001): _rate_run([0.3, 0.6], 0.001)}
    assert observed.optimizer_sweep(sweep(runs)) == (
        "**Observed.** Chosen rates: SGD 0.1, Adam 0.001 and RMSprop 0.001. No run diverged. Stuck at chance "
        "(never above 15 % on the validation split): SGD at 0.01 and 0.001; Adam at 0.1. Adam and RMSprop chose small "
        "rates (0.003 or below), as their per-parameter step normalisation predicts.")


def _cnn_and_chance_mlp(cnn_test_loss=None, cnn_train_loss=None, seeds=(1, 2)):
    cnn = [make_history([0.5, 0.6, 0.7], train_accuracy=[0.4, 0.5, 0.68], test_loss=cnn_test_loss,
                        train_loss=cnn_train_loss(s) if callable(cnn_train_loss) else cnn_train_loss, seed=s,
                        model="cnn", dataset="cifar10", parameters=3000, train_time=[3.0] * 3) for s in seeds]
    mlp = [make_history([0.09, 0.1, 0.1], train_accuracy=[0.1, 0.1, 0.104], seed=s, dataset="cifar10")
           for s in seeds]
    return compare_models(mlp, cnn)


def test_model_comparison_reads_signs_as_words_and_says_each_fact_once():
    assert observed.model_comparison(_cnn_and_chance_mlp()) == (
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
    text = observed.model_comparison(_cnn_and_chance_mlp([1.0, 0.8, 0.9], train_loss, seeds))
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
    ranking = observed.optimizer_ranking(rank_arms({"SGD": [mlp], "Adam": _seeds([0.6, 0.62])}))
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


def test_ranking_calls_the_gap_widest_by_size_and_says_its_direction_in_words():
    r = rank_arms({"Adam": [make_history([0.5, 0.6], train_accuracy=[0.6, 0.621])],
                   "SGD": [make_history([0.5, 0.6], train_accuracy=[0.5, 0.56])]})
    assert ("The final gap between training accuracy (running average over the last epoch) and test accuracy is "
            "widest for SGD (4.0 points, test above training) and narrowest for Adam (2.1 points, training above "
            "test).") in observed.optimizer_ranking(r)


def test_ranking_names_a_group_of_overlapping_ranges_once():
    text = observed.optimizer_ranking(rank_arms({"SGD": _seeds([0.50, 0.52]), "Adam": _seeds([0.62, 0.66]),
                                                 "RMSprop": _seeds([0.60, 0.63])}))
    assert ("At 2 seeds their ranges separate, best first: Adam and RMSprop (overlapping: cannot be told apart), "
            "then SGD.") in text
    assert text.count("Adam and RMSprop") == 1 and "Separated by" not in text
    led = observed.optimizer_ranking(rank_arms({"A": _seeds([0.8, 0.82]), "B": _seeds([0.6, 0.62]),
                                                "C": _seeds([0.5, 0.52]), "D": _seeds([0.51, 0.55])}))
    assert ("A leads: its worst seed is above every other optimizer's best seed. Behind it their ranges separate, "
            "best first: B, then D and C (overlapping: cannot be told apart).") in led


def test_ranking_never_calls_a_pair_that_seeds_separate_indistinguishable():
    """Seen on real CIFAR-10: four optimizers chained by overlaps, yet SGD's best seed below two others' worst."""
    chain = rank_arms({"Adagrad": _seeds([0.478, 0.485, 0.492]), "RMSprop": _seeds([0.447, 0.48, 0.489]),
                       "Adam": _seeds([0.414, 0.43, 0.491]), "SGD": _seeds([0.404, 0.41, 0.43])})
    text = observed.optimizer_ranking(chain)
    assert "cannot be told apart (their ranges overlap)" not in text
    assert ("At 3 seeds, the ranges of Adagrad, RMSprop, Adam and SGD overlap in a chain, yet SGD's best seed is "
            "below the worst of Adagrad and RMSprop; every other pair of them cannot be told apart.") in text
    behind = observed.optimizer_ranking(rank_arms({"A": _seeds([0.8, 0.82]), "B": _seeds([0.60, 0.66]),
                                                   "C": _seeds([0.57, 0.62]), "D": _seeds([0.55, 0.58]),
                                                   "E": _seeds([0.40, 0.45])}))
    assert ("Behind it their ranges separate, best first: B, C and D (overlapping in a chain, yet D's best seed is "
            "below B's worst), then E.") in behind


def test_run_sentence_names_the_best_accuracy_only_where_it_is_not_the_final_one():
    last = observed.run_sentence(run_summary(make_history([0.9, 0.95])))
    assert "reached 95.00 % test accuracy after 2 epochs (its best epoch), in 2.00 s of training" in last
    assert "best 95.00 %" not in last
    earlier = observed.run_sentence(run_summary(_run("normal", "cpu")))
    assert "reached 96.50 % test accuracy after 5 epochs (best 97.00 %, epoch 4), in" in earlier
    one = observed.run_sentence(run_summary(_run("one epoch", "cpu")))
    assert "after 1 epoch, in" in one and "best" not in one


# ---------------------------------------------------------------------------------------------
# Times measured while other runs shared the machine: said, never compared
# ---------------------------------------------------------------------------------------------

def test_a_speed_up_is_never_claimed_from_a_run_that_shared_the_machine():
    cpu = make_history([0.5, 0.6], train_time=[10.0, 10.0], device="cpu", sharing=[0, 0])
    gpu = make_history([0.5, 0.6], train_time=[1.0, 1.0], device="cuda", sharing=[1, 1])
    text = observed.devices(compare_devices([cpu, gpu]))
    assert "faster" not in text and "slower" not in text and "compressed to the left" not in text
    assert "Their epoch times are not compared: the GPU run shared the machine with other runs in every epoch." in text
    assert "every epoch timed while other runs shared the machine: not its own speed" in text
    alone = observed.devices(compare_devices([cpu, make_history([0.5, 0.6], train_time=[1.0, 1.0], device="cuda")]))
    assert "10.0x faster" in alone and "not compared" not in alone and "shared" not in alone


def test_a_run_timed_partly_alone_says_whose_epochs_its_time_is():
    run = make_history([0.5, 0.6, 0.7], train_time=[2.0, 9.0, 2.0], sharing=[0, 1, 0])
    sentence = observed.run_sentence(run_summary(run))
    assert "2.00 s per epoch (median of the 2 epochs it had the machine to itself)." in sentence
    table = observed.runs_table([run_summary(run)])
    assert "2.00 s (2 alone)" in table


def test_pipelines_and_models_leave_out_times_measured_while_sharing():
    cells = [make_history([0.5, 0.6], train_time=[t, t], device=d, pipeline=p, sharing=[int(d == "cpu")] * 2)
             for d, p, t in (("cpu", "template", 8.0), ("cpu", "resident", 2.0), ("cuda", "template", 4.0),
                             ("cuda", "resident", 0.5))]
    text = observed.pipelines(compare_pipelines(cells))
    assert "On the GPU the resident pipeline takes 0.50 s per epoch instead of 4.00 s" in text
    assert "On the CPU" not in text and "CPU to GPU" not in text
    assert "Not compared: CPU/template and CPU/resident, timed while other runs shared the machine in every epoch." in text
    mlp = [make_history([0.4] * 2, seed=s, train_time=[1.0, 1.0], sharing=[1, 1]) for s in (1, 2)]
    cnn = [make_history([0.6] * 2, seed=s, model="cnn", dataset="cifar10", train_time=[4.0, 4.0]) for s in (1, 2)]
    models = observed.model_comparison(compare_models(mlp, cnn))
    assert "An epoch took" not in models and "as long" not in models
    assert "Their epoch times are not compared: every seed of the MLP was timed while other runs shared the machine." \
        in models
    arms = observed.arms_table([compare_models(mlp, cnn).mlp, compare_models(mlp, cnn).cnn])
    assert "| shared |" in arms.replace("  ", " ")
    mlp[0] = make_history([0.4] * 2, seed=1, train_time=[2.0, 2.0])
    partly = observed.model_comparison(compare_models(mlp, cnn))
    assert "(2.0x as long) (left out: 1 MLP seed, timed while other runs shared the machine)." in partly


def test_one_optimizer_is_described_never_ranked():
    text = observed.optimizer_ranking(rank_arms({"Adam": [make_history([0.3, 0.5], seed=s) for s in (1, 2)]}))
    assert text.startswith("**Observed.** Adam reached 50.0 % (same for both seeds) final test accuracy.")
    assert not any(word in text for word in ("rank", "leads", "top-", "apart", "other optimizer", "separate"))
    two = observed.optimizer_ranking(rank_arms({"Adam": [make_history([0.3, 0.5])], "SGD": [make_history([0.2, 0.4])]}))
    assert "Final test accuracy ranks Adam" in two
    assert "The best test accuracy (of 2 epochs run) came for Adam in epoch 2; SGD in epoch 2." in two


def test_the_ranking_says_where_each_optimizer_peaked_and_how_far_it_slid_back():
    """Real CIFAR-10, 30 epochs: Adam at 0.001 led from epoch 1, peaked in epoch 6 and ended below SGD."""
    adam = make_history([0.518, 0.63, 0.654, 0.64, 0.62, 0.615], dataset="cifar10", model="cnn", optimizer="Adam")
    sgd = make_history([0.363, 0.5, 0.58, 0.6, 0.62, 0.618], dataset="cifar10", model="cnn")
    text = observed.optimizer_ranking(rank_arms({"SGD": [sgd], "Adam": [adam]}))
    assert ("The best test accuracy (of 6 epochs run) came for SGD in epoch 5; Adam in epoch 3, 3.9 points above its "
            "final accuracy.") in text
    seeds = [make_history([0.5, 0.654, 0.615], seed=1), make_history([0.5, 0.66, 0.62], seed=2)]
    alone = observed.optimizer_ranking(rank_arms({"Adam": seeds}))
    assert ("The best test accuracy of Adam came in epoch 2 for every seed, on average 4.0 points above its final "
            "accuracy, of 3 epochs run.") in alone


def test_a_tie_as_printed_is_no_superlative():
    tied = rank_arms({"SGD": [make_history([0.2, 0.5], train_accuracy=[0.2, 0.55])],
                      "Adam": [make_history([0.20004, 0.6], train_accuracy=[0.2, 0.650001])]})
    text = observed.optimizer_ranking(tied)
    assert "After the first epoch Adam and SGD share the highest test accuracy, 20.0 %." in text
    assert "widest" not in text  # both gaps print as 5.0 points: no widest, no narrowest


def test_a_single_seed_on_one_side_is_named():
    one = compare_arms(arm("CNN", [make_history([0.5, 0.7])]), arm("MLP", _seeds([0.4, 0.45], model="mlp")))
    assert observed.verdict(one, article="the ").startswith("The CNN has a single seed: there is no spread")
    both = compare_arms(arm("CNN", [make_history([0.5, 0.7])]), arm("MLP", [make_history([0.5, 0.4])]))
    assert observed.verdict(both).startswith("Single seed: there is no spread")


@pytest.mark.parametrize("seconds, text", [(0.0004, "0.40 ms"), (0.0042, "4.2 ms"), (0.042, "42 ms"), (0.5, "0.50 s"),
                                           (12.34, "12.3 s"), (123.4, "123 s")])
def test_short_times_keep_their_digits(seconds, text):
    from helpers.formatting import secs
    assert secs(seconds) == text  # a GPU epoch of a small run must not read "0.00 s"


def test_a_run_diverged_in_its_first_epoch_says_so():
    o = overfitting(make_history([0.1], test_loss=[None], train_loss=[None], status="diverged"))
    assert observed.overfitting(o) == ("The CNN's loss became non-finite in its first epoch: the run diverged, which "
                                       "is unstable training, not overfitting.")


def test_what_prints_the_same_is_never_called_apart_or_different():
    """Seeds compared as printed (one decimal of a percent), ties of the gap named together, 1.00x is equally fast."""
    cnn, mlp = _seeds([0.4131, 0.4131, 0.4132]), _seeds([0.4128, 0.4129, 0.4129], model="mlp")
    assert compare_models(mlp, cnn).verdict.outcome == "indistinguishable"  # 41.3 % against 41.3 %
    assert rank_arms({"Adam": _seeds([0.45, 0.4130, 0.4131]), "SGD": _seeds([0.4128, 0.4129, 0.4129])}).leader is None
    gaps = {name: [make_history([test], train_accuracy=[train], seed=seed) for seed in (1, 2)]
            for name, test, train in (("A", 0.60, 0.6501), ("B", 0.59, 0.6399), ("C", 0.58, 0.59))}
    assert ("widest for A (5.0 points, training above test) and B (5.0 points, training above test) and narrowest "
            "for C") in observed.optimizer_ranking(rank_arms(gaps))
    same = [make_history([0.9, 0.95, 0.96, 0.97], train_time=[1.004] * 4),
            make_history([0.9, 0.95, 0.96, 0.97], train_time=[1.0] * 4, device="cuda")]
    text = observed.devices(compare_devices(same))
    assert "the GPU trained equally fast as the CPU" in text and "compressed" not in text


def test_a_chosen_rate_at_chance_does_not_say_no_rate_learned_when_one_did_and_fell_back():
    runs = {0.001: _rate_run([0.11, 0.12, 0.12, 0.13], 0.001), 0.01: _rate_run([0.35, 0.10, 0.10, 0.10], 0.01)}
    text = observed.learning_rate_choice(choose_learning_rate(runs))
    assert "0.01 got above it, then fell back by its last epochs." in text and "did not learn" not in text
    flat = {0.001: _rate_run([0.11, 0.12, 0.12], 0.001), 0.01: _rate_run([0.1, 0.1, 0.1], 0.01)}
    assert "the CNN did not learn at any candidate rate" in observed.learning_rate_choice(choose_learning_rate(flat))


def test_overfitting_over_seeds_counts_only_the_judged_seeds_where_one_diverged():
    up, down, cnn = [1.0, 0.8, 0.9], [1.0, 0.8, 0.6], dict(model="cnn", dataset="cifar10")
    seeds = [make_history([0.5, 0.6, 0.6], test_loss=up, train_loss=down, seed=s, **cnn) for s in (1, 2)]
    seeds.append(make_history([0.5, 0.6, 0.1], test_loss=[0.5, 0.7, None], train_loss=[1.0, 0.9, None],
                              status="diverged", seed=3, **cnn))
    text = observed.model_comparison(compare_models([make_history([0.5, 0.55, 0.56], seed=s) for s in (1, 2, 3)], seeds))
    assert ("in both judged seeds (1 of 3 seeds diverged, which is not overfitting); its test loss is lowest in epoch 2 "
            "for every judged seed.") in text


def test_times_are_compared_only_where_they_measure_the_runs():
    """Two pipelines on two machines give no gain; a first epoch slowed by sharing is no start-up; a start-up epoch
    timed alone is no measure of a run whose every later epoch was shared."""
    machines = compare_pipelines([make_history([0.9] * 3, train_time=[4.0] * 3, device_name="Laptop CPU, 2 threads"),
                                  make_history([0.9] * 3, train_time=[1.0] * 3, pipeline="resident",
                                               device_name="Node CPU, 32 threads")])
    text = observed.pipelines(machines)
    assert machines.gains == () and "input pipeline" not in text
    assert ("On the CPU the two pipelines ran on different machines (template: Laptop CPU, 2 threads; resident: Node "
            "CPU, 32 threads), so their times are not compared.") in text
    shared_start = compare_pipelines([make_history([0.9] * 5, train_time=[3.0, 1, 1, 1, 1], sharing=[1, 0, 0, 0, 0])])
    assert shared_start.slow_first_epochs == () and "start-up" not in observed.pipelines(shared_start)
    alone_start = make_history([0.9] * 5, train_time=[6.0, 2, 2, 2, 2], sharing=[0, 1, 1, 1, 1])
    assert run_summary(alone_start).timing == "shared"
    devices = compare_devices([alone_start, make_history([0.9] * 5, train_time=[0.5] * 5, device="cuda")])
    assert devices.speedup is None and "12.0x" not in observed.devices(devices)


def test_diverged_seeds_say_where_and_the_seeds_that_trained_are_compared_apart():
    """3.3 on real CIFAR-10 (an H200, 30 epochs): at the rate chosen on seed 1, seeds 2 and 3 of the CNN diverged in
    epochs 24 and 25. The verdict over all seeds stays (a failure is part of the outcome); the seeds that trained
    are compared as the facts they are, and the training fit is theirs, not the diverged runs' last batches'."""
    mlp = _seeds([0.432, 0.444, 0.458], "mlp")
    cnn = _seeds([0.619, 0.5, 0.5], "cnn", diverged_seed=2)
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
    assert compare_models(mlp, _seeds([0.62, 0.63, 0.64], "cnn")).trained_above is None
    assert compare_models(mlp, _seeds([0.44, 0.4, 0.45], "cnn", diverged_seed=2)).trained_above is None


def test_a_graphed_run_is_named_where_times_are_compared():
    from helpers.findings import compare_pipelines
    runs = {(d, p): make_history([0.8, 0.85], device=d, pipeline=p, train_time=[t, t], sharing=[0, 0])
            for (d, p), t in {("cpu", "template"): 8.0, ("cpu", "resident"): 1.0, ("cuda", "template"): 8.5,
                              ("cuda", "resident"): 0.1}.items()}
    for record in runs["cuda", "resident"].records:
        record["graphed"] = True
    for record in runs["cpu", "resident"].records:
        record["graphed"] = False
    c = compare_pipelines(runs)
    assert c.graphed == (("cuda", "resident"),)
    summaries = {(s.device, s.pipeline): s for s in c.runs}
    assert summaries["cuda", "resident"].steps == "graphed" and summaries["cpu", "resident"].steps == "eager"
    assert summaries["cpu", "template"].steps == ""  # not recorded (results of older versions)
    text = observed.pipelines(c)
    assert "GPU/resident replayed its training steps as a CUDA graph" in text
    table = observed.runs_table(list(c.runs))
    assert "| resident, graphed |" in table and "resident, eager" not in table
    runs["cuda", "resident"].records[0]["graphed"] = False  # the capture came in epoch 2 (a resumed run)
    assert compare_pipelines(runs).runs[-1].steps == "partly graphed"
