"""Every step of every conv derivation verified numerically, and broken steps caught where they happen."""
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from matcalc.conv import (Delta, Divides, Index, IndexSum, InRange, Ref, Term, avgpool_gradients, conv_gradients,
                          conv_transpose_gradients, derive_gradient, symbol)
from matcalc.conv import layers
from matcalc.conv.api import TITLES
from matcalc.conv.parts import Part
from matcalc.errors import EvaluationError
from matcalc.indexsum import derive, naive
from matcalc.indexsum.evaluate import evaluate as fast_evaluate
from matcalc.indexsum.verify import layer_sizes, verify_derivation

M, K, P = (symbol(n, True) for n in "MKP")
i, k, j, x, h = (symbol(n) for n in "ikjxh")

LAYERS = {
    "conv1d s2 p1 d2 G2": lambda: conv_gradients(1, stride=2, padding=1, dilation=2, groups=2),
    "conv1d s3 p2": lambda: conv_gradients(1, stride=3, padding=2),
    "conv2d s(2,1) p(1,0) d(1,2) G2": lambda: conv_gradients(2, stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                                                              groups=2),
    "conv_transpose1d s2 p1 a1 G2": lambda: conv_transpose_gradients(1, stride=2, padding=1, output_padding=1,
                                                                     groups=2),
    "conv_transpose2d s(2,1) d(1,2)": lambda: conv_transpose_gradients(2, stride=(2, 1), dilation=(1, 2), bias=False),
    "avgpool1d k3 s2 p1": lambda: avgpool_gradients(1, kernel_size=3, stride=2, padding=1),
    "avgpool2d k2 s(2,1) p1": lambda: avgpool_gradients(2, kernel_size=2, stride=(2, 1), padding=1),
}


def matmul() -> IndexSum:
    """C[i, j] = Σ_k A[i, k] · B[k, j]."""
    return IndexSum((Index(i, M), Index(j, P)), (Term((Ref("A", (i, k)), Ref("B", (k, j))), (Index(k, K),)),))


def assert_all_hold(verdicts):
    bad = [(v.step.rule.name, v.error, v.note) for v in verdicts if not v.ok]
    assert verdicts and not bad, bad
    assert all(v.error is not None for v in verdicts)


@pytest.mark.parametrize("name", LAYERS)
def test_every_step_of_every_part_verifies(name):
    g = LAYERS[name]()
    assert g.forward.verify() == []          # a definition, not a derivation
    for part in g.parts[1:]:
        verdicts = part.verify(seed=1)
        assert [v.step for v in verdicts] == list(part.steps)
        assert_all_hold(verdicts)
        rules = [v.step.rule for v in verdicts]
        assert rules[0] is derive.CONTRACT and derive.DIFFERENTIATE in rules


def test_the_checked_steps_cover_every_rule():
    g = LAYERS["conv1d s2 p1 d2 G2"]()
    rules = {s.rule.name for p in g.parts[1:] for s in p.steps}
    assert {"contract_with_cotangent", "rename_apart", "differentiate", "sum_out_renames", "sum_out_delta"} <= rules


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 3), st.integers(0, 2), st.integers(1, 2), st.sampled_from([1, 2]), st.booleans())
def test_random_1d_configurations_verify(stride, padding, dilation, groups, transpose):
    if transpose:
        g = conv_transpose_gradients(1, stride=stride, padding=padding, dilation=dilation, groups=groups,
                                     output_padding=min(stride, dilation) - 1)
    else:
        g = conv_gradients(1, stride=stride, padding=padding, dilation=dilation, groups=groups)
    for part in g.parts[1:]:
        assert_all_hold(part.verify(seed=stride))


def test_matmul_steps_verify_with_inferred_shapes():
    sizes = {M: 2, K: 3, P: 4}
    for wrt, free in (("A", (Index(i, M), Index(k, K))), ("B", (Index(k, K), Index(j, P)))):
        assert_all_hold(verify_derivation(derive_gradient(matmul(), wrt, free), sizes, seed=0))


