"""Profiles: the one place that says which settings each notebook runs with.

`full` is the sheet's settings (what the hand-in PDF shows); `smoke` runs every notebook in
seconds on small synthetic data, for tests and CI, and its PDF is marked as not for hand-in.
A notebook asks for its settings with `settings("3.2", profile, overrides, data_root)`: a typed,
frozen `Settings` whose defaults are the sheet's and the course template's.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from dataclasses import dataclass

from .data import resolve_data_root
from .errors import UserError
from .experiment import is_int
from .files import REPO_ROOT, path_from_env
from .synthetic import ensure_synthetic_data
from .training import optimizer_class

RESULTS_ROOT_ENV = "EML_RESULTS_ROOT"  # where results/PROFILE/ lives, if not in the repository (the tests use it)
DEFAULT_RESULTS_ROOT = REPO_ROOT / "results"


def results_root() -> Path:
    """The folder that holds results/PROFILE/: $EML_RESULTS_ROOT, else results/ in the repository."""
    return path_from_env(RESULTS_ROOT_ENV, DEFAULT_RESULTS_ROOT)


# Notebook of each exercise, in sheet order (the PDF's chapter order).
NOTEBOOKS = {
    "3.1": "notebooks/ex3_1_gradients.ipynb",
    "3.2": "notebooks/ex3_2_autograd_mlp.ipynb",
    "3.3": "notebooks/ex3_3_mlp_vs_cnn.ipynb",
    "3.4": "notebooks/ex3_4_optimizers.ipynb",
}

# The CIFAR-10 settings that 3.3 and 3.4 share, so that 3.3's CNN runs are the SGD row of 3.4's sweep
# (same configurations: the results store trains each of them once).
_CIFAR = dict(
    lrs=(0.1, 0.03, 0.01, 0.003, 0.001),
    val_size=5000,          # held out from the 50,000 training images to choose learning rates
    device="cuda", pipeline="resident",
    seeds=3,                # the chosen configurations run with seeds seed, seed+1, ...: a spread behind every comparison
)
_CIFAR_SMOKE = dict(_CIFAR, epochs=2, lrs=(0.03, 0.003), val_size=100, train_subset=500, test_subset=200,
                    device="cpu", seeds=2)

# What each profile changes from the Settings' defaults (the sheet's and the template's), per notebook.
PROFILES = {
    "full": {"3.1": {}, "3.2": {}, "3.3": dict(_CIFAR), "3.4": dict(_CIFAR)},
    "smoke": {"3.1": {}, "3.2": dict(epochs=2, train_subset=1000, test_subset=200),
              "3.3": dict(_CIFAR_SMOKE), "3.4": dict(_CIFAR_SMOKE)},
}
SYNTHETIC_PROFILES = {"smoke"}  # profiles that run on generated data, never on the real datasets

# What the sheet asks of the runs (a full profile that misses one says so under its settings).
SHEET_EPOCHS = 30
SHEET_OPTIMIZERS = 3                      # 3.4: at least three, SGD and Adam among them
SHEET_DEVICES = ("cpu", "cuda")           # 3.2: one run on each

# The settings each notebook uses: what it shows, and what `overrides` may change there.
_TEMPLATE_KEYS = ("epochs", "batch_size", "test_batch_size", "seed", "train_subset", "test_subset", "graphs")
KNOWN = {
    "3.1": (),
    "3.2": _TEMPLATE_KEYS + ("optimizer", "lr", "devices", "pipelines"),
    "3.3": _TEMPLATE_KEYS + ("mlp_lr", "lrs", "val_size", "device", "pipeline", "seeds"),
    "3.4": _TEMPLATE_KEYS + ("optimizers", "lrs", "val_size", "device", "pipeline", "seeds"),
}


@dataclass(frozen=True)
class Settings:
    """The settings of one notebook: where its data, results and figures are, and what it trains."""
    exercise: str
    profile: str
    data_root: Path
    results_dir: Path
    figures_dir: Path
    synthetic_data: bool = False
    # The course template's defaults (exercise03_template.py, from pytorch/examples mnist/main.py).
    batch_size: int = 64
    test_batch_size: int = 1000
    optimizer: str = "SGD"
    lr: float = 0.1
    seed: int = 1
    # The sheet: 30 epochs; 3.2 on both devices; 3.4 with at least three optimizers.
    epochs: int = 30
    devices: tuple[str, ...] = ("cpu", "cuda")
    optimizers: tuple[str, ...] = ("SGD", "Adam", "RMSprop", "Adagrad")
    # Beyond the sheet: input pipelines, subsets, the validation split, candidate rates, seeds.
    pipelines: tuple[str, ...] = ("template", "resident")
    device: str = "cuda"
    pipeline: str = "template"
    train_subset: int | None = None
    test_subset: int | None = None
    val_size: int = 0
    mlp_lr: float = 0.1
    lrs: tuple[float, ...] = (0.1,)
    seeds: int = 1
    # How, not what: a CUDA run with resident batches replays its steps as a CUDA graph; false trains them eagerly
    # (the same numbers, so a run's key does not hold it; each run records which way its steps went).
    graphs: bool = True

    def __post_init__(self):
        for name in ("devices", "optimizers", "pipelines", "lrs"):
            value = getattr(self, name)
            if isinstance(value, (str, int, float)) or not value:
                raise UserError(f"{name} must be a non-empty list, e.g. {list(getattr(Settings, name))}, got {value!r}")
            if name == "optimizers":  # one name per optimizer ("adam" is Adam), as its runs have
                value = [optimizer_class(v).__name__ for v in value]
            twice = sorted({str(v) for v in value if list(value).count(v) > 1})
            if twice:
                raise UserError(f"{name} lists {', '.join(twice)} more than once: {list(getattr(self, name))!r}")
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "optimizer", optimizer_class(self.optimizer).__name__)
        if not isinstance(self.graphs, bool):
            raise UserError(f"graphs must be true or false, got {self.graphs!r}")
        if not is_int(self.seeds) or self.seeds < 1:
            raise UserError(f"seeds must be a positive integer (the number of seeds), got {self.seeds!r}")
        if "val_size" in KNOWN[self.exercise] and (not is_int(self.val_size) or self.val_size < 1):
            raise UserError(f"val_size must be a positive number of images for {self.exercise}: its learning rates are "
                            f"chosen on that validation split, never on the test set; got {self.val_size!r}")

    @property
    def smoke(self) -> bool:
        """True for every profile but the hand-in's."""
        return self.profile != "full"


