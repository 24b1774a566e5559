"""Build the hand-in: execute every notebook headless with papermill, then render ONE PDF (pandoc + Typst).

    python -m helpers.report pdf     --profile full|smoke [--group group.yml] [--data-root DIR]
    python -m helpers.report execute --profile ...   (notebooks only: what the SLURM job runs)
    python -m helpers.report zip     --profile ...   (the PDF plus the sources, no data, no caches)

Every problem the user can fix is one message and a non-zero exit; nothing is half-written: the
notebooks run into a staging folder, and a PDF is only rendered from a complete, fresh set.
What the PDF holds is in helpers/handin.py; how a notebook becomes a PDF, in helpers/document.py.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import date
from pathlib import Path

from .archive import build_zip
from .document import check_renderer, render_pdf
from .errors import UserError, run_command, whole_number
from .group import load_group
from .handin import check_names_shown, data_notes, hardware_lines, merge_notebooks, title_page
from .profiles import NOTEBOOKS, REPO_ROOT, check_overrides, check_profile, overrides_for, parse_overrides

KERNEL_NAME = "eml-ex3-build"


DEFAULT_BUILD_ROOT = REPO_ROOT / "build"


def pdf_path(profile: str, build_root: Path = DEFAULT_BUILD_ROOT) -> Path:
    """Return where the PDF of a profile is written."""
    name = "exercise03.pdf" if profile == "full" else f"exercise03-{profile.upper()}-not-for-hand-in.pdf"
    return Path(build_root) / profile / name


# ---------------------------------------------------------------------------------------------
# Executing the notebooks
# ---------------------------------------------------------------------------------------------

def _private_kernel(root: Path) -> None:
    """Register, for this build only, a kernel that runs this very Python (venv or conda env alike)."""
    root = root.resolve()  # Jupyter ignores relative entries of JUPYTER_PATH
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=ERROR"],  # not its start-up chatter in every build log
        "display_name": "EML exercise 3 (build)", "language": "python",
        "env": {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))},
    }))
    # Searched before the user's own kernels, so a stale registration elsewhere cannot interfere.
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("JUPYTER_PATH")]))


def execute_notebooks(profile: str, data_root: str | None = None, log_output: bool = False,
                      build_root: Path = DEFAULT_BUILD_ROOT, overrides: dict | None = None) -> list[Path]:
    """Run every notebook with papermill under a profile; return the executed copies (in sheet order).

    A failing cell raises a UserError naming the notebook and the cell; the failed copy is kept for
    inspection and the profile's PDF is removed, so no PDF stands for sources that no longer run.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = Path(build_root) / profile
    _private_kernel(Path(build_root) / "jupyter")
    staging = out / "executing"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for exercise, source in NOTEBOOKS.items():
        # The notebooks run in notebooks/: a relative data root is the caller's (make's: the repository root).
        parameters = {"profile": profile, "overrides": overrides_for(exercise, overrides),
                      **({"data_root": str(Path(data_root).resolve())} if data_root else {})}
        target = staging / Path(source).name
        print(f"[{profile}] {exercise}: executing {source}", flush=True)
        try:
            papermill.execute_notebook(str(REPO_ROOT / source), str(target), parameters=parameters,
                                       kernel_name=KERNEL_NAME, cwd=str(REPO_ROOT / "notebooks"),
                                       progress_bar=False, log_output=log_output)
        except PapermillExecutionError as err:
            failed = out / "failed" / target.name
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(target), failed)
            pdf_path(profile, build_root).unlink(missing_ok=True)
            first_line = (err.source or "").strip().splitlines()[0][:60] if (err.source or "").strip() else ""
            raise UserError(f"{source} failed in cell {err.cell_index} (execution count {err.exec_count}, "
                            f"starting `{first_line}`): {err.ename}: {err.evalue}\n"
                            f"  executed copy with the traceback: {failed}") from None
    executed = out / "executed"
    shutil.rmtree(executed, ignore_errors=True)
    staging.rename(executed)
    return [executed / Path(source).name for source in NOTEBOOKS.values()]


# ---------------------------------------------------------------------------------------------
# The PDF
# ---------------------------------------------------------------------------------------------

