"""Vec forms and higher orders in generated code and in ``Derivative.evaluate``.

* A vec form (Kronecker products, ``diag(vec(M))``, sums of such sandwiches, e.g. the logistic
  Hessian w.r.t. the matrix X, ``kron(w, eye)*diag(vec(…))*kron(w', eye)``) is lowered to
  einsums over the vec indices: the plan holds no Kronecker product, no dense diagonal and no
  array bigger than the output, and NumPy's contraction path for each einsum has no
  intermediate bigger than the output either.
* ``order=k`` generates ``derivative(**values)``, the k-th derivative, whose index form
  compiles to einsum; checked against central differences of the generated derivative of order
  k − 1 (the Hessian for k = 3).
"""
from __future__ import annotations

import ast
import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matcalc
from matcalc.errors import MatcalcError, UnsupportedError
from matcalc.generate.plan import Planner, vec_shape
from matcalc.ir.nodes import postorder_all
from matcalc.numeric.check import finite_difference, relative_error
from matcalc.numeric.evaluate import evaluate_node
from matcalc.numeric.layout import unvec
from matcalc.shell.cli import main

from test_diff_table import CASES, values_for

HAVE_TORCH = importlib.util.find_spec("torch") is not None
LOGISTIC = "sum(log(1 + exp(-y .* (X*w))))"


def _numel(shape, sizes) -> int:
    total = 1
    for d in shape:
        for part in str(d).split("*"):
            total *= int(part) if part.isdigit() else sizes[part]
    return total


def _vec_plan(d, sizes):
    planner = Planner(sizes)
    out = planner.vec_form(d.node, tuple(d.of_shape) + tuple(d.wrt.shape))
    return out, list(postorder_all([out]))


def _assert_no_big_intermediate(d, vals, sizes):
    """Every node of the plan is at most the output's size; no kron, no dense diag; and each
    einsum's NumPy path has no intermediate bigger than the output."""
    out, program = _vec_plan(d, sizes)
    limit = _numel(out.shape, sizes)
    assert not [n.op for n in program if n.op in ("kron", "diagvec")]
    for n in program:
        assert _numel(n.shape, sizes) <= limit, (n.op, n.shape)
    from matcalc.generate import run
    ev = run.Evaluator([d.node], [tuple(d.of_shape) + tuple(d.wrt.shape)])
    assert [n for n in ev.plan(sizes)[0] if n.op == "einsum"], "a vec form should become einsums"
    real, seen = np.einsum, []

    def spy(spec, *ops, **kw):       # each einsum's contraction path, as the interpreter runs it
        if kw.get("optimize"):
            _, text = np.einsum_path(spec, *ops, optimize=True)
            seen.append((spec, float(text.split("Largest intermediate:")[1].split()[0])))
        return real(spec, *ops, **kw)
    run.np.einsum = spy
    try:
        ev(vals)
    finally:
        run.np.einsum = real
    for spec, largest in seen:
        assert largest <= limit, (spec, largest, limit)


def _reference_vec(d, vals):
    """The dense reference: the vec matrix evaluated node by node (kron and diag built), unvec'ed."""
    from matcalc.calculus.derivative import _with_dimensions
    values = _with_dimensions(d.f.node, vals, d.wrt)
    return unvec(evaluate_node(d.node, values), d.of_shape, d.wrt.shape, values)


@settings(max_examples=12, deadline=None)
@given(st.integers(2, 6), st.integers(1, 5), st.integers(0, 2**16))
def test_logistic_hessian_in_x_is_einsums_and_matches(n, m, seed):
    """The logistic Hessian w.r.t. X: generated code and evaluate agree with the dense
    reference and with central differences of the generated gradient, and no Kronecker
    product, mn×mn diagonal or intermediate bigger than the output is built."""
    if n == m:
        m += 1
    d = matcalc.diff(LOGISTIC, "X", order=2)
    assert d.form == "vec" and "kron" in str(d)
    rng = np.random.default_rng(seed)
    vals = {"X": rng.normal(size=(n, m)), "y": rng.choice([-1.0, 1.0], n), "w": rng.normal(size=m)}
    _assert_no_big_intermediate(d, vals, {"n": n, "m": m})
    c = matcalc.compile(LOGISTIC, ["X"], hessian=True)
    got = c.hessian(**vals)
    assert got.shape == (n, m, n, m)
    assert np.allclose(got, _reference_vec(d, vals), rtol=1e-10, atol=1e-12)
    assert np.allclose(d.evaluate(vals), got, rtol=1e-10, atol=1e-12)
    numeric = finite_difference(lambda X: c.value_and_grad(**{**vals, "X": X})[1], vals["X"])
    assert relative_error(got, numeric) < 1e-6


