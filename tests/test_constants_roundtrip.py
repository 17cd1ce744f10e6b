"""Printed text is the function computed (issue 9 §1): eye, vector(c) and matrix(c) carry their
size wherever the text around them would not fix it, and the parser reads the sizes back."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matcalc
from matcalc.ir.nodes import Const, Var
from matcalc.ir.shapes import make
from matcalc.printing.text import open_constants, to_text, to_text_shared

from strategies import DECLS, SIZES, exprs, random_values

DIMS = dict(SIZES)


def value(node, vals):
    from matcalc.numeric.evaluate import evaluate
    return np.asarray(evaluate(node, {**DIMS, **vals}), dtype=float)


def same_function(node, text=None, seed=0):
    text = to_text(node) if text is None else text
    back = matcalc.parse(text, DECLS).node
    vals = random_values(np.random.default_rng(seed))
    want, got = value(node, vals), value(back, vals)
    return want.shape == got.shape and np.allclose(want, got, rtol=1e-9, atol=1e-9), (text, want, got)


@pytest.mark.parametrize("text, shape", [
    ("eye(n)", ("n", "n")), ("eye(3)", (3, 3)), ("eye(m*n)", ("m*n", "m*n")),
    ("vector(0, n)", ("n",)), ("vector(-1.5, 4)", (4,)), ("vector(2, k)'", (1, "k")),
    ("matrix(1, m, n)", ("m", "n")), ("matrix(0, 2, n)", (2, "n")),
])
def test_sized_constants_parse(text, shape):
    e = matcalc.parse(text)
    assert e.shape == shape
    assert str(e) == text.replace("(-1.5, 4)", "(-1.5, 4)")
    assert matcalc.parse(str(e)) == e


def test_sizes_unify_with_the_rest():
    e = matcalc.parse("x'*eye(n)*x + sum(vector(2, n) .* x)")
    assert e.variables == {"x": "vector(n)"}
    with pytest.raises(matcalc.ShapeError):
        matcalc.parse("x + vector(1, 3)", {"x": "vector(n)"})


def test_a_scalar_in_a_sum_is_spread_and_printed_as_typed():
    """x + 1 holds x + 𝟙 (add never broadcasts) and prints as typed; so do x − a and 1 − x."""
    from matcalc.ir.nodes import Const
    for text, typed in [("x + vector(-2.5)", "x + (-2.5)"), ("x + 1", "x + 1"), ("1 - x", "1 - x"),
                        ("x - b", "x - b"), ("A + b*matrix(1)", "A + b")]:
        e = matcalc.parse(text, "x: vector(n); A: matrix(m,n); b: scalar")
        assert all(a.shape == e.node.shape for a in e.node.args), text
        assert any(isinstance(n, Const) and n.op == "fill" for a in e.node.args for n in (a, *a.children())), text
        assert str(e) == typed
        assert matcalc.parse(str(e), "x: vector(n); A: matrix(m,n); b: scalar").node == e.node


@pytest.mark.parametrize("text", ["A + eye", "x'*vector(-2.5)", "eye*x", "x'*vector(1)", "A*matrix(1)*A",
                                  "x'*x*eye + 2*x*x'", "vector(1)'*A"])
def test_constants_the_text_fixes_stay_bare(text):
    e = matcalc.parse(text, DECLS)
    assert str(e) == text if text != "x'*x*eye + 2*x*x'" else str(e) == "(x'*x)*eye + 2*x*x'"


@pytest.mark.parametrize("node, text", [
    (Const("eye", ("n", "n")), "eye(n)"),
    (make("mul", Var("a", (1, 1), "scalar"), Const("eye", ("n", "n"))), "a*eye(n)"),
    (Const("fill", ("n", 1), 0), "vector(0, n)"),
    (Const("fill", (1, "n"), 1), "vector(1, n)'"),
    (Const("fill", ("m", "n"), 1), "matrix(1, m, n)"),
    (make("mul", Const("fill", ("n", 1), 1), make("transpose", Var("z", ("m", 1), "vector"))), "vector(1, n)*z'"),
    (Const("eye", (1, 1)), "1"),
    (Const("fill", (1, 1), -2), "-2"),
    (make("kron", make("transpose", Var("z", ("m", 1), "vector")), Const("eye", ("n", "n"))), "kron(z', eye(n))"),
])
def test_open_constants_print_their_size(node, text):
    assert to_text(node) == text
    ok, info = same_function(node)
    assert ok, info


def test_the_softmax_gradient_prints_what_it_evaluates():
    """sum(softmax(x)): the 1×1 identity once printed as eye, which reads back as n×n."""
    for f in ("sum(softmax(x))", "softmax(x)'*x", "log(sum(exp(x)))", "sum(softmax(x) .* log(softmax(x)))"):
        d = matcalc.diff(f, "x", {"x": "vector(n)"})
        x = np.random.default_rng(1).normal(size=4)
        back = matcalc.parse(str(d), {"x": "vector(n)"})
        # n given too: the gradient of sum(softmax(x)) is the zero vector, printed vector(0, n), with no x in it
        assert np.allclose(back.evaluate({"x": x, "n": 4}), d.evaluate({"x": x}), atol=1e-12), str(d)
    assert "eye" not in str(matcalc.diff("sum(softmax(x))", "x"))


@pytest.mark.parametrize("f, wrt, order", [
    ("tr(X)", "X", 1), ("X*w", "X", 1), ("tr(X'*X)", "X", 2), ("sum(x)", "x", 1), ("sum(X*w)", "X", 1),
    ("tr(X'*A*X)", "X", 2), ("norm2(X*w - y)^2", "X", 2), ("A*x + b", "b", 1), ("c*x", "x", 1),
    ("sqrt(x'*x)", "x", 2), ("x*x'*x", "x", 1), ("sum(softmax(x))", "x", 2),
])
def test_derivatives_round_trip_by_value(f, wrt, order):
    d = matcalc.diff(f, wrt, order=order)
    if d.node is None:
        pytest.skip("no matrix form")
    f_expr = matcalc.parse(f)
    decls = {**f_expr.variables}
    rng = np.random.default_rng(2)
    sizes = {"n": 3, "m": 4}
    vals = {}
    for name, t in decls.items():
        shape = matcalc.parse(name, {name: t}).shape
        vals[name] = rng.normal(size=tuple(sizes[s] if isinstance(s, str) else s for s in shape))
    want = np.asarray(d.evaluate(vals), dtype=float)
    text = str(d)
    back = matcalc.parse(text, decls)
    from matcalc.numeric.evaluate import evaluate
    got = np.asarray(evaluate(back.node, {**sizes, **vals}), dtype=float)
    if d.form == "vec":
        want = np.asarray(evaluate(d.node, {**sizes, **vals}), dtype=float)
    assert np.allclose(got.reshape(want.shape), want, atol=1e-10), text


def test_a_shared_open_constant_is_sized_in_every_copy():
    """In a DAG the same node prints once per use; one use fixing the size does not fix the other."""
    a = Var("a", (1, 1), "scalar")
    p = make("mul", a, Const("eye", ("n", "n")))          # open on its own
    x = Var("x", ("n", 1), "vector")
    root = make("add", make("mul", make("transpose", x), make("mul", p, x)), make("tr", p))
    assert to_text(root).count("eye(n)") == 2
    ok, info = same_function(root)
    assert ok, info


def test_shared_definitions_are_inferred_once():
    a, x = Var("a", (1, 1), "scalar"), Var("x", ("n", 1), "vector")
    p = make("add", make("mul", a, Const("eye", ("n", "n"))), make("mul", x, make("transpose", x)))
    big = p
    for _ in range(4):
        big = make("mul", big, make("add", p, big))
    text = to_text_shared(big)
    ok, info = same_function(big, text)
    assert ok, info


def test_open_constants_budget_is_faithful():
    node = make("mul", Var("a", (1, 1), "scalar"), Const("eye", ("n", "n")))
    assert open_constants(node, budget=1) == {id(node.args[1])}


# ---------------------------------------------------------------------------------- hypothesis

N, NN, NM, S = ("n", 1), ("n", "n"), ("n", "m"), (1, 1)


def constant(shape, value):
    if shape[0] == shape[1] and value == "eye":
        return Const("eye", shape)
    return Const("fill", shape, 0.5 if value == "eye" else value)


@st.composite
def with_constants(draw, shape, depth=3):
    """Expressions over DECLS in which constants stand where their size is, or is not, fixed."""
    if depth <= 0:
        return draw(exprs(shape=shape, depth=1))
    c = constant(shape, draw(st.sampled_from(["eye", -1, 2, 0.5])))
    sub = lambda s: with_constants(s, depth - 1)  # noqa: E731
    kind = draw(st.sampled_from(["const", "scaled", "sum", "left", "right", "transpose", "plain", "reduce"]))
    if kind == "const":
        return c
    if kind == "scaled":
        return make("mul", draw(sub(S)), c)
    if kind == "sum":
        return make(draw(st.sampled_from(["add", "sub", "hadamard"])), draw(sub(shape)), c)
    if kind == "transpose":
        return make("transpose", draw(sub((shape[1], shape[0]))))
    if kind == "reduce" and shape == S:
        return make("sum", draw(sub(draw(st.sampled_from([N, NN, NM])))))
    if kind in ("left", "right") and shape != S:
        inner = draw(st.sampled_from(["n", "m", 1]))
        left, right = (shape[0], inner), (inner, shape[1])
        if left == S or right == S:
            return make("mul", draw(sub(left)), draw(sub(right)))
        k = constant(left if kind == "left" else right, draw(st.sampled_from(["eye", 1, -2])))
        if kind == "left":
            return make("mul", k, draw(sub(right)))
        return make("mul", draw(sub(left)), k)
    return draw(exprs(shape=shape, depth=2))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([S, N, NN, NM, (1, "n"), ("m", "n")]).flatmap(lambda s: with_constants(s)), st.integers(0, 3))
def test_printed_text_evaluates_to_the_same_numbers(node, seed):
    ok, info = same_function(node, seed=seed)
    assert ok, info
    ok, info = same_function(node, to_text_shared(node, min_size=2), seed=seed)
    assert ok, info


@settings(max_examples=40, deadline=None)
@given(exprs(shape=S, depth=3), st.sampled_from(["x", "A", "a"]), st.integers(0, 2))
def test_random_derivatives_print_what_they_evaluate(f, wrt, seed):
    """A hypothesis campaign over derivatives: parse(str(d)) evaluates to d.evaluate."""
    from hypothesis import assume
    a, x, A = Var("a", S, "scalar"), Var("x", N, "vector"), Var("A", NN, "matrix")
    f = make("add", f, make("mul", a, make("mul", make("transpose", x), make("mul", A, x))))
    d = matcalc.diff(matcalc.Expr(f), wrt, DECLS)
    assume(d.node is not None and d.form != "vec")
    vals = random_values(np.random.default_rng(seed))
    want = np.asarray(d.evaluate(vals), dtype=float)
    back = matcalc.parse(str(d), DECLS)
    got = np.asarray(back.evaluate({k: v for k, v in vals.items() if k in back.variables}), dtype=float) \
        if back.variables else value(back.node, vals)
    assert got.shape == want.shape and np.allclose(got, want, rtol=1e-8, atol=1e-8), str(d)
