"""The renderer: notebook -> Markdown -> Typst (pandoc) -> PDF (Typst), 3.1's maths, the nbconvert exporter."""
import base64
import os
import re
import shutil
import subprocess
import sys
import unicodedata

import nbformat
import pytest
import sympy as sp
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from pypdf import PdfReader

from helpers import document
from helpers.errors import UserError
from helpers.gradients import equations_latex
from helpers.profiles import NOTEBOOKS

from conftest import REPO

# A 1x1 PNG (black), as a matplotlib figure would come in an image/png output.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082")).decode()
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="120pt" height="40pt"><rect width="60" height="20"/></svg>'


def text_of(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def latex_commands(text: str) -> set[str]:
    """Return the LaTeX commands and environments in a text (backslashes doubled in Python strings too)."""
    return set(re.findall(r"\\+([A-Za-z]+)", text)) | set(re.findall(r"\\+begin\{(\w+)\}", text))


def display(latex: str):
    """An output as IPython.display.Math gives it (helpers.notebook.show_math)."""
    return new_output("display_data", data={"text/latex": f"$\\displaystyle {latex}$", "text/plain": "<Math>"})


def markdown(text: str):
    """An output as IPython.display.Markdown gives it (helpers.notebook.show_markdown)."""
    return new_output("display_data", data={"text/markdown": text, "text/plain": "<Markdown>"})


def test_latex_outputs_become_display_or_inline_maths():
    assert document.latex_display(r"$\displaystyle \frac{1}{2}$") == r"$$\frac{1}{2}$$"
    assert document.latex_display(r"$$x^2$$") == r"$$x^2$$"
    assert document.latex_display(r"$x$") == r"$x$"
    assert document.latex_display(r"\begin{aligned}a &= b\end{aligned}") == r"$$\begin{aligned}a &= b\end{aligned}$$"


def test_markdown_shows_tagged_inputs_and_outputs_but_not_stderr():
    nb = new_notebook(cells=[
        new_markdown_cell("# 3.9 Title\n\n- a list item"),
        new_code_cell("hidden_input = 1", outputs=[new_output("stream", name="stderr", text="progress 50%")]),
        new_code_cell("shown_input = 2", metadata={"tags": ["show"]},
                      outputs=[new_output("stream", name="stdout", text="printed")]),
        new_code_cell("fig", outputs=[new_output("execute_result", data={"image/png": PNG, "image/svg+xml": SVG,
                                                                          "text/plain": "<Figure>"})]),
    ])
    figures = {}
    text = document.notebook_markdown(nb, figures)
    assert "shown_input = 2" in text and "printed" in text
    assert "hidden_input" not in text and "progress" not in text and "<Figure>" not in text
    assert list(figures) == ["figure-1.svg"]  # vector preferred
    assert "- a list item\n\n<!-- -->" in text  # the next cell does not continue the list


def test_maths_of_3_1_render_with_every_latex_command_used(tmp_path):
    # Everything 3.1 writes in LaTeX: its Markdown cells as they are, its matrices through
    # equations_latex (with a fraction, as sympy writes a non-terminating rational), and the maths its
    # code cells put into generated Markdown.
    source = nbformat.read(str(REPO / NOTEBOOKS["3.1"]), as_version=4)
    matrices = equations_latex([(r"z = x W_1 + b_1", sp.Matrix([[sp.Rational(5, 2), -4, sp.Rational(9, 2)]])),
                                (r"a = \mathrm{ReLU}(z)", sp.Matrix([[sp.Rational(1, 3), 0], [-1, 2]])),
                                (r"\mathbb{1}[z>0]", sp.Matrix([[1, 0, 1]])),
                                (r"\partial L/\partial W_1", sp.Matrix([[2, 0], [-2, sp.Rational(1, 4)]]))])
    generated = (r"| neuron | $\partial L/\partial z = \partial L/\partial b_1$ |" "\n|---|---|\n| $h_1$ | $-1$ |\n\n"
                 r"A decrease of $\lambda\lVert\nabla L\rVert^2 = 0.1 \cdot 20 = 2$.")
    nb = new_notebook(cells=[c for c in source.cells if c.cell_type == "markdown"] + [
        new_code_cell("", outputs=[display(matrices), markdown(generated)])])
    used = latex_commands("\n".join(c.source for c in source.cells))
    used |= latex_commands((REPO / "helpers" / "gradients.py").read_text()) | {"frac"}  # as sympy writes 1/3
    rendered = latex_commands(document.notebook_markdown(nb, {}))
    assert used <= rendered, f"add to this test: {sorted(used - rendered)}"

    text = text_of(document.compile_typst(*document.typst_source(nb)), tmp_path)
    assert "\U0001d7d9[" in text  # the indicator 1 in double-struck
    text = unicodedata.normalize("NFKC", text)  # maths italic letters as plain ones
    for glyph in ("\u2202", "\u2299", "\u03bb", "\u2207", "\u2016", "\u03b8", "\u2190", "\u22a4",
                  "\u2211", "\u22c5", "ReLU", "max", "2.5", "\u22124", "4.5", "0.25"):
        assert glyph in text, glyph
    assert "\\" not in text  # no LaTeX left unconverted


def test_missing_renderer_is_a_user_error_naming_pip(monkeypatch):
    for module in ("typst", "pypdf"):
        with monkeypatch.context() as m:
            m.setitem(sys.modules, module, None)  # import raises ImportError
            with pytest.raises(UserError, match=r"pip install typst==\S+ pypandoc-binary==\S+ pypdf==\S+"):
                document.check_renderer()


def test_typst_error_is_one_message_keeping_the_source():
    with pytest.raises(UserError, match=r"Typst could not render the PDF: .*; its source is in .*main\.typ") as err:
        document.compile_typst("#no-such-function()", {"title": "t", "authors": [], "title_page": None}, {})
    kept = err.value.args[0].rsplit(" ", 1)[1]
    assert "#no-such-function()" in open(kept).read()
    shutil.rmtree(os.path.dirname(kept))


def nbconvert_entry_points(folder):
    """Register the exporters declared in pyproject.toml as pip would, in a dist-info folder of our own."""
    text = (REPO / "pyproject.toml").read_text()
    section = re.search(r'^\[project\.entry-points\."nbconvert\.exporters"\]\n(.*?)(?:^\[|\Z)', text, re.M | re.S)
    assert section, "pyproject.toml declares no nbconvert exporter"
    info = folder / "eml_exporters-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: eml-exporters\nVersion: 0\n")
    entries = re.findall(r'^(\w+)\s*=\s*"([^"]+)"', section.group(1), re.M)  # TOML strings, INI values
    (info / "entry_points.txt").write_text("[nbconvert.exporters]\n" + "".join(f"{k} = {v}\n" for k, v in entries))
    return folder


