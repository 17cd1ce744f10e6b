"""In a real notebook (executed by nbclient): a Derivative and a report display as text/plain,
text/latex and text/markdown, never MathML HTML; a MatcalcError shows its caret, no traceback."""
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the 'notebook' extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the 'notebook' extra (nbclient)")
pytest.importorskip("ipykernel", reason="the notebook test needs the 'notebook' extra (ipykernel)")

import matcalc  # noqa: E402
from matcalc.printing.latex import to_latex  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def executed():
    cells = [
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); import matcalc",
        "matcalc.diff('norm2(X*w - y)^2', 'w', 'X: matrix(m,n); w: vector(n); y: vector(m)')",
        "matcalc.report('logdet(X)', 'X')",
        "matcalc.parse('x +* y')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    old = os.environ.copy()
    os.environ.update(env)
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def _data(cell):
    (out,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return out.data


def test_derivative_displays_as_markdown_and_latex(executed):
    data = _data(executed.cells[1])
    assert set(data) == {"text/plain", "text/latex", "text/markdown"}
    d = matcalc.diff("norm2(X*w - y)^2", "w", "X: matrix(m,n); w: vector(n); y: vector(m)")
    assert to_latex(d.node) in data["text/latex"] and to_latex(d.node) in data["text/markdown"]


def test_report_displays_without_html(executed):
    data = _data(executed.cells[2])
    assert "text/html" not in data
    assert data["text/markdown"].startswith("# Derivation report: f = logdet(X)")


def test_error_shows_the_caret_not_a_traceback(executed):
    (err,) = [o for o in executed.cells[3].outputs if o.output_type == "error"]
    assert err.ename == "ParseError"
    assert err.traceback[1:] == ["x +* y", "   ^"]
    assert not any("Traceback" in line or "File " in line for line in err.traceback)
