"""The whole pipeline: every notebook under the smoke profile, the PDF, the archive, and bad input."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from helpers import handin, report
from helpers.archive import build_zip
from helpers.errors import UserError
from helpers.profiles import NOTEBOOKS

from conftest import REPO

pytestmark = pytest.mark.slow


def pdf_text(pdf) -> str:
    """Return the text of every page of a PDF (pypdf: no tools outside Python)."""
    return "\n".join(page.extract_text() for page in PdfReader(pdf).pages)


def outline_titles(pdf) -> list[str]:
    """Return the titles of a PDF's bookmarks, depth first."""
    def walk(items):
        for item in items:
            yield from walk(item) if isinstance(item, list) else [item.title]
    return list(walk(PdfReader(pdf).outline))


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "helpers.report", *args], cwd=REPO, capture_output=True,
                          text=True, env=env)


@pytest.fixture(scope="module")
def smoke_pdf(smoke_build):
    """The session's smoke PDF (conftest.smoke_build): its path, text and build folder."""
    return smoke_build.pdf, smoke_build.text, smoke_build.build_root


def test_the_notebooks_ask_for_exactly_the_planned_runs(smoke_build, monkeypatch):
    """Plan and notebooks agree: every stored run is planned, every planned run this machine can do is stored."""
    import torch
    from helpers.runstates import run_states
    monkeypatch.setenv("EML_RESULTS_ROOT", str(smoke_build.results_root))
    stored = {p.name.rsplit("-", 1)[0] for p in (smoke_build.results_root / "smoke").glob("*.json")}
    states = run_states("smoke")
    planned = {s.run.slot for s in states}
    assert stored <= planned, stored - planned
    doable = {s.run.slot for s in states if torch.cuda.is_available() or s.run.config.device == "cpu"}
    assert {s.run.slot for s in states if s.state == "stored"} == doable and not any(s.run.waiting for s in states)
    assert not list((smoke_build.results_root / "smoke").glob("*.ckpt"))


def test_smoke_pdf_has_chapters_names_declaration_and_smoke_marks(smoke_pdf):
    pdf, text, build_root = smoke_pdf
    flat = " ".join(text.replace("\u2019", "'").split())  # Typst sets ' as a typographic apostrophe
    for title in ("3.1 Calculating gradients", "3.2 PyTorch: automatic differentiation", "3.3 MLP and CNN on CIFAR-10",
                  "3.4 Optimizers", "3.5 Willingness to present", "Contents"):
        assert title in flat, title
    assert "Jürgen Groß (4242)" in flat and "Ada O'Neil & Co" in flat
    assert "Willing to present" in flat and "Calculating gradients yes" in flat and "automatic differentiation no" in flat
    assert flat.count("SMOKE RUN, not for hand-in") >= 5 + 5  # title page, table of contents and every chapter heading
    assert "SMOKE RUN, NOT FOR HAND-IN" in flat
    assert "Traceback" not in text and "parameters" not in flat.lower().split("contents")[0]
    executed = sorted((build_root / "smoke" / "executed").glob("*.ipynb"))
    assert [p.name for p in executed] == sorted(Path(p).name for p in NOTEBOOKS.values())


def test_smoke_pdf_has_metadata_bookmarks_and_page_numbers(smoke_pdf):
    pdf, _, _ = smoke_pdf
    reader = PdfReader(pdf)
    assert reader.metadata.title == f"{handin.SHEET}, {handin.COURSE}"
    assert reader.metadata.author == "Jürgen Groß, Ada O'Neil & Co"
    chapters = [t for t in outline_titles(pdf) if t.startswith("3.")]
    assert [c.split()[0] for c in chapters] == ["3.1", "3.2", "3.3", "3.4", "3.5"]
    assert all(c.endswith(f"[{handin.SMOKE_MARK}]") for c in chapters)
    assert len(outline_titles(pdf)) > len(chapters)  # the sections too
    last = reader.pages[-1].extract_text().split()
    assert last[-1] == str(len(reader.pages) - 1)  # numbered from the contents on; the title page has none


def test_full_profile_has_no_smoke_marks(smoke_pdf, group_file):
    _, _, build_root = smoke_pdf
    executed = [build_root / "smoke" / "executed" / Path(p).name for p in NOTEBOOKS.values()]
    group = report.load_group(group_file)
    title = handin.title_page(group, "full", ["Training runs on X"], "2026-01-01")
    assert title["changed"] is None
    changed = handin.title_page(group, "full", [], "2026-01-01", {"epochs": 3, "devices": ["cpu"]})["changed"]
    assert changed == "Settings changed from profile 'full': devices cpu; epochs 3"
    merged = handin.merge_notebooks(executed, group, "full", title)
    headings = [line for c in merged.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("# ")]
    assert [h.split()[1] for h in headings] == ["3.1", "3.2", "3.3", "3.4", "3.5"]
    assert not any(handin.SMOKE_MARK in h for h in headings)
    assert title["smoke"] is None and "SMOKE" not in str(title)
    assert title["members"] == ["Jürgen Groß (4242)", "Ada O'Neil & Co"]  # as written: Typst reads them from JSON