def test_sizes_are_small_and_all_different():
    layer = LAYERS["conv2d s(2,1) p(1,0) d(1,2) G2"]().layer
    values = layer_sizes(layer)
    chosen = {s: v for s, v in values.items() if s not in layer.params and s not in layer.size_rules}
    extents = [int(v) // (2 if s.name.startswith("C") else 1) for s, v in chosen.items()]  # C_in/G, C_out/G
    assert len(set(extents)) == len(extents) and min(extents) >= 2 and max(extents) <= 16
    assert all(int(values[s]) % 2 == 0 for s in chosen if s.name.startswith("C"))
    assert all(int(values[s]) >= 2 for s in layer.size_rules)


# ----- a broken rule is caught at its own step ----------------------------------------------------

def _part(layer, name):
    target = layer.targets[name]
    return Part(TITLES[name], name, layer, derive_gradient(layer.forward, name, target.free, "delta", target.prefer))


def _first_failure(verdicts):
    failed = [n for n, v in enumerate(verdicts) if not v.ok]
    return failed[0] if failed else None


def test_a_sum_out_that_drops_its_range_indicator_is_caught_there(monkeypatch):
    original = derive.sum_out_delta

    def dropping(term, k, prefer=()):
        result = original(term, k, prefer)
        if result is None or result[2].is_Symbol:
            return result
        new, chosen, solution, added = result
        lost = [f for f in added if isinstance(f, InRange)]
        return (Term(tuple(f for f in new.factors if f not in lost), new.bound, new.coeff), chosen, solution,
                tuple(f for f in added if f not in lost))

    monkeypatch.setattr(derive, "sum_out_delta", dropping)
    # stride 1, no padding: x = h − i < 0 at h = 0, i = 1 (with stride 2, padding 1 and the kernel of
    # size 2 chosen for the check, the condition happens never to bite)
    part = _part(layers.convolution(1, (1,), (0,), (1,), 1, True), "V")
    verdicts = part.verify(seed=0)
    first = _first_failure(verdicts)
    assert first is not None and verdicts[first].step.rule is derive.SUM_OUT
    assert "outside its range" in verdicts[first].note and verdicts[first].error is None
    assert all(v.ok for v in verdicts[:first])


def test_a_sum_out_that_shifts_the_solution_by_one_is_caught_there(monkeypatch):
    original = derive.sum_out_delta

    def shifting(term, k, prefer=()):
        result = original(term, k, prefer)
        if result is None or result[2].is_Symbol:
            return result
        d = term.factors[k]
        shifted = Term(term.factors[:k] + (Delta(d.lhs + 1, d.rhs),) + term.factors[k + 1:], term.bound, term.coeff)
        return original(shifted, k, prefer)

    monkeypatch.setattr(derive, "sum_out_delta", shifting)
    part = _part(layers.convolution(2, (2, 1), (1, 0), (1, 2), 1, False), "V")
    verdicts = part.verify(seed=0)
    first = _first_failure(verdicts)
    assert first is not None and verdicts[first].step.rule is derive.SUM_OUT
    assert verdicts[first].error > 1e-3
    assert all(v.ok for v in verdicts[:first])


def test_a_wrong_derivative_of_an_element_is_caught_at_the_differentiation(monkeypatch):
    original = derive.differentiate

    def off_by_one(expr, wrt, free):
        out = original(expr, wrt, free)
        terms = tuple(Term(tuple(Delta(f.lhs, f.rhs + 1) if isinstance(f, Delta) and f.lhs == wrt.indices[-1] else f
                                 for f in t.factors), t.bound, t.coeff) for t in out.terms)
        return IndexSum(out.free, terms)

    monkeypatch.setattr(derive, "differentiate", off_by_one)
    part = _part(layers.avgpool(1, (2,), (2,), (0,)), "V")
    verdicts = part.verify(seed=0)
    first = _first_failure(verdicts)
    assert first is not None and verdicts[first].step.rule is derive.DIFFERENTIATE
    assert all(v.ok for v in verdicts[:first])


def test_a_wrong_contraction_is_caught_at_the_first_step(monkeypatch):
    original = derive.contract_with_cotangent

    def doubled(forward, cotangent):
        out = original(forward, cotangent)
        return IndexSum(out.free, tuple(Term(t.factors, t.bound, 2 * t.coeff) for t in out.terms))

    monkeypatch.setattr(derive, "contract_with_cotangent", doubled)
    verdicts = verify_derivation(derive_gradient(matmul(), "A", (Index(i, M), Index(k, K))), {M: 2, K: 3, P: 4}, seed=0)
    assert _first_failure(verdicts) == 0 and verdicts[0].error > 0.1
    assert all(v.ok for v in verdicts[1:])   # the later steps are consistent with the wrong L


# ----- the naive evaluator itself ------------------------------------------------------------------

def test_naive_evaluator_agrees_with_the_fast_one_on_derived_sums():
    g = LAYERS["conv2d s(2,1) p(1,0) d(1,2) G2"]()
    values = layer_sizes(g.layer)
    layouts = g.grad_input._layouts()
    rng = np.random.default_rng(3)
    arrays = {n: rng.standard_normal([int(sp.sympify(e).xreplace(values)) for e in layouts[n].shape])
              for n in ("V", "W", "b", "delta")}
    for part in g.parts:
        want = fast_evaluate(part.expr, arrays, values)
        assert np.allclose(naive.evaluate(part.expr, arrays, values), want, rtol=1e-12, atol=1e-12)


def test_deltas_and_exact_values():
    """Σ_x [h = 2·x + 1] · [0 ≤ x < 3] · a[x] picks a[(h − 1)/2] at odd h, exactly with Fractions."""
    X, H = symbol("X", True), symbol("H", True)
    expr = IndexSum((Index(h, H),), (Term((Delta(h, 2 * x + 1), Ref("a", (x,))), (Index(x, X),), sp.Rational(1, 3)),))
    a = np.array([Fraction(1, 2), Fraction(2), Fraction(-5, 7)], dtype=object)
    out = naive.evaluate(expr, {"a": a}, {X: 3, H: 6})
    assert list(out) == [0, Fraction(1, 6), 0, Fraction(2, 3), 0, Fraction(-5, 21)]
    with pytest.raises(EvaluationError, match="outside its range"):   # h = 5 reads a[2]; x < 3 allows it
        naive.evaluate(expr, {"a": a[:2]}, {X: 3, H: 6})


def test_an_unguarded_fractional_read_is_an_error_and_a_guarded_one_is_not():
    S, H = symbol("s", True), symbol("H", True)
    read = Ref("a", (h / S,))
    bare = IndexSum((Index(h, H),), (Term((read,)),))
    guarded = IndexSum((Index(h, H),), (Term((read, Divides(S, h))),))
    a = np.arange(1.0, 4.0)
    with pytest.raises(EvaluationError, match="fractional"):
        naive.evaluate(bare, {"a": a}, {S: 2, H: 6})
    assert list(naive.evaluate(guarded, {"a": a}, {S: 2, H: 6})) == [1, 0, 2, 0, 3, 0]


def test_central_differences_of_a_quadratic_sum():
    """L = Σ_{i,k} A[i,k]² · B[k]: ∂L/∂A[i,k] = 2·A[i,k]·B[k] (A read twice in one term)."""
    expr = IndexSum((), (Term((Ref("A", (i, k)), Ref("A", (i, k)), Ref("B", (k,))), (Index(i, M), Index(k, K))),))
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((2, 3)), rng.standard_normal(3)
    compiled = naive.compile_sum(expr, {"A": (2, 3), "B": (3,)}, {M: 2, K: 3})
    assert compiled({"A": A, "B": B}) == pytest.approx(np.sum(A * A * B))
    assert np.allclose(compiled.central_differences({"A": A, "B": B}, "A", 1e-3), 2 * A * B, rtol=1e-9)
