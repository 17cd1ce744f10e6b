"""The derivation driver: sequences the rules of ``rules.py`` into a gradient, recording steps.

A gradient ∂L/∂T of L = Σ δ ⊙ Z is derived, never typed in: contract with the cotangent,
rename apart, differentiate (Kronecker deltas), sum every delta out (index renamings in one step,
then each affine equation in its own step), drop what always holds. Every stage is a
:class:`~matcalc.derivation.Step` of stage ``delta``: the rule, the sums before and after, and
what it decided as data (``SumOut``: the delta, the index summed over, its solution, the
conditions that remain and those that became trivial).  :func:`step_text` words a step.
"""
from __future__ import annotations

from dataclasses import dataclass

from matcalc.indexsum.ir import Delta, Index, IndexSum, Ref, Term
from matcalc.derivation import Rule, Step
from matcalc.indexsum.printing import factor_text, index_text
from matcalc.indexsum.rules import (contract_with_cotangent, describe_sum_out, differentiate, drop_trivial,
                    rename_apart, sum_out_delta)

CONTRACT = Rule("contract_with_cotangent", "contract with the cotangent: L = Σ δ ⊙ Z")
RENAME = Rule("rename_apart", "rename bound indices apart from the free ones")
DIFFERENTIATE = Rule("differentiate", "differentiate: ∂T[e]/∂T[f] = Π [f = e], Kronecker deltas")
SUM_OUT_RENAMES = Rule("sum_out_renames", "sum out the deltas that only rename an index")
SUM_OUT = Rule("sum_out_delta", "sum out a delta by solving its affine equation: Σ_x [h = a·x + c]·g(x) = g((h − c)/a), "
               "needing a | h − c and x in range")
DROP_TRIVIAL = Rule("drop_trivial", "drop indicators that always hold")


@dataclass(frozen=True)
class SumOut:
    """What one delta elimination decided: ``delta`` summed over ``index`` gives ``solution``;
    ``needs`` are the conditions that remain, ``dropped`` those that became always true."""
    delta: Delta
    index: Index
    solution: object
    needs: tuple = ()
    dropped: tuple = ()


def _step(rule: Rule, before, after, wrt: str, order: list, detail=None) -> Step:
    return Step("delta", rule, 1, before, after, check="sum", wrt=wrt, detail=(tuple(order), detail))


def step_text(step: Step) -> str:
    """A delta-stage step in words, from its data."""
    order, detail = step.detail
    order = list(order)
    if step.rule is SUM_OUT:
        return describe_sum_out(detail.delta, detail.index, detail.solution, list(detail.needs), list(detail.dropped),
                                order + [detail.index.var])
    if step.rule is SUM_OUT_RENAMES:
        return step.rule.title.split(" that")[0] + " " + "; ".join(
            f"{factor_text(s.delta, order + [s.index.var], {})} over {s.index.var}: "
            f"{s.index.var} = {index_text(s.solution, order)}" for s in detail)
    if step.rule is DIFFERENTIATE:
        return f"differentiate w.r.t. {step.wrt}[…]: ∂{step.wrt}[e]/∂{step.wrt}[f] = Π [f = e], Kronecker deltas"
    return step.rule.title


@dataclass(frozen=True)
class Derivation:
    """A derived index sum and the steps that produced it."""
    expr: IndexSum
    steps: tuple  # of Step


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
    steps: list[Step] = [_step(CONTRACT, forward, loss, wrt, order)]
    renamed = rename_apart(loss, set(order))
    if renamed != loss:
        steps.append(_step(RENAME, loss, renamed, wrt, order))
    expr = differentiate(renamed, Ref(wrt, tuple(order)), free)
    steps.append(_step(DIFFERENTIATE, renamed, expr, wrt, order))
    renames, before = [], expr
    while (found := _next_delta(expr.terms, prefer, renames_only=True)) is not None:
        expr, (delta, var, solution, _, _) = _apply(expr, found)
        renames.append(SumOut(delta, var, solution))
    if renames:
        steps.append(_step(SUM_OUT_RENAMES, before, expr, wrt, order, tuple(renames)))
    while (found := _next_delta(expr.terms, prefer, renames_only=False)) is not None:
        before = expr
        expr, (delta, var, solution, needs, dropped) = _apply(expr, found)
        steps.append(_step(SUM_OUT, before, expr, wrt, order, SumOut(delta, var, solution, tuple(needs), tuple(dropped))))
    cleaned = tuple(t for t in (drop_trivial(t, free)[0] for t in expr.terms) if t is not None)
    if cleaned != expr.terms:
        before, expr = expr, IndexSum(free, cleaned)
        steps.append(_step(DROP_TRIVIAL, before, expr, wrt, order))
    return Derivation(expr, tuple(steps))
