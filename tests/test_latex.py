"""LaTeX is valid and faithful: pure ASCII, compiles with pdflatex + amsmath, drops no transpose,
typesets every name, and grows linearly on deep chains (the shared form, ``t_{1} = …``)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import matcalc
from matcalc.ir.nodes import Const, Num, Var, fold, op_of, variables
from matcalc.ir.shapes import make
from matcalc.printing.latex import identity_latex, latex_name, to_latex, to_latex_shared
from strategies import DECLS, N, NN, RN, S, SHAPES, exprs

import test_diff_table as table

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed "
                                    "(apt-get install texlive-latex-base texlive-latex-recommended)")
NAME = re.compile(r"(?!ᵀ)[^\W\d](?:(?!ᵀ)\w)*")   # grammar/matcalc.lark's NAME


def network(L: int) -> str:
    layers = " ".join(f"h{i} = tanh(W{i}*h{i - 1});" for i in range(1, L + 1))
    return f"x: vector(n); {' '.join(f'W{i}: matrix(n,n);' for i in range(1, L + 1))} h0 = x; {layers} sum(h{L})"


def compile_errors(snippets: list[str], tmp_path) -> list[tuple[str, str]]:
    """Typeset each math snippet in one amsmath document; (pdflatex's error, the snippet) for each failure."""
    lines = [r"\documentclass{article}", r"\usepackage{amsmath}", r"\begin{document}"]
    first_line = []
    for s in snippets:
        first_line.append(len(lines) + 1)
        lines.extend((r"\[" + s + r"\]").splitlines())
    lines.append(r"\end{document}")
    (tmp_path / "doc.tex").write_text("\n".join(lines) + "\n", encoding="ascii")
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-no-shell-escape", "doc.tex"], cwd=tmp_path,
                         capture_output=True, text=True, errors="replace", timeout=300)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    errors = []
    for message, line in re.findall(r"^! (.*)\n(?:.*\n)*?l\.(\d+)", log, re.M):
        k = max(i for i, start in enumerate(first_line) if start <= int(line))
        errors.append((message, snippets[k][:300]))
    if run.returncode != 0 and not errors:
        errors.append(("pdflatex failed", log[-2000:]))
    return errors


def transposes(node) -> int:
    """Transposes in the tree as printed: transpose ops, and rows of constants (1ᵀ) except a
    number spread in a sum (x' + 1, see ir.shapes.narrowed)."""
    from matcalc.ir.shapes import narrowed

    def visit(n, kids):
        row_of_constants = op_of(n) == "fill" and n.shape[0] == 1 and n.shape[1] != 1
        return int(op_of(n) == "transpose" or row_of_constants) + sum(kids)
    return fold(narrowed(node), visit)


def well_formed(tex: str) -> bool:
    return tex.isascii() and tex.count("{") == tex.count("}") and tex.count(r"\left") == tex.count(r"\right")


# ---------------------------------------------------------------- names

@pytest.mark.parametrize("name, tex", [
    ("α₁", r"\alpha_{1}"), ("ℓ", r"\ell"), ("W_out", r"W_{\mathrm{out}}"), ("x_0", "x_{0}"), ("W1", "W_{1}"),
    ("h10", "h_{10}"), ("loss", r"\mathit{loss}"), ("xᵢⱼ", "x_{ij}"), ("σ²", r"{\sigma^{2}{}}"),
    ("𝐱", r"\mathbf{x}"), ("ℋ", r"\mathcal{H}"), ("Α", r"\mathrm{A}"), ("Σ", r"\Sigma"), ("λx", r"\mathit{\lambda x}"),
    ("φ", r"\phi"), ("ϕ", r"\varphi"), ("ε", r"\epsilon"), ("ϵ", r"\varepsilon"), ("é", r"\acute{e}"),
    ("a_b_c", "a_{b_{c}}"), ("x_", r"\mathit{x\_}"), ("a__b", r"\mathit{a\_\_b}"), ("ß", r"\text{\ss}"),
    ("中", r"\text{U+4E2D}"), ("dX1", r"\mathit{dX}_{1}"),
])
def test_names_are_typeset_never_passed_through(name, tex):
    assert latex_name(name) == tex


