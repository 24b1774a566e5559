"""The hand-in's content: title page, chapters in sheet order with smoke marks, and the 3.5 declaration.

What goes into the PDF, not how it is rendered (helpers/document.py) nor how the notebooks are run
(helpers/report.py).
"""
from __future__ import annotations

from pathlib import Path

from .data import DATASET_NAMES
from .errors import UserError
from .formatting import markdown_text
from .group import EXERCISES, Group
from .profiles import NOTEBOOKS

SMOKE_MARK = "SMOKE RUN, not for hand-in"
COURSE = "Embedded Machine Learning, Winter Term 2025/26"
INSTITUTE = "Heidelberg University, Institute of Computer Engineering"
SHEET = "Exercise 3"
SUBTITLE = "Gradients by hand, autograd, MLP vs. CNN, optimizers"


def hardware_lines(profile: str, overrides: dict | None = None, data_root=None) -> list[str]:
    """Return one line per distinct machine that the chapters' runs used, plus this build's."""
    from .environment import describe_environment
    from .plan import stored_histories
    runs = {}
    for history in stored_histories(profile, overrides, data_root):
        env = history.environment
        line = (f"{env.get('device_name', '?')}: Python {env.get('python', '?')}, PyTorch {env.get('torch', '?')}, "
                f"torchvision {env.get('torchvision', '?')}")
        runs[line] = runs.get(line, 0) + 1
    here = describe_environment()
    lines = [f"Training runs on {line} ({n} run{'s' if n > 1 else ''})" for line, n in sorted(runs.items())]
    lines.append(f"Report built on {here['cpu_model']}, {here['cpu_threads']} threads"
                 f"{', GPU ' + here['gpu'] if here['gpu'] else ''}: Python {here['python']}, "
                 f"PyTorch {here['torch']}, torchvision {here['torchvision']}")
    return lines


def data_notes(profile: str, overrides: dict | None = None, data_root=None) -> list[str]:
    """One line per dataset of the plan whose files are not the official release's (a copy, or another dataset in
    its format): a reader must see that the numbers are not those of the official data. Where the files are not here,
    the stored runs' fingerprint says it. Stand-ins say nothing here: a profile on generated data is marked as a
    smoke run."""
    from .datakeys import data_origin
    from .plan import planned_runs
    from .profiles import shared_settings
    s = shared_settings(profile, overrides, data_root)  # the notebooks' data root (a profile's stand-ins)
    names = dict.fromkeys((p.config or p.like).dataset for p in planned_runs(profile, overrides, data_root))
    notes = []
    for origin in (data_origin(name, s.data_root, s.results_dir) for name in names):
        name = DATASET_NAMES[origin.dataset]
        if origin.official or origin.stand_in:
            continue
        if origin.root is None:
            notes.append(f"{name}: the runs were trained on files with fingerprint {origin.fingerprint}, not the "
                         "official release's; the numbers are not the official data's (the files are not here).")
        else:
            notes.append(f"{name} in {origin.root} is not the official release: {origin.differ} of its {origin.files} "
                         "files differ from the official checksums; the numbers are not the official data's.")
    return notes


def title_page(group: Group, profile: str, hardware: list[str], today: str, overrides: dict | None = None,
               data: list[str] | None = None) -> dict:
    """Return the title page as plain strings: course, sheet, names and IDs, date, hardware, smoke mark, the
    settings changed from the profile and data that are not the official release's (a reader must see that a PDF
    is not the sheet's runs on the official data)."""
    smoke = None
    if profile != "full":
        smoke = {"mark": SMOKE_MARK.upper(),
                 "note": f"profile '{profile}': small data and a few epochs, to test the pipeline; "
                         "its numbers say nothing about the exercise"}
    changed = None
    if overrides:
        changed = f"Settings changed from profile '{profile}': " + "; ".join(
            f"{key} {', '.join(map(str, value)) if isinstance(value, (list, tuple)) else value}"
            for key, value in sorted(overrides.items()))
    return {"course": COURSE, "institute": INSTITUTE, "sheet": SHEET, "subtitle": SUBTITLE,
            "members": [m.name + (f" ({m.student_id})" if m.student_id else "") for m in group.members],
            "date": today, "smoke": smoke, "changed": changed, "data": "\n".join(data) if data else None,
            "hardware": list(hardware)}


def check_names_shown(group: Group, path) -> None:
    """Raise a UserError if the PDF's fonts (embedded: the same PDF on every machine) cannot show a member's name."""
    from .document import characters_not_shown
    missing = characters_not_shown([m.name for m in group.members])
    if missing:
        raise UserError(f"group file {path}: the PDF's fonts have no letters for "
                        + "; ".join(f"{' '.join(chars)} in {name!r}" for name, chars in missing.items())
                        + ", so the title page would show empty boxes. Write the names in Latin (or Greek, Cyrillic) "
                          "letters, as on your student ID card.")


def declaration_markdown(group: Group, chapter_titles: dict[str, str]) -> str:
    """Return chapter 3.5: the per-exercise declaration of willingness to present."""
    rows = "\n".join(f"| {ex} | {chapter_titles.get(ex, '')} | {'**yes**' if group.willing_to_present[ex] else 'no'} |"
                     for ex in EXERCISES)
    names = ", ".join(markdown_text(m.name) for m in group.members)
    return (f"# 3.5 Willingness to present\n\n"
            f"The group ({names}) declares, per exercise, whether it is willing to present its solution "
            f"in the exercise session:\n\n| Exercise | Title | Willing to present |\n|---|---|---|\n{rows}\n")


def _first_heading(nb) -> tuple[int, str] | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return i, line[2:].strip()
    return None


def merge_notebooks(paths: list[Path], group: Group, profile: str, title: dict, closing: str | None = None):
    """Return one notebook of all chapters (in sheet order), the 3.5 declaration, the closing chapter (how the
    report was made, Markdown), the title page and metadata."""
    import nbformat
    merged = nbformat.v4.new_notebook()
    titles = {}
    for exercise, path in zip(NOTEBOOKS, paths):
        nb = nbformat.read(str(path), as_version=4)
        heading = _first_heading(nb)
        if heading is None:
            raise UserError(f"{path.name} has no level-1 heading ('# 3.x ...') to start its chapter")
        index, chapter = heading
        titles[exercise] = chapter.split(" ", 1)[1] if chapter.startswith(exercise + " ") else chapter
        if profile != "full":
            nb.cells[index].source = nb.cells[index].source.replace(f"# {chapter}", f"# {chapter} [{SMOKE_MARK}]", 1)
        merged.cells.extend(nb.cells)
        merged.metadata.setdefault("kernelspec", nb.metadata.get("kernelspec", {}))
        merged.metadata.setdefault("language_info", nb.metadata.get("language_info", {}))
    declaration = declaration_markdown(group, titles)
    if profile != "full":
        declaration = declaration.replace("# 3.5 Willingness to present", f"# 3.5 Willingness to present [{SMOKE_MARK}]", 1)
    merged.cells.append(nbformat.v4.new_markdown_cell(declaration))
    if closing:
        heading = closing.split("\n", 1)[0]
        if profile != "full":
            closing = closing.replace(heading, f"{heading} [{SMOKE_MARK}]", 1)
        merged.cells.append(nbformat.v4.new_markdown_cell(closing))
    merged.metadata["eml_report"] = {"title_page": title, "profile": profile}
    merged.metadata["title"] = f"{SHEET}, {COURSE}"
    merged.metadata["authors"] = [{"name": m.name} for m in group.members]  # nbformat's own field
    return merged
