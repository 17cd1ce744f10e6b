"""Derivation reports: one document built from what the engine computed, written as HTML
(MathML, offline), Markdown, LaTeX or PDF.

    >>> r = matcalc.report("norm2(X*w - y)^2", ["X", "w", "y"])
    >>> r.save("seed.html")                 # the format follows the suffix: .html .md .tex .pdf
    >>> text = matcalc.report("logdet(X)", "X", format="md")

``report`` returns a :class:`Report`; ``str(report)`` and ``report.text()`` give the document in
its format, ``save`` writes it atomically (a temporary file, then a rename).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional, Sequence, Union

from matcalc.errors import MatcalcError
from matcalc.reports.model import Document

FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".tex": "tex", ".pdf": "pdf"}


class ReportError(MatcalcError):
    """A report cannot be written: an unknown format, an unwritable path, or pdflatex failing."""


def render(doc: Document, format: str) -> str:
    if format == "html":
        from matcalc.reports.html import render as html
        return html(doc)
    if format in ("md", "markdown"):
        from matcalc.reports.markdown import render as md
        return md(doc)
    if format in ("tex", "latex"):
        from matcalc.reports.latex import render as tex
        return tex(doc)
    raise ReportError(f"unknown report format {format!r}: expected html, md or tex (pdf only through save)")


def format_of(path: Union[str, os.PathLike]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ReportError(f"cannot tell the report format from {str(path)!r}: name it .html, .md, .tex or .pdf")
    return FORMATS[suffix]


def write_atomic(path: Union[str, os.PathLike], data: Union[str, bytes]) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename, so a
    failure never leaves a half-written report."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ReportError(f"cannot write {str(path)!r}: the folder {str(folder)!r} does not exist")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise ReportError(f"cannot write {str(path)!r}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ReportError(f"cannot write {str(path)!r}: {e.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


class Report:
    """A built report: ``text(format)``, ``save(path)``, and Jupyter's mimebundle."""

    def __init__(self, doc: Document, format: str = "html"):
        self.doc = doc
        self.format = format

    @property
    def failed(self) -> bool:
        return bool(self.doc.failures)

    def text(self, format: Optional[str] = None) -> str:
        return render(self.doc, format or self.format)

    def __str__(self) -> str:
        return self.text()

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Write the report; the suffix (.html, .md, .tex, .pdf) chooses the format."""
        fmt = format_of(path)
        if fmt == "pdf":
            from matcalc.reports.pdf import compile_pdf
            return write_atomic(path, compile_pdf(self.text("tex")))
        return write_atomic(path, self.text(fmt))

    def _repr_mimebundle_(self, include=None, exclude=None):
        from matcalc.reports.jupyter import report_bundle
        return report_bundle(self)

    def __repr__(self) -> str:
        return f"<Report {self.doc.title!r}: {len(self.doc.blocks)} blocks{', FAILED' if self.failed else ''}>"


def _names(wrt) -> tuple:
    if isinstance(wrt, str):
        return tuple(n.strip() for n in wrt.split(",") if n.strip())
    return tuple(wrt)


def report(f: str, wrt: Union[str, Sequence[str]], decls=None, order: int = 1, format: str = "html",
           seed: int = 0) -> Report:
    """A derivation report of ``f`` with respect to each of ``wrt`` (a name, ``"X,w"`` or a list)."""
    from matcalc.reports.build import derivative_document
    names = _names(wrt)
    if not names:
        raise ReportError("--wrt needs at least one variable name")
    if format not in ("html", "md", "markdown", "tex", "latex"):
        render(Document(""), format)
    return Report(derivative_document(f, names, decls, order, seed), format)


def conv_report(format: str = "html", seed: int = 0, **options) -> Report:
    """A report of a convolution layer's gradients (options as :func:`matcalc.conv.conv_gradients`,
    plus ``layer``: conv, conv_transpose or avgpool)."""
    from matcalc.reports.conv import conv_document
    return Report(conv_document(seed=seed, **options), format)


SEED_EXAMPLE = ("J = (X*ω - y)'*(X*ω - y) = ‖Xω − y‖², the worked example of the seed notes",
                "(X*ω - y)'*(X*ω - y)", ("X", "ω", "y"), "X: matrix(m,n); ω: vector(n); y: vector(m)")


def example_report(name: str, format: str = "html") -> Report:
    """A named example: ``seed`` is the seed notes' J = ‖Xω − y‖² w.r.t. X, ω and y."""
    if name != "seed":
        raise ReportError(f"unknown example {name!r}: the one example is 'seed'")
    from matcalc.reports.build import derivative_document
    title, text, wrt, decls = SEED_EXAMPLE
    return Report(derivative_document(text, wrt, decls, 1, title=f"Derivation report: {title}"), format)
