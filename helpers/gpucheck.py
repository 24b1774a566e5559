"""`make gpu-check`: every CUDA path of the project, exercised in under two minutes, with one table.

    python -m helpers.gpucheck            (needs torch, torchvision, numpy and tqdm; not papermill)

Both input pipelines with the MLP and the CNN, every optimizer family for a few steps, checkpoint and
resume of a run killed mid-way, the seeded batch generators, and timing with synchronisation. It
trains on generated data in the official formats (nothing to download) and stores nothing. Without
CUDA it says so and exits non-zero. (`--device cpu` runs the same checks on the CPU with a tenth of
the data, in seconds: tests/test_gpucheck.py runs it.)
"""
from __future__ import annotations

import argparse
import json
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from .experiment import RunConfig, run, run_files
from .files import REPO_ROOT
from .graphcheck import graph_rows, table_row
from .synthetic import write_stand_ins
from .training import synchronize

# How much each check trains: on a GPU enough for real epoch times; on the CPU (the tests) a tenth, in seconds.
SIZES = {
    "cuda": dict(stand_ins=dict(n_mnist=6000, n_cifar=6000, n_test=1000), train_subset=4000, test_subset=1000,
                 val_size=500, optimizer_subset=1000, resume_epochs=6, matrix=2048, graph_epochs=5),
    "cpu": dict(stand_ins=dict(n_mnist=1000, n_cifar=1000, n_test=300), train_subset=400, test_subset=200,
                val_size=100, optimizer_subset=200, resume_epochs=3, matrix=384, graph_epochs=2),
}

# The start of a run in a fresh process (like a requeued task): with "pause" as its fourth argument it stops one
# step into epoch 2, after its first checkpoint, says so and waits to be killed, so that the kill comes at a known
# point, whatever the machine's load, instead of after a guessed sleep. (tests/test_resume.py uses it too.)
PAUSING_RUN = """
import json, os, sys
from helpers import experiment
if sys.argv[4:] == ["pause"]:
    train = experiment.train

    def pausing(model, optimizer, batches, *args, **kwargs):
        epochs = []

        def pause():
            print("paused in epoch 2", flush=True)
            sys.stdin.readline()  # returns only if the parent is gone
            os._exit(1)

        class PauseInEpoch2:
            def __getattr__(self, name):  # the batches' size, images and generator
                return getattr(batches, name)

            def __iter__(self):
                epochs.append(1)
                for step, batch in enumerate(batches):
                    if len(epochs) == 2 and step == 1:
                        pause()
                    yield batch

            def epoch_order(self):  # a graphed epoch draws its order first: paused before its first step
                epochs.append(1)
                if len(epochs) == 2:
                    pause()
                return batches.epoch_order()
        return train(model, optimizer, PauseInEpoch2(), *args, **kwargs)
    experiment.train = pausing
"""
# ... which prints its record.
_TRAIN = PAUSING_RUN + """
h = experiment.run(experiment.RunConfig(**json.loads(sys.argv[1])), sys.argv[2], sys.argv[3], progress=False)
print(json.dumps({"records": len(h.records), "resumes": h.resumes}))
"""


def _per_epoch(history) -> str:
    times = history.column("train_time")
    return f"{times[-1]:.3f} s per epoch after the first ({times[0]:.3f} s), test acc. {history.records[-1]['test_accuracy']:.3f}"


def run_checks(device: str, root: Path) -> list[tuple]:
    """Run every check on the device; return the table's rows (check, result, seconds, detail)."""
    rows: list[tuple] = []
    size = SIZES[device]
    small = dict(device=device, epochs=2, train_subset=size["train_subset"], test_subset=size["test_subset"],
                 val_size=size["val_size"])
    for dataset, model in (("mnist", "mlp"), ("cifar10", "cnn")):
        for pipeline in ("template", "resident"):
            started = time.perf_counter()
            history = run(RunConfig(dataset, model, pipeline=pipeline, lr=0.05, **small), root, progress=False)
            ok = history.status == "completed" and history.environment["device"] == device
            rows.append(table_row(f"{dataset} {model.upper()} {pipeline}", started, ok, _per_epoch(history)))
    for optimizer, lr in (("SGD", 0.05), ("Adam", 1e-3), ("RMSprop", 1e-3), ("Adagrad", 1e-2), ("AdamW", 1e-3)):
        started = time.perf_counter()
        history = run(RunConfig("cifar10", "cnn", optimizer=optimizer, lr=lr, pipeline="resident",
                                **{**small, "epochs": 1, "train_subset": size["optimizer_subset"]}), root, progress=False)
        loss = history.records[-1]["train_loss"]
        rows.append(table_row(f"optimizer {optimizer}", started, loss is not None, f"training loss {loss}"))
    rows.append(_resume_check(device, root))
    rows += graph_rows(device, root, size)
    rows.append(_generator_check(device))
    rows.append(_timing_check(device))
    return rows


