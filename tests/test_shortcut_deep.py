"""The shortcut on 2,000-deep nesting: every kind of nesting passes, with the verdict a shallow input gets.

The scalar rules walk f with an explicit stack, so depth is bounded by memory, not by Python's
recursion limit (which nothing raises), and step 1 costs time linear in the depth.
"""
import gc
import sys
import time

import pytest

import matcalc
from matcalc.consistency.explain import _collect, _scalar_derivative
from matcalc.ir.nodes import SCALAR, Var, dag_size, op_of, variables
from matcalc.ir.shapes import make
from matcalc.printing.text import to_text

N = 2000
VEC = {"x": "vector(n)", "A": "matrix(n,n)"}

# name: (f, wrt, decls, verdict, guess coefficient, factors in the guess's term, shortcut's answer)
DEEP = {
    "calls": ("sin(" * N + "a" + ")" * N, "a", None, "right", 1, N, None),
    "negations": ("-" * (N + 1) + "a*b", "a", None, "right", -1, 1, "-b"),
    "transposes": ("(" * N + "x" + ")'" * N + "'*x", "x", VEC, "right", 2, 1, "2*x"),
    "products": ("b*(" * (N - 1) + "a" + ")" * (N - 1), "a", None, "right", 1, N - 1, "b^1999"),
    "parentheses": ("(" * N + "x'*A*x" + ")" * N, "x", VEC, "wrong", 2, 2, "2*A*x"),
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_2000_deep_nesting_through_the_shortcut(name):
    f, wrt, decls, verdict, coefficient, n_factors, answer = DEEP[name]
    limit = sys.getrecursionlimit()
    r = matcalc.shortcut(f, wrt, decls)
    assert sys.getrecursionlimit() == limit
    assert r.verdict == verdict, r.explanation
    [term] = r.guess
    assert term.coefficient == coefficient and len(term.factors) == n_factors
    if answer is not None:
        assert to_text(r.adjusted) == answer
    if name == "calls":    # the chain rule's factors, outermost first: cos(sin(…)), …, cos(a)
        assert all(op_of(g) == "cos" for g in term.factors)
        assert to_text(term.factors[-1]) == "cos(a)" and term.factors[0].args[0] is r.f.args[0]
    if name == "parentheses":  # the same verdict, and the same reason, as without the parentheses
        assert "loses the order" in r.explanation
        assert r.explanation == matcalc.shortcut("x'*A*x", "x", VEC).explanation


def test_the_product_rule_on_a_chain_where_every_factor_depends():
    """n factors of a give n terms of n - 1 factors (quadratic by nature), collected into one: n·aⁿ⁻¹."""
    n = 300
    node = matcalc.parse("*".join(["a"] * n)).node
    terms = _scalar_derivative(node, variables(node)["a"])
    assert len(terms) == n and all(c == 1 and len(fs) == n - 1 for c, fs in terms)
    [term] = _collect(terms)
    assert term.coefficient == n and len(term.factors) == n - 1


A, B = Var("a", SCALAR, "scalar"), Var("b", SCALAR, "scalar")


def _nest(op, n, *before):
    node = A
    for _ in range(n):
        node = make(op, *before, node)
    return node


def _fold(op, n, unit, last=None):
    node = unit
    for _ in range(n - 1):
        node = make(op, node, unit)
    return node if last is None else make(op, node, last)


def _best_time(run) -> float:
    best = float("inf")
    enabled = gc.isenabled()
    gc.disable()            # the collector's passes over the rest of the suite's objects are not the cost measured
    try:
        for _ in range(5):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
    finally:
        if enabled:
            gc.enable()
    return best


@pytest.mark.parametrize("build", [
    lambda n: _nest("sin", n),
    lambda n: _nest("neg", n),
    lambda n: _nest("transpose", n),
    lambda n: _nest("mul", n, B),
    lambda n: _fold("mul", n, B, A),
    lambda n: _fold("add", n, make("mul", A, B)),
], ids=["calls", "negations", "transposes", "nested products", "a product chain", "a sum"])
def test_scalar_rules_grow_linearly_with_depth(build):
    """A guard against super-linear blow-up, not a speed claim: from depth 1000 to 8000, step 1 must grow
    like one plain traversal of the same expressions (measured alongside, so that the machine's load and
    its caches cancel out), far from the 8× more that quadratic work would add."""
    small, big = build(1000), build(8000)

    def growth(run):
        return _best_time(lambda: run(big)) / _best_time(lambda: run(small))
    ratio = growth(lambda node: _collect(_scalar_derivative(node, A))) / growth(dag_size)
    assert ratio < 3, ratio
