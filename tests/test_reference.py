"""The committed reference results of real GPU runs (reference/<set>/), rendered as a grader would: no data, no GPU,
nothing trained. What real results must show: every chapter's Observed text, consistent with its table; 3.2's CPU
and GPU accuracies as the records say; no "Short of the sheet" where the set's settings are the sheet's."""
import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from helpers import howto, report
from helpers.profiles import chapter_settings, short_of_sheet

from conftest import REPO

SETS = sorted(p for p in (REPO / "reference").glob("*") if (p / "full").is_dir())


def test_there_is_a_reference_set_with_its_provenance():
    assert SETS
    for folder in SETS:
        readme = (folder / "README.md").read_text()
        assert "Commands" in readme and "Data" in readme and "Machine" in readme
        assert not [p for p in folder.rglob("*") if p.suffix in (".ckpt", ".lock")]


@pytest.fixture(scope="module", params=SETS, ids=[p.name for p in SETS])
def rendered(request, tmp_path_factory):
    """The set's PDF, rendered with its overrides (those under which it is complete), without any dataset."""
    folder = request.param
    overrides = json.loads((folder / "overrides.json").read_text()) if (folder / "overrides.json").exists() else {}
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("EML_RESULTS_ROOT", str(folder))
    empty = tmp_path_factory.mktemp("no-data")
    try:
        pdf = report.build_pdf("full", REPO / "group.yml", data_root=str(empty), overrides=overrides,
                               build_root=tmp_path_factory.mktemp("build"))
        settings = chapter_settings("full", overrides, str(empty))
    finally:
        monkeypatch.undo()
    after = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    text = " ".join("\n".join(page.extract_text() for page in PdfReader(pdf).pages).replace("\u2019", "'").split())
    return folder, text, settings, before == after and not list(empty.iterdir())


@pytest.mark.slow
def test_a_reference_set_renders_without_data_and_trains_nothing(rendered):
    folder, text, settings, untouched = rendered
    assert untouched  # no result, checkpoint, lock or download written
    assert "not the official release's" in text.split("Contents")[0] or "official" not in (folder / "README.md").read_text()
    if not any(short_of_sheet(s) for s in settings.values()):
        assert "Short of the sheet" not in text


def chapter(text: str, heading: str, following: str) -> str:
    """A chapter's text, from its heading to the next one's (after the contents page, which names them all)."""
    body = text[text.index(howto.TITLE) + len(howto.TITLE):]
    return body[body.index(heading):body.index(following)]


@pytest.mark.slow
def test_every_chapter_says_what_it_observed_consistently_with_its_table(rendered):
    folder, text, _, _ = rendered
    records = [json.loads(p.read_text()) for p in (folder / "full").glob("*.json")]
    ch32 = chapter(text, "3.2 PyTorch: automatic differentiation", "3.3 MLP and CNN on CIFAR-10")
    ch33 = chapter(text, "3.3 MLP and CNN on CIFAR-10", "3.4 Optimizers")
    ch34 = chapter(text, "3.4 Optimizers", "3.5 Willingness to present")
    assert ch32.count("Observed.") == 2 and ch33.count("Observed") == 2 and ch34.count("Observed.") == 2
    for device, word in (("cpu", "CPU"), ("cuda", "GPU")):  # 3.2's template runs, as the records say
        record = next(r for r in records if r["config"]["dataset"] == "mnist" and r["config"]["device"] == device
                      and r["config"]["pipeline"] == "template")
        final = f"{100 * record['records'][-1]['test_accuracy']:.2f} %"
        assert re.search(rf"On the {word} \(.*?\) the run reached {re.escape(final)} test accuracy", ch32), final
    table = dict(re.findall(r"(MLP|CNN) \d+ (\d+\.\d %)", ch33))  # the arms table: mean final test accuracy
    observed = ch33.split("Observed (on")[1]
    assert f"The CNN reached {table['CNN']}" in observed and f"the MLP {table['MLP']}" in observed
    ranked = re.search(r"Final test accuracy ranks (.*?)\. ", ch34).group(1)
    for optimizer, accuracy in re.findall(r"(SGD|Adam|RMSprop|Adagrad) (\d+\.\d %)", ranked):
        assert re.search(rf"{optimizer} \d+ {re.escape(accuracy)}", ch34)  # the same figure in the table