def test_names_in_an_expression():
    e = matcalc.parse("α₁*ℓ + W_out", {"α₁": "scalar", "ℓ": "scalar", "W_out": "scalar"})
    assert e.latex() == r"\alpha_{1} \ell + W_{\mathrm{out}}"


@given(st.lists(st.text(min_size=1, max_size=5).filter(NAME.fullmatch), min_size=1, max_size=5))
def test_every_name_the_grammar_accepts_prints_as_ascii(names):
    for name in names:
        tex = latex_name(name)
        assert well_formed(tex), (name, tex)
        assert "^{" not in tex or tex.startswith("{"), tex   # braced: a transpose cannot double the superscript


# ---------------------------------------------------------------- faithful

A, B, C = (Var(n, ("n", "n"), "matrix") for n in "ABC")
X = Var("x", ("n", 1), "vector")
a, b = Var("a", (1, 1), "scalar"), Var("b", (1, 1), "scalar")
ROW = Const("fill", (1, "n"), 1)


FAITHFUL = [
    (make("mul", ROW, Const("fill", ("n", 1), -1)), r"\mathbf{1}_{n}^{\top} \left(-\mathbf{1}_{n}\right)"),  # was 1 (-1 1)
    (make("mul", Const("fill", (1, "n"), 2), X), r"2 \cdot \mathbf{1}^{\top} x"),
    (Const("fill", ("n", 1), 0.5), r"0.5 \cdot \mathbf{1}_{n}"),          # alone: its size is printed
    (make("add", Const("eye", (1, 1)), a), "1 + a"),                 # a 1×1 identity is not I
    (make("add", Const("fill", (1, 1), 2), a), "2 + a"),
    (make("mul", make("hadamard", A, B), C), r"\left(A \odot B\right) C"),
    (make("hadamard", make("mul", A, B), C), r"\left(A B\right) \odot C"),
    (make("mul", make("kron", A, B), make("kron", C, A)), r"\left(A \otimes B\right) \left(C \otimes A\right)"),
    (make("sub", a, make("neg", b)), r"a - \left(-b\right)"),
    (make("mul", A, make("neg", B)), r"A \left(-B\right)"),
    (make("pow", Num(1e-05), Num(2)), r"\left(1 \cdot 10^{-5}\right)^{2}"),
    (make("pow", make("div", a, b), Num(2)), r"\left(\frac{a}{b}\right)^{2}"),
    (make("transpose", make("transpose", A)), r"\left(A^{\top}\right)^{\top}"),
    (make("transpose", Var("σ²", ("n", "n"), "matrix")), r"{\sigma^{2}{}}^{\top}"),
]


@pytest.mark.parametrize("node, tex", FAITHFUL)
def test_faithful_forms(node, tex):
    assert to_latex(node) == tex


@pytest.mark.parametrize("f, wrt, text, tex", [
    ("sum(X)", "X", "matrix(1, n, m)", r"\mathbf{1}_{n \times m}"),
    ("sum(x)", "x", "vector(1, n)", r"\mathbf{1}_{n}"),
    ("x'*x*x", "x", "(x'*x)*eye + 2*x*x'", r"x^{\top} x I + 2 x x^{\top}"),   # its size is fixed by x x^T
])
def test_constants_carry_their_size_where_the_text_does(f, wrt, text, tex):
    d = matcalc.diff(f, wrt, {"X": "matrix(n,m)"} if "X" in f else None)
    assert (str(d), d.latex()) == (text, tex)


def test_index_forms_have_no_unit_coefficients_or_python_powers():
    d = matcalc.diff("logdet(X)", "X", order=2)
    assert d.latex() == r"D[i, j, k, l] = -t_{1}\left[j, k\right] \, t_{1}\left[l, i\right],\quad \text{where } t_{1} = X^{-1}"
    tex = matcalc.diff("norm2(x)^3", "x", order=3).latex()
    assert r" - \frac{3}{t_{1}^{3}} x\left[i\right]" in tex and "**" not in tex and "+ -" not in tex


