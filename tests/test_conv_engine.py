"""The index-sum engine on its own: matrix products, deltas with strides, evaluator safety, printing."""
import numpy as np
import pytest

from matcalc.indexsum.derive import step_text
import sympy as sp

from matcalc.conv import (Delta, Divides, Index, IndexSum, InRange, Ref, Term, conv_gradients, derive_gradient,
                          evaluate, sum_text, symbol)
from matcalc.errors import EvaluationError, UnsupportedError

M, K, P, Q = (symbol(n, True) for n in "MKPQ")
i, k, j, l, a, b = (symbol(n) for n in "ikjlab")


def matmul() -> IndexSum:
    """C[i, j] = Σ_k A[i, k] · B[k, j]."""
    return IndexSum((Index(i, M), Index(j, P)), (Term((Ref("A", (i, k)), Ref("B", (k, j))), (Index(k, K),)),))


def test_matmul_gradient_wrt_A_is_delta_times_B_transposed():
    d = derive_gradient(matmul(), "A", (Index(i, M), Index(k, K)))
    (term,) = d.expr.terms
    assert [x.var for x in term.bound] == [j]
    assert term.factors == (Ref("delta", (i, j)), Ref("B", (k, j)))
    assert sum_text(d.expr) == "Σ_{j} δ[i, j] · B[k, j]"
    rng = np.random.default_rng(1)
    B, delta = rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    got = evaluate(d.expr, {"B": B, "delta": delta}, {M: 3, K: 4, P: 5})
    np.testing.assert_allclose(got, delta @ B.T)


def test_matmul_gradient_wrt_B_is_A_transposed_times_delta():
    d = derive_gradient(matmul(), "B", (Index(k, K), Index(j, P)))
    (term,) = d.expr.terms
    assert term.factors == (Ref("delta", (i, j)), Ref("A", (i, k)))
    rng = np.random.default_rng(2)
    A, delta = rng.standard_normal((3, 4)), rng.standard_normal((3, 5))
    np.testing.assert_allclose(evaluate(d.expr, {"A": A, "delta": delta}, {M: 3, K: 4, P: 5}), A.T @ delta)


def test_matmul_steps_are_reported():
    d = derive_gradient(matmul(), "A", (Index(i, M), Index(k, K)))
    names = [step_text(s) for s in d.steps]
    assert names[0].startswith("contract with the cotangent")
    assert any(n.startswith("differentiate w.r.t. A") for n in names)
    assert any("sum out" in n for n in names)
    assert d.steps[-1].after == d.expr
    assert {s.stage for s in d.steps} == {"delta"}
    assert all(a.after == b.before for a, b in zip(d.steps, d.steps[1:]))  # each step starts where the last ended


def test_triple_product_middle_factor():
    """∂/∂B of A·B·C contracted with δ is Aᵀ·δ·Cᵀ."""
    expr = IndexSum((Index(i, M), Index(j, Q)),
                    (Term((Ref("A", (i, k)), Ref("B", (k, l)), Ref("C", (l, j))), (Index(k, K), Index(l, P))),))
    d = derive_gradient(expr, "B", (Index(k, K), Index(l, P)))
    rng = np.random.default_rng(3)
    A, C, delta = rng.standard_normal((2, 3)), rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
    got = evaluate(d.expr, {"A": A, "C": C, "delta": delta}, {M: 2, K: 3, P: 4, Q: 5})
    np.testing.assert_allclose(got, A.T @ delta @ C.T)


def test_trace_gradient_is_identity_times_delta():
    """tr(A) = Σ_i A[i, i]; ∂/∂A[a, b] leaves the unsolvable delta [a = b]: the identity."""
    expr = IndexSum((), (Term((Ref("A", (i, i)),), (Index(i, M),)),))
    d = derive_gradient(expr, "A", (Index(a, M), Index(b, M)))
    (term,) = d.expr.terms
    assert Delta(b, a) in term.factors or Delta(a, b) in term.factors
    got = evaluate(d.expr, {"delta": np.array(2.5)}, {M: 4})
    np.testing.assert_allclose(got, 2.5 * np.eye(4))


def test_strided_delta_keeps_divisibility_and_range():
    """Σ_x δ[x] · [h = 2x + i]: x = (h − i)/2 needs 2 | h − i and 0 ≤ (h − i)/2 < X."""
    X, I, H = symbol("X", True), symbol("I", True), symbol("H", True)
    x, h = symbol("x"), symbol("h")
    expr = IndexSum((Index(x, X),), (Term((Ref("A", (2 * x + i,)),), (Index(i, I),)),))
    d = derive_gradient(expr, "A", (Index(h, H),), prefer=(x,))
    (term,) = d.expr.terms
    assert Divides(2, h - i) in term.factors
    assert any(isinstance(f, InRange) and f.hi == X for f in term.factors)
    assert "sum out [h = 2·x + i] over x: x = (h − i)/2, needs 2 | h − i and 0 ≤ x < X" in step_text(d.steps[-1])


def test_evaluator_refuses_reads_no_indicator_excludes():
    """Drop the divisibility indicator from a derived ∂L/∂V and evaluation must fail, not pad."""
    g = conv_gradients(ndim=1, stride=2, padding=1)
    (term,) = g.grad_input.expr.terms
    broken = IndexSum(g.grad_input.expr.free,
                      (Term(tuple(f for f in term.factors if not isinstance(f, Divides)), term.bound),))
    rng = np.random.default_rng(4)
    V, W, delta = rng.standard_normal((1, 2, 7)), rng.standard_normal((3, 2, 3)), rng.standard_normal((1, 3, 4))
    values = {s: sp.Integer(v) for s, v in g.layer.params.items()}
    values.update({symbol("N", True): 1, symbol("C_in", True): 2, symbol("C_out", True): 3,
                   symbol("H", True): 7, symbol("k", True): 3, symbol("H_out", True): 4})
    arrays = {"W": W.reshape(1, 3, 2, 3), "delta": delta.reshape(1, 1, 3, 4)}
    good = evaluate(g.grad_input.expr, arrays, values).reshape(V.shape)
    np.testing.assert_allclose(good, g.grad_input.evaluate(V=V, W=W, delta=delta))
    with pytest.raises(EvaluationError, match="fractional position|outside"):
        evaluate(broken, arrays, values)


