"""The run plan: every training run the report needs under a profile, in a stable order.

The notebooks build their configurations with the functions here (`device_runs`, `cnn_rate_runs`,
`mlp_runs`, `optimizer_rate_runs`, `chosen_seed_runs`, `chosen_optimizer_runs`), and `planned_runs`
lists exactly what those calls ask for, so that `make status`, `make sbatch` and the notebooks agree
by construction.

Some runs depend on others: the extra seeds of a chosen configuration (3.3's CNN, 3.4's optimizers)
are known only once the learning-rate sweep they are chosen from is stored. Until then they are
planned as *waiting* entries with a stable slot name; a cluster task resolves them when it starts.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from .experiment import History, RunConfig, run_files
from .profiles import Settings, chapter_settings, shared_settings
from .findings import choose_learning_rate


# ---------------------------------------------------------------------------------------------
# The runs of each chapter (what the notebooks call)
# ---------------------------------------------------------------------------------------------

def run_config(s: Settings, dataset: str, model: str, **changes) -> RunConfig:
    """Return the config of a run made of a notebook's settings and the given changes."""
    return replace(RunConfig(dataset, model, optimizer=s.optimizer, lr=s.lr, epochs=s.epochs, batch_size=s.batch_size,
                             test_batch_size=s.test_batch_size, seed=s.seed, device=s.device, pipeline=s.pipeline,
                             val_size=s.val_size, train_subset=s.train_subset, test_subset=s.test_subset), **changes)


def device_runs(s) -> dict[tuple[str, str], RunConfig]:
    """3.2: the MNIST MLP on every (device, pipeline) of the settings."""
    return {(device, pipeline): run_config(s, "mnist", "mlp", device=device, pipeline=pipeline)
            for device in s.devices for pipeline in s.pipelines}


def cnn_rate_runs(s) -> dict[float, RunConfig]:
    """3.3: the CNN with SGD at every candidate learning rate (the first seed; also 3.4's SGD row)."""
    return {lr: run_config(s, "cifar10", "cnn", optimizer="SGD", lr=lr) for lr in s.lrs}


def mlp_runs(s) -> dict[int, RunConfig]:
    """3.3: the MLP at its fixed learning rate, one run per seed."""
    return seed_runs(run_config(s, "cifar10", "mlp", optimizer="SGD", lr=s.mlp_lr), s)


def optimizer_rate_runs(s) -> dict[tuple[str, float], RunConfig]:
    """3.4: the CNN with every optimizer at every candidate learning rate (the first seed)."""
    return {(opt, lr): run_config(s, "cifar10", "cnn", optimizer=opt, lr=lr)
            for opt in s.optimizers for lr in s.lrs}


def seed_runs(config: RunConfig, s) -> dict[int, RunConfig]:
    """The configuration once per seed: the settings' seed, then the next `seeds - 1` integers."""
    return {config.seed + i: replace(config, seed=config.seed + i) for i in range(s.seeds)}


def chosen_rate(histories: dict[float, History | None]) -> float | None:
    """The learning rate chosen on validation, or None while a candidate's run is missing or if none is usable."""
    if any(h is None for h in histories.values()):
        return None
    return choose_learning_rate(histories).chosen


def chosen_seed_runs(candidates: dict[float, RunConfig], histories: dict, s) -> dict[int, RunConfig]:
    """The chosen candidate once per seed ({} while the choice cannot be made): what the notebooks train."""
    lr = chosen_rate({lr: histories.get(lr) for lr in candidates})
    return seed_runs(candidates[lr], s) if lr is not None else {}


def chosen_optimizer_runs(s, histories: dict) -> dict[str, dict[int, RunConfig]]:
    """3.4: every optimizer's chosen rate once per seed, from the sweep's {(optimizer, lr): History}."""
    sweep = optimizer_rate_runs(s)
    return {opt: chosen_seed_runs({lr: sweep[opt, lr] for lr in s.lrs}, {lr: histories.get((opt, lr)) for lr in s.lrs}, s)
            for opt in s.optimizers}


