"""The training loop: one timed loop for every experiment, any model, any torch.optim optimizer (by name).

`train(...)` runs epochs and returns one record per epoch; `evaluate(...)` measures a split. What
is trained, where the result is stored and how a run resumes is `helpers.experiment`'s business:
the loop only calls `on_epoch_end(records)` after each complete epoch (where the checkpoint is written).
"""
from __future__ import annotations

import inspect
import math
import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .errors import UserError


# Optimizers that step without a closure and on dense gradients: every other torch.optim class.
_UNSUITED = {"lbfgs": "needs a closure that re-evaluates the loss", "sparseadam": "needs sparse gradients"}


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """Return the torch.optim class of that name (any case); unknown or unsuited names are a UserError."""
    known = {cls.__name__.lower(): cls for cls in vars(torch.optim).values()
             if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer}
    if not isinstance(name, str):
        raise UserError(f"an optimizer is named by a string such as 'Adam', got {name!r}")
    key = name.lower()
    if key in _UNSUITED:
        raise UserError(f"optimizer {name!r} is not supported here: it {_UNSUITED[key]}")
    if key not in known:
        usable = sorted(cls.__name__ for k, cls in known.items() if k not in _UNSUITED)
        raise UserError(f"unknown optimizer {name!r}; torch.optim offers: {', '.join(usable)}")
    return known[key]


# Optimizers whose fused update (one kernel for all parameters, torch >= 1.13 for Adam) a CUDA run uses: on the CNN
# Adam's multi-tensor step is a dozen kernels, a fifth of a graphed step on an H200 (docs/maintaining.md).
FUSED_ON_CUDA = ("Adam", "AdamW")


def fuses(cls: type[torch.optim.Optimizer], device_type: str) -> bool:
    """True if a run on this device type steps the optimizer with its fused update (CUDA, where torch has one)."""
    return (device_type == "cuda" and cls.__name__ in FUSED_ON_CUDA
            and "fused" in inspect.signature(cls.__init__).parameters)


def make_optimizer(name: str, parameters, lr: float, device: torch.device,
                   foreach: bool | None = None, capturable: bool = False) -> torch.optim.Optimizer:
    """The named torch.optim optimizer; on CUDA with its fused update where torch has one (fuses), else its
    multi-tensor (foreach) update where torch has one.

    Both compute the per-parameter loop's update in fewer, larger kernels (rounded differently: runs record which,
    helpers.graphs.step_path): torch 2 picks foreach by itself on CUDA, torch 1.13 only when asked. The CPU keeps
    torch's default (the loop). `foreach` True or False asks for one of the two explicitly instead of the fused
    update (to measure the difference); None is the choice above. `capturable` keeps the optimizer's step count on
    the GPU, so that its step can be captured in a CUDA graph (helpers.graphs), where the optimizer has that option.
    """
    cls = optimizer_class(name)
    options = inspect.signature(cls.__init__).parameters
    if foreach is None and fuses(cls, device.type):
        kwargs = {"fused": True}
    else:
        if foreach is None:
            foreach = True if device.type == "cuda" else None
        kwargs = {"foreach": foreach} if foreach is not None and "foreach" in options else {}
    if capturable and "capturable" in options:
        kwargs["capturable"] = True
    return cls(parameters, lr=lr, **kwargs)


