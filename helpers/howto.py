"""The hand-in's last page: how this PDF was made and how to run the code, generated from the build and its runs.

The sheet: "Programming exercises can only be graded if they run on the cluster in the provided conda
environment. Make sure to document additional steps, which you might have taken to run the exercises."
So the page says, for a grader without the README: the environment and the one additional step, the
commands with the settings actually used, where and how long the runs trained, and what the archive holds.
Nothing is typed in: every setting and figure comes from this build and the stored runs.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace

from .commands import Build, make_command, this_build  # noqa: F401 (this_build: the page's build)
from .course import course_env_words
from .formatting import join_words, markdown_table, minutes, plural
from .profiles import SYNTHETIC_PROFILES

TITLE = "How this report was made, and how to run it"


def environment_text(build: Build) -> str:
    """The environment the code ran in and the steps it needs beyond it."""
    added = join_words(f"`{spec}`" for spec in project_additions())
    course = (f"The course's conda environment {course_env_words()}, left "
              f"unchanged, plus one step, once, on the login node: `conda activate eml`, then `make course-venv`. "
              f"It makes `.venv-course`, a virtual environment on top of `eml` (`--system-site-packages`, so the "
              f"course's PyTorch trains) that adds only what the project needs besides: {added}. Then "
              f"`export PY=.venv-course/bin/python`, and every later command uses it.")
    venv = ("Without the course environment, `make setup` (Python 3.10 to 3.13) builds `.venv` with the pinned "
            "versions of `requirements.txt`; the commands below then need no `PY`.")
    used = ("This PDF was built in `.venv-course`." if ".venv-course" in build.python else
            "This PDF was built in `.venv`." if build.python == ".venv/bin/python" else
            f"This PDF was built with `{build.python}`.")
    return f"**Environment.** {course} {venv} {used}"


def project_additions() -> list[str]:
    """What the project installs beyond PyTorch, torchvision, numpy and matplotlib (its report extra and pins)."""
    import importlib.metadata
    base = ("torch", "torchvision", "numpy", "pillow", "matplotlib", "tqdm", "sympy", "pyyaml", "ipython")
    try:
        specs = importlib.metadata.requires("eml-exercise03-helpers") or []
    except importlib.metadata.PackageNotFoundError:
        return ["the `report` extra of pyproject.toml"]
    return [spec.split(";")[0].strip() for spec in specs
            if ('extra == "report"' in spec or "extra" not in spec)
            and not spec.split(";")[0].strip().lower().startswith(base)]


def commands_text(build: Build, launches: list[dict]) -> str:
    """The commands that produced this PDF, with the settings actually used."""
    lines = []
    for launch in unique(launches):
        if launch.get("command") == "make sbatch":
            r = launch.get("resources", {})
            lines.append(make_command("sbatch", build, partition=r.get("partition"), time=r.get("time"),
                                      cpus=r.get("cpus"), mem=r.get("mem"), gpus=r.get("gpus"),
                                      max_parallel=r.get("max_parallel")))
            lines.append(make_command("status", build))
        elif launch.get("command") == "make results":
            lines.append(make_command("results", build, workers=launch.get("workers", 1)))
    lines.append(make_command("pdf", build, **({"workers": build.workers} if build.workers != 1 else {})))
    lines.append(make_command("zip", build))
    return "**Commands that made this PDF**, in this order:\n\n```\n" + "\n".join(dict.fromkeys(lines)) + "\n```"


def unique(launches: list[dict]) -> list[dict]:
    return [json.loads(text) for text in dict.fromkeys(json.dumps(launch, sort_keys=True) for launch in launches)]


def where_text(runs: list[tuple[tuple[str, ...], object]], build: Build) -> str:
    """Where and how long the runs trained, per chapter: runs, seeds, training and evaluation time, machines."""
    if not runs:
        return "**Where the runs trained.** No run is stored."
    chapters: dict[str, list] = defaultdict(list)
    for exercises, history in runs:
        for exercise in exercises:
            chapters[exercise].append(history)
    rows = []
    for exercise, histories in sorted(chapters.items()):
        seeds = sorted({h.config.seed for h in histories})
        rows.append([exercise, len(histories), join_words(seeds), minutes(sum(train_seconds(h) for h in histories)),
                     minutes(sum(sum(h.column("eval_time")) for h in histories)),
                     join_words(sorted({machine(h) for h in histories})),
                     join_words(sorted({(h.environment or {}).get("torch", "?") for h in histories})),
                     join_words(sorted({started(h) for h in histories}))])
    total = sum(train_seconds(h) for _, h in runs)
    columns = ["chapter", "runs", "seeds", "training", "evaluation", "trained on", "PyTorch", "started by"]
    table = markdown_table(columns, rows)
    return (f"**Where the runs trained.** {len(runs)} {plural(len(runs), 'run')} in all, {minutes(total)} of training "
            "(a run that two chapters show counts in both rows). Every run is stored as JSON in "
            f"`{build.results_root or 'results'}/{build.profile}/` (configuration, every epoch, the machine): a stored "
            f"run is loaded, never trained again, so `make pdf` renders from them without training.\n\n{table}")


def train_seconds(history) -> float:
    times = history.column("cumulative_train_time")
    return times[-1] if times else 0.0


def machine(history) -> str:
    env = history.environment or {}
    return env.get("gpu") if env.get("device") == "cuda" and env.get("gpu") else env.get("device_name", "unknown")


def started(history) -> str:
    """How a run was started: by a SLURM worker, by workers on one machine, or in a notebook."""
    launch = (history.environment or {}).get("launch") or {}
    if launch.get("command") == "make sbatch":
        slurm = history.environment.get("slurm", {})
        return f"make sbatch (job {slurm.get('array_job') or slurm.get('job', '?')})"
    if launch.get("command"):
        return launch["command"]
    return "a notebook"


def archive_text(build: Build, zip_name: str, stored: int) -> str:
    """What `make zip` packs and the one command that renders this PDF again from it."""
    again = make_command("pdf", replace(build, results_root=None))  # the archive's own results/
    data = ("its stand-in data is generated on the way" if build.profile in SYNTHETIC_PROFILES and not build.data_root
            else "no dataset needed: a stored run is found by its configuration; where dataset files are in "
                 f"`{build.data_root or 'data/'}`, they must be those the runs were trained on, byte for byte, as the "
                 "runs are keyed by their checksums")
    return (f"**The archive.** `{zip_name}` holds this PDF, the sources in `sources/` (the notebooks without "
            f"outputs, `helpers/`, `Makefile`, `requirements.txt`, `pyproject.toml`, `README.md`, the SLURM and test "
            f"code, `docs/`, `reference/`) and the stored results of the {stored} {plural(stored, 'run')} shown here, in "
            f"`sources/results/{build.profile}/`. To render this PDF again without training: unpack it, "
            f"`cd sources`, then `{again}` ({data}). To train every run again, remove `results/` and run the "
            "commands above.")


def howto_markdown(build: Build, runs: list[tuple[tuple[str, ...], object]], zip_name: str) -> str:
    """The closing chapter: environment, commands, where and how long the runs trained, the archive."""
    launches = [(h.environment or {}).get("launch") for _, h in runs]
    return "\n\n".join([f"# {TITLE}", environment_text(build), commands_text(build, [l for l in launches if l]),
                        where_text(runs, build), archive_text(build, zip_name, len(runs))])
