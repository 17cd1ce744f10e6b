"""The rewrite rules of the index-sum engine, each a pure function stating its identity.

Differentiation of an index sum only ever needs these few identities: the cotangent contraction
that turns a tensor into a scalar loss, alpha-renaming, the derivative of a tensor element (a
product of Kronecker deltas), summing a delta out by solving its affine equation, and dropping
indicators that always hold. ``derive.py`` sequences them; nothing here mutates anything.
"""
from __future__ import annotations

import sympy as sp

from matcalc.errors import UnsupportedError
from matcalc.indexsum.ir import Delta, Divides, Factor, Index, IndexSum, InRange, Ref, Term, subs_term
from matcalc.indexsum.printing import factor_text, index_text


def contract_with_cotangent(forward: IndexSum, cotangent: str) -> IndexSum:
    """L = Σ_{free} δ[free] · Z[free]: the scalar whose gradient is the vector-Jacobian product."""
    seed = Ref(cotangent, tuple(i.var for i in forward.free))
    return IndexSum((), tuple(Term((seed,) + t.factors, forward.free + t.bound, t.coeff) for t in forward.terms))


def rename_apart(expr: IndexSum, avoid: set) -> IndexSum:
    """Σ_j f(j) = Σ_{j′} f(j′): bound indices clashing with ``avoid`` get a prime."""
    terms = []
    for t in expr.terms:
        mapping = {}
        for i in t.bound:
            if i.var in avoid:
                fresh = sp.Symbol(i.var.name + "′", **i.var.assumptions0)
                while fresh in avoid:
                    fresh = sp.Symbol(fresh.name + "′", **i.var.assumptions0)
                mapping[i.var] = fresh
        terms.append(subs_term(t, mapping) if mapping else t)
    return IndexSum(expr.free, tuple(terms))


def differentiate(expr: IndexSum, wrt: Ref, free: tuple[Index, ...]) -> IndexSum:
    """∂/∂T[f] of Σ_B Π factors = Σ_B Σ_{r: factor r is T[e]} Π_{q≠r} factors · Π_a [f_a = e_a].

    This is the product rule together with ∂T[e]/∂T[f] = Π_a δ(f_a, e_a); terms without ``T``
    vanish. ``free`` become the free indices of the result.
    """
    terms = []
    for t in expr.terms:
        for r, f in enumerate(t.factors):
            if isinstance(f, Ref) and f.name == wrt.name:
                deltas = tuple(Delta(a, e) for a, e in zip(wrt.indices, f.indices))
                terms.append(Term(t.factors[:r] + t.factors[r + 1:] + deltas, t.bound, t.coeff))
    return IndexSum(free, tuple(terms))


def _is_trivial(f: Factor, extents: dict) -> bool | None:
    """True when the indicator always holds, False when it never does, None when it depends."""
    if isinstance(f, Delta):
        diff = sp.expand(f.lhs - f.rhs)
        return True if diff == 0 else (False if diff.is_number else None)
    if isinstance(f, Divides):
        if f.divisor == 1 or sp.fraction(sp.together(f.expr / f.divisor))[1] == 1:
            return True
        q = f.expr / f.divisor
        return bool(q.is_integer) if q.is_number else None
    if isinstance(f, InRange):
        e = sp.expand(f.expr)
        if e in extents and f.lo == 0 and sp.expand(extents[e] - f.hi) == 0:
            return True
        if e.is_number and f.lo.is_number and f.hi.is_number:
            return bool(f.lo <= e < f.hi)
    return None


def drop_trivial(term: Term, free: tuple[Index, ...]) -> tuple[Term | None, list[Factor]]:
    """[0 ≤ j < J] = 1 for an index j of extent J; [a | e] = 1 when e/a is an integer expression;
    [e = e] = 1. A factor that never holds makes the whole term 0 (returned as None)."""
    extents = {i.var: i.extent for i in free + term.bound}
    kept, dropped = [], []
    for f in term.factors:
        verdict = None if isinstance(f, Ref) else _is_trivial(f, extents)
        if verdict is False:
            return None, [f]
        (dropped if verdict else kept).append(f)
    return Term(tuple(kept), term.bound, term.coeff), dropped


def sum_unit_ranges(term: Term) -> Term:
    """Σ_{0 ≤ k < 1} F(k) = F(0): a sum over an index of extent 1 has one term, so the index is
    set to 0 and the sum dropped (a matrix product with an inner dimension of 1, x·yᵀ, binds one)."""
    unit = [i for i in term.bound if sp.sympify(i.extent) == 1]
    if not unit:
        return term
    kept = tuple(i for i in term.bound if sp.sympify(i.extent) != 1)
    return subs_term(Term(term.factors, kept, term.coeff), {i.var: sp.Integer(0) for i in unit})


def sum_out_delta(term: Term, k: int, prefer: tuple = ()) -> tuple[Term, Index, sp.Expr, tuple] | None:
    """Σ_v [a·v + r = 0] · F(v) = [a | −r] · [0 ≤ −r/a < extent(v)] · F(−r/a) for a bound index v.

    ``k`` is the position of the delta among the factors. ``v`` is the first bound index of the
    equation listed in ``prefer``, else one with coefficient ±1, else the first; the divisibility
    condition is kept when −r/a is not an integer expression by itself (stride > 1). Returns the
    new term, v, its solution and the conditions added, or None when no bound index occurs.
    """
    delta = term.factors[k]
    eq = sp.expand(delta.lhs - delta.rhs)
    candidates = [i for i in term.bound if eq.has(i.var)]
    if not candidates:
        return None
    chosen = next((i for p in prefer for i in candidates if i.var == p), None) \
        or next((i for i in candidates if abs(eq.diff(i.var)) == 1), candidates[0])
    a = eq.diff(chosen.var)
    if a.has(*[i.var for i in term.bound]):
        raise UnsupportedError(f"index equation {eq} = 0 is not affine in {chosen.var}")
    solution = sp.together(-sp.expand(eq - a * chosen.var) / a)
    num, den = sp.fraction(solution)
    conditions = (() if den == 1 else (Divides(den, num),)) + (InRange(solution, sp.Integer(0), chosen.extent),)
    rest = tuple(f for q, f in enumerate(term.factors) if q != k) + conditions
    bound = tuple(i for i in term.bound if i != chosen)
    return subs_term(Term(rest, bound, term.coeff), {chosen.var: solution}), chosen, solution, conditions


def describe_sum_out(delta: Delta, var: Index, solution: sp.Expr, needs: list, dropped: list,
                     order: list) -> str:
    """Words for one ``sum_out_delta``: what was solved, what it needs, what became trivial."""
    fx = lambda f: factor_text(f, order, {})  # noqa: E731
    text = f"sum out {fx(delta)} over {var.var}: {var.var} = {index_text(solution, order)}"
    if needs:
        shown = [InRange(var.var, f.lo, f.hi) if isinstance(f, InRange) else f for f in needs]
        text += ", needs " + " and ".join(fx(f)[1:-1] for f in shown)
    if dropped:
        text += "; now always true: " + ", ".join(fx(f) for f in dropped)
    return text
