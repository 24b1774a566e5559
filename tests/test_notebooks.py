"""Every notebook under the smoke profile with overrides a user may give: subsets, one epoch, one seed, divergence."""
import nbformat
import papermill
import pytest
import torch

from helpers import report
from helpers.profiles import NOTEBOOKS

from conftest import REPO

pytestmark = pytest.mark.slow

CASES = [
    ("3.1", {}),
    ("3.2", {"devices": ["cpu"], "pipelines": ["resident"], "epochs": 1}),
    ("3.2", {"devices": ["cuda"], "pipelines": ["template"]}),  # nothing can run here without CUDA
    ("3.3", {"lrs": [0.003], "epochs": 1, "seeds": 1}),
    ("3.3", {"lrs": [1000.0], "epochs": 2}),                    # every candidate diverges: no choice
    ("3.4", {"optimizers": ["Adam"], "lrs": [0.001], "epochs": 1, "seeds": 1}),
    ("3.4", {"optimizers": ["SGD", "RMSprop"], "lrs": [10.0, 0.001], "seeds": 3}),
]


def markdown_outputs(nb) -> str:
    return "\n".join(output.get("data", {}).get("text/markdown", "") for cell in nb.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []))


@pytest.mark.parametrize("exercise, overrides", CASES, ids=[f"{e}-{'-'.join(o) or 'as-is'}" for e, o in CASES])
def test_notebook_runs_with_overrides(exercise, overrides, tmp_path, monkeypatch):
    if torch.cuda.is_available() and overrides.get("devices") == ["cuda"]:
        pytest.skip("this machine has CUDA: the runs would train instead of being missing")
    monkeypatch.setenv("EML_RESULTS_ROOT", str(tmp_path / "results"))  # apart from the smoke build's runs
    report._private_kernel(tmp_path / "jupyter")
    target = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(REPO / NOTEBOOKS[exercise]), str(target), kernel_name=report.KERNEL_NAME,
                               parameters={"profile": "smoke", "overrides": overrides}, cwd=str(REPO / "notebooks"),
                               progress_bar=False)
    text = markdown_outputs(nbformat.read(str(target), as_version=4))
    assert "**Observed" in text
    if not torch.cuda.is_available():
        assert "GPU (" not in text and "on the GPU" not in text.replace("no GPU run", "")
    if overrides.get("devices") == ["cuda"]:
        assert "Missing run: cuda/template." in text and "There is no CPU run" not in text
    if overrides.get("lrs") == [1000.0]:
        assert "diverged" in text