def test_generated_logistic_hessian_in_x_has_no_kron_or_diag():
    src = matcalc.codegen(LOGISTIC, ["X"], hessian=True)
    tree = ast.parse(src)
    core = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_hessian")
    calls = {ast.unparse(c.func) for c in ast.walk(core) if isinstance(c, ast.Call)}
    assert "np.einsum" in calls
    assert not calls & {"np.kron", "np.diag", "_unvec"}, calls


VEC_ROWS = [c for c in CASES if c[4] <= 2]


@pytest.mark.parametrize("case_id", [c[0] for c in VEC_ROWS])
def test_every_vec_form_of_the_table_is_lowered_without_kron(case_id):
    _, f, wrt, decls, order, _ = next(c for c in CASES if c[0] == case_id)
    d = matcalc.diff(f, wrt, decls, order)
    if d.form != "vec":
        return
    vals = values_for(case_id)
    from matcalc.numeric.evaluate import bind
    from matcalc.calculus.derivative import _with_dimensions
    values = _with_dimensions(d.f.node, vals, d.wrt)
    _, sizes = bind(d.f.node, values)
    sizes.update({k: v for k, v in values.items() if isinstance(v, int)})
    _assert_no_big_intermediate(d, values, sizes)
    assert np.allclose(d.evaluate(vals), _reference_vec(d, vals), rtol=1e-9, atol=1e-12)


def test_vec_shape_drops_literal_ones_only():
    assert vec_shape(("n", 1, "n", "m")) == ("n", "n", "m")
    assert vec_shape(("n", "q", 1, 1)) == ("n", "q")


# ------------------------------------------------------------------------------ order k

ORDER_CASES = [
    ("norm2(x)^4", "x", None, 3), ("sum(exp(x))", "x", None, 3), ("logsumexp(x)", "x", None, 3),
    ("x'*A*x", "x", None, 3), ("logdet(X)", "X", None, 3), ("tr(X^3)", "X", None, 3),
    (LOGISTIC, "w", None, 3), ("norm2(x)^4", "x", None, 4), ("(x'*A*x)*(b'*x)", "x", {"b": "vector(n)"}, 3),
]


def _values(f, decls, seed):
    rng = np.random.default_rng(seed)
    sizes = {"n": 4, "m": 3, "p": 5}
    out = {}
    from matcalc.ir.nodes import variables
    for v in variables(matcalc.parse(f, decls).node).values():
        shape = tuple(sizes.get(d, d) for d in v.shape if d != 1) if v.shape != (1, 1) else ()
        if len(shape) == 1 and v.shape[1] != 1:
            shape = (1,) + shape
        a = rng.normal(size=shape)
        if v.name == "X" and len(shape) == 2 and shape[0] == shape[1]:
            a = a @ a.T + shape[0] * np.eye(shape[0])    # logdet needs det > 0
        out[v.name] = a if shape else float(a)
    return out


@pytest.mark.parametrize("f,wrt,decls,order", ORDER_CASES)
def test_order_k_matches_finite_differences_of_order_k_minus_1(f, wrt, decls, order):
    c = matcalc.compile(f, [wrt], "numpy", decls, order=order)
    lower = matcalc.compile(f, [wrt], "numpy", decls, hessian=order == 3, order=None if order == 3 else order - 1)
    vals = _values(f, decls, order)
    got = c.derivative(**vals)
    d = matcalc.diff(f, wrt, decls, order)
    x = np.asarray(vals[wrt], dtype=float)
    assert got.shape == x.shape * order and len(d.shape) == order * x.ndim
    step = lower.hessian if order == 3 else lower.derivative
    numeric = finite_difference(lambda xv: step(**{**vals, wrt: xv}), x)
    assert relative_error(got, numeric) < 1e-6
    assert np.allclose(got, d.evaluate(vals), rtol=1e-9, atol=1e-12)
    assert "np.einsum" in c.source or not np.any(got)      # x'*A*x: a zero third derivative


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_order_three_other_targets(target):
    if importlib.util.find_spec(target) is None:
        pytest.skip(f"{target} not installed")
    if target == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
    f = LOGISTIC
    vals = _values(f, None, 0)
    want = matcalc.compile(f, ["w"], "numpy", order=3).derivative(**vals)
    got = matcalc.compile(f, ["w"], target, order=3).derivative(**vals)
    got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got)
    assert np.allclose(got, want, rtol=1e-9, atol=1e-12)