# ---------------------------------------------------------------------------------------------
# The plan of a whole profile
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan: concrete (config known) or waiting for the choice it depends on."""
    slot: str                      # stable name across resolution: the run's stem, or a waiting slot
    exercises: tuple[str, ...]     # the chapters that use it
    config: RunConfig | None       # None while it waits
    waits_on: tuple[str, ...] = ()  # slots of the runs whose choice decides it
    aliases: tuple[str, ...] = ()   # the waiting slot a resolved run was planned under before
    like: RunConfig | None = None   # a waiting run's sweep config: same data and epochs, for time estimates

    def answers_to(self, slot: str) -> bool:
        return slot == self.slot or slot in self.aliases

    @property
    def waiting(self) -> bool:
        return self.config is None


def stored_history(config: RunConfig, s) -> History | None:
    """The stored History of a config, or None (never trains)."""
    record = run_files(config, s.data_root, s.results_dir, download_missing=False).load_result()
    return History.from_record(record) if record is not None else None


def planned_runs(profile: str, overrides: dict | None = None, data_root=None) -> list[PlannedRun]:
    """Every run the notebooks of a profile ask for, each once, in chapter order."""
    plan: dict[str, PlannedRun] = {}

    def add(exercise: str, configs, aliases: tuple[str, ...] = ()):
        for config in configs:
            entry = plan.get(config.stem)
            plan[config.stem] = PlannedRun(
                config.stem, tuple(dict.fromkeys((entry.exercises if entry else ()) + (exercise,))), config,
                aliases=tuple(dict.fromkeys((entry.aliases if entry else ()) + aliases)))

    def add_chosen_seeds(exercise: str, sweep: dict[float, RunConfig], s):
        first = next(iter(sweep.values()), None)
        if first is None:
            return
        digest = hashlib.sha256("|".join(sorted(c.stem for c in sweep.values())).encode()).hexdigest()[:8]
        slots = {seed: f"{first.dataset}-{first.model}-{first.optimizer.lower()}-chosen{digest}-seed{seed}"
                 for seed in list(seed_runs(first, s))[1:]}
        stored = {lr: stored_history(c, s) for lr, c in sweep.items()}
        if all(h is not None for h in stored.values()):
            for seed, config in chosen_seed_runs(sweep, stored, s).items():
                add(exercise, [config], aliases=(slots[seed],) if seed in slots else ())
            return
        for seed, slot in slots.items():
            entry = plan.get(slot)
            exercises = (entry.exercises if entry else ()) + (exercise,)
            plan[slot] = PlannedRun(slot, tuple(dict.fromkeys(exercises)), None,
                                    waits_on=tuple(c.stem for c in sweep.values()), like=replace(first, seed=seed))

    chapters = chapter_settings(profile, overrides, data_root)
    s = chapters["3.2"]
    add("3.2", device_runs(s).values())
    s = chapters["3.3"]
    cnn_sweep = cnn_rate_runs(s)
    add("3.3", cnn_sweep.values())
    add("3.3", mlp_runs(s).values())
    add_chosen_seeds("3.3", cnn_sweep, s)
    s = chapters["3.4"]
    sweep = optimizer_rate_runs(s)
    add("3.4", sweep.values())
    for opt in s.optimizers:
        add_chosen_seeds("3.4", {lr: sweep[opt, lr] for lr in s.lrs}, s)
    return list(plan.values())


def stored_runs(profile: str, overrides: dict | None = None, data_root=None) -> list[tuple[PlannedRun, History]]:
    """Every planned run of a profile that is stored, with its History (the runs the chapters show)."""
    s = shared_settings(profile, overrides, data_root)
    planned = [(p, stored_history(p.config, s)) for p in planned_runs(profile, overrides, data_root)
               if p.config is not None]
    return [(p, h) for p, h in planned if h is not None]


def stored_histories(profile: str, overrides: dict | None = None, data_root=None) -> list[History]:
    """The stored Histories of every planned run of a profile (the runs the chapters use)."""
    return [h for _, h in stored_runs(profile, overrides, data_root)]
