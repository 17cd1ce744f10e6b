"""Derivation reports: the MathML printer, the document built from the engine, the three writers,
escaping, atomic writes, the CLI and the Jupyter mimebundles."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html import escape
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matcalc
from matcalc.derivation import Verdict
from matcalc.front.parser import parse_node
from matcalc.ir.nodes import ALL_OPS, Var, postorder
from matcalc.numeric.evaluate import evaluate
from matcalc.printing.latex import to_latex
from matcalc.printing.mathml import MATHML_RULES, to_mathml
from matcalc.printing.text import to_text
from matcalc.reports import ReportError, Report, conv_report, example_report, report, write_atomic
from matcalc.reports.indexmath import index_mathml
from matcalc.reports.latex import node_latex
from matcalc.reports.model import Steps
from matcalc.reports.share import shared
from matcalc.shell.cli import main
from strategies import SHAPES, exprs

ROOT = Path(__file__).resolve().parent.parent
SEED_DECLS = "X: matrix(m,n); ω: vector(n); y: vector(m)"
SEED_F = "(X*ω - y)'*(X*ω - y)"
LOGISTIC = "-y*log(sigmoid(x'*w)) - (1 - y)*log(1 - sigmoid(x'*w))", "w", "x: vector(n); w: vector(n); y: scalar", 2

# every case the issue names: seed, a Hessian, a matrix function, a symmetric variable, third order
CASES = {
    "seed": (SEED_F, "X,ω,y", SEED_DECLS, 1),
    "hessian": LOGISTIC,
    "logdet": ("logdet(X)", "X", None, 1),
    "symmetric": ("x'*S*x + tr(A*S)", "S", "S: symmetric(n)", 1),
    "third order": ("(x'*x)^2", "x", None, 3),
    "vec form": ("A*X*B", "X", None, 1),
}


def _xml(markup: str):
    """Parse MathML as XML (the entities used are numeric)."""
    return ET.fromstring(f"<math>{markup}</math>")


# ------------------------------------------------------------------------------------ MathML

def test_mathml_table_is_complete_and_documented_where_it_matters():
    assert set(MATHML_RULES) == set(ALL_OPS)
    assert all(callable(fn) for fn in MATHML_RULES.values())


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SHAPES).flatmap(lambda s: exprs(shape=s, depth=4)))
def test_mathml_is_well_formed_and_parentheses_stretch_only_around_fractions(node):
    tree = _xml(to_mathml(node))
    for row in tree.iter("mrow"):
        kids = list(row)
        if len(kids) >= 3 and kids[0].tag == "mo" and kids[0].text in ("(", "|", "‖"):
            holds_fraction = any(e.tag == "mfrac" for k in kids[1:-1] for e in k.iter())
            assert kids[0].get("stretchy") == ("true" if holds_fraction else "false"), to_text(node)
    # every variable of the expression is printed as an identifier
    names = {e.text for e in tree.iter("mi")}
    for v in postorder(node):
        if isinstance(v, Var):
            assert v.name.partition("_")[0] in names or re.sub(r"\d+$", "", v.name) in names


@pytest.mark.parametrize("text, expected", [
    ("-a*b", '<mo form="prefix">−</mo><mi>a</mi>'),                  # unary minus is a prefix operator
    ("tr(A*X)", "<mi>tr</mi><mo>&#x2061;</mo>"),                    # a function, not an operator
    ("vector(1)'*x", "<mn>𝟏</mn>"),                                   # bold one, as a bold digit
    ("x + vector(1)", "<mo>+</mo><mn>1</mn>"),                        # spread in a sum: the number
    ("x_0*a", "<msub><mi>x</mi><mn>0</mn></msub>"),
    ("a/(b + c)", "<mfrac><mrow><mi>a</mi></mrow><mrow><mi>b</mi><mo>+</mo><mi>c</mi></mrow></mfrac>"),
    ("X'", '<msup><mi>X</mi><mi mathvariant="normal">⊤</mi></msup>'),
    ("loss*x", '<mi class="mc-word">loss</mi>'),
])
def test_mathml_notation(text, expected):
    assert expected in to_mathml(matcalc.parse(text).node)


def test_mathml_of_a_deep_expression_does_not_recurse():
    text = "x" + " + x" * 1500
    assert to_mathml(matcalc.parse(text).node).count("<mi>x</mi>") == 1501


# ------------------------------------------------------------------------------------ sharing

def test_sharing_names_repeated_subexpressions_and_keeps_the_value():
    # the logistic Hessian is now σ(1 − σ)·x·xᵀ, too small to share; the RBF Hessian repeats its exp
    d = matcalc.diff("exp(-norm2(x - z)^2/(2*c^2))", "x", "x: vector(n); z: vector(n); c: scalar", 2)
    defs, root = shared(d.node)
    assert defs, "the RBF Hessian repeats exp(-norm2(x - z)^2/(2*c^2)); sharing should name it"
    rng = np.random.default_rng(3)
    values = {"x": rng.normal(size=4), "z": rng.normal(size=4), "c": 0.7}
    env = dict(values)
    for var, node in defs:
        env[var.name] = evaluate(node, env)
    np.testing.assert_allclose(evaluate(root, env), evaluate(d.node, values), rtol=1e-12)
    assert len(to_mathml(root)) < len(to_mathml(d.node))


# ------------------------------------------------------------------------------------ content

@pytest.fixture(scope="module")
def seed():
    return example_report("seed")


def test_seed_report_carries_what_the_engine_computed(seed):
    html, md, tex = seed.text("html"), seed.text("md"), seed.text("tex")
    assert not seed.failed
    for x in ("X", "ω", "y"):
        d = matcalc.diff(SEED_F, x, SEED_DECLS)
        r = matcalc.shortcut(SEED_F, x, SEED_DECLS)
        assert to_mathml(d.node) in html                      # the result, typeset from the IR
        assert to_latex(d.node) in md and to_latex(d.node) in tex
        assert escape(str(d)) in html                         # and as matcalc text
        assert escape(r.explanation) in html                  # the shortcut's verdict and reason
        for t in r.guess:
            if t.problem:
                assert escape(t.problem) in html              # each offending product with its shapes
    # every step of every derivation is a numbered item, with its verdict
    steps = sum(len(matcalc.diff(SEED_F, x, SEED_DECLS).steps) for x in ("X", "ω", "y"))
    assert html.count("<li value=") == steps
    assert md.count("✓") >= steps
    assert "Verified:" in html.split("<h2>")[0]               # the summary comes first


def test_the_problem_table_says_declared_or_inferred_and_how():
    r = report("norm2(X*w - y)^2", "w", {"w": "vector(n)"})
    html = r.text("html")
    row = lambda name: re.search(rf"<td><math><mrow><mi>{name}</mi></mrow></math></td>(.*?)</tr>", html).group(1)  # noqa: E731
    assert "declared" in row("w") and "inferred" not in row("w")
    _, program = parse_node("norm2(X*w - y)^2", {"w": "vector(n)"})
    assert set(program.inferred) == {"X", "y"}
    for name, why in program.inferred.items():                # the front end's own reason
        assert "inferred: " + escape(why) in row(name)
    r = report("x*A", "A")                                      # a kind decided by use, not by name
    _, program = parse_node("x*A")
    assert "breaks" in program.inferred["x"] and escape(program.inferred["x"]) in r.text("html")


def test_a_failed_step_is_shown_failed_and_said_at_the_top(monkeypatch):
    real = matcalc.Derivative.verify

    def broken(self, values=None, seed=None):
        verdicts = real(self, values, seed)
        v = verdicts[2]
        return verdicts[:2] + [Verdict(v.step, False, 0.37)] + verdicts[3:]

    monkeypatch.setattr(matcalc.Derivative, "verify", broken)
    r = report("x'*A*x", "x")
    assert r.failed
    html, md, tex = r.text("html"), r.text("md"), r.text("tex")
    top = html.split("<h2>")[0]
    assert 'class="alert"' in top and "FAILED" in top and "step 3" in top
    assert html.count("✗ failed") == 1 and "3.7e-01" in html
    assert md.splitlines()[2].startswith("> **Verification FAILED")
    assert "FAILED" in tex.split(r"\subsection*")[0]


@pytest.mark.parametrize("name", CASES)
def test_every_case_renders_in_every_format(name):
    f, wrt, decls, order = CASES[name]
    r = report(f, wrt, decls, order)
    assert not r.failed, r.doc.failures
    html, md, tex = r.text("html"), r.text("md"), r.text("tex")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert tex.isascii() and tex.startswith(r"\documentclass") and r"\end{document}" in tex
    assert md.count("$$") % 2 == 0
    for table in re.findall(r"(?m)(?:^\|.*\|$\n?)+", md):       # no cell breaks its row
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert len(widths) == 1, table
    for x in wrt.split(","):
        d = matcalc.diff(f, x, decls, order)
        assert d.layout in html
        if d.form == "index":
            assert "No matrix form: " + next(s.form for s in d.steps if s.stage == "index") in html
        if d.convention:
            assert escape(d.convention) in html
        if d.form == "vec":
            assert f"vec(dF) = J·vec(d{x})" in html


def test_conv_report_is_checked_against_the_loop_convolution():
    r = conv_report(stride=2, padding=1, dilation=2, groups=2)
    assert not r.failed, r.doc.failures
    steps = [it for b in r.doc.blocks if isinstance(b, Steps) for it in b.items]
    checked = [it for it in steps if it.error is not None]
    assert len(checked) >= 6 and all(it.error < 1e-9 for it in checked)
    html = r.text("html")
    g = matcalc.conv.conv_gradients(2, 2, 1, 2, 2)
    for part in (g.forward, g.grad_input, g.grad_weight, g.grad_bias):
        assert index_mathml(part.text()) in html and index_mathml(part.text(True)) in html
    assert "rot180" in html and "zero" in html                    # the closed forms
    assert r.text("tex").isascii()


def test_the_loop_reference_is_itself_right():
    """The loop convolution's backward loops agree with central differences of its forward."""
    from matcalc.reports.conv import loop_conv
    rng = np.random.default_rng(0)
    V, W, b = rng.normal(size=(1, 4, 6, 5)), rng.normal(size=(2, 2, 2, 3)), rng.normal(size=2)
    conf = ((2, 1), (1, 0), (1, 2), 2)
    Z, grads = loop_conv(V, W, b, *conf, delta=np.ones((1, 2, 4, 1)))
    delta = rng.normal(size=Z.shape)
    _, grads = loop_conv(V, W, b, *conf, delta=delta)
    for name, arr in (("V", V), ("W", W), ("b", b)):
        E = rng.normal(size=arr.shape)
        h = 1e-6
        args = {"V": V, "W": W, "b": b}
        up = loop_conv(**{**args, name: arr + h * E}, stride=conf[0], padding=conf[1], dilation=conf[2], groups=2)
        down = loop_conv(**{**args, name: arr - h * E}, stride=conf[0], padding=conf[1], dilation=conf[2], groups=2)
        assert np.isclose(np.sum(delta * (up - down)) / (2 * h), np.sum(grads[name] * E), rtol=1e-6)


