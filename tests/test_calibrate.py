"""The calibration (helpers.calibrate) on the CPU: a row per kind, each on one core, graphed kinds twice, the toggles;
and the course-GPU model (helpers.estimates) as its docstring says it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import calibrate, estimates
from helpers.estimates import EPOCH_SECONDS
from helpers.synthetic import write_stand_ins
from helpers.training import exact_float32, make_optimizer

CPU_KINDS = {("mnist", "mlp", "cpu", "template", "SGD"), ("mnist", "mlp", "cpu", "resident", "SGD"),
             ("cifar10", "mlp", "cpu", "resident", "SGD")} | {("cifar10", "cnn", "cpu", "resident", o)
                                                               for o in ("SGD", "Adam", "RMSprop", "Adagrad")}


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> Path:
    """Generated data large enough for a hundredth of the full sizes (600 MNIST, 450 + 50 CIFAR-10 images)."""
    return write_stand_ins(tmp_path_factory.mktemp("stand-ins"), n_mnist=600, n_cifar=500, n_test=100)


@pytest.mark.slow
def test_the_calibration_on_the_cpu_has_a_row_per_kind_and_the_proposed_table(stand_ins, tmp_path):
    out = tmp_path / "calibration.json"
    done = subprocess.run([sys.executable, "-m", "helpers.calibrate", "--device", "cpu", "--epochs", "2", "--scale",
                           "0.01", "--data-root", str(stand_ins), "--out", str(out)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert {tuple(r["kind"]) for r in result["rows"]} == CPU_KINDS and len(result["rows"]) == len(CPU_KINDS)
    assert all(r[t] > 0 for r in result["rows"] for t in ("first_train", "train", "first_eval", "eval", "full_epoch"))
    assert all(r["as_trained"] and not r["graphed"] for r in result["rows"])  # on the CPU: no eager twin row
    assert result["toggles"] == [] and "n/a on a CPU (CUDA-only)" in done.stdout
    proposed = {tuple(p["kind"]): p["seconds"] for p in result["proposed"]}
    assert proposed.keys() == EPOCH_SECONDS.keys() and "proposed, from a CPU" in done.stdout
    slowdown = result["core_slowdown"]
    for row in result["rows"]:  # a CPU kind's proposal: its slowest optimizer's full-size epoch on the course's core
        slowest = max(r["full_epoch"] for r in result["rows"] if r["kind"][:4] == row["kind"][:4])
        assert proposed[tuple(row["kind"][:4])] == pytest.approx(slowdown * slowest)
    assert list(result["loader"]) == ["mnist"] and result["loader"]["mnist"] > 0  # 3.2's GPU template run's loader
    template, resident = ("mnist", "mlp", "cuda", "template"), ("mnist", "mlp", "cuda", "resident")
    assert proposed[template] == pytest.approx(slowdown * result["loader"]["mnist"] + EPOCH_SECONDS[resident])
    assert all(proposed[k] == EPOCH_SECONDS[k] for k in proposed if k[2] == "cuda" and k != template)  # kept
    assert result["plan"]["runs"] == 35 and result["plan"]["all"] > 30 * result["plan"]["per_epoch"] * 0.9


def test_the_cpu_part_measures_the_cpu_kinds_and_the_loader_on_one_core(stand_ins, monkeypatch):
    cores = []
    prepare = calibrate.prepare_run
    monkeypatch.setattr(calibrate, "prepare_run", lambda *a, **kw: cores.append(os.sched_getaffinity(0)) or prepare(
        *a, **kw))
    lines, before = [], os.sched_getaffinity(0)
    result = calibrate.calibrate("cuda", 1, 0.01, stand_ins, lines.append, part="cpu")  # runs here without CUDA
    assert {tuple(r["kind"][:4]) for r in result["rows"]} == {("mnist", "mlp", "cpu", "template"),
                                                                ("mnist", "mlp", "cpu", "resident")}
    assert len(cores) == 2 and all(len(c) == 1 for c in cores)  # each run on one core, as a course task
    assert os.sched_getaffinity(0) == before  # given back
    assert result["loader"]["mnist"] > 0 and result["plan"] is None and result["toggles"] == []
    assert "the template loader of a CUDA run alone" in "\n".join(lines)


def test_the_cuda_part_measures_graphed_kinds_twice_and_the_toggles(stand_ins, monkeypatch):
    """On the GPU each resident kind has its eager twin row, and the CNN its toggles (TF32, eager steps, Adam's
    multi-tensor step, SGD at larger batches), each timed against the run as trained just before; here the code
    runs on the CPU with measure() recorded."""
    asked = []

    def measure(config, data_root, graphs=True, **toggles):
        asked.append((config.model, config.optimizer, graphs, toggles, config.batch_size))
        return {"kind": [config.dataset, config.model, config.device, config.pipeline, config.optimizer],
                "train": 1.0 if graphs else 3.0, "steps": {"graphed": graphs}, "graphed": graphs, "first_train": 2.0,
                "first_eval": 0.1, "eval": 0.1, "full_epoch": 1.1, "images": [450, 150], "status": "completed",
                "epochs": 2, "queued": None}
    monkeypatch.setattr(calibrate, "measure", measure)
    rows = calibrate.measured_rows(calibrate.kinds_of_part("cuda", "cuda", 0.01, 2, stand_ins), stand_ins, print)
    assert [(r["kind"][1], r["kind"][4], r["as_trained"]) for r in rows][:4] == [
        ("mlp", "SGD", True), ("mlp", "SGD", False), ("cnn", "SGD", True), ("cnn", "SGD", False)]
    assert len(rows) == 12 and all(r["kind"][2:4] == ["cuda", "resident"] for r in rows)
    asked.clear()
    toggled = calibrate.toggles(calibrate.kinds_of_part("cuda", "cuda", 0.01, 2, stand_ins), stand_ins)
    fill = [estimates.batch_variant(n) for n in calibrate.FILL_BATCHES]
    assert [(t["optimizer"], t["variant"]) for t in toggled] == (
        [("SGD", v) for v in (estimates.TF32, estimates.EAGER, *fill)]
        + [("Adam", v) for v in (estimates.TF32, estimates.EAGER, estimates.FOREACH)])
    as_trained = [(True, {}, 64), (True, {"tf32": True}, 64), (False, {}, 64)]
    assert [(o, g, t, b) for _, o, g, t, b in asked] == (
        [("SGD", *a) for a in as_trained + [(True, {}, n) for n in calibrate.FILL_BATCHES]]
        + [("Adam", *a) for a in as_trained + [(True, {"foreach": True}, 64)]])
    assert all(t["ratio"] == t["train"] / t["as_trained"] for t in toggled)


def test_the_course_estimate_is_the_docstrings_arithmetic():
    # The CNN's forward pass, layer by layer: two FLOPs per multiply-add.
    cnn = 2 * (3 * 32 * 9 * 30 * 30 + 32 * 64 * 9 * 14 * 14 + 64 * 128 * 9 * 12 * 12 + 18432 * 128 + 128 * 10)
    assert estimates.forward_flops("cnn", "cifar10") == cnn
    mlp = 2 * (784 * 512 + 512 * 128 + 128 * 10)
    assert estimates.forward_flops("mlp", "mnist") == mlp
    rows = [{"kind": ["cifar10", "cnn", "cuda", "resident", "SGD"], "images": [45000, 15000], "train": 0.9, "full_epoch": 1.0},
            {"kind": ["cifar10", "cnn", "cuda", "resident", "Adam"], "images": [45000, 15000], "train": 1.0, "full_epoch": 1.1},
            {"kind": ["mnist", "mlp", "cuda", "template", "SGD"], "images": [60000, 10000], "train": 5.5, "full_epoch": 6.0},
            {"kind": ["cifar10", "cnn", "cuda", "template", "SGD"], "images": [45000, 15000], "train": 1.8, "full_epoch": 2.0},
            {"kind": ["mnist", "mlp", "cuda", "resident", "SGD"], "images": [60000, 10000], "train": 0.3, "full_epoch": 0.4},
            {"kind": ["mnist", "mlp", "cpu", "resident", "SGD"], "images": [60000, 10000], "train": 1.5, "full_epoch": 1.9}]
    h100, ratio, s = 66.9e12, 66.9 / 13.4, 1.5  # s: the course's core against the measuring one

    def proposal(tf32: float, as_trained: float = 0.9, device="NVIDIA H100 80GB HBM3", loader=None):
        toggled = [{"optimizer": "SGD", "variant": estimates.TF32, "train": tf32, "as_trained": as_trained},
                   {"optimizer": "SGD", "variant": estimates.EAGER, "train": 2.5, "as_trained": as_trained}]
        return estimates.proposed_epoch_seconds(rows, toggled, device, loader, slowdown=s)

    # TF32 saves time: the GPU is the longer part, its time is the epoch's (0.9 s of training).
    proposed, why, model = proposal(tf32=0.6)
    eta = 3 * cnn * 45000 / (0.9 * h100)
    cnn_resident = max(s * 1.1, 0.9 * 150000 / 135000 * ratio)
    assert proposed["cifar10", "cnn", "cuda", "resident"] == pytest.approx(cnn_resident)
    assert proposed["cifar10", "cnn", "cuda", "template"] == pytest.approx(max(s * 2.0, cnn_resident))  # not s * 2.0
    mlp_resident = max(s * 0.4, mlp * 190000 / (eta * h100) * ratio)
    assert proposed["mnist", "mlp", "cuda", "resident"] == pytest.approx(mlp_resident)
    assert proposed["mnist", "mlp", "cuda", "template"] == s * 6.0 and proposed["mnist", "mlp", "cpu", "resident"] == s * 1.9
    assert proposed["cifar10", "cnn", "cpu", "resident"] == EPOCH_SECONDS["cifar10", "cnn", "cpu", "resident"]
    assert model.startswith("proposed, from NVIDIA H100 80GB HBM3") and f"{eta:.0%} of it (from its toggles, at batch 64)" in model
    assert model.endswith("the course's core 1.5x slower (assumed)")
    # The loader measured: it and the training loop share the course task's one core, their times add up.
    with_loader, why, _ = proposal(tf32=0.6, loader={"mnist": 2.5})
    assert with_loader["mnist", "mlp", "cuda", "template"] == pytest.approx(s * 2.5 + mlp_resident)
    assert why["mnist", "mlp", "cuda", "template"].startswith("loader 2.50 s on one core")
    # TF32 saves nothing: the host bounds the epoch, its time says nothing of the GPU's: the assumed share.
    proposed, _, model = proposal(tf32=0.88)
    assert proposed["cifar10", "cnn", "cuda", "resident"] == pytest.approx(max(s * 1.1, cnn * 150000 / (h100 / 3) * ratio))
    assert "33% of it (assumed)" in model
    # Judged against the run as trained timed beside the toggles (1.0 s), not the row timed minutes before (0.9 s).
    assert estimates.efficiency(rows, proposal_toggles(0.6, 1.0), "NVIDIA H100 80GB HBM3") == (
        pytest.approx(3 * cnn * 45000 / (1.0 * h100)), 64)
    kept, _, _ = proposal(tf32=0.6, device="Some Future GPU")  # no known peak
    assert kept["cifar10", "cnn", "cuda", "resident"] == EPOCH_SECONDS["cifar10", "cnn", "cuda", "resident"]


def proposal_toggles(tf32: float, as_trained: float) -> list[dict]:
    return [{"optimizer": "SGD", "variant": estimates.TF32, "train": tf32, "as_trained": as_trained}]


def test_tf32_foreach_fused_and_capturable_are_explicit_with_a_default_per_device():
    params = [torch.nn.Parameter(torch.zeros(2))]
    cuda, cpu = torch.device("cuda"), torch.device("cpu")  # only their type decides; nothing runs on them
    assert make_optimizer("RMSprop", params, 0.1, cuda).defaults["foreach"] is True
    assert make_optimizer("Adam", params, 0.1, cuda, foreach=True).defaults["foreach"] is True
    assert make_optimizer("Adam", params, 0.1, cuda, foreach=False).defaults["foreach"] is False
    assert not make_optimizer("Adam", params, 0.1, cuda, foreach=True).defaults["fused"]
    assert make_optimizer("Adam", params, 0.1, cpu).defaults["foreach"] is None
    assert not make_optimizer("Adam", params, 0.1, cpu).defaults["fused"]
    assert make_optimizer("Adam", params, 0.1, cpu).defaults["capturable"] is False
    assert make_optimizer("Adam", params, 0.1, cpu, capturable=True).defaults["capturable"] is True
    if int(torch.__version__.split(".")[0]) >= 2:  # torch 1.x makes a fused Adam of CUDA parameters only
        fused = make_optimizer("Adam", params, 0.1, cuda, capturable=True).defaults
        assert fused["fused"] and not fused["foreach"] and fused["capturable"]
    assert "capturable" not in make_optimizer("SGD", params, 0.1, cuda, capturable=True).defaults  # needs none
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.benchmark)
    try:
        exact_float32(cuda, tf32=True)
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        exact_float32(cuda)
        assert not (torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.benchmark = saved


def test_each_kind_is_timed_at_its_lowest_rate_where_nothing_diverges(stand_ins):
    from helpers.plan import planned_runs
    configs = calibrate.kinds("cuda", 0.01, 2, stand_ins)
    lowest = {}
    for p in planned_runs("full", None, stand_ins):
        c = p.config or p.like
        key = calibrate.kind_of(c, "cuda")
        lowest[key] = min(lowest.get(key, c.lr), c.lr)
    assert {calibrate.kind_of(c, "cuda"): c.lr for c in configs} == lowest
    assert lowest["cifar10", "cnn", "cuda", "resident", "Adam"] == 0.001  # not 0.1, where Adam stays at chance


def test_the_course_gpu_is_filled_as_the_measuring_one_at_the_batch_of_the_threads_ratio():
    """An H200 holds 3.9x the threads of an RTX 2080 Ti: batches of 64 fill the course GPU as batches of ~250 fill it,
    so the CNN's share of the peak is measured at the timed batch nearest that (256), not at 64."""
    assert estimates.course_fill_batch("NVIDIA H200") == pytest.approx(64 * 132 * 2048 / (68 * 1024))
    assert estimates.course_fill_batch("RTX 2080 Ti") == 64  # measured on a course GPU: as trained
    cnn = estimates.forward_flops("cnn", "cifar10")
    rows = [{"kind": ["cifar10", "cnn", "cuda", "resident", "SGD"], "images": [45000, 15000], "train": 0.41,
             "full_epoch": 0.43},
            {"kind": ["cifar10", "cnn", "cuda", "resident", "Adam"], "images": [45000, 15000], "train": 0.46,
             "full_epoch": 0.48}]
    timed = {estimates.TF32: 0.30, estimates.batch_variant(128): 0.33, estimates.batch_variant(256): 0.25,
             estimates.batch_variant(512): 0.22}
    toggled = [{"optimizer": "SGD", "variant": v, "train": t, "as_trained": 0.41} for v, t in timed.items()]
    eta, batch = estimates.efficiency(rows, toggled, "NVIDIA H200")
    assert batch == 256 and eta == pytest.approx(3 * cnn * 45000 / (0.25 * 66.9e12))
    proposed, why, model = estimates.proposed_epoch_seconds(rows, toggled, "NVIDIA H200", slowdown=2.0)
    on_course = cnn * (3 * 45000 + 15000) / (eta * 13.4e12)
    assert proposed["cifar10", "cnn", "cuda", "resident"] == pytest.approx(max(2.0 * 0.48, on_course))
    assert "at batch 256: as full as the course GPU at 64" in model
    assert f"its GPU work on the course GPU {on_course:.2f} s" in why["cifar10", "cnn", "cuda", "resident"]
    # Where TF32 saves nothing, the host bounds batches of 64 and nothing is measured: the assumed share.
    host_bound = [dict(t, train=0.40) if t["variant"] == estimates.TF32 else t for t in toggled]
    assert estimates.efficiency(rows, host_bound, "NVIDIA H200") is None
