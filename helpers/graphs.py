"""CUDA-graphed training steps: the resident pipeline's epochs on a GPU, at the GPU's pace instead of the host's.

An eager training step launches some dozens of small kernels, each queued by Python; with batches of 64 the GPU
waits for the host. Here a run's step (the batch gathered by a device-side step counter, forward, loss, backward,
the loss and accuracy sums, and the optimizer step where torch can capture it) is captured once as a CUDA graph
and replayed for every full batch: one launch per step. What a step computes is the eager step's:

- the epoch's order is drawn from the batches' own generator, as iterating them draws it;
- the first step of the capturing epoch runs eagerly (it creates the optimizer's state as eager training does),
  then the warm-up steps that capture needs are undone (parameters, optimizer state, sums restored in place);
- an optimizer that this torch cannot capture (no `capturable` option; SGD needs none) steps eagerly, with its
  multi-tensor update, after each replay; the last, partial batch of an epoch runs eagerly too;
- a capture that fails falls back to eager steps for the rest of the run, says so once and records why.

`step_path` decides which runs are graphed (CUDA, resident pipeline, torch with graphs, not switched off by the
`graphs` setting); `GraphedSteps.train_epoch` is `training.train_one_epoch` for a graphed run.
"""
from __future__ import annotations

import inspect
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .training import fuses, optimizer_class, synchronize, train_one_epoch

WARMUP_STEPS = 3  # eager steps on a side stream before capture, as PyTorch's CUDA-graph notes do
# Every name of torch the CUDA path calls: the course's torch 1.13.1 has them all (tests/test_graphs.py checks).
TORCH_NAMES = ("cuda.CUDAGraph", "cuda.CUDAGraph.replay", "cuda.graph", "cuda.Stream", "cuda.Stream.wait_stream",
               "cuda.stream", "cuda.current_stream", "Tensor.index_select", "Tensor.zero_", "Tensor.copy_",
               "optim.Optimizer.zero_grad")


@dataclass(frozen=True)
class StepPath:
    """How a run's training steps are computed: graphed or eager, the optimizer step inside the graph or not, why."""
    graphed: bool
    optimizer_in_graph: bool
    reason: str

    def record(self) -> dict:
        return {"graphed": self.graphed, "optimizer_in_graph": self.optimizer_in_graph, "reason": self.reason}


def has_graphs(module=torch) -> bool:
    """True if this torch can capture and replay CUDA graphs (torch >= 1.10)."""
    return hasattr(module.cuda, "CUDAGraph") and hasattr(module.cuda, "graph")


def captures_step(cls: type[torch.optim.Optimizer]) -> bool:
    """True if the optimizer's step can run inside a CUDA graph: it keeps no count on the host (plain SGD keeps no
    state there at all), or it has torch's `capturable` option (which keeps its step count on the GPU)."""
    return cls is torch.optim.SGD or "capturable" in inspect.signature(cls.__init__).parameters


def step_path(device_type: str, pipeline: str, optimizer: str, enabled: bool = True, module=torch) -> StepPath:
    """Decide how a run's steps are computed, and say why in words that the run records."""
    if not enabled:
        return StepPath(False, False, "eager: CUDA graphs switched off by the setting graphs: false")
    if device_type != "cuda":
        return StepPath(False, False, "eager: a CPU run (CUDA graphs need a GPU)")
    if pipeline != "resident":
        return StepPath(False, False, "eager: the template pipeline (its batches come from the template's DataLoader)")
    if not has_graphs(module):
        return StepPath(False, False, f"eager: torch {module.__version__} has no CUDA graphs")
    cls = optimizer_class(optimizer)
    if captures_step(cls):
        update = "fused step" if fuses(cls, device_type) else "step"
        return StepPath(True, True, f"graphed: forward, loss, backward and {cls.__name__}'s {update} in one CUDA graph")
    return StepPath(True, False, f"graphed: forward, loss and backward; {cls.__name__}'s step eagerly after each "
                                 f"replay (torch {module.__version__} cannot capture it)")


# ---------------------------------------------------------------------------------------------
# Capture: the real one on CUDA, and an eager stand-in with the same bookkeeping (tests on the CPU)
# ---------------------------------------------------------------------------------------------

