"""The hand-in archive renders its PDF again: the stored results of exactly the runs the PDF shows travel with the
sources, so that `make pdf` in the unpacked archive trains nothing and shows the same numbers."""
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from pypdf import PdfReader

from helpers import howto
from helpers.archive import build_zip
from helpers.data import locate
from helpers.errors import UserError
from helpers.experiment import run_files
from helpers.plan import planned_runs
from helpers.profiles import chapter_settings
from helpers.synthetic import write_stand_ins


# The data fingerprints of write_stand_ins(root, 100, 100, 50), part of every result key. Pinned, so that a generator
# whose bytes depend on the time, the machine, zlib or numpy fails here, not in a grader's unpacked hand-in.
PINNED_FINGERPRINTS = {"mnist": "6821089636572716", "cifar10": "5abd77d87d0453da"}


def test_synthetic_data_is_the_same_bytes_at_every_run_and_on_every_machine(tmp_path):
    for root in (tmp_path / "a", tmp_path / "b"):
        write_stand_ins(root, n_mnist=100, n_cifar=100, n_test=50)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert {name: locate(name, tmp_path / "a", download_missing=False).fingerprint
            for name in PINNED_FINGERPRINTS} == PINNED_FINGERPRINTS


def shown_runs() -> list[Path]:
    """The result files of the smoke plan's stored runs (the runs the PDF shows), under the current results root."""
    s = chapter_settings("smoke")["3.2"]
    files = [run_files(p.config, s.data_root, s.results_dir, download_missing=False).result
             for p in planned_runs("smoke") if p.config is not None]
    return [f for f in files if f.is_file()]


def chapters_and_figures(pdf: Path) -> tuple[str, list[str]]:
    """What two builds of the same results share: the text up to the closing page (the title page without its date
    and build machine, the chapters) and the closing page's figures. Not the closing page's commands, interpreter and
    folders, which name the checkout's paths, nor line breaks, which those paths' lengths move."""
    pages = [page.extract_text() for page in PdfReader(pdf).pages]
    title = pages[0].split("• Report built on")[0]  # the last lines of the title page
    text = " ".join("\n".join([re.sub(r"^\d{4}-\d{2}-\d{2}$", "", title, flags=re.M), *pages[1:]]).split())
    chapters, heading, closing = text.rpartition(howto.TITLE)  # the contents page names it too: the last one
    assert heading and "3.5 Willingness to present" in chapters
    return chapters, re.findall(r"(?<![\w/.-])\d+(?:\.\d+)? ?(?:min|s|%)(?![\w/])", closing)


@pytest.fixture(scope="module")
def smoke_zip(smoke_build, tmp_path_factory):
    """The session's smoke PDF and its archive, packed from a copy of the build and its results folder, which also
    holds files the zip must skip."""
    previous = os.environ.get("EML_RESULTS_ROOT")
    copy = tmp_path_factory.mktemp("zip")
    shutil.copytree(smoke_build.build_root, copy / "build")  # copy2: the times the zip checks stay
    results_root = copy / "results"
    shutil.copytree(smoke_build.results_root, results_root)
    os.environ["EML_RESULTS_ROOT"] = str(results_root)
    try:
        pdf = copy / "build" / smoke_build.pdf.relative_to(smoke_build.build_root)
        shown = shown_runs()
        stale = results_root / "smoke" / "cifar10-cnn-sgd-lr0.5-cpu-resident-0123456789abcdef.json"
        shutil.copy2(shown[-1], stale)  # a run of other overrides, stored earlier: not the PDF's
        (results_root / "smoke" / "cifar10-cnn-sgd-lr9-cpu-resident-0123456789abcdef.ckpt").write_bytes(b"partial")
        archive = build_zip("smoke", pdf, smoke_build.group)  # the group file the PDF was made with
        yield SimpleNamespace(pdf=pdf, archive=archive, shown=shown, results=results_root / "smoke")
    finally:
        if previous is None:
            os.environ.pop("EML_RESULTS_ROOT", None)
        else:
            os.environ["EML_RESULTS_ROOT"] = previous


@pytest.mark.slow
def test_the_zip_holds_the_pdf_the_sources_and_exactly_the_results_it_shows(smoke_zip):
    assert smoke_zip.archive == smoke_zip.pdf.with_suffix(".zip")  # the names of today
    with zipfile.ZipFile(smoke_zip.archive) as z:
        names = z.namelist()
        shipped = {n: z.read(n) for n in names if n.startswith("sources/results/")}
    assert smoke_zip.pdf.name in names and "sources/Makefile" in names and "sources/helpers/report.py" in names
    assert shipped == {f"sources/results/smoke/{p.name}": p.read_bytes() for p in smoke_zip.shown}
    assert len(shipped) >= 10  # every run of the plan this machine can train (here, on a CPU, all but 3.2's GPU runs)
    assert not [n for n in names if n.endswith((".ckpt", ".lock")) or n.startswith(("sources/data/", "sources/build/"))]
    umask = os.umask(0o022)
    os.umask(umask)
    for handed_in in (smoke_zip.pdf, smoke_zip.archive):  # the group's to read, as the umask allows (not 0600)
        assert stat.S_IMODE(handed_in.stat().st_mode) == 0o666 & ~umask