def _resume_check(device: str, root: Path, wait_s: float = 300) -> tuple:
    started = time.perf_counter()
    size = SIZES[device]
    config = RunConfig("cifar10", "cnn", optimizer="Adam", lr=1e-3, pipeline="resident", device=device,
                       epochs=size["resume_epochs"], train_subset=size["train_subset"],
                       test_subset=size["test_subset"], val_size=size["val_size"])
    results = Path(tempfile.mkdtemp(dir=root))
    files = run_files(config, root, results, download_missing=False)
    argv = [sys.executable, "-c", _TRAIN, json.dumps(config.__dict__), str(root), str(results)]
    victim = subprocess.Popen(argv + ["pause"], cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    paused = _line_within(victim, "paused in epoch 2", wait_s)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    cut_after = len(files.load_checkpoint()["records"]) if files.checkpoint.exists() else 0
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True)
    outcome = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    ok = (paused and cut_after == 1 and outcome.get("records") == config.epochs
          and [r["after_epoch"] for r in outcome.get("resumes", [])] == [1]
          and not files.checkpoint.exists() and files.result.exists())
    detail = (f"killed in epoch 2 after the checkpoint of epoch {cut_after}, resumed to {outcome.get('records')} epochs"
              if ok else f"paused: {paused}, checkpointed epochs: {cut_after}, outcome {outcome} {done.stderr[-300:]}")
    return table_row("checkpoint, kill, resume", started, ok, detail)


def _line_within(process: subprocess.Popen, line: str, seconds: float) -> bool:
    """True if the process printed this line (as its first) within the given seconds."""
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    return bool(ready) and process.stdout.readline().strip() == line


def _generator_check(device: str) -> tuple:
    from .pipelines import ResidentBatches
    started = time.perf_counter()
    images = torch.arange(1000, device=device, dtype=torch.float32).view(-1, 1)
    labels = torch.zeros(1000, dtype=torch.long, device=device)
    first, second = (ResidentBatches(images, labels, 100, shuffle=True, seed=7) for _ in range(2))
    same_seed = all(torch.equal(a[0], b[0]) for a, b in zip(first, second))
    state = first.generator.get_state()
    after = [b[0].clone() for b in first]
    first.generator.set_state(state)
    restored = all(torch.equal(a, b[0]) for a, b in zip(after, first))
    return table_row("seeded batch generators", started, same_seed and restored,
                     f"same seed, same order: {same_seed}; state restored, same next order: {restored}")


# Float32 FLOP/s that no device reaches (per CPU thread; per GPU), about ten times the fastest there is:
# the work's FLOPs at this rate are a floor that a clock which covered the work cannot be under.
_PEAK_FLOPS = {"cpu": 1e13, "cuda": 1e16}


def _matmuls(x: torch.Tensor, w: torch.Tensor, count: int) -> torch.Tensor:
    """Queue count products x @ w (w scaled so that the values stay near 1: no denormals, no overflow)."""
    for _ in range(count):
        x = x @ w
    return x


def _timing_check(device: str, n: int | None = None, count: int = 20) -> tuple:
    """Time matmuls up to `synchronize`: the clock must cover the work, so it can fail where it does not.

    It fails if the synchronised time is shorter than the work can possibly take (its FLOPs at a peak no
    device reaches), and on CUDA also if the work's end event is not reached once synchronize returns or
    the GPU's own timing of the work is longer than the synchronised time.
    """
    started = time.perf_counter()
    n = n or SIZES[device]["matrix"]
    dev = torch.device(device)
    x = torch.randn(n, n, device=dev)
    w = torch.randn(n, n, device=dev) / n ** 0.5
    _matmuls(x, w, 1)  # warm-up: library loading and kernel selection stay out of the figure
    events = [torch.cuda.Event(enable_timing=True) for _ in range(2)] if dev.type == "cuda" else []
    synchronize(dev)
    start = time.perf_counter()
    if events:
        events[0].record()
    result = _matmuls(x, w, count)
    if events:
        events[1].record()
    queued = time.perf_counter() - start
    synchronize(dev)
    waited = time.perf_counter() - start
    done = events[1].query() if events else True
    threads = torch.get_num_threads() if dev.type == "cpu" else 1
    floor = count * 2 * n ** 3 / (_PEAK_FLOPS[dev.type] * threads)
    ok = done and waited >= floor and bool(torch.isfinite(result).all())
    detail = (f"{count} matmuls of {n}x{n}: {queued * 1e3:.1f} ms to queue, {waited * 1e3:.1f} ms until done "
              f"(no device could do them in under {floor * 1e3:.2f} ms)")
    if events:
        torch.cuda.synchronize(dev)
        device_ms = events[0].elapsed_time(events[1])
        ok = ok and device_ms <= waited * 1e3 * 1.01 + 0.05
        detail += f"; the GPU's own timing {device_ms:.1f} ms" + ("" if done else "; NOT finished when synchronize returned")
    return table_row("timing with synchronisation", started, ok, detail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.gpucheck", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"no CUDA here: torch {torch.__version__} (CUDA build {torch.version.cuda}), "
              "torch.cuda.is_available() is False. Run `make gpu-check` on a GPU node (e.g. in an srun session).")
        return 1
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    print(f"gpu-check on {name}: torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"cuDNN {torch.backends.cudnn.version()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_stand_ins(root, **SIZES[args.device]["stand_ins"])
        rows = run_checks(args.device, root)
    widths = [max(len(r[i]) for r in rows + [("check", "result", "time", "")]) for i in range(3)]
    for row in [("check", "result", "time", "detail")] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    failed = [r[0] for r in rows if r[1] != "ok"]
    print(f"{len(rows) - len(failed)} of {len(rows)} checks passed" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