@st.composite
def with_constants(draw):
    """Random expressions that also contain rows and columns of constants and identities."""
    v = draw(st.sampled_from([1, -1, 0, 2, 0.5]))
    row, col = Const("fill", RN, v), Const("fill", N, v)
    pick = draw(st.integers(0, 4))
    if pick == 0:
        return make("add", draw(exprs(shape=RN, depth=3)), row)
    if pick == 1:
        return make("mul", row, draw(exprs(shape=N, depth=3)))
    if pick == 2:
        return make("mul", draw(exprs(shape=N, depth=3)), make("add", row, draw(exprs(shape=RN, depth=2))))
    if pick == 3:
        return make("add", make("mul", draw(exprs(shape=NN, depth=3)), Const("eye", NN)), make("mul", col, row))
    return make("mul", make("add", Const("eye", S), draw(exprs(shape=S, depth=3))), col)


@given(st.one_of(st.sampled_from(SHAPES).flatmap(lambda s: exprs(shape=s, depth=4)), with_constants()))
def test_latex_never_raises_is_ascii_and_keeps_every_transpose(node):
    tex = to_latex(node)
    assert well_formed(tex), tex
    assert tex.count(r"^{\top}") == transposes(node), tex
    assert well_formed(to_latex_shared(node))


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(exprs(shape=S, depth=3), st.data())
def test_derivative_latex_is_ascii(node, data):
    names = sorted(variables(node))
    assume(names)
    try:
        d = matcalc.diff(matcalc.Expr(node), data.draw(st.sampled_from(names)), DECLS)
    except matcalc.MatcalcError:
        assume(False)
    assert well_formed(d.latex()), d.latex()


def table_outputs() -> list[tuple[str, str]]:
    """The LaTeX of every f in the derivative table and of its derivative."""
    out = []
    for case in table.CASES:
        case_id, f, _, decls = case[:4]
        out.append((f"{case_id}: f", matcalc.parse(f, decls).latex()))
        out.append((f"{case_id}: derivative", table.derivative(case_id).latex()))
    return out


def test_table_latex_is_ascii_with_clean_signs():
    for what, tex in table_outputs():
        assert well_formed(tex), (what, tex)
        assert not re.search(r"(?<![\d.])-1 ?[\\A-Za-z]|\+ -|- -|\*\*|\\cdot -", tex), (what, tex)


def test_rule_identities_print_like_any_expression():
    import test_identities
    from matcalc.calculus.differential import d_mul
    from matcalc.derivation import rule_of
    assert identity_latex(rule_of(d_mul)) == r"\mathrm{d}\left(A B\right) = \mathrm{d}A B + A \mathrm{d}B"
    for key, rule in test_identities.STATED.items():
        assert well_formed(identity_latex(rule)), key


# ---------------------------------------------------------------- linear

def test_latex_of_the_deep_chain_grows_linearly():
    shared, plain = {}, {}
    for L in (32, 64, 128, 256):
        d = matcalc.diff(network(L), "W1")
        shared[L] = len(d.latex())
        if L <= 64:
            plain[L] = len(to_latex(d.node))
    for L in (32, 64, 128):
        assert shared[2 * L] <= 2.1 * shared[L], shared
    assert plain[64] >= 3.5 * plain[32]            # what it was: quadratic


def test_shared_latex_names_its_rows_like_the_text():
    d = matcalc.diff(network(8), "W1")
    tex = d.latex()
    body, where = tex.split(r",\quad \text{where}\quad", 1)
    rows = where.strip().removeprefix(r"\begin{aligned}").removesuffix(r"\end{aligned}").strip().split(" \\\\\n")
    assert len(rows) == 7 == len(str(d).splitlines()) - 1
    assert rows[0] == r"t_{1} &= \tanh\left(W_{1} x\right)" and rows[1] == r"t_{2} &= \tanh\left(W_{2} t_{1}\right)"
    assert body.startswith(r"\left(1 - t_{1}^{\circ 2}\right) \odot \left(W_{2}^{\top}")


def test_shared_names_differ_from_names_that_print_alike():
    s = make("sin", make("add", make("add", Var("t_1", ("n", 1), "vector"), X), X))
    root = make("add", make("hadamard", s, s), make("hadamard", s, s))
    tex = to_latex_shared(root)
    assert r"t_{2} &= \sin\left(t_{1} + x + x\right)" in tex and r"t_{1} &=" not in tex


# ---------------------------------------------------------------- compiles

