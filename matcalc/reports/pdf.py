"""PDF through pdflatex, when it is installed: the LaTeX report compiled in a temporary folder."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def pdflatex() -> str | None:
    return shutil.which("pdflatex")


def compile_pdf(tex: str, timeout: float = 120) -> bytes:
    """The PDF bytes of the LaTeX document ``tex`` (a ReportError when pdflatex is missing or fails)."""
    from matcalc.reports import ReportError
    exe = pdflatex()
    if exe is None:
        raise ReportError("PDF needs pdflatex, which is not installed (Debian: apt-get install "
                          "texlive-latex-base texlive-latex-recommended); write .tex and compile it elsewhere")
    with tempfile.TemporaryDirectory(prefix="matcalc-pdf-") as tmp:
        (Path(tmp) / "report.tex").write_text(tex, encoding="ascii")
        run = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=tmp,
                             capture_output=True, text=True, timeout=timeout)
        pdf = Path(tmp) / "report.pdf"
        if run.returncode != 0 or not pdf.exists():
            errors = [line for line in run.stdout.splitlines() if line.startswith("!")]
            raise ReportError(f"pdflatex failed: {'; '.join(errors[:3]) or 'exit status ' + str(run.returncode)}")
        return pdf.read_bytes()