def cuda_capture(step: Callable[[], None], optimizer: torch.optim.Optimizer, device: torch.device) -> Callable[[], None]:
    """Warm the step up on a side stream, capture it as a CUDA graph; return the graph's replay."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(WARMUP_STEPS):
            optimizer.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)  # the captured backward then writes the gradients, on every replay
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def eager_capture(step: Callable[[], None], optimizer: torch.optim.Optimizer, device: torch.device):
    """The stand-in of cuda_capture where there is no GPU: the same warm-up, and a 'replay' that runs the step."""
    for _ in range(WARMUP_STEPS):
        optimizer.zero_grad(set_to_none=True)
        step()

    def replay():  # a graph's backward writes the gradients; an eager one adds to them: start from zero
        optimizer.zero_grad(set_to_none=False)
        step()
    return replay


# ---------------------------------------------------------------------------------------------
# A graphed run's epochs
# ---------------------------------------------------------------------------------------------

class GraphedSteps:
    """The training epochs of one run on resident batches, its full batches replayed from one captured graph.

    `train_epoch(model, optimizer, batches, device)` is train_one_epoch's counterpart (same return values, same
    numbers); `graphed` says whether the last epoch replayed a graph, `record()` what the run records.
    """

    def __init__(self, path: StepPath, log: Callable[[str], None] = print, capture=cuda_capture):
        self.path, self.log, self.capture = path, log, capture
        self.replay: Callable[[], None] | None = None
        self.failure: str | None = None
        self.graphed = False
        self.queued: float | None = None  # seconds the host took to queue the last graphed epoch's steps
        self.buffers: dict[str, torch.Tensor] = {}

    def record(self) -> dict:
        """What the run records of how its steps were computed (not part of its key)."""
        if self.failure:
            return {**self.path.record(), "graphed": False, "reason": f"eager: the capture failed ({self.failure})"}
        return self.path.record()

    def train_epoch(self, model, optimizer, batches, device: torch.device) -> tuple[float, float, float]:
        """Train one epoch; return (mean training loss, training accuracy, seconds of training steps)."""
        if self.failure or not self.path.graphed:
            self.graphed = False
            return train_one_epoch(model, optimizer, batches, device)
        model.train()
        order = batches.epoch_order()
        n, size = len(order), batches.batch_size
        full = n // size
        synchronize(device)
        start = time.perf_counter()
        b = self._buffers(batches, n, device)
        b["order"].copy_(order)
        for name in ("loss_sum", "correct", "step"):
            b[name].zero_()
        done = 0
        if self.replay is None and full > WARMUP_STEPS:  # fewer full batches than warm-up steps: nothing to gain
            self._eager_step(model, optimizer, b["order"][:size], before_capture=True)
            done = 1
            self._capture(model, optimizer, batches, full, size)
        for i in range(done, full):
            if self.replay is None:  # the capture failed: the rest of the run is eager
                self._eager_step(model, optimizer, b["order"][i * size:(i + 1) * size], before_capture=True)
                continue
            self.replay()
            if not self.path.optimizer_in_graph:
                optimizer.step()
        if n % size:
            self._eager_step(model, optimizer, b["order"][full * size:], before_capture=self.replay is None)
        self.queued = time.perf_counter() - start  # far below the epoch's time: the GPU, not the host, bounds it
        synchronize(device)
        seconds = time.perf_counter() - start
        self.graphed = self.replay is not None
        return b["loss_sum"].item() / n, b["correct"].item() / n, seconds

    def _buffers(self, batches, n: int, device: torch.device) -> dict[str, torch.Tensor]:
        """The tensors a graph reads and writes, allocated once per run: their addresses are part of the graph."""
        if not self.buffers:
            self.buffers = {"order": torch.empty(n, dtype=torch.long, device=device),
                            "step": torch.zeros((), dtype=torch.long, device=device),
                            "loss_sum": torch.zeros((), device=device),
                            "correct": torch.zeros((), dtype=torch.long, device=device),
                            "images": batches.images, "labels": batches.labels}
        return self.buffers

    def _step_rows(self, rows: torch.Tensor, model, optimizer, step_optimizer: bool) -> None:
        """One training step on the images at `rows` of the resident split; the sums and the step count on the device."""
        b = self.buffers
        x, y = b["images"].index_select(0, rows), b["labels"].index_select(0, rows)
        out = model(x)
        loss = F.nll_loss(out, y)
        loss.backward()
        if step_optimizer:
            optimizer.step()
        b["loss_sum"] += loss.detach() * len(rows)
        b["correct"] += (out.argmax(dim=1) == y).sum()
        b["step"] += 1

    def _eager_step(self, model, optimizer, rows: torch.Tensor, before_capture: bool) -> None:
        """A step outside the graph. After capture the gradients must stay the tensors the graph writes: zeroed in
        place (0 + g is g), kept in place if autograd replaced one."""
        with warnings.catch_warnings():  # a capturable optimizer warns that it steps uncaptured: here it must
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            if before_capture:
                optimizer.zero_grad(set_to_none=True)
                self._step_rows(rows, model, optimizer, True)
                return
            params = [p for g in optimizer.param_groups for p in g["params"]]
            grads = [p.grad for p in params]
            optimizer.zero_grad(set_to_none=False)
            self._step_rows(rows, model, optimizer, False)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    if g is not None and p.grad is not g:
                        g.copy_(p.grad)
                        p.grad = g
            optimizer.step()

    def _capture(self, model, optimizer, batches, full: int, size: int) -> None:
        """Capture the step of a full batch (after the epoch's first, eager one); undo what warm-up changed."""
        b = self.buffers
        by_step = b["order"][:full * size].view(full, size)

        def step():
            self._step_rows(by_step.index_select(0, b["step"].view(1)).view(size), model, optimizer,
                            self.path.optimizer_in_graph)
        saved = [(t, t.detach().clone()) for t in snapshot_tensors(model, optimizer, b)]
        try:
            self.replay = self.capture(step, optimizer, b["order"].device)
        except Exception as err:  # noqa: BLE001 — an operation or driver that cannot capture: train eagerly
            self.replay, self.failure = None, f"{type(err).__name__}: {err}".strip()
            self.log(f"CUDA graph capture failed, this run trains eagerly: {self.failure}")
            optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            for tensor, copy in saved:
                tensor.copy_(copy)


def snapshot_tensors(model, optimizer, buffers: dict) -> list[torch.Tensor]:
    """Every tensor a warm-up step may change: the parameters, the optimizer's state, the sums and the step count."""
    state = [v for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v)]
    return list(model.parameters()) + state + [buffers[k] for k in ("loss_sum", "correct", "step")]
