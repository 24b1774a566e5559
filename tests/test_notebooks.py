"""Every notebook under the smoke profile with overrides a user may give: subsets, one epoch, one seed, divergence.

Each case checks what its text must say (and must not claim) on facts that survive rewording: the tables'
cells, the missing-run notice, numbers, and the absence of comparisons that the runs cannot support.
"""
import nbformat
import papermill
import pytest
import torch

from helpers import report
from helpers.profiles import NOTEBOOKS, settings

from conftest import REPO

pytestmark = pytest.mark.slow

RANKING_WORDS = ("ranks", "leads", "top-ranked", "beyond the range", "cannot be told apart", "ranges separate",
                 "other optimizer")


class RankingWithOneOptimizer(AssertionError):
    """The text ranks or compares optimizers although only one was run."""


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in the text."""
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines() if line.startswith("| ")]


def row(text: str, first: str) -> list[str]:
    """The one table row whose first cell is `first`."""
    [found] = [cells for cells in table_rows(text) if cells[0] == first]
    return found


def seeds(text: str) -> dict:
    """Each arm's seed count, from the table of arms (its rows have eight cells)."""
    return {cells[0]: cells[1] for cells in table_rows(text) if len(cells) == 8 and cells[0] != "run"}


def says_the_sheets_step(text, observed):
    # The sheet's numbers, exact: the step overshoots (loss 2 -> 18.8498) and h_2's ReLU passes no gradient.
    assert "from 2 to 18.8498" in observed and "$h_2$ received no gradient" in observed


def says_one_cpu_run_and_no_comparison(text, observed):
    runs = [cells for cells in table_rows(text) if cells[0].startswith(("CPU (", "GPU ("))]
    assert [cells[1] for cells in runs] == ["resident"] and runs[0][0].startswith("CPU (")
    assert all(cell in observed for cell in ("CPU/template", "GPU/template", "GPU/resident"))  # named as absent
    assert "faster" not in observed  # no speed-up without a pair of runs


def says_the_gpu_run_is_missing(text, observed):
    assert "Missing run: cuda/template." in text and "There is no CPU run" not in text
    assert not [cells for cells in table_rows(text) if cells[0].startswith(("CPU (", "GPU ("))]
    assert "%" not in observed and "faster" not in observed  # no accuracy, no speed without a run


def says_the_only_rate_is_chosen_and_one_seed_decides_nothing(text, observed):
    assert row(text, "0.003")[1].endswith("**chosen**") and row(text, "0.003")[2] == "1"
    assert seeds(text) == {"MLP": "1", "CNN": "1"}
    assert "beyond the range" not in observed and "ahead" not in observed  # one seed: no winner
    assert "signature of overfitting" not in observed  # one epoch: no trend


def says_no_rate_is_chosen(text, observed):
    assert "No candidate rate gave a usable" in observed and "no rate is chosen" in observed
    assert "diverged" in row(text, "1000")[1] and "**chosen**" not in text
    assert seeds(text)["CNN"] == "0"  # no CNN seeds run at a rate that was not chosen
    comparison = observed.split("**Observed")[-1]
    assert "missing" in comparison and "%" not in comparison  # no CNN accuracy to compare


def says_nothing_ranks_one_optimizer(text, observed):
    adam = [cells for cells in table_rows(text) if cells[0] == "Adam"]
    assert [len(cells) for cells in adam] == [2, 8] and adam[0][1].endswith("**chosen**") and adam[1][1] == "1"
    assert not [cells for cells in table_rows(text) if cells[0] in ("SGD", "RMSprop", "Adagrad")]
    claimed = [word for word in RANKING_WORDS if word in observed]
    if claimed:
        raise RankingWithOneOptimizer(f"one optimizer, yet the text says {claimed}")


def says_the_diverged_rate_is_not_chosen(text, observed):
    sweep = {cells[0]: cells[1:] for cells in table_rows(text) if len(cells) == 3 and cells[0] in ("SGD", "RMSprop")}
    assert "diverged" in sweep["SGD"][0] and "**chosen**" not in sweep["SGD"][0]  # lr 10
    assert all(sum("**chosen**" in cell for cell in cells) == 1 for cells in sweep.values())
    assert seeds(text) == {"SGD": "3", "RMSprop": "3"}


CASES = [
    pytest.param("3.1", {}, says_the_sheets_step, id="3.1-as-is"),
    pytest.param("3.2", {"devices": ["cpu"], "pipelines": ["resident"], "epochs": 1}, says_one_cpu_run_and_no_comparison,
                 id="3.2-one-cpu-run"),
    pytest.param("3.2", {"devices": ["cuda"], "pipelines": ["template"]}, says_the_gpu_run_is_missing,
                 id="3.2-cuda-only"),  # nothing can run here without CUDA
    pytest.param("3.3", {"lrs": [0.003], "epochs": 1, "seeds": 1},
                 says_the_only_rate_is_chosen_and_one_seed_decides_nothing, id="3.3-one-rate-one-epoch-one-seed"),
    pytest.param("3.3", {"lrs": [1000.0], "epochs": 2}, says_no_rate_is_chosen,
                 id="3.3-every-rate-diverges"),
    pytest.param("3.4", {"optimizers": ["Adam"], "lrs": [0.001], "epochs": 1, "seeds": 1},
                 says_nothing_ranks_one_optimizer, id="3.4-one-optimizer"),
    pytest.param("3.4", {"optimizers": ["SGD", "RMSprop"], "lrs": [10.0, 0.001], "seeds": 3},
                 says_the_diverged_rate_is_not_chosen, id="3.4-sgd-diverges"),
]


def markdown_outputs(nb) -> list[str]:
    return [output.get("data", {}).get("text/markdown", "") for cell in nb.cells if cell.cell_type == "code"
            for output in cell.get("outputs", [])]


@pytest.mark.parametrize("exercise, overrides, says", CASES)
def test_notebook_runs_with_overrides(exercise, overrides, says, tmp_path, monkeypatch):
    if torch.cuda.is_available() and overrides.get("devices") == ["cuda"]:
        pytest.skip("this machine has CUDA: the runs would train instead of being missing")
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path / "results"))  # apart from the smoke build's runs
    report._private_kernel(tmp_path / "jupyter")
    target = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(REPO / NOTEBOOKS[exercise]), str(target), kernel_name=report.KERNEL_NAME,
                               parameters={"profile": "smoke", "overrides": overrides}, cwd=str(REPO / "notebooks"),
                               progress_bar=False)
    outputs = markdown_outputs(nbformat.read(str(target), as_version=4))
    text = "\n".join(outputs)
    observed = "\n".join(o for o in outputs if o.startswith("**Observed"))
    assert observed
    as_given, as_profile = settings(exercise, "smoke", overrides, REPO), settings(exercise, "smoke", {}, REPO)
    changed = [key for key in overrides if getattr(as_given, key) != getattr(as_profile, key)]
    assert sum(o.count("** (profile smoke: ") for o in outputs if o.startswith("*Settings")) == len(changed)
    if not torch.cuda.is_available():
        assert "GPU (" not in text and "on the GPU" not in text.replace("no GPU run", "")
    says(text, observed)
