"""The normal form the simplifier produces, stated once; and the registry of its rules by phase.

A simplified expression is equal in value to its input and satisfies these clauses (each
canonical rule names the clause it enforces, in brackets):

- [N1] **Numbers are folded and neutral operands dropped**: no ``2*3``, ``A + 0``, ``1*A``,
  ``I*A``, ``A .* 1``, ``a^1``, ``tr(a)`` or ``sum(a)`` of a scalar; ``inv(inv(A))`` is ``A``.
- [N2] **One sign, on the left**: a product's sign sits on its leftmost factor (as ``-a*b``
  reads); there is no ``-(-a)``, no ``a*(-b)``, no ``A + (-B)``; a sum starts with a positive term.
- [N3] **Coefficients lead**: a number coefficient is the first factor of its product, and
  non-number scalar factors come before the matrix factors (``2*s*A*B``).
- [N4] **Products associate to the left**: ``A*B*C`` is ``(A*B)*C``.
- [N5] **Transposes are few**: none doubled, none on a symmetric expression, and a transpose is
  pushed into a product or sum only where that adds none (``(x'*A)'`` is ``A'*x``).
- [N6] **One division, outside**: a scalar divisor stands outside the product as one division
  (``A*B/s``, ``A/(s*t)``), reciprocals are quotients (``A ./ B`` not ``A .* (1 ./ B)``).
- [N7] **Sums are collected and factored, never expanded**: like terms are combined
  (``2*A + 3*A`` is ``5*A``), common factors are taken out (``A*B + A*C`` is ``A*(B + C)``),
  the untransposed term of ``A + A'`` comes first.
- [N8] **Equal factors are powers**: ``A*A`` is ``A^2``, ``A .* A`` is ``A.^2``.
- [N9] **Structured operands are used**: Kronecker mixed products, products of diagonals,
  ``A*inv(A)``, ``1'*x`` and the special functions' identities are applied where they shorten.

The rules run in four phases, in this order at every node (bottom-up, to a fixpoint):

- ``fold``: constant folding and neutral elements [N1];
- ``canonical``: signs, coefficients, association, transposes, quotients [N2]–[N6];
- ``collect``: whole-sum collection and factoring, powers [N7], [N8];
- ``structured``: identities of structured ops and special functions [N9].

A rule is a pure function ``rule(node, rb) -> node | None`` registered with
``@rewrites(phase, *ops)``; ``rb`` is the running :class:`~matcalc.simplify.engine.Simplifier`.
``given=`` names the argument ops the rule needs (it can fire only on a node with an argument of
one of them), so the pass need not try it elsewhere: a product of two plain factors tries a few of
its two dozen rules.  The declaration is checked: ``tests/test_simplify.py`` runs every rule on
every node of the derivative table and of random expressions and fails on a rule that fires where
its ``given`` would have kept it from being tried.
"""
from __future__ import annotations

from typing import Callable

PHASES = ("fold", "canonical", "collect", "structured")

#: phase → op → rules, in registration order
PHASE_RULES: dict[str, dict[str, list[Callable]]] = {p: {} for p in PHASES}


def rewrites(phase: str, *ops: str, given=None) -> Callable:
    """Register a rule of ``phase`` for ``ops``; the function gets ``.phase`` and ``.given`` (the
    argument ops it needs, one of which some argument must have; None: any)."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")

    def register(fn):
        fn.phase = phase
        fn.given = frozenset(given) if given is not None else None
        for op in ops:
            PHASE_RULES[phase].setdefault(op, []).append(fn)
        return fn
    return register


def rules_for(op: str) -> list[Callable]:
    """The rules of a node of ``op``, phase by phase."""
    return [fn for p in PHASES for fn in PHASE_RULES[p].get(op, ())]


def rules_given(rules: list, arg_ops) -> list[Callable]:
    """Those of ``rules`` that can fire on a node whose arguments have ``arg_ops``."""
    present = set(arg_ops)
    return [fn for fn in rules if fn.given is None or not fn.given.isdisjoint(present)]
