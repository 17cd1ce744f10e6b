"""Printers: text round-trips through the parser; LaTeX uses standard notation."""
import pytest
from hypothesis import given, strategies as st

import matcalc
from matcalc.front.parser import parse_node
from matcalc.printing.text import to_text
from strategies import DECLS, SHAPES, exprs


@given(st.sampled_from(SHAPES).flatmap(lambda s: exprs(shape=s, depth=4)))
def test_text_round_trips_random_expressions(node):
    text = to_text(node)
    again, _ = parse_node(text, DECLS)
    assert again == node, text


@pytest.mark.parametrize("text", [
    "a + b*c", "(a + b)*c", "a - (b - c)", "a - b - c", "a/(b*c)", "a*b/c", "-a*b", "-(a*b)", "-a^2", "(-a)^2",
    "X^2'", "(X')^2", "X'^2", "X^-1", "x.^-a", "x.^(a + b)", "a^b^c", "a^(b^c)", "A .* B ./ C", "A .* (B ./ C)",
    "x'*A*x", "x'*(A*x)", "-y'*log(softmax(W*x))", "log(1 + exp(-y .* (X*w)))", "1 - tanh(z).^2",
    "norm2(X*w - y)^2", "tr(A*X*B*X)", "logdet(Σ)", "A + eye", "x + vector(-2.5)", "kron(A, B)*vec(X)",
    "2*(X*w - y)*w'", "λ*x_0 - 1e-05*x_0", "--a", "-(-a)", "(x')'",
])
def test_text_round_trips_and_is_minimal(text):
    e = matcalc.parse(text)
    assert matcalc.parse(str(e), e.variables) == e
    # minimal parentheses: printing the canonical form again changes nothing
    assert str(matcalc.parse(str(e), e.variables)) == str(e)


@pytest.mark.parametrize("text, printed", [
    ("((a)) + ((b))", "a + b"), ("(a*b)*c", "a*b*c"), ("a*(b*c)", "a*(b*c)"), ("x'  *  A*x", "x'*A*x"),
    ("Xᵀ", "X'"), ("X.T", "X'"), ("A ⊙ B", "A .* B"), ("X^(-1)", "X^-1"), ("+a", "a"), ("2.50", "2.5"),
    ("(X^2)^3", "(X^2)^3"), ("-(-a)", "-(-a)"),
])
def test_canonical_text(text, printed):
    assert str(matcalc.parse(text)) == printed


@pytest.mark.parametrize("text, latex", [
    ("X'", r"X^{\top}"),
    ("tr(A)", r"\operatorname{tr}\left(A\right)"),
    ("det(A)", r"\det\left(A\right)"),
    ("logdet(A)", r"\log\det\left(A\right)"),
    ("inv(A)", r"A^{-1}"),
    ("A^-1", r"A^{-1}"),
    ("A .* B", r"A \odot B"),
    ("A ./ B", r"A \oslash B"),
    ("norm2(x)", r"\left\lVert x \right\rVert_{2}"),
    ("norm2(X)", r"\left\lVert X \right\rVert_{F}"),
    ("norm1(x)", r"\left\lVert x \right\rVert_{1}"),
    ("diag(x)", r"\operatorname{diag}\left(x\right)"),
    ("sigmoid(x)", r"\sigma\left(x\right)"),
    ("x'*A*x", r"x^{\top} A x"),
    ("2*(X*w - y)*w'", r"2 \left(X w - y\right) w^{\top}"),
    ("a/b", r"\frac{a}{b}"),
    ("x.^2", r"x^{\circ 2}"),
    ("(A*B)'", r"\left(A B\right)^{\top}"),
    ("ω + λ*x_0", r"\omega + \lambda x_{0}"),
    ("W1*x", r"W_{1} x"),
    ("sqrt(a)", r"\sqrt{a}"),
    ("abs(a)", r"\left\lvert a \right\rvert"),
    ("kron(A, B)", r"A \otimes B"),
    ("a*2", r"a \cdot 2"),
    ("1e-05*a", r"1 \cdot 10^{-5} a"),
    ("A + eye", r"A + I"),
])
def test_latex(text, latex):
    assert matcalc.parse(text).latex() == latex


def test_repr_latex_for_jupyter():
    e = matcalc.parse("x'*A*x")
    assert e._repr_latex_() == r"$x^{\top} A x$"
    assert repr(e) == "matcalc.parse(\"x'*A*x\")"