def check_profile(profile: str) -> str:
    """Return the profile name if it exists, else raise a UserError listing the known ones."""
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    return profile


def settings(exercise: str, profile: str = "full", overrides: dict | None = None,
             data_root: str | Path | None = None) -> Settings:
    """Return the settings of one notebook under a profile, with overrides applied and paths resolved."""
    check_profile(profile)
    if exercise not in NOTEBOOKS:
        raise UserError(f"unknown exercise {exercise!r}; known: {', '.join(NOTEBOOKS)}")
    unknown = sorted(set(overrides or {}) - set(KNOWN[exercise]))
    if unknown:
        raise UserError(f"unknown override(s) {', '.join(unknown)} for {exercise}; "
                        f"known: {', '.join(sorted(KNOWN[exercise])) or 'none'}")
    synthetic = profile in SYNTHETIC_PROFILES and data_root is None
    if synthetic:
        data_root = ensure_synthetic_data(REPO_ROOT / "build" / "synthetic-data")
    return Settings(exercise=exercise, profile=profile, synthetic_data=synthetic, data_root=resolve_data_root(data_root),
                    results_dir=results_root() / profile,
                    figures_dir=REPO_ROOT / "figures" / profile,
                    **{**PROFILES[profile][exercise], **copy.deepcopy(overrides or {})})


def overrides_for(exercise: str, overrides: dict | None) -> dict:
    """Return the part of profile-wide overrides that a notebook knows (e.g. epochs: 3.2 to 3.4)."""
    return {k: v for k, v in (overrides or {}).items() if k in KNOWN[exercise]}


