"""A run made ready to train: its splits, seeded model and optimizer, batches and how its steps are computed.

`prepare_run(config, data_root, device)` is the one place that turns a RunConfig into these: helpers.experiment
trains and stores what it returns, helpers.calibrate times it, helpers.gpucheck compares its two step paths.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import data as datamod
from . import pipelines
from .graphs import GraphedSteps, StepPath, step_path
from .models import build_model
from .runconfig import RunConfig
from .training import exact_float32, make_optimizer, restore_random_state


@dataclass
class PreparedRun:
    """What training a run needs, built from its config: ready for training.train."""
    config: RunConfig
    device: torch.device
    dataset: datamod.DatasetFiles
    splits: pipelines.Splits
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    train_batches: object
    eval_batches: dict
    path: StepPath
    steps: GraphedSteps | None      # the graphed epochs, where the path is graphed

    @property
    def generators(self) -> list[torch.Generator]:
        """The generators that order the batches (their states are part of a checkpoint)."""
        return [pipelines.generator_of(b) for b in (self.train_batches, *self.eval_batches.values())]

    def restore(self, checkpoint: dict) -> None:
        """Continue from a checkpoint: model, optimizer (computing as this run's path does) and every random state."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        conform_optimizer(self.optimizer)
        restore_random_state(checkpoint["rng"], self.generators, self.device)

    def steps_record(self) -> dict:
        """How the run's steps were computed (graphed or eager, and why), for its environment record."""
        return self.steps.record() if self.steps is not None else self.path.record()


def conform_optimizer(optimizer: torch.optim.Optimizer) -> None:
    """After loading a checkpoint (written by the other path, or before the fused update was used): the optimizer
    computes as it was made for this run (a loaded state dict brings its groups' `capturable`, `fused` and `foreach`),
    its step counts on the GPU where it is captured or fused, else on the host."""
    for group in optimizer.param_groups:
        for key in ("capturable", "fused", "foreach"):
            if key in group and key in optimizer.defaults:
                group[key] = optimizer.defaults[key]
        on_device = group.get("capturable") or group.get("fused")
        for p in group["params"]:
            step = optimizer.state.get(p, {}).get("step")
            if torch.is_tensor(step):
                optimizer.state[p]["step"] = step.to(p.device if on_device else "cpu", torch.float32)


def prepare_run(config: RunConfig, data_root, device: torch.device, graphs: bool = True, tf32: bool = False,
                foreach: bool | None = None, log=print) -> PreparedRun:
    """Build everything a run trains with: splits, the seeded model, its optimizer, the batches, the step path.

    `graphs=False` trains a CUDA run eagerly (to compare); `tf32` and `foreach` change how a CUDA run computes, only
    to measure what they cost (helpers.calibrate; see training.exact_float32 and training.make_optimizer).
    """
    dataset = datamod.locate(config.dataset, data_root)
    exact_float32(device, tf32)
    splits = pipelines.make_splits(datamod.load_split(dataset, train=True), datamod.load_split(dataset, train=False),
                                   val_size=config.val_size, train_subset=config.train_subset,
                                   test_subset=config.test_subset, seed=config.seed)
    path = step_path(device.type, config.pipeline, config.optimizer, graphs)
    torch.manual_seed(config.seed)
    model = build_model(config.model, config.dataset).to(device)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, device, foreach,
                               capturable=path.optimizer_in_graph)

    def batches(split, train):
        size = config.batch_size if train else config.test_batch_size
        return pipelines.make_batches(split, config.pipeline, size, device, seed=config.seed, train=train)

    train_batches = batches(splits.train, True)
    eval_batches = {"test": batches(splits.test, False)}
    if splits.val is not None:
        eval_batches["val"] = batches(splits.val, False)
    steps = GraphedSteps(path, log) if path.graphed else None
    return PreparedRun(config, device, dataset, splits, model, optimizer, train_batches, eval_batches, path, steps)
