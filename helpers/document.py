"""Render a notebook as a PDF without TeX: cells and outputs as Markdown, Typst by pandoc, PDF by Typst.

Both tools come as PyPI wheels (pypandoc-binary ships pandoc; typst the compiler and its fonts), so
the PDF builds on any machine with pip alone. nbconvert knows the exporter by the name "PDF_Typst", which is
also its entry in JupyterLab's File > Save and Export Notebook As:

    jupyter nbconvert --to PDF_Typst notebook.ipynb

What is shown: Markdown cells; the input of code cells tagged "show"; outputs as Markdown (generated
prose and tables), LaTeX maths, figures (SVG preferred), stdout and plain text. Warnings and progress
bars (stderr) and widgets are left out.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
from pathlib import Path

from nbconvert.exporters import Exporter
from traitlets import default

from .errors import UserError
from .files import write_atomically

# The renderer, pinned as a pair: pandoc's Typst writer and the Typst compiler must agree on the names of
# maths symbols (pandoc 3.9 writes `dot.circle` for \odot, which Typst 0.14 still knows and 0.15 does not).
# pypdf reads a rendered PDF back (which letters of the names the fonts have).
RENDERER = "typst==0.14.9 pypandoc-binary==1.17 pypdf==7.1.1"
TEMPLATE = Path(__file__).resolve().parent / "templates" / "eml_report.typ"
# pandoc's Markdown: $...$ maths, pipe tables, raw ```{=typst} blocks; no citations (an "@" in a name or a
# generated sentence is text, not a reference into a bibliography the report does not have).
MARKDOWN = "markdown-implicit_figures-citations"
_FIGURES = (("image/svg+xml", "svg"), ("image/png", "png"), ("image/jpeg", "jpg"))
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def check_renderer() -> None:
    """Raise a UserError naming the pip command if Typst, pandoc (from pypandoc-binary) or pypdf is missing."""
    try:
        import pypandoc
        import pypdf  # noqa: F401
        import typst  # noqa: F401
        pypandoc.get_pandoc_path()
    except (ImportError, OSError):
        raise UserError(f"the PDF renderer is missing: pip install {RENDERER} (or pip install -e \".[report]\"; "
                        "`make setup` does it for .venv). No TeX needed. (The notebooks were not run.)") from None


# ---------------------------------------------------------------------------------------------
# Notebook -> Markdown
# ---------------------------------------------------------------------------------------------

def _fence(text: str, info: str = "") -> str:
    ticks = "`" * max([3] + [len(run) + 1 for run in re.findall(r"`{3,}", text)])
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"


def latex_display(latex: str) -> str:
    """Return a text/latex output as Markdown maths: `$\\displaystyle x$` (IPython's Math) as display maths."""
    text = latex.strip()
    if text.startswith("$$") or (text.startswith("$") and not text.startswith(r"$\displaystyle")):
        return text
    if text.startswith("$"):
        text = text[len(r"$\displaystyle"):-1].strip()
    return f"$${text}$$"


def _keep(output) -> bool:
    # Progress bars and warnings go to stderr: useful in a terminal or SLURM log, noise in a PDF.
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        return False
    return "application/vnd.jupyter.widget-view+json" not in output.get("data", {})


def _add_figure(data: dict, figures: dict[str, bytes]) -> str | None:
    """Add the best figure of a mime bundle to figures; return its file name (None if there is none)."""
    for mime, suffix in _FIGURES:
        if mime in data:
            name = f"figure-{len(figures) + 1}.{suffix}"
            figures[name] = data[mime].encode() if suffix == "svg" else base64.b64decode(data[mime])
            return name
    return None


def output_markdown(output, figures: dict[str, bytes]) -> str | None:
    """Return one code cell output as Markdown (a figure is added to figures, by file name)."""
    kind = output.get("output_type")
    if kind == "stream":
        return _fence(output.get("text", ""), "text")
    if kind == "error":
        return _fence(_ANSI.sub("", "\n".join(output.get("traceback", []))), "text")
    data = output.get("data", {})
    name = _add_figure(data, figures)
    if name:
        return f'```{{=typst}}\n#fitted-image("{name}")\n```'
    if "text/markdown" in data:
        return data["text/markdown"]
    if "text/latex" in data:
        return latex_display(data["text/latex"])
    if "text/plain" in data:
        return _fence(_ANSI.sub("", data["text/plain"]), "text")
    return None


def notebook_markdown(nb, figures: dict[str, bytes]) -> str:
    """Return the notebook as one Markdown document, cell after cell."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            source = cell.source
            for attachment, data in cell.get("attachments", {}).items():  # images pasted into the cell
                source = source.replace(f"attachment:{attachment}", _add_figure(data, figures) or attachment)
            parts.append(source)
        elif cell.cell_type == "raw" and cell.metadata.get("format") in ("typst", "text/x-typst"):
            parts.append(_fence(cell.source, "{=typst}"))
        elif cell.cell_type == "code":
            if "show" in cell.metadata.get("tags", []):
                parts.append(_fence(cell.source, "python"))
            parts.extend(filter(None, (output_markdown(o, figures) for o in cell.get("outputs", []) if _keep(o))))
    # An empty comment between cells ends any list or quote a cell left open; pandoc drops it.
    return "\n\n<!-- -->\n\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"


# ---------------------------------------------------------------------------------------------
# Markdown -> Typst -> PDF
# ---------------------------------------------------------------------------------------------

def typst_source(nb, name: str = "notebook") -> tuple[str, dict, dict[str, bytes]]:
    """Return the Typst body of a notebook, its metadata for the template, and its figures."""
    import pypandoc
    figures: dict[str, bytes] = {}
    body = pypandoc.convert_text(notebook_markdown(nb, figures), "typst", format=MARKDOWN,
                                 extra_args=["--wrap=none"])
    meta = {"title": nb.metadata.get("title") or name,
            "authors": [a["name"] for a in nb.metadata.get("authors", []) if isinstance(a, dict) and a.get("name")],
            "title_page": nb.metadata.get("eml_report", {}).get("title_page")}
    return body, meta, figures


def compile_typst(body: str, meta: dict, figures: dict[str, bytes]) -> bytes:
    """Compile a Typst body with the report template and the embedded fonts only; return the PDF."""
    import typst
    with tempfile.TemporaryDirectory(prefix="eml-typst-") as tmp:
        folder = Path(tmp)
        shutil.copy(TEMPLATE, folder / TEMPLATE.name)
        (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        for name, content in figures.items():
            (folder / name).write_bytes(content)
        main = folder / "main.typ"
        main.write_text(f'#import "{TEMPLATE.name}": *\n#show: report.with(json("meta.json"))\n\n{body}',
                        encoding="utf-8")
        try:  # system fonts ignored: the same PDF on every machine
            return typst.compile(str(main), root=str(folder), font_paths=[], ignore_system_fonts=True)
        except typst.TypstError as err:
            kept = Path(tempfile.mkdtemp(prefix="eml-typst-failed-"))
            shutil.copytree(folder, kept, dirs_exist_ok=True)
            raise UserError(f"Typst could not render the PDF: {str(err).strip().splitlines()[0]}; "
                            f"its source is in {kept / 'main.typ'}") from None


def characters_not_shown(texts: list[str]) -> dict[str, str]:
    """The characters of each text that the report's embedded fonts have no glyph for (they would print as empty
    boxes), by text; texts shown in full are left out. Found by rendering the texts and reading the PDF back."""
    import io
    import unicodedata
    import typst
    from pypdf import PdfReader
    with tempfile.TemporaryDirectory(prefix="eml-typst-glyphs-") as tmp:
        folder = Path(tmp)
        (folder / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
        (folder / "main.typ").write_text('#set text(font: "New Computer Modern")\n'
                                         '#for t in json("texts.json") [#t #parbreak()]\n', encoding="utf-8")
        pdf = typst.compile(str(folder / "main.typ"), root=str(folder), font_paths=[], ignore_system_fonts=True)
    shown = unicodedata.normalize("NFC", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    missing = {text: "".join(dict.fromkeys(c for c in unicodedata.normalize("NFC", text)
                                           if not c.isspace() and c not in shown)) for text in texts}
    return {text: chars for text, chars in missing.items() if chars}


def render_pdf(nb, target: Path) -> Path:
    """Render a notebook as a PDF; write it atomically to target."""
    check_renderer()
    pdf = compile_typst(*typst_source(nb, target.stem))
    write_atomically(target, lambda f: f.write(pdf))
    return target


class TypstPDFExporter(Exporter):
    """nbconvert's "PDF_Typst": a notebook as a PDF in the hand-in's style, through pandoc and Typst (no TeX)."""

    # The label of the classic Notebook's (nbclassic) menu. JupyterLab ignores it and shows the name the
    # exporter is registered by in pyproject.toml ("PDF_Typst"), its first letter upper-cased.
    export_from_notebook = "PDF (Typst, no TeX)"
    output_mimetype = "application/pdf"

    @default("file_extension")
    def _file_extension_default(self):
        return ".pdf"

    def from_notebook_node(self, nb, resources=None, **kw):
        nb, resources = super().from_notebook_node(nb, resources, **kw)
        check_renderer()
        name = resources.get("metadata", {}).get("name") or "notebook"
        return compile_typst(*typst_source(nb, name)), resources