@pytest.mark.slow
def test_make_pdf_in_the_unpacked_zip_trains_nothing_and_shows_the_same_numbers(smoke_zip, tmp_path):
    with zipfile.ZipFile(smoke_zip.archive) as z:
        z.extractall(tmp_path)
    sources = tmp_path / "sources"
    assert not (sources / ".git").exists()

    def store() -> dict:
        return {p.relative_to(sources).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
                for p in (sources / "results").rglob("*")}
    before = store()
    env = {k: v for k, v in os.environ.items() if k not in ("EML_RESULTS_ROOT", "EML_DATA_ROOT")}
    done = subprocess.run(["make", "--no-print-directory", "pdf", "PROFILE=smoke", f"PY={sys.executable}"], cwd=sources,
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    again = sources / "build" / "smoke" / smoke_zip.pdf.name
    assert f"wrote {again}" in done.stdout  # the unpacked sources' own build, not this checkout's
    assert store() == before  # nothing trained, nothing stored, no checkpoint, no lock
    (chapters, figures), (rebuilt, rebuilt_figures) = chapters_and_figures(smoke_zip.pdf), chapters_and_figures(again)
    assert re.findall(r"\d+\.\d+ ?%", chapters) and figures  # the accuracies, the times, among every other number
    assert rebuilt == chapters and rebuilt_figures == figures


@pytest.mark.slow
def test_a_zip_of_another_profile_or_without_the_pdfs_results_is_refused(smoke_zip, tmp_path, monkeypatch):
    written = smoke_zip.archive.stat().st_mtime_ns
    with pytest.raises(UserError, match=r"is a PDF of profile 'smoke', not 'full'.*Run `make zip[^`]*`, which"):
        build_zip("full", smoke_zip.pdf)
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path))  # results made elsewhere, or none
    with pytest.raises(UserError, match=r"\d+ run\(s\) that the PDF \(profile 'smoke'\) needs are not stored in "
                                        r".*mnist-mlp-sgd-lr0\.1-cpu-template.*OVERRIDES.*make zip PROFILE=smoke"):
        build_zip("smoke", smoke_zip.pdf)
    monkeypatch.undo()
    late = smoke_zip.shown[0]
    stat = late.stat()
    os.utime(late, ns=(stat.st_atime_ns, smoke_zip.pdf.stat().st_mtime_ns + 10**9))
    try:
        with pytest.raises(UserError, match=rf"{late.name.rsplit('-', 1)[0]} were stored after .* rendered"):
            build_zip("smoke", smoke_zip.pdf)
    finally:
        os.utime(late, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert smoke_zip.archive.stat().st_mtime_ns == written  # a refused zip leaves the last good one alone


def test_a_pdf_whose_notebooks_ran_later_or_apart_is_not_packed(tmp_path):
    """The zip ships the runs of the PDF's own settings, read from its executed notebooks: refused where those
    notebooks were executed after it was rendered, or ran with different profiles or data roots."""
    import nbformat
    from helpers.archive import pdf_settings
    from helpers.profiles import NOTEBOOKS
    pdf = tmp_path / "exercise03.pdf"
    executed = tmp_path / "executed"
    executed.mkdir()

    def write(profiles, data_roots, overrides=({},) * 4):
        for source, profile, root, extra in zip(NOTEBOOKS.values(), profiles, data_roots, overrides):
            nb = nbformat.v4.new_notebook()
            nb.metadata["papermill"] = {"parameters": {"profile": profile, "data_root": root, "overrides": extra}}
            nbformat.write(nb, str(executed / Path(source).name))
        pdf.write_bytes(b"%PDF")  # rendered after them
    write(["smoke"] * 4, [None] * 4, [{}, {"epochs": 3}, {"epochs": 3, "seeds": 1}, {"epochs": 3}])
    assert pdf_settings(pdf) == ("smoke", {"epochs": 3, "seeds": 1}, None)
    later = executed / Path(NOTEBOOKS["3.3"]).name
    os.utime(later, ns=(later.stat().st_atime_ns, pdf.stat().st_mtime_ns + 10**9))
    with pytest.raises(UserError, match=r"were executed after .*exercise03.pdf was rendered"):
        pdf_settings(pdf)
    write(["smoke", "smoke", "full", "smoke"], [None] * 4)
    with pytest.raises(UserError, match="ran with different profiles or data roots"):
        pdf_settings(pdf)
    write(["full"] * 4, [None, "data/copy", None, None])
    with pytest.raises(UserError, match="ran with different profiles or data roots"):
        pdf_settings(pdf)