def exact_float32(device: torch.device, tf32: bool = False) -> None:
    """Compute in true fp32 on this device: no TF32 in cuDNN convolutions or matmuls (Ampere and newer
    use it by default in some torch versions), so that CPU and GPU agree up to rounding. tf32=True
    allows TF32 instead, only to measure what exact fp32 costs (helpers.calibrate)."""
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels once


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA), so that a clock read after it measures that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def evaluate(model: torch.nn.Module, batches, device: torch.device) -> tuple[float, float]:
    """Return mean NLL loss and accuracy of the model on a split."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    count = 0
    with torch.no_grad():
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            out = model(x)
            loss_sum += F.nll_loss(out, y, reduction="sum")
            correct += (out.argmax(dim=1) == y).sum()
            count += len(y)
    return loss_sum.item() / count, correct.item() / count


def finite_or_none(value: float) -> float | None:
    """Return the value, or None if it is inf or nan (stored as JSON null)."""
    return value if math.isfinite(value) else None


def train_one_epoch(model, optimizer, batches, device: torch.device) -> tuple[float, float, float]:
    """Train one epoch; return (mean training loss, training accuracy, seconds of training steps).

    The clock runs around the training steps only, CUDA synchronised before it stops; the sums stay
    on the device, so the hot loop never waits for the host.
    """
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    count = 0
    synchronize(device)
    start = time.perf_counter()
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        out = model(x)
        loss = F.nll_loss(out, y)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(y)
        correct += (out.argmax(dim=1) == y).sum()
        count += len(y)
    synchronize(device)
    seconds = time.perf_counter() - start
    return loss_sum.item() / count, correct.item() / count, seconds


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, train_batches, eval_batches: dict,
          epochs: int, device: torch.device, records: list[dict] | None = None,
          on_epoch_end: Callable[[list[dict]], None] | None = None, progress: bool = True,
          desc: str = "", conditions: Callable[[], dict] | None = None, steps=None) -> tuple[list[dict], str]:
    """Train until `epochs` epochs are recorded; return the per-epoch records and the status.

    `records` holds the epochs a resumed run already completed (training continues after the last);
    the status is "completed", or "diverged" when the training loss became non-finite (training
    stops there). Evaluation on each of `eval_batches` ({"test": ..., "val": ...}) is timed apart.
    `conditions()` says what else used the machine (e.g. {"sharing": 0, "load": 1.1}); asked before and
    after each epoch, it is recorded with the epoch's times (the larger sharing count of the two).
    `steps` (helpers.graphs.GraphedSteps) trains the epochs of a graphed run; each record says whether its
    training steps were graphed.
    """
    records = list(records or [])
    cumulative = records[-1]["cumulative_train_time"] if records else 0.0
    bar = progress_bar(range(len(records) + 1, epochs + 1), desc, progress, initial=len(records), total=epochs)
    for epoch in bar:
        before = conditions() if conditions else None
        train_epoch = steps.train_epoch if steps is not None else train_one_epoch
        train_loss, train_accuracy, train_time = train_epoch(model, optimizer, train_batches, device)
        cumulative += train_time
        start = time.perf_counter()
        record = {"epoch": epoch, "train_loss": finite_or_none(train_loss), "train_accuracy": train_accuracy,
                  "graphed": bool(steps is not None and steps.graphed)}
        for split, batches in eval_batches.items():
            loss, accuracy = evaluate(model, batches, device)
            record.update({f"{split}_loss": finite_or_none(loss), f"{split}_accuracy": accuracy})
        synchronize(device)
        record.update(train_time=train_time, eval_time=time.perf_counter() - start, cumulative_train_time=cumulative)
        if conditions:
            after = conditions()
            record["conditions"] = {**after, "sharing": max(before.get("sharing", 0), after.get("sharing", 0))}
        records.append(record)
        bar.set_postfix(loss=f"{train_loss:.4f}", test_acc=f"{record.get('test_accuracy', float('nan')):.4f}",
                        train_s=f"{train_time:.2f}")
        if not math.isfinite(train_loss):
            bar.close()
            return records, "diverged"
        if on_epoch_end is not None and epoch < epochs:
            on_epoch_end(records)
    return records, "completed"


def random_state(generators: list[torch.Generator], device: torch.device) -> dict:
    """Every random state the rest of a run depends on: the batch orders' generators and torch's own."""
    state = {"generators": [g.get_state() for g in generators], "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_random_state(state: dict, generators: list[torch.Generator], device: torch.device) -> None:
    """Set every random state that random_state saved (a run resumed from its checkpoint)."""
    for generator, saved in zip(generators, state["generators"]):
        generator.set_state(saved)
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def progress_bar(epochs, desc: str, enabled: bool, initial: int, total: int):
    """An iterable over the epochs that shows progress where it is read.

    A widget in Jupyter, a bar in a terminal, and one plain line per epoch in a batch log (a bar
    redrawn with carriage returns would fill a SLURM log with thousands of fragments).
    """
    if enabled and "ipykernel" in sys.modules:
        from tqdm.auto import tqdm as auto
        return auto(epochs, desc=desc, unit="epoch", initial=initial, total=total)
    if not enabled or sys.stderr.isatty():
        return tqdm(epochs, desc=desc, unit="epoch", disable=not enabled, initial=initial, total=total)
    return EpochLines(epochs, desc, total)


class EpochLines:
    """The plain-text progress of a batch job: one line per finished epoch, on stdout."""

    def __init__(self, epochs, desc: str, total: int):
        self.epochs, self.desc, self.total, self.postfix = epochs, desc, total, {}

    def __iter__(self):
        for epoch in self.epochs:
            yield epoch
            print(f"{self.desc}: epoch {epoch}/{self.total} " + " ".join(f"{k}={v}" for k, v in self.postfix.items()),
                  flush=True)

    def set_postfix(self, **values):
        self.postfix = values

    def close(self):
        pass
