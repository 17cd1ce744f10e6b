"""The LaTeX reports compile with pdflatex (amsmath, amssymb), and .pdf goes through it."""
import pytest

from matcalc.reports import ReportError, conv_report, example_report, report
from matcalc.reports.pdf import compile_pdf, pdflatex
from matcalc.shell.cli import main

pytestmark = pytest.mark.skipif(pdflatex() is None, reason="pdflatex is not installed "
                                "(Debian: apt-get install texlive-latex-base texlive-latex-recommended)")

LOGISTIC = ("-y*log(sigmoid(x'*w)) - (1 - y)*log(1 - sigmoid(x'*w))", "w", "x: vector(n); w: vector(n); y: scalar", 2)


@pytest.mark.parametrize("make", [
    lambda: example_report("seed"),
    lambda: report(*LOGISTIC),
    lambda: report("logdet(X)", "X"),
    lambda: report("loss_a*x'*x  # <b> & $ % \\ _ ^ ~ { }", "x"),
    lambda: conv_report(stride=2, dilation=2),
], ids=["seed", "hessian", "logdet", "nasty names", "conv"])
def test_latex_compiles(make):
    tex = make().text("tex")
    assert tex.isascii()
    assert compile_pdf(tex).startswith(b"%PDF")


def test_pdf_through_the_cli(tmp_path):
    out = tmp_path / "logdet.pdf"
    assert main(["report", "logdet(X)", "--wrt", "X", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")


def test_a_pdflatex_failure_is_a_report_error():
    with pytest.raises(ReportError, match="pdflatex failed"):
        compile_pdf("\\documentclass{article}\\begin{document}\\undefinedcommand\\end{document}")