def check_overrides(overrides: dict | None) -> dict:
    """Return profile-wide overrides if every key is a setting of some notebook, else raise a UserError."""
    if overrides is not None and not isinstance(overrides, dict):
        raise UserError(f"overrides must be a mapping such as {{\"epochs\": 5}}, got {overrides!r}")
    known = set().union(*KNOWN.values())
    unknown = sorted(set(overrides or {}) - known)
    if unknown:
        raise UserError(f"unknown override(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return dict(overrides or {})


def chapter_settings(profile: str, overrides: dict | None = None, data_root=None) -> dict:
    """Return the settings of every notebook under a profile and profile-wide overrides, by exercise."""
    check_overrides(overrides)
    return {ex: settings(ex, profile, overrides_for(ex, overrides), data_root) for ex in NOTEBOOKS}


def shared_settings(profile: str, overrides: dict | None = None, data_root=None) -> Settings:
    """What every notebook of a profile shares under these overrides: its data root (a smoke profile's generated
    stand-ins) and its results folder (3.2's settings carry them, as any notebook's would)."""
    return chapter_settings(profile, overrides, data_root)["3.2"]


def changed_settings(cfg: Settings) -> dict[str, tuple]:
    """The settings of a notebook that differ from its profile's (overrides), as {key: (value, the profile's)}."""
    profile = Settings(exercise=cfg.exercise, profile=cfg.profile, data_root=cfg.data_root, results_dir=cfg.results_dir,
                       figures_dir=cfg.figures_dir, **PROFILES[cfg.profile][cfg.exercise])
    return {key: (getattr(cfg, key), getattr(profile, key)) for key in KNOWN[cfg.exercise]
            if getattr(cfg, key) != getattr(profile, key)}


def short_of_sheet(cfg: Settings) -> list[str]:
    """Where a notebook's settings fall short of what the sheet asks of its runs, one phrase each (none: [])."""
    if cfg.exercise == "3.1":
        return []
    short = [f"{cfg.epochs} epochs, the sheet asks for {SHEET_EPOCHS}"] if cfg.epochs != SHEET_EPOCHS else []
    if cfg.exercise == "3.2" and (missing := [d for d in SHEET_DEVICES if d not in cfg.devices]):
        short.append(f"no {' and no '.join('GPU' if d == 'cuda' else 'CPU' for d in missing)} run, the sheet asks for "
                     "one on the CPU and one on the GPU")
    optimizers = set(cfg.optimizers)
    if cfg.exercise == "3.4" and (len(optimizers) < SHEET_OPTIMIZERS or not {"SGD", "Adam"} <= optimizers):
        short.append(f"optimizers {', '.join(cfg.optimizers)}, the sheet asks for at least {SHEET_OPTIMIZERS}, SGD and "
                     "Adam among them")
    for name, value in (("training", cfg.train_subset), ("test", cfg.test_subset)):
        if value is not None:
            short.append(f"a {name} subset of {value:,} images, not the whole {name} set")
    return short


def parse_overrides(text: str | None) -> dict:
    """Overrides from the command line (JSON, as OVERRIDES='{"epochs": 5}' gives them), with one clear error."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"OVERRIDES is not valid JSON ({err}): write e.g. OVERRIDES='{{\"epochs\": 5}}'") from None
    if not isinstance(value, dict):
        raise UserError(f"OVERRIDES must be a JSON object such as {{\"epochs\": 5}}, got {text}")
    return canonical_names(value)


def canonical_names(overrides: dict) -> dict:
    """The overrides with optimizers named as torch names them ("adam" is Adam), as their runs are: one plan has one
    job name, one line on the title page and one command in the hints, however it was typed."""
    named = dict(overrides)
    if isinstance(named.get("optimizer"), str):
        named["optimizer"] = optimizer_class(named["optimizer"]).__name__
    if isinstance(named.get("optimizers"), list) and all(isinstance(o, str) for o in named["optimizers"]):
        named["optimizers"] = [optimizer_class(o).__name__ for o in named["optimizers"]]
    return named
