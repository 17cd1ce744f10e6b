"""The derivation driver: sequences the rules of ``rules.py`` into a gradient, recording steps.

A gradient ∂L/∂T of L = Σ δ ⊙ Z is derived, never typed in: contract with the cotangent,
rename apart, differentiate (Kronecker deltas), sum every delta out (index renamings in one step,
then each affine equation in its own step), drop what always holds. Every stage is kept as a
(rule name, expression) pair so that reports can show how the result came about.
"""
from __future__ import annotations

from dataclasses import dataclass

from matcalc.indexsum.ir import Delta, Index, IndexSum, Ref, Term
from matcalc.indexsum.printing import factor_text, index_text
from matcalc.indexsum.rules import (contract_with_cotangent, describe_sum_out, differentiate, drop_trivial,
                    rename_apart, sum_out_delta)

Step = tuple[str, IndexSum]


@dataclass(frozen=True)
class Derivation:
    """A derived index sum and the steps that produced it."""
    expr: IndexSum
    steps: tuple[Step, ...]


def _next_delta(terms: tuple[Term, ...], prefer: tuple, renames_only: bool):
    """The first (term position, delta position, result) where a delta can be summed out."""
    for t_pos, term in enumerate(terms):
        for k, f in enumerate(term.factors):
            if isinstance(f, Delta):
                result = sum_out_delta(term, k, prefer)
                if result and (not renames_only or result[2].is_Symbol):
                    return t_pos, k, result
    return None


def _apply(expr: IndexSum, found) -> tuple[IndexSum, tuple]:
    """Replace the term at ``found`` by its summed-out, cleaned version; also return what to say."""
    t_pos, k, (term, var, solution, added) = found
    simplified, dropped = drop_trivial(term, expr.free)
    needs = [f for f in added if simplified is not None and f in simplified.factors]
    info = (expr.terms[t_pos].factors[k], var, solution, needs, [f for f in dropped if f not in added])
    kept = (simplified,) if simplified is not None else ()
    return IndexSum(expr.free, expr.terms[:t_pos] + kept + expr.terms[t_pos + 1:]), info


def derive_gradient(forward: IndexSum, wrt: str, free: tuple[Index, ...], cotangent: str = "delta",
                    prefer: tuple = ()) -> Derivation:
    """∂L/∂wrt[free] for L = Σ cotangent ⊙ forward, with every rule application recorded.

    ``prefer`` lists bound index symbols to solve for first when a delta involves several
    (for convolutions: the output positions, so that the result sums over kernel offsets).
    """
    order = [i.var for i in free]
    loss = contract_with_cotangent(forward, cotangent)
    steps: list[Step] = [("contract with the cotangent: L = Σ δ ⊙ Z", loss)]
    renamed = rename_apart(loss, set(order))
    if renamed != loss:
        steps.append(("rename bound indices apart from the free ones", renamed))
    expr = differentiate(renamed, Ref(wrt, tuple(order)), free)
    steps.append((f"differentiate w.r.t. {wrt}[…]: ∂{wrt}[e]/∂{wrt}[f] = Π [f = e], Kronecker deltas", expr))
    renames = []
    while (found := _next_delta(expr.terms, prefer, renames_only=True)) is not None:
        expr, (delta, var, solution, _, _) = _apply(expr, found)
        renames.append(f"{factor_text(delta, order + [var.var], {})} over {var.var}: "
                       f"{var.var} = {index_text(solution, order)}")
    if renames:
        steps.append(("sum out the renaming deltas " + "; ".join(renames), expr))
    while (found := _next_delta(expr.terms, prefer, renames_only=False)) is not None:
        expr, (delta, var, solution, needs, dropped) = _apply(expr, found)
        steps.append((describe_sum_out(delta, var, solution, needs, dropped, order + [var.var]), expr))
    cleaned = tuple(t for t in (drop_trivial(t, free)[0] for t in expr.terms) if t is not None)
    if cleaned != expr.terms:
        expr = IndexSum(free, cleaned)
        steps.append(("drop indicators that always hold", expr))
    return Derivation(expr, tuple(steps))
