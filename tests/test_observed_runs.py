"""Prose of 3.1 and 3.2 (the step, devices, pipelines, tables, times): it never raises for any subset of runs, and it
says only what its finding supports."""
from itertools import combinations, product

import pytest

from findings_factory import SHEET, make_history
from helpers import observed
from helpers.findings import (choose_learning_rate, compare_devices, compare_models, compare_pipelines, overfitting,
                              run_summary, step_effect, sweep)
from helpers.gradients import make_problem
from observed_factory import CELLS, NO_GPU, no_cuda, rate_run, scenario_run


@pytest.mark.parametrize("cpu, gpu", list(product(["absent", "normal", "diverged", "one epoch"],
                                             ["absent", "normal", "slow", "diverged", "one epoch", "recorded on cpu"])))
def test_devices_never_raise_and_never_call_a_cpu_run_gpu(cpu, gpu):
    runs = {("cpu", "template"): scenario_run(cpu, "cpu"), ("cuda", "template"): scenario_run(gpu, "cuda")}
    c = compare_devices(runs)
    text = observed.devices(c)
    assert text.startswith("**Observed.** ")
    if no_cuda(runs.values()):
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
    runs = [scenario_run("normal", "cpu", "resident"), scenario_run("normal", "cuda", "resident")]
    c = compare_devices(runs)
    assert c.pipeline == "resident" and c.cpu is not None and c.gpu is not None
    assert compare_devices(runs + [scenario_run("normal", "cpu")]).pipeline == "template"  # the sheet's, where it ran


def test_devices_text_of_one_epoch_and_of_a_slower_gpu():
    one = observed.devices(compare_devices({"a": scenario_run("one epoch", "cpu"), "b": make_history([0.91], device="cuda")}))
    assert "after 1 epoch, in" in one and "no epoch-to-epoch noise" in one
    slow = observed.devices(compare_devices({"a": scenario_run("normal", "cpu"), "b": scenario_run("slow", "cuda")}))
    assert "the GPU trained 2.0x slower than the CPU" in slow


@pytest.mark.parametrize("keep", [c for n in range(5) for c in combinations(CELLS, n)])
@pytest.mark.parametrize("resident_slower", [False, True])
def test_pipelines_never_raise_and_never_call_a_cpu_run_gpu(keep, resident_slower):
    times = {"template": 1.0, "resident": 3.0 if resident_slower else 0.25}
    runs = {k: make_history([0.9, 0.9], train_time=[times[k[1]] * (1 if k[0] == "cpu" else 0.5)] * 2, device=k[0],
                            pipeline=k[1]) for k in keep}
    text = observed.pipelines(compare_pipelines(runs))
    assert text.startswith("**Observed.** ")
    if no_cuda(runs.values()):
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


def test_tables_mark_states_and_name_devices_as_recorded():
    runs = {0.1: rate_run([0.3, 0.1], 0.1, "diverged"), 0.01: rate_run([0.3, 0.5], 0.01), 0.001: None}
    table = observed.rate_table(choose_learning_rate(runs)).splitlines()
    assert table[2].startswith("| 0.1 | – (diverged) |") and "40.0 % **chosen**" in table[3] and "no run" in table[4]
    assert "| val. acc. (mean, last 2 epochs) |" in table[0]  # two epochs run: the score is their mean, not "3"
    s = sweep({("SGD", 0.1): runs[0.1], ("SGD", 0.01): runs[0.01], ("Adam", 0.01): rate_run([0.1, 0.1], 0.01)})
    sweep_rows = observed.sweep_table(s).splitlines()
    assert "not run" in sweep_rows[3] and "(at chance) **chosen**" in sweep_rows[3]
    grid = observed.sweep_grid(s)
    assert observed.score_span(s.outcomes) == "last 2 epochs" and observed.score_span(()) == "last 3 epochs"
    assert grid["values"] == [[None, pytest.approx(0.4)], [None, pytest.approx(0.1)]]
    assert grid["empty"] == [["diverged", ""], ["not run", ""]] and grid["columns"] == ["0.1", "0.01"]
    table = observed.runs_table(compare_pipelines({1: scenario_run("normal", "cpu"), 2: scenario_run("recorded on cpu", "cuda")}).runs)
    assert "GPU" not in table and table.count("CPU (") == 1  # the run filed as CUDA ran on the CPU: one CPU/template cell
    e = step_effect(make_problem(**SHEET))
    assert observed.step_rates_table(e).splitlines()[-1] == "| 0.1 | 18.8498 | +16.8498 |"


def test_run_sentence_names_the_best_accuracy_only_where_it_is_not_the_final_one():
    last = observed.run_sentence(run_summary(make_history([0.9, 0.95])))
    assert "reached 95.00 % test accuracy after 2 epochs (its best epoch), in 2.00 s of training" in last
    assert "best 95.00 %" not in last
    earlier = observed.run_sentence(run_summary(scenario_run("normal", "cpu")))
    assert "reached 96.50 % test accuracy after 5 epochs (best 97.00 %, epoch 4), in" in earlier
    one = observed.run_sentence(run_summary(scenario_run("one epoch", "cpu")))
    assert "after 1 epoch, in" in one and "best" not in one


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


@pytest.mark.parametrize("seconds, text", [(0.0004, "0.40 ms"), (0.0042, "4.2 ms"), (0.042, "42 ms"), (0.5, "0.50 s"),
                                           (12.34, "12.3 s"), (123.4, "123 s")])
def test_short_times_keep_their_digits(seconds, text):
    from helpers.formatting import secs
    assert secs(seconds) == text  # a GPU epoch of a small run must not read "0.00 s"


def test_a_run_diverged_in_its_first_epoch_says_so():
    o = overfitting(make_history([0.1], test_loss=[None], train_loss=[None], status="diverged"))
    assert observed.overfitting(o) == ("The CNN's loss became non-finite in its first epoch: the run diverged, which "
                                       "is unstable training, not overfitting.")


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