@pytest.mark.slow
def test_nbconvert_exports_a_notebook_as_one_chapter(tmp_path):
    nb = new_notebook(cells=[
        new_markdown_cell("# 3.9 A tiny chapter\n\nSome *prose* and $\\partial L/\\partial W_1$.\n\n## A section\n\n"
                          "![pasted](attachment:pasted.svg)", attachments={"pasted.svg": {"image/svg+xml": SVG}}),
        new_code_cell("print('hello')", metadata={"tags": ["show"]},
                      outputs=[new_output("stream", name="stdout", text="hello from stdout\n")]),
        new_code_cell("fig", outputs=[new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                                      new_output("display_data", data={"image/svg+xml": SVG, "text/plain": "<Fig>"})]),
    ], metadata={"authors": [{"name": "Jürgen Groß"}]})
    nbformat.write(nb, str(tmp_path / "tiny.ipynb"))
    paths = [str(nbconvert_entry_points(tmp_path / "site")), str(REPO), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    result = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "PDF_Typst", "tiny.ipynb"], cwd=tmp_path,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    reader = PdfReader(tmp_path / "tiny.pdf")
    text = " ".join("\n".join(page.extract_text() for page in reader.pages).split())
    assert "3.9 A tiny chapter" in text and "print('hello')" in text and "hello from stdout" in text
    assert "Contents" not in text  # a single notebook is a chapter, without the hand-in's title page
    assert [item.title for item in reader.outline if not isinstance(item, list)] == ["3.9 A tiny chapter"]
    assert reader.metadata.title == "tiny" and reader.metadata.author == "Jürgen Groß"
    assert len(reader.pages[0].images) == 1  # the PNG; the SVGs (output and pasted) are drawn as vectors


def test_a_name_as_typed_shows_as_typed_even_with_markdown_and_typst_marks(tmp_path):
    """Names go into Markdown (3.5's sentence): marks such as * _ # $ @ < must show as typed, and none may break the
    build (an @ was a citation into a bibliography the report does not have)."""
    from helpers.formatting import markdown_text
    name = "Zoë O'Brien-Müller *Star* Xiao_long #1 $x$ @ref <b> \\ [x](y)"
    nb = new_notebook(cells=[new_markdown_cell(f"The group ({markdown_text(name)}) declares.")])
    shown = " ".join(text_of(document.compile_typst(*document.typst_source(nb)), tmp_path).split())
    assert f"The group ({name}) declares." in shown


@pytest.mark.slow
def test_letters_the_embedded_fonts_lack_are_found_and_a_group_file_with_them_is_refused(tmp_path):
    from helpers.group import load_group
    from helpers.handin import check_names_shown
    latin = "Zoë O'Brien-Müller, Łukasz Żółć, Nguyễn Thị, Ştefan Dvořák, Σωκράτης, Иван, Office ffi"
    assert document.characters_not_shown([latin, "李小龙 (Li Xiaolong)", "김민준"]) == {
        "李小龙 (Li Xiaolong)": "李小龙", "김민준": "김민준"}
    group = tmp_path / "group.yml"
    group.write_text('members:\n  - name: "Li Xiaolong 李小龙"\nwilling_to_present: {"3.1": yes, "3.2": yes, '
                     '"3.3": yes, "3.4": yes}\n', encoding="utf-8")
    with pytest.raises(UserError, match="no letters for 李 小 龙 in 'Li Xiaolong 李小龙'.*Latin"):
        check_names_shown(load_group(group), group)
    check_names_shown(load_group(REPO / "group.yml"), "group.yml")  # the committed one is shown in full
