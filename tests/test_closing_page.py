"""The PDF's closing page (helpers/howto.py): how it was made and how to run it, from the build and its runs."""
import re

import pytest

pytestmark = pytest.mark.slow


def test_smoke_pdf_closes_with_how_it_was_made_and_how_to_run_it(smoke_build, monkeypatch):
    from helpers.plan import stored_runs
    monkeypatch.setenv("EML_RESULTS_ROOT", str(smoke_build.results_root))
    text = smoke_build.text
    flat = " ".join(text.replace("\u2019", "'").split())
    closing = flat.split("How this report was made, and how to run it [SMOKE RUN, not for hand-in]")[-1]
    assert closing != flat and "Willing to present" not in closing  # the last chapter, after 3.5
    assert "conda activate eml" in closing and "make course-venv" in closing and "typst==0.14.9" in closing
    assert "make pdf PROFILE=smoke" in closing and "make zip PROFILE=smoke" in closing
    runs = stored_runs("smoke")
    assert f"{len(runs)} runs in all" in closing and f"of the {len(runs)} runs shown here" in closing
    for exercise in ("3.2", "3.3", "3.4"):  # one row per chapter with runs: how many, and how they were started
        count = sum(exercise in planned.exercises for planned, _ in runs)
        assert re.search(rf"{re.escape(exercise)} {count} ", closing), (exercise, count)
    assert "make pdf" in closing.split("started by")[1] and "exercise03-SMOKE-not-for-hand-in.zip" in closing
    import torch
    assert torch.__version__ in closing.split("started by")[1]  # which PyTorch trained the runs, as they recorded it
    assert "sources/results/smoke/" in closing and "stand-in data is generated" in closing


def test_the_closing_page_names_the_folders_that_environment_variables_chose(tmp_path, monkeypatch):
    """With EML_RESULTS_ROOT and EML_DATA_ROOT set, the page's commands read the same results and data; its command
    for the unpacked archive does not: the archive holds its own results/."""
    from findings_factory import make_history
    from helpers import howto
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path / "scratch"))
    monkeypatch.setenv("EML_DATA_ROOT", "data/copy")
    page = howto.howto_markdown(howto.this_build("full", {"epochs": 3}, None, 1), [(("3.2",), make_history([0.5]))],
                                "exercise03.zip")
    assert f"make pdf RESULTS={tmp_path / 'scratch'} OVERRIDES='{{\"epochs\": 3}}' DATA_ROOT=data/copy" in page
    assert f"stored as JSON in `{tmp_path / 'scratch'}/full/`" in page
    assert "`cd sources`, then `make pdf OVERRIDES='{\"epochs\": 3}' DATA_ROOT=data/copy" in page
    monkeypatch.setenv("EML_RESULTS_ROOT", "results")  # the repository's own, named
    monkeypatch.delenv("EML_DATA_ROOT")
    build = howto.this_build("full", None, None, 1)
    assert build.results_root is None and build.data_root is None
    assert "stored as JSON in `results/full/`" in howto.where_text([(("3.2",), make_history([0.5]))], build)


def test_the_closing_page_gives_the_launches_the_runs_recorded_with_their_resources():
    from helpers import howto
    build = howto.Build("full", {}, None, 2, ".venv/bin/python")
    resources = {"partition": "exercise-eml", "time": "2:00:00", "cpus": 1, "mem": "5G", "gpus": 1, "max_parallel": 4}
    text = howto.commands_text(build, [{"command": "make sbatch", "workers": 4, "resources": resources},
                                       {"command": "make results", "workers": 3},
                                       {"command": "make sbatch", "workers": 4, "resources": resources}])
    lines = text.split("```")[1].strip().splitlines()
    assert lines == ["make sbatch PARTITION=exercise-eml TIME=2:00:00 CPUS=1 MEM=5G GPUS=1 MAX_PARALLEL=4",
                     "make status", "make results WORKERS=3", "make pdf WORKERS=2", "make zip"]
