"""`make bench`: per-epoch training time of the MNIST MLP with both input pipelines, measured in one run on
this machine, and on a GPU also the 30-epoch CNN on CIFAR-10. Prints a table; stores nothing.

Without the datasets (a fresh machine) it times generated stand-ins of the official sizes and formats
(60,000 + 10,000 MNIST images, 50,000 + 10,000 CIFAR-10 images), and says so: the timing is the same
work, the accuracies mean nothing. (`--stand-in-scale` makes them smaller, for the tests.)"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from .data import locate, resolve_data_root
from .environment import describe_environment
from .errors import UserError, run_command
from .experiment import RunConfig, run
from .profiles import REPO_ROOT
from .synthetic import write_stand_ins

OFFICIAL_SIZES = {"n_mnist": 60000, "n_cifar": 50000, "n_test": 10000}  # training images of each; test images


def first_and_median(times: list[float]) -> tuple[float, float]:
    """The first epoch's time and the median of the later ones (the first's alone if there is no other)."""
    return times[0], statistics.median(times[1:]) if len(times) > 1 else times[0]


def epoch_times(config: RunConfig, data_root) -> tuple[float, float]:
    """Return (first epoch, median of the later epochs) training time of one fresh run."""
    return first_and_median(run(config, data_root, results_dir=None, progress=False).column("train_time"))


def stand_in_sizes(scale: float = 1.0) -> dict:
    """Return the stand-ins' sizes: the official ones times scale (CIFAR-10's training set in five equal batches)."""
    if not 0 < scale <= 1:
        raise UserError(f"--stand-in-scale must be in (0, 1], got {scale}")
    sizes = {name: max(10, round(n * scale)) for name, n in OFFICIAL_SIZES.items()}
    sizes["n_cifar"] -= sizes["n_cifar"] % 5
    return sizes


def bench_data_root(data_root, stand_ins=REPO_ROOT / "build" / "bench-data", sizes=OFFICIAL_SIZES) -> tuple[str, str]:
    """Return the data root to time on and what it holds: the real datasets, or generated stand-ins.

    The stand-ins are written once into `stand_ins` and kept for the next bench (rewritten if their sizes
    differ, or if writing them was cut off: their sizes are recorded last)."""
    try:
        for name in ("mnist", "cifar10"):
            locate(name, data_root, download_missing=False)
        return str(resolve_data_root(data_root)), f"the datasets in {resolve_data_root(data_root)}"
    except UserError:
        root = Path(stand_ins)
        record = root / "bench-sizes.json"
        if not (record.exists() and json.loads(record.read_text()) == sizes):
            write_stand_ins(root, **sizes)
            record.write_text(json.dumps(sizes))
        return str(root), (f"generated stand-ins in the official formats, {sizes['n_mnist']:,} + {sizes['n_test']:,} "
                           f"MNIST and {sizes['n_cifar']:,} + {sizes['n_test']:,} CIFAR-10 images, in {root} "
                           f"(no dataset found in {resolve_data_root(data_root)}; timing only, the accuracies mean nothing)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per MLP run (the first counts as warm-up)")
    parser.add_argument("--stand-ins", default=str(REPO_ROOT / "build" / "bench-data"),
                        help="where to write the stand-ins if no dataset is found (default: build/bench-data)")
    parser.add_argument("--stand-in-scale", type=float, default=1.0,
                        help="the stand-ins' size as a fraction of the official sizes (default 1; for tests)")
    args = parser.parse_args(argv)
    env = describe_environment()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    def body():
        root, what = bench_data_root(args.data_root, args.stand_ins, stand_in_sizes(args.stand_in_scale))
        print(f"machine: {env['cpu_model']}, {env['cpu_threads']} threads, GPU: {env['gpu'] or 'none'}; "
              f"torch {env['torch']}\ndata: {what}", flush=True)
        for device in devices:
            median = {}
            for pipeline in ("template", "resident"):
                config = RunConfig("mnist", "mlp", epochs=args.epochs, device=device, pipeline=pipeline)
                first, median[pipeline] = epoch_times(config, root)
                print(f"MNIST MLP  {device:4s} {pipeline:8s}  epoch 1 {first:7.2f} s   later epochs (median) "
                      f"{median[pipeline]:7.2f} s", flush=True)
            print(f"MNIST MLP  {device:4s} resident is {median['template'] / median['resident']:.1f}x faster "
                  "than template per epoch", flush=True)
        if "cuda" in devices:
            history = run(RunConfig("cifar10", "cnn", lr=0.01, epochs=30, device="cuda", pipeline="resident",
                                    val_size=5000), root, results_dir=None, progress=False)
            print(f"CIFAR-10 CNN cuda resident  30 epochs: {history.records[-1]['cumulative_train_time']:.1f} s "
                  f"training ({statistics.median(history.column('train_time')):.3f} s per epoch), "
                  f"final test accuracy {history.records[-1]['test_accuracy']:.3f}", flush=True)
    return run_command(body)


if __name__ == "__main__":
    raise SystemExit(main())
