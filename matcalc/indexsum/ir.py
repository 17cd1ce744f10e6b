"""The index-sum IR: sums over index ranges of products of indexed tensors and indicators.

Every expression the convolution module handles is in one normal form, a sum of terms
``coeff · Σ_{bound} Π factors``, with index expressions kept as affine SymPy expressions.
Keeping that form small and immutable is what lets the rules (``rules.py``), the printers
(``printing.py``) and the NumPy evaluator (``evaluate.py``) each stay a single short traversal.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

import sympy as sp


def symbol(name: str, positive: bool = False) -> sp.Symbol:
    """An integer symbol: an index variable (any integer) or a size/stride (positive)."""
    return sp.Symbol(name, integer=True, positive=True) if positive else sp.Symbol(name, integer=True)


@dataclass(frozen=True)
class Index:
    """An index variable running over ``0 ≤ var < extent``."""
    var: sp.Symbol
    extent: sp.Expr

    def __str__(self) -> str:
        return str(self.var)


@dataclass(frozen=True)
class Ref:
    """One element ``name[indices]`` of a tensor; indices are affine SymPy expressions."""
    name: str
    indices: tuple[sp.Expr, ...]


@dataclass(frozen=True)
class Delta:
    """The Kronecker delta ``[lhs = rhs]``."""
    lhs: sp.Expr
    rhs: sp.Expr


@dataclass(frozen=True)
class InRange:
    """The indicator ``[lo ≤ expr < hi]`` (zero padding and range conditions)."""
    expr: sp.Expr
    lo: sp.Expr
    hi: sp.Expr


@dataclass(frozen=True)
class Divides:
    """The indicator ``[divisor | expr]``: ``expr / divisor`` is an integer."""
    divisor: sp.Expr
    expr: sp.Expr


Factor = Union[Ref, Delta, InRange, Divides]


@dataclass(frozen=True)
class Term:
    """``coeff · Σ_{bound} Π factors``."""
    factors: tuple[Factor, ...]
    bound: tuple[Index, ...] = ()
    coeff: sp.Expr = sp.Integer(1)


@dataclass(frozen=True)
class IndexSum:
    """A sum of terms; ``free`` are the indices of the tensor it defines, in order."""
    free: tuple[Index, ...]
    terms: tuple[Term, ...]


def factor_exprs(factor: Factor) -> tuple[sp.Expr, ...]:
    """The index expressions a factor depends on (the ones the evaluator must compute)."""
    if isinstance(factor, Ref):
        return factor.indices
    if isinstance(factor, Delta):
        return (factor.lhs - factor.rhs,)
    if isinstance(factor, InRange):
        return (factor.expr,)
    return (factor.expr / factor.divisor,)


def subs_factor(factor: Factor, mapping: dict) -> Factor:
    """The factor with ``mapping`` (symbol → expression) substituted in every expression."""
    sub = lambda e: sp.sympify(e).xreplace(mapping)  # noqa: E731
    if isinstance(factor, Ref):
        return replace(factor, indices=tuple(sub(e) for e in factor.indices))
    if isinstance(factor, Delta):
        return Delta(sub(factor.lhs), sub(factor.rhs))
    if isinstance(factor, InRange):
        return InRange(sub(factor.expr), sub(factor.lo), sub(factor.hi))
    return Divides(sub(factor.divisor), sub(factor.expr))


def subs_term(term: Term, mapping: dict) -> Term:
    """The term with ``mapping`` substituted in factors, extents and coefficient (a bound index
    mapped to a symbol is renamed)."""
    return Term(tuple(subs_factor(f, mapping) for f in term.factors),
                tuple(Index(mapping.get(i.var, i.var), sp.sympify(i.extent).xreplace(mapping)) for i in term.bound),
                sp.sympify(term.coeff).xreplace(mapping))


def subs(expr: IndexSum, mapping: dict) -> IndexSum:
    """The whole sum with ``mapping`` substituted (free index extents included)."""
    return IndexSum(tuple(Index(i.var, sp.sympify(i.extent).xreplace(mapping)) for i in expr.free),
                    tuple(subs_term(t, mapping) for t in expr.terms))


def tensor_names(expr: IndexSum) -> set[str]:
    """Names of the tensors referenced anywhere in ``expr``."""
    return {f.name for t in expr.terms for f in t.factors if isinstance(f, Ref)}
