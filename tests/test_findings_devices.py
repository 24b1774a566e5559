"""Findings of 3.2: CPU against GPU, the noise band, the pipelines; and times measured while other runs shared the
machine, never compared."""
import statistics
from itertools import combinations

import pytest

from findings_factory import make_history
from helpers.findings import compare_devices, compare_models, compare_pipelines, run_summary
from helpers import observed
from helpers.findings.devices import scatter


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