def train_runs(profile: str, overrides: dict | None, data_root, workers: int = 1,
               build_root: Path = DEFAULT_BUILD_ROOT, command: str = "make pdf") -> None:
    """Train the runs that are not stored with `workers` workers on this machine, before any notebook runs.

    Under full, first stop if runs are missing that this machine cannot train (the smoke profile goes
    on: its notebooks say plainly in the PDF which runs are missing).
    """
    from .jobs import fetch_data
    from .localworkers import train_here
    from .runstates import run_states
    try:  # nothing to train: no data needed (a stored run is found by its configuration without them)
        if all(s.state == "stored" for s in run_states(profile, overrides, data_root)):
            return
    except UserError:  # the data are not here, and no run is stored to stand for them: fetch them first
        pass
    fetch_data(profile, overrides, data_root)
    if profile == "full":
        from .status import check_trainable_here
        check_trainable_here(profile, overrides, data_root)
    train_here(profile, overrides, data_root, workers, Path(build_root) / profile / "workers", command)


def build_pdf(profile: str, group_file: str | Path, data_root: str | None = None, log_output: bool = False,
              build_root: Path = DEFAULT_BUILD_ROOT, overrides: dict | None = None, workers: int = 1) -> Path:
    """Train what is missing, execute all notebooks under a profile and render the one hand-in PDF; return its path."""
    check_profile(profile)
    check_overrides(overrides)
    group = load_group(group_file)  # checked before anything runs: bad input changes nothing
    check_renderer()
    check_names_shown(group, group_file)
    train_runs(profile, overrides, data_root, workers, build_root)
    executed = execute_notebooks(profile, data_root, log_output, build_root, overrides)
    title = title_page(group, profile, hardware_lines(profile, overrides, data_root), date.today().isoformat(),
                       overrides, data_notes(profile, overrides, data_root))
    closing = how_it_was_made(profile, overrides, data_root, workers, build_root)
    target = render_pdf(merge_notebooks(executed, group, profile, title, closing), pdf_path(profile, build_root))
    print(f"[{profile}] wrote {target}", flush=True)
    return target


def how_it_was_made(profile: str, overrides: dict | None, data_root, workers: int, build_root: Path) -> str:
    """The closing chapter (helpers/howto.py) for this build and the runs it shows."""
    from .howto import howto_markdown, this_build
    from .plan import stored_runs
    runs = [(planned.exercises, history) for planned, history in stored_runs(profile, overrides, data_root)]
    return howto_markdown(this_build(profile, overrides, data_root, workers), runs,
                          pdf_path(profile, build_root).with_suffix(".zip").name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.report", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["execute", "pdf", "zip"])
    parser.add_argument("--profile", default="full")
    parser.add_argument("--group", default=str(REPO_ROOT / "group.yml"), help="group file (names, 3.5)")
    parser.add_argument("--data-root", default=None, help="data folder (default: $EML_DATA_ROOT or ./data)")
    parser.add_argument("--log-output", action="store_true", help="stream cell output to the terminal")
    parser.add_argument("--build-root", default=str(DEFAULT_BUILD_ROOT), help="where build/PROFILE/ goes")
    parser.add_argument("--overrides", default="", help='profile-wide overrides as JSON, e.g. \'{"epochs": 5}\'')
    parser.add_argument("--workers", default="1", help="workers that train the missing runs on this machine")
    args = parser.parse_args(argv)

    def body():
        check_profile(args.profile)
        overrides = check_overrides(parse_overrides(args.overrides))
        workers = whole_number("WORKERS", args.workers, 1)
        if args.step == "execute":
            train_runs(args.profile, overrides, args.data_root, workers, Path(args.build_root), "make results")
            execute_notebooks(args.profile, args.data_root, args.log_output, Path(args.build_root), overrides)
        else:
            pdf = build_pdf(args.profile, args.group, args.data_root, args.log_output, Path(args.build_root), overrides,
                            workers)
            if args.step == "zip":
                build_zip(args.profile, pdf, args.group)  # helpers.archive
    return run_command(body)


if __name__ == "__main__":
    raise SystemExit(main())
