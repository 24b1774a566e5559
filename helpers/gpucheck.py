"""`make gpu-check`: every CUDA path of the project, exercised in under two minutes, with one table.

    python -m helpers.gpucheck            (needs torch, torchvision, numpy and tqdm; not papermill)

Both input pipelines with the MLP and the CNN, every optimizer family for a few steps, checkpoint and
resume of a run killed mid-way, the seeded batch generators, and timing with synchronisation. It
trains on generated data in the official formats (nothing to download) and stores nothing. Without
CUDA it says so and exits non-zero. (`--device cpu` runs the same checks on the CPU, for the tests.)
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from .experiment import RunConfig, run, run_files
from .synthetic import write_stand_ins

# Kill a run after its first checkpoint, start it again, and print its record (a fresh process, like a requeue).
_TRAIN = ("import json, sys; from helpers.experiment import RunConfig, run; "
          "h = run(RunConfig(**json.loads(sys.argv[1])), sys.argv[2], sys.argv[3], progress=False); "
          "print(json.dumps({'records': len(h.records), 'resumes': h.resumes}))")


def _row(rows: list, check: str, started: float, ok: bool, detail: str) -> bool:
    rows.append((check, "ok" if ok else "FAILED", f"{time.perf_counter() - started:.1f} s", detail))
    return ok


def _per_epoch(history) -> str:
    times = history.column("train_time")
    return f"{times[-1]:.3f} s per epoch after the first ({times[0]:.3f} s), test acc. {history.records[-1]['test_accuracy']:.3f}"


def run_checks(device: str, root: Path) -> list[tuple]:
    """Run every check on the device; return the table's rows (check, result, seconds, detail)."""
    rows: list[tuple] = []
    small = dict(device=device, epochs=2, train_subset=4000, test_subset=1000, val_size=500)
    for dataset, model in (("mnist", "mlp"), ("cifar10", "cnn")):
        for pipeline in ("template", "resident"):
            started = time.perf_counter()
            history = run(RunConfig(dataset, model, pipeline=pipeline, lr=0.05, **small), root, progress=False)
            ok = history.status == "completed" and history.environment["device"] == device
            _row(rows, f"{dataset} {model.upper()} {pipeline}", started, ok, _per_epoch(history))
    for optimizer, lr in (("SGD", 0.05), ("Adam", 1e-3), ("RMSprop", 1e-3), ("Adagrad", 1e-2), ("AdamW", 1e-3)):
        started = time.perf_counter()
        history = run(RunConfig("cifar10", "cnn", optimizer=optimizer, lr=lr, pipeline="resident",
                                **{**small, "epochs": 1, "train_subset": 1000}), root, progress=False)
        loss = history.records[-1]["train_loss"]
        _row(rows, f"optimizer {optimizer}", started, loss is not None, f"training loss {loss}")
    rows.append(_resume_check(device, root))
    rows.append(_generator_check(device))
    rows.append(_timing_check(device))
    return rows


def _resume_check(device: str, root: Path) -> tuple:
    started = time.perf_counter()
    config = RunConfig("cifar10", "cnn", optimizer="Adam", lr=1e-3, pipeline="resident", device=device, epochs=6,
                       train_subset=4000, test_subset=500, val_size=500)
    results = Path(tempfile.mkdtemp(dir=root))
    files = run_files(config, root, results, download_missing=False)
    argv = [sys.executable, "-c", _TRAIN, json.dumps(config.__dict__), str(root), str(results)]
    victim = subprocess.Popen(argv, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True)
    while not files.checkpoint.exists() and victim.poll() is None:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    cut_after = len(files.load_checkpoint()["records"]) if files.checkpoint.exists() else 0
    done = subprocess.run(argv, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
    outcome = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    ok = (cut_after >= 1 and outcome.get("records") == config.epochs and len(outcome.get("resumes", [])) == 1
          and not files.checkpoint.exists() and files.result.exists())
    rows = []
    _row(rows, "checkpoint, kill, resume", started, ok,
         f"killed after epoch {cut_after}, resumed to {outcome.get('records')} epochs" if ok else done.stderr[-300:])
    return rows[0]


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
    rows = []
    _row(rows, "seeded batch generators", started, same_seed and restored,
         f"same seed, same order: {same_seed}; state restored, same next order: {restored}")
    return rows[0]


def _timing_check(device: str) -> tuple:
    from .training import synchronize
    started = time.perf_counter()
    x = torch.randn(2048, 2048, device=device)
    synchronize(torch.device(device))
    start = time.perf_counter()
    for _ in range(20):
        x = x @ x / 2048
    queued = time.perf_counter() - start
    synchronize(torch.device(device))
    waited = time.perf_counter() - start
    rows = []
    _row(rows, "timing with synchronisation", started, waited >= queued,
         f"20 matmuls: {queued * 1e3:.1f} ms to queue, {waited * 1e3:.1f} ms until done")
    return rows[0]


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
        write_stand_ins(root, n_mnist=6000, n_cifar=6000, n_test=1000)
        rows = run_checks(args.device, root)
    widths = [max(len(r[i]) for r in rows + [("check", "result", "time", "")]) for i in range(3)]
    for row in [("check", "result", "time", "detail")] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    failed = [r[0] for r in rows if r[1] != "ok"]
    print(f"{len(rows) - len(failed)} of {len(rows)} checks passed" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