# ------------------------------------------------------------------------------------ escaping

NASTY = "loss_a*x'*x  # a <script>alert(1)</script> & $ % \\ _ comment"


def test_names_and_comments_cannot_break_or_inject():
    r = report(NASTY, "x")
    html, md, tex = r.text("html"), r.text("md"), r.text("tex")
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    outside_code = re.sub(r"(?ms)^(`{3,})text\n.*?^\1$", "", md)      # a fenced block is shown literally
    assert "<script" not in outside_code.lower() and "<script>" in md
    assert tex.isascii() and "<script" not in tex and r"\textless{}script\textgreater{}" in tex
    assert r"\$ \% \textbackslash{} \_" in tex
    # the CSP forbids every load; the page has no script and no external address
    assert "default-src 'none'" in html and "<script" not in html and "http://" not in html and "https://" not in html


def test_a_non_ascii_name_still_gives_ascii_latex():
    r = report("β₀*x'*x + ℓ", "x", "β₀: scalar; ℓ: scalar")
    tex = r.text("tex")
    assert tex.isascii()
    assert r"\beta" in tex


# ------------------------------------------------------------------------------------ writing

def test_save_is_atomic_and_picks_the_format(tmp_path, monkeypatch):
    r = report("x'*x", "x")
    for suffix, marker in ((".html", "<!DOCTYPE html>"), (".md", "# Derivation report"), (".tex", r"\documentclass")):
        path = r.save(tmp_path / f"out{suffix}")
        assert path.read_text(encoding="utf-8").startswith(marker)
    target = tmp_path / "keep.html"
    target.write_text("old report")

    def fail(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ReportError, match="No space left"):
        r.save(target)
    assert target.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.html", "out.html", "out.md", "out.tex"]