def test_non_affine_index_equation_is_unsupported():
    expr = IndexSum((Index(i, M),), (Term((Ref("A", (i * k,)),), (Index(k, K),)),))
    with pytest.raises(UnsupportedError):
        derive_gradient(expr, "A", (Index(a, M),))


def test_missing_array_and_unbound_size_raise_evaluation_errors():
    d = derive_gradient(matmul(), "A", (Index(i, M), Index(k, K)))
    with pytest.raises(EvaluationError, match="missing array"):
        evaluate(d.expr, {"B": np.ones((4, 5))}, {M: 3, K: 4, P: 5})
    with pytest.raises(EvaluationError, match="not bound"):
        evaluate(d.expr, {"B": np.ones((4, 5)), "delta": np.ones((3, 5))}, {M: 3, K: 4})


def test_to_sympy_sums_to_the_evaluated_gradient():
    """The SymPy Sum/Indexed form, expanded with doit(), gives the same numbers."""
    g = conv_gradients(ndim=1, stride=2, padding=1, bias=False)
    rng = np.random.default_rng(5)
    V, W, delta = rng.standard_normal((1, 1, 4)), rng.standard_normal((1, 1, 2)), rng.standard_normal((1, 1, 3))
    expected = g.grad_input.evaluate(V=V, W=W, delta=delta)
    sizes = {symbol(n, True): v for n, v in dict(N=1, C_in=1, C_out=1, H=4, k=2, H_out=3).items()}
    expr = g.grad_input.to_sympy().xreplace({**g.layer.params, **sizes})
    Wb, Db = sp.IndexedBase("W"), sp.IndexedBase("delta")
    numbers = {**{Wb[0, 0, q]: W[0, 0, q] for q in range(2)}, **{Db[0, 0, q]: delta[0, 0, q] for q in range(3)}}
    n, g_, c, h = (symbol(v) for v in "ngch")
    for pos in range(4):
        value = expr.xreplace({n: 0, g_: 0, c: 0, h: pos}).doit().xreplace(numbers)
        assert float(value) == pytest.approx(expected[0, 0, pos])


def test_texts_of_the_issue_example():
    g = conv_gradients(ndim=1, stride=2, padding=1)
    assert g.grad_input.text(specialise=True) == (
        "∂L/∂V[n, c, h] = Σ_{o, i} δ[n, o, (h + 1 − i)/2] · W[o, c, i] · [2 | h + 1 − i] · "
        "[0 ≤ (h + 1 − i)/2 < H_out]")
    assert g.grad_input.text() == (
        "∂L/∂V[n, g·C_in/G + c, h] = Σ_{o, i} δ[n, g·C_out/G + o, (h + p − d·i)/s] · W[g·C_out/G + o, c, i] · "
        "[s | h + p − d·i] · [0 ≤ (h + p − d·i)/s < H_out]")
    assert g.forward.text(specialise=True) == (
        "Z[n, o, x] = Σ_{c, i} W[o, c, i] · V[n, c, 2·x + i − 1] · [0 ≤ 2·x + i − 1 < H] + b[o]")
    assert g.grad_bias.text(specialise=True) == "∂L/∂b[o] = Σ_{n, x} δ[n, o, x]"
    assert g.grad_weight.text(specialise=True) == (
        "∂L/∂W[o, c, i] = Σ_{n, x} δ[n, o, x] · V[n, c, i + 2·x − 1] · [0 ≤ i + 2·x − 1 < H]")


def test_textbook_case_needs_no_indicator_but_the_range():
    g = conv_gradients(ndim=1)
    assert g.grad_input.text(specialise=True) == "∂L/∂V[n, c, h] = Σ_{o, i} δ[n, o, h − i] · W[o, c, i] · [0 ≤ h − i < H_out]"
    assert "full convolution of δ with W" in g.grad_input.closed_form.text


def test_grad_input_steps_name_the_solved_delta():
    g = conv_gradients(ndim=1, stride=2, padding=1)
    names = [step_text(s) for s in g.grad_input.steps]
    summed = [s.detail[1] for s in g.grad_input.steps if s.rule.name == "sum_out_delta"]
    assert summed and str(summed[-1].index.var) == "x"  # the solved index, as data
    assert any(n.startswith("differentiate w.r.t. V") and "Kronecker" in n for n in names)
    assert ("sum out [h = s·x + d·i − p] over x: x = (h + p − d·i)/s, needs s | h + p − d·i and 0 ≤ x < H_out; "
            "now always true: [0 ≤ h < H]") in names
    assert "sum out" in g.grad_input.steps_text()


def test_latex_and_sympy_outputs():
    g = conv_gradients(ndim=2, stride=(2, 1), padding=1)
    latex = g.grad_input.latex()
    assert latex.startswith(r"\frac{\partial L}{\partial V}\left[")
    assert r"\mid" in latex and r"\sum_{o, i, j}" in latex
    expr = g.grad_input.to_sympy()
    assert isinstance(expr, sp.Sum)
    assert expr.has(sp.IndexedBase("delta")) and expr.has(sp.IndexedBase("W"))
