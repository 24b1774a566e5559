"""`make zip`: the hand-in archive, its PDF, its sources, and the stored results of exactly the runs its PDF shows.

With them, `make pdf` in the unpacked sources renders the same report without training, and a grader
can check any number against its run. The PDF's own build settings (profile, overrides, data root)
are read from its executed notebooks, which papermill stamps with their parameters; the runs are the
plan's under those settings (helpers/plan.py), never simply every file in results/PROFILE/.
"""
from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import torch

from .commands import plan_command
from .errors import UserError
from .experiment import run_files
from .files import REPO_ROOT, write_atomically
from .plan import planned_runs
from .profiles import NOTEBOOKS, shared_settings
from .runstates import trainable_here

# The sources the hand-in archive holds besides the PDF and the results it shows (helpers/archive.py);
# data, checkpoints, locks and caches never.
SOURCES = ["README.md", "Makefile", "environment.yml", "requirements.txt", "pyproject.toml", "group.yml",
           "helpers", "notebooks", "slurm", "tests", ".ci", "docs", "reference"]


def pdf_settings(pdf: Path) -> tuple[str, dict, str | None]:
    """Return the profile, profile-wide overrides and data root that a built PDF's notebooks ran with.

    They are the papermill parameters of the executed notebooks beside it (build/PROFILE/executed/).
    """
    import nbformat
    executed = [Path(pdf).parent / "executed" / Path(source).name for source in NOTEBOOKS.values()]
    absent = [p.name for p in executed if not p.is_file()]
    if not Path(pdf).is_file() or absent:
        raise UserError(f"cannot tell which runs {pdf} shows: " + ("the PDF is missing" if not Path(pdf).is_file()
                        else f"its executed notebooks ({', '.join(absent)}) are missing from {executed[0].parent}")
                        + "; `make zip` builds the PDF and its archive together")
    if any(p.stat().st_mtime > Path(pdf).stat().st_mtime for p in executed):
        raise UserError(f"the notebooks in {executed[0].parent} were executed after {pdf} was rendered "
                        "(`make results`?), so they may show other runs; `make zip` renders the PDF again")
    parameters = [nbformat.read(str(p), as_version=4).metadata.get("papermill", {}).get("parameters", {})
                  for p in executed]
    profiles = {p.get("profile") for p in parameters}
    data_roots = {p.get("data_root") for p in parameters}
    if len(profiles) != 1 or len(data_roots) != 1:
        raise UserError(f"the executed notebooks in {executed[0].parent} ran with different profiles or data "
                        "roots; `make zip` executes them again together")
    overrides = {key: value for p in parameters for key, value in (p.get("overrides") or {}).items()}
    return profiles.pop(), overrides, data_roots.pop()


def shown_results(profile: str, pdf: Path) -> list[Path]:
    """Return the result files of the runs a built PDF shows: every planned run of its settings that is stored.

    Refused with a UserError when the PDF is of another profile, when a run that the build would have
    trained here is not stored (an unpacked copy would train it, or show other numbers), or when a run
    was stored after the PDF was rendered (the PDF does not show it yet).
    """
    built, overrides, data_root = pdf_settings(pdf)
    if built != profile:
        raise UserError(f"{pdf} is a PDF of profile '{built}', not '{profile}': its archive would hold the results "
                        f"of other runs than it shows. Run `{plan_command('zip', profile, None, None)}`, which renders "
                        f"the PDF of '{profile}' first.")
    make_zip = f"`{plan_command('zip', profile, overrides, data_root)}`"  # the PDF's own settings
    s = shared_settings(profile, overrides, data_root)
    stored, lacking, later = [], [], []
    for planned in planned_runs(profile, overrides, data_root):
        if planned.config is not None:
            result = run_files(planned.config, s.data_root, s.results_dir, download_missing=False).result
            if result.is_file():
                stored.append(result)
                if result.stat().st_mtime > Path(pdf).stat().st_mtime:
                    later.append(planned.slot)
                continue
        # Missing from the PDF too, and rightly so only where this machine cannot train it (a GPU run here).
        if trainable_here(planned.config or planned.like, torch.cuda.is_available()):
            lacking.append(planned.slot)
    settings = f"profile '{profile}'" + (f", overrides {json.dumps(overrides)}" if overrides else "")
    if lacking:
        raise UserError(f"{len(lacking)} run(s) that the PDF ({settings}) needs are not stored in {s.results_dir}: "
                        f"{', '.join(lacking[:8])}{' and more' if len(lacking) > 8 else ''}. An archive without "
                        f"them would train them when unpacked. Were they stored with other OVERRIDES, or under another "
                        f"$EML_RESULTS_ROOT? {make_zip} trains what is missing, renders, then packs.")
    if later:
        raise UserError(f"run(s) {', '.join(later[:8])} were stored after {pdf} was rendered, so the PDF does not "
                        f"show them yet; {make_zip} renders it again with them.")
    return stored


# ---------------------------------------------------------------------------------------------
# The hand-in archive
# ---------------------------------------------------------------------------------------------

def source_files() -> list[Path]:
    """Return the files of the hand-in's sources: tracked by git where possible, never data or caches."""
    try:
        if not (REPO_ROOT / ".git").exists():  # e.g. an unpacked hand-in (inside another checkout, git would list none)
            raise OSError("not a git checkout")
        listed = subprocess.run(["git", "ls-files", "-z", *SOURCES], cwd=REPO_ROOT, capture_output=True,
                                check=True).stdout.decode().split("\0")
        files = [REPO_ROOT / f for f in listed if f]
    except (OSError, subprocess.CalledProcessError):
        files = [p for s in SOURCES for p in ([REPO_ROOT / s] if (REPO_ROOT / s).is_file()
                                              else sorted((REPO_ROOT / s).rglob("*")))]
    skip = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache")
    return [f for f in files if f.is_file() and not any(part in skip for part in f.parts) and f.suffix != ".pyc"]


def build_zip(profile: str, pdf: Path, group_file: str | Path | None = None) -> Path:
    """Write the hand-in archive: the PDF, the sources (notebooks stripped of outputs, the group file the PDF was
    made with as group.yml) and the stored results of the runs the PDF shows, so that `make pdf` in the unpacked
    sources/ renders it again without training."""
    results = shown_results(profile, pdf)  # refuses a PDF of another profile, or one whose runs are not stored
    target = pdf.with_suffix(".zip")

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
            fill_zip(archive, profile, pdf, group_file, results)

    write_atomically(target, write)
    print(f"[{profile}] wrote {target}", flush=True)
    return target


def fill_zip(archive: zipfile.ZipFile, profile: str, pdf: Path, group_file: str | Path | None, results: list[Path]):
    """Put the hand-in's files into the archive (see build_zip)."""
    import nbformat
    archive.write(pdf, pdf.name)
    for path in source_files():
        name = f"sources/{path.relative_to(REPO_ROOT).as_posix()}"
        if path.suffix == ".ipynb":  # the committed sources have none, a JupyterLab copy may
            nb = nbformat.read(str(path), as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            archive.writestr(name, nbformat.writes(nb))
        elif name != "sources/group.yml" or group_file is None:
            archive.write(path, name)
    if group_file is not None:  # the names and declaration this PDF shows, whatever GROUP= named
        archive.write(group_file, "sources/group.yml")
    for path in results:  # where `make pdf` in the unpacked sources looks for them
        archive.write(path, f"sources/results/{profile}/{path.name}")