def deep(k: int):
    node = X
    for i in range(k):
        node = make("sin" if i % 2 else "tanh", node)
    return node


def wide(k: int):
    """a left-nested sum of k distinct terms: flat when printed, however many"""
    node = make("sin", Var("x_0", (1, 1), "scalar"))
    for i in range(1, k):
        node = make("add", node, make("sin", Var(f"x_{i}", (1, 1), "scalar")))
    return node


def fractions(k: int, numerators: bool):
    node = a
    for i in range(k):
        node = make("div", node, make("add", b, Num(i + 1))) if numerators else make("div", Num(1), make("add", b, node))
    return node


def test_only_real_nesting_is_cut_and_long_lines_are_broken():
    assert "where" not in to_latex_shared(wide(3000))                  # a + b + c opens no group
    product = Var("A0", ("n", "n"), "matrix")
    for i in range(1, 1000):
        product = make("mul", product, Var(f"A{i}", ("n", "n"), "matrix"))
    assert "where" not in to_latex_shared(product)
    assert to_latex_shared(deep(1000)).count("&=") == (1000 - 1) // 200  # one group per function
    assert to_latex_shared(fractions(1000, True)).count("&=") == (1000 - 1) // 100  # two per numerator
    tex = to_latex(wide(3000))
    assert max(len(line) for line in tex.splitlines()) <= 1000 and "\n\n" not in tex
    assert tex.replace("\n", " ") == to_latex(wide(3000)).replace("\n", " ")


@needs_pdflatex
def test_all_outputs_compile_with_pdflatex(tmp_path):
    from matcalc.conv import avgpool_gradients, conv_gradients, conv_transpose_gradients
    snippets = [tex for _, tex in table_outputs()]
    for g in (conv_gradients(ndim=2, stride=(2, 1), padding=1, dilation=2, groups=2), conv_gradients(ndim=1),
              conv_transpose_gradients(ndim=1, stride=2, output_padding=1), avgpool_gradients(ndim=2)):
        snippets += [g.latex(False), g.latex(True)] + [p.closed_form.latex for p in g.parts if p.closed_form]
    snippets += [matcalc.shortcut(f, w).latex() for f, w in [("tr(A*X*B)", "X"), ("det(X)", "X"), ("x'*A*x", "x")]]
    snippets += [tex for _, tex in FAITHFUL]
    import test_identities
    snippets += [identity_latex(rule) for rule in test_identities.STATED.values()]
    snippets.append(matcalc.diff(network(128), "W1").latex())      # 500 levels deep before it is cut
    snippets.append(to_latex_shared(deep(2000)))
    snippets.append(to_latex_shared(wide(8000)))                    # 220,000 characters: over pdflatex's line buffer
    snippets += [to_latex_shared(fractions(600, True)), to_latex_shared(fractions(600, False))]
    assert compile_errors(snippets, tmp_path) == []


@needs_pdflatex
def test_a_broken_snippet_is_caught(tmp_path):
    errors = compile_errors(["x^{2}", r"x^{\top}^{2}", r"\alpha"], tmp_path)
    assert [e[1] for e in errors] == [r"x^{\top}^{2}"]


@needs_pdflatex
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                               HealthCheck.filter_too_much])
@given(st.lists(st.one_of(st.sampled_from(SHAPES).flatmap(lambda s: exprs(shape=s, depth=4)), with_constants()),
                min_size=25, max_size=25),
       st.lists(st.text(min_size=1, max_size=5).filter(NAME.fullmatch), min_size=10, max_size=10))
def test_random_expressions_and_names_compile(tmp_path, nodes, names):
    snippets = [to_latex(n) for n in nodes]
    snippets += [to_latex(make("transpose", Var(name, ("n", "n"), "matrix"))) for name in names]
    assert compile_errors(snippets, tmp_path) == []


@needs_pdflatex
def test_an_accented_name_with_a_superscript_transposes(tmp_path):
    """ŵ¹ª' once gave {\\hat{w}^{1a}}^{\\top}, which amsmath's accent look-ahead reads as a double
    superscript (found by the random-names campaign above)."""
    node = make("transpose", Var("ŵ¹ª", ("n", "n"), "matrix"))
    assert compile_errors([to_latex(node)], tmp_path) == []