def test_a_relative_data_root_is_the_callers_not_the_notebooks_folder(tmp_path, monkeypatch):
    # `make pdf DATA_ROOT=data/copy` trains from the repository root; the notebooks run in notebooks/.
    import papermill
    seen = []

    def execute(source, target, parameters, **options):
        seen.append((parameters["data_root"], options["cwd"]))
        Path(target).write_text("{}")
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    monkeypatch.setenv("JUPYTER_PATH", os.environ.get("JUPYTER_PATH", ""))  # the build's kernel goes there
    monkeypatch.chdir(tmp_path)
    report.execute_notebooks("smoke", "data/copy", build_root=tmp_path / "build")
    assert len(seen) == len(NOTEBOOKS) and {root for root, _ in seen} == {str(tmp_path / "data" / "copy")}
    assert all(cwd.endswith("notebooks") for _, cwd in seen)


def test_data_that_are_not_the_official_release_are_named_on_the_title_page(fresh_synthetic_root, synthetic_root,
                                                                            group_file):
    # Unmarked files in the official formats are what a copy, or Fashion-MNIST standing in for MNIST, looks like.
    notes = handin.data_notes("full", None, fresh_synthetic_root)
    assert [n.split(" in ")[0] for n in notes] == ["MNIST", "CIFAR-10"]
    assert "4 of its 4 files differ" in notes[0] and "7 of its 7 files differ" in notes[1]
    assert handin.data_notes("full", {"devices": ["cpu"]}, synthetic_root) == []  # marked stand-ins: a smoke run's
    title = handin.title_page(report.load_group(group_file), "full", [], "2026-01-01", None, notes)
    assert title["data"] == "\n".join(notes)


def test_smoke_run_says_the_gpu_runs_are_missing_and_never_calls_a_cpu_run_gpu(smoke_pdf):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    flat = " ".join(smoke_pdf[1].split())
    assert "Missing runs: cuda/template and cuda/resident" in flat
    assert "There is no GPU run in this report" in flat
    assert "GPU (" not in flat


def test_zip_holds_the_pdf_the_sources_and_the_results_it_shows_only(smoke_build_copy):
    pdf = smoke_build_copy.pdf
    archive = build_zip("smoke", pdf)
    names = zipfile.ZipFile(archive).namelist()
    assert pdf.name in names
    for source in ("sources/Makefile", "sources/README.md", "sources/environment.yml", "sources/helpers/training.py",
                   *(f"sources/{nb}" for nb in NOTEBOOKS.values())):
        assert source in names, source
    assert not [n for n in names if n.startswith(("sources/data/", "sources/build/"))
                or "__pycache__" in n or n.endswith((".pyc", ".ckpt", ".lock"))]
    results = [n for n in names if n.startswith("sources/results/")]  # the rest: tests/test_handin_zip.py
    assert results and all(n.startswith("sources/results/smoke/") and n.endswith(".json") for n in results)
    with zipfile.ZipFile(archive) as z:
        nb = nbformat.reads(z.read(f"sources/{NOTEBOOKS['3.1']}").decode(), as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_committed_notebooks_have_parameters_and_no_outputs():
    for source in NOTEBOOKS.values():
        nb = nbformat.read(str(REPO / source), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert any("parameters" in c.metadata.get("tags", []) for c in code), source
        assert all(not c.outputs and c.execution_count is None for c in code), source
        assert nb.cells[0].source.startswith("# 3."), source


def test_unknown_profile_is_one_message_and_nothing_written(tmp_path):
    result = cli("pdf", "--profile", "fast", "--build-root", str(tmp_path / "b"))
    assert result.returncode == 2
    assert result.stderr.strip() == "error: unknown profile 'fast'; choose one of: full, smoke"
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("content, message", [(None, "not found"), ("members: [", "not valid YAML")])
def test_bad_group_file_is_one_message_and_nothing_written(tmp_path, content, message):
    group = tmp_path / "group.yml"
    if content is not None:
        group.write_text(content)
    result = cli("pdf", "--profile", "smoke", "--group", str(group), "--build-root", str(tmp_path / "b"))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists()


def test_missing_renderer_names_what_to_pip_install(tmp_path):
    code = ("import sys; sys.modules['typst'] = None\n"  # as if the wheel were not installed
            "from helpers.report import main\n"
            f"raise SystemExit(main(['pdf', '--profile', 'smoke', '--build-root', {str(tmp_path / 'b')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "pip install typst==" in result.stderr and "pypandoc-binary==" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_failing_cell_names_notebook_and_cell_and_renders_no_pdf(tmp_path, monkeypatch):
    broken = tmp_path / "broken.ipynb"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 3.1 Broken"),
        nbformat.v4.new_code_cell('profile = "full"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise ValueError('this cell is broken')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, str(broken))
    build_root = tmp_path / "build"
    stale = report.pdf_path("smoke", build_root)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"%PDF stale")
    monkeypatch.setattr(report, "NOTEBOOKS", {"3.1": str(broken)})
    with pytest.raises(UserError, match=r"broken.ipynb failed in cell 3 \(execution count 3, starting `raise "
                                        r"ValueError\('this cell is broken'\)`\): ValueError: this cell is broken"):
        report.execute_notebooks("smoke", build_root=build_root)
    assert not stale.exists()
    assert (build_root / "smoke" / "failed" / "broken.ipynb").exists()
    assert not (build_root / "smoke" / "executed").exists()