def test_unwritable_and_unknown_paths_are_clear_errors(tmp_path):
    r = report("x'*x", "x")
    with pytest.raises(ReportError, match="does not exist"):
        r.save(tmp_path / "missing" / "r.html")
    with pytest.raises(ReportError, match=r"\.html, \.md, \.tex or \.pdf"):
        r.save(tmp_path / "r.docx")
    with pytest.raises(ReportError, match="does not exist"):
        write_atomic(tmp_path / "nope" / "x", "text")


# ------------------------------------------------------------------------------------ CLI

def test_cli_writes_each_format_and_stdout(tmp_path, capsys):
    out = tmp_path / "seed.html"
    assert main(["report", "--example", "seed", "-o", str(out)]) == 0
    assert "ω" in out.read_text(encoding="utf-8") and "wrote" in capsys.readouterr().err
    assert main(["report", "logdet(X)", "--wrt", "X", "-o", "-", "--format", "md"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Derivation report: f = logdet(X)") and to_latex(matcalc.diff("logdet(X)", "X").node) in printed
    assert main(["report", "x'*A*x", "--wrt", "x", "--order", "2", "-o", str(tmp_path / "h.tex")]) == 0
    assert (tmp_path / "h.tex").read_text().isascii()
    assert main(["report", "--conv", "--ndim", "1", "--stride", "2", "-o", str(tmp_path / "c.md")]) == 0
    assert "Σ" in (tmp_path / "c.md").read_text(encoding="utf-8") or "sum" in (tmp_path / "c.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["x'*x", "--wrt", "x", "-o", "/nonexistent-folder/r.html"], "does not exist"),
    (["x'*x", "--wrt", "x", "-o", "r.pptx"], "cannot tell the report format"),
    (["x'*x", "-o", "r.html"], "--wrt is required"),
    (["x'*", "--wrt", "x", "-o", "r.html"], "ParseError"),
])
def test_cli_errors_are_messages_with_status_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------ Jupyter

def test_derivative_mimebundle_has_plain_latex_markdown_and_no_html():
    d = matcalc.diff("tr(A*S)", "S", "S: symmetric(n)")
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/latex", "text/markdown"}
    assert to_latex(d.node) in bundle["text/latex"] and bundle["text/latex"].startswith("$")
    assert to_latex(d.node) in bundle["text/markdown"] and d.convention in bundle["text/markdown"]
    assert str(d) in bundle["text/plain"]


def test_report_mimebundle_and_error_traceback():
    r = report("x'*x", "x")
    bundle = r._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/latex", "text/markdown"}
    assert bundle["text/markdown"] == r.text("md") and "begin{document}" not in bundle["text/latex"]
    with pytest.raises(matcalc.MatcalcError) as info:
        matcalc.parse("x +* y")
    lines = info.value._render_traceback_()
    assert lines[0].startswith("ParseError:") and lines[1:] == ["x +* y", "   ^"]


def test_import_matcalc_loads_no_reports():
    probe = "import sys, matcalc; print('matcalc.reports' in sys.modules); matcalc.report; print('matcalc.reports' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_report_objects():
    r = matcalc.report("x'*x", ["x"], format="md")
    assert isinstance(r, Report) and str(r) == r.text("md") and "Report" in repr(r)
    with pytest.raises(ReportError, match="unknown report format"):
        matcalc.report("x'*x", "x", format="docx")


# ------------------------------------------------------------------------------------ identities

def test_rule_identities_are_parsed_and_typeset(monkeypatch):
    """A rule's identity (matcalc text) is printed with the IR printers: a differential identity
    with its directions, an equality as it stands; text that does not parse stays code."""
    from dataclasses import replace

    from matcalc.derivation import Rule
    from matcalc.reports.build import derivation_section, identity_math
    from matcalc.reports.model import Document
    product = Rule("d_mul", "product rule", "d(A*B) = dA*B + A*dB", "A: matrix(m,n); B: matrix(n,p)", "MC 37")
    m = identity_math(product)
    a, b = matcalc.parse("A*B", product.where).node, matcalc.parse("dA*B + A*dB", product.where + "; dA: matrix(m,n); dB: matrix(n,p)").node
    assert a in m.parts and b in m.parts
    assert identity_math(Rule("t", "", "(A*B)' = B'*A'", "A: matrix(m,n); B: matrix(n,p)")) is not None
    assert identity_math(Rule("bad", "", "not an = identity +")) is None

    d = matcalc.diff("x'*A*x", "x")
    d.record.steps[:] = [replace(s, rule=product) if s.rule is not None and s.rule.name == "d_mul" else s for s in d.steps]
    doc = Document("t")
    derivation_section(doc, d)
    html, tex = Report(doc).text("html"), Report(doc).text("tex")
    directions = frozenset({"dA", "dB"})
    assert to_mathml(b, directions) in html and "MC 37" in html
    assert '<mrow><mi mathvariant="normal">d</mi><mi>A</mi></mrow>' in html      # dA as d A, upright d
    assert node_latex(b, directions) in tex and r"\mathrm{d}A" in tex


def test_an_identity_that_does_not_parse_is_shown_as_code():
    from dataclasses import replace

    from matcalc.derivation import Rule
    from matcalc.reports.build import derivation_section
    from matcalc.reports.model import Document
    d = matcalc.diff("x'*x", "x")
    odd = Rule("d_odd", "", "d(f) = <not matcalc>")
    d.record.steps[:] = [replace(s, rule=odd) if s.stage == "differential" else s for s in d.steps]
    doc = Document("t")
    derivation_section(doc, d)
    assert "<code>d(f) = &lt;not matcalc&gt;</code>" in Report(doc).text("html")


def test_report_includes_the_generated_code_checked_against_the_derivative():
    text = matcalc.report("norm2(X*w - y)^2", ["w", "X"], format="md").text()
    section = text.split("## Generated code", 1)[1]
    assert "def value_and_grad" in section
    assert "differs from the derivative by at most" in section and "✓" in section.split("```")[0]
    hess = matcalc.report("sum(log(1 + exp(-y .* (X*w))))", ["w"], order=2, format="md").text()
    assert "def hessian" in hess.split("## Generated code", 1)[1]
