"""make lab: JupyterLab on notebooks/ with the project's kernel, its export menu offering the PDF as the README says.

The server is started by the Makefile's own target, in a folder of the test's (its notebooks/ holds one tiny
notebook), and asked through the HTTP API that JupyterLab's front end uses.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from pypdf import PdfReader

from conftest import REPO

pytestmark = pytest.mark.slow
pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (requirements.txt has it; make setup)")
TOKEN = "test-lab-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def menu_label(exporter: str) -> str:
    """Return the label of an exporter in JupyterLab's File > Save and Export Notebook As (4.x, @jupyterlab/notebook-
    extension): the name with its first letter upper-cased, unless it is one of nbconvert's own formats."""
    return exporter[0].upper() + exporter[1:]


@pytest.fixture
def lab(tmp_path):
    """Start `make lab` in tmp_path; yield a function that GETs a path of the server (status and body)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    (tmp_path / "notebooks").mkdir()
    nbformat.write(new_notebook(cells=[
        new_markdown_cell("# A tiny notebook\n\nIts maths: $\\partial L / \\partial w = 2 w$."),
        new_code_cell("print('hello from a code cell')\n6 * 7", execution_count=1, outputs=[
            new_output("stream", name="stdout", text="hello from a code cell\n"),
            new_output("execute_result", data={"text/plain": "42"}, execution_count=1)]),
    ]), str(tmp_path / "notebooks" / "tiny.ipynb"))
    jupyter = tmp_path / "jupyter"  # none of the user's Jupyter config, kernels or workspaces
    # The user's "eml-ex3", as another checkout's `make setup` leaves it (since deleted): make lab must not use it.
    kernel = jupyter / "data" / "kernels" / "eml-ex3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": ["/another/checkout/.venv/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "EML exercise 3 (.venv)", "language": "python"}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(jupyter / "config"), "JUPYTER_DATA_DIR": str(jupyter / "data"),
           "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(jupyter / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "workspaces")}
    port = free_port()
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 " \
           f"--IdentityProvider.token={TOKEN}" + (" --allow-root" if os.geteuid() == 0 else "")  # root: CI, containers
    log = open(tmp_path / "lab.log", "w+")
    server = subprocess.Popen(["make", "-C", str(tmp_path), "-f", str(REPO / "Makefile"), "lab", "SETUP=",
                               f"PY={sys.executable}", f"LAB_ARGS={args}"],
                              stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def get(path: str) -> tuple[int, bytes, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {TOKEN}"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            return err.code, err.read(), err.headers.get("Content-Type", "")

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get("/api/status")[0] == 200:
                    break
            except OSError:
                pass
            log.seek(0)
            assert server.poll() is None, f"make lab exited:\n{log.read()}"
            assert time.monotonic() < deadline, f"make lab did not answer in 60 s:\n{log.read()}"
            time.sleep(0.5)
        get.root = tmp_path  # make lab's folder
        yield get
    finally:
        if server.poll() is None:  # make and the server: the process group the test started
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()


def test_make_lab_serves_the_notebooks_on_the_projects_kernel_and_exports_them_as_pdf(lab):
    status, body, _ = lab("/api/kernelspecs")
    specs = json.loads(body)
    assert status == 200 and specs["default"] == "eml-ex3"
    kernel = specs["kernelspecs"]["eml-ex3"]["spec"]  # this lab's Python, not the user's stale registration
    assert kernel["argv"][0] == sys.executable and kernel["env"]["PYTHONPATH"].split(os.pathsep)[0] == str(lab.root)
    status, body, _ = lab("/api/contents")
    assert status == 200 and [item["name"] for item in json.loads(body)["content"]] == ["tiny.ipynb"]

    status, body, _ = lab("/api/nbconvert")
    exporters = json.loads(body)
    pdf = [name for name in exporters if name.lower() not in ("pdf", "webpdf", "qtpdf")
           and exporters[name]["output_mimetype"] == "application/pdf"]
    assert status == 200 and pdf == ["PDF_Typst"], exporters
    assert f"Save and Export Notebook As → {menu_label(pdf[0])}*" in (REPO / "README.md").read_text()

    status, body, content_type = lab(f"/nbconvert/{pdf[0]}/tiny.ipynb?download=true")
    assert status == 200, body.decode(errors="replace")[-2000:]
    assert content_type.startswith("application/pdf") and body.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    assert "A tiny notebook" in text and "hello from a code cell" in text and "42" in text
