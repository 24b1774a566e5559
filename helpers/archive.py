"""What the hand-in archive ships besides the sources: the stored results of exactly the runs its PDF shows.

With them, `make pdf` in the unpacked sources renders the same report without training, and a grader
can check any number against its run. The PDF's own build settings (profile, overrides, data root)
are read from its executed notebooks, which papermill stamps with their parameters; the runs are the
plan's under those settings (helpers/plan.py), never simply every file in results/PROFILE/.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import UserError
from .profiles import NOTEBOOKS


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
    import torch
    from .experiment import run_files
    from .plan import planned_runs
    from .profiles import shared_settings
    built, overrides, data_root = pdf_settings(pdf)
    make_zip = "`make zip" + ("" if profile == "full" else f" PROFILE={profile}")
    if built != profile:
        raise UserError(f"{pdf} is a PDF of profile '{built}', not '{profile}': its archive would hold the results "
                        f"of other runs than it shows. Run {make_zip}`, which renders the PDF of '{profile}' first.")
    make_zip += (f" OVERRIDES='{json.dumps(overrides)}'" if overrides else "") + "`"  # the PDF's own settings
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
        if (planned.config or planned.like).device == "cpu" or torch.cuda.is_available():
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