def test_order_errors_and_cli(tmp_path, capsys):
    with pytest.raises(MatcalcError, match="positive whole number"):
        matcalc.codegen("x'*x", ["x"], order=0)
    with pytest.raises(UnsupportedError, match="one variable"):
        matcalc.codegen("x'*y", ["x", "y"], order=3)
    out = tmp_path / "third.py"
    assert main(["codegen", "norm2(x)^4", "--wrt", "x", "--order", "3", "-o", str(out)]) == 0
    capsys.readouterr()
    spec = importlib.util.spec_from_file_location("third_generated", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.arange(1.0, 4.0)
    assert np.allclose(module.derivative(x=x), matcalc.diff("norm2(x)^4", "x", order=3).evaluate({"x": x}))


# ------------------------------------------------------------------------------ plans owned by their user

def test_evaluate_plans_live_on_the_derivative():
    from matcalc.generate import run
    assert not any(hasattr(v, "cache_info") for v in vars(run).values())     # no module-level memo
    d = matcalc.diff("norm2(X*w - y)^2", "w")
    rng = np.random.default_rng(0)
    vals = {"X": rng.normal(size=(5, 3)), "w": rng.normal(size=3), "y": rng.normal(size=5)}
    first = d.evaluate(vals)
    assert np.allclose(d.evaluate(vals), first) and len(d._evaluator.plans) == 1
    d.evaluate({"X": rng.normal(size=(6, 2)), "w": rng.normal(size=2), "y": rng.normal(size=6)})
    assert len(d._evaluator.plans) == 2
    for i in range(3, 3 + run.Evaluator.MAX_PLANS):
        d.evaluate({"X": rng.normal(size=(i + 4, i)), "w": rng.normal(size=i), "y": rng.normal(size=i + 4)})
    assert len(d._evaluator.plans) == run.Evaluator.MAX_PLANS


def test_several_derivatives_in_one_plan():
    """evaluate_many shares the forward pass between the gradients w.r.t. W1 and W2."""
    from matcalc.generate import run
    f = "sum(tanh(W2*tanh(W1*x)))"
    ds = [matcalc.diff(f, w) for w in ("W1", "W2")]
    rng = np.random.default_rng(1)
    vals = {"x": rng.normal(size=3), "W1": rng.normal(size=(4, 3)), "W2": rng.normal(size=(2, 4))}
    ev = run.for_derivatives(ds)
    got = run.evaluate_many(ds, vals, ev)
    for g, d in zip(got, ds):
        assert np.allclose(g, d.evaluate(vals))
    (key,) = ev.plans                       # one plan, for the sizes of vals
    program = ev.plans[key][0]
    assert sum(1 for n in program if n.op == "tanh") == 2   # tanh(W1*x), tanh(W2*·): once for both gradients


def test_in_place_steps_never_touch_inputs_or_shared_values():
    """The interpreter writes an elementwise result into an argument's array only where nothing
    else sees that array: the inputs are unchanged, and values used twice stay right."""
    from matcalc.generate import run
    f = "norm2(W2*tanh(W1*X) - Y)^2 + sum(exp(W1*X) .* exp(W1*X))"
    rng = np.random.default_rng(2)
    vals = {"W1": rng.normal(size=(4, 3)), "W2": rng.normal(size=(2, 4)), "X": rng.normal(size=(3, 5)),
            "Y": rng.normal(size=(2, 5))}
    copies = {k: v.copy() for k, v in vals.items()}
    ds = [matcalc.diff(f, w) for w in ("W1", "W2")]
    ev = run.for_derivatives(ds)
    got = [run.evaluate_many(ds, vals, ev) for _ in range(2)]
    _, reusable = next(iter(ev.plans.values()))[2]
    assert reusable, "some step should run in place"
    gen = matcalc.compile(f, ["W1", "W2"]).value_and_grad(**vals)[1]
    for a, b, c in zip(got[0], got[1], gen):
        assert np.allclose(a, c) and np.array_equal(a, b)
    assert all(np.array_equal(vals[k], copies[k]) for k in vals)
