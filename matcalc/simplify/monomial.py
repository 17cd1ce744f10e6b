"""Scalar factors as a monomial: c · b₁^k₁ · … · bⱼ^kⱼ, with integer exponents ([N3], [N6], [N8]).

The quotient and chain rules leave their scalar factors scattered: the Hessian of sqrt(xᵀAx)
divides by sqrt(u)·(2·sqrt(u))², the Rayleigh quotient's by ((xᵀx)²)² with an xᵀx on top.
Read as a monomial, each is one number and one power per distinct scalar: 4·sqrt(u)³, and
(xᵀx)·(4·w·xᵀ)/(xᵀx)⁴ = 4·w·xᵀ/(xᵀx)³.

A monomial is read through scalings (``scale``), signs, numbers and integer powers
(a positive power distributes over them: (c·s)ᵏ = cᵏ·sᵏ, (sʲ)ᵏ = sʲᵏ); everything else
(sums, sqrt(u), xᵀx, a power with a non-integer exponent) is a base.  Only identities of the
real numbers are used, valid wherever the input is defined: sqrt(u)² stays (it is u only for
u ≥ 0), s^0.5·s^0.5 is (s^0.5)², not s, and s·t stays s·t (a power is never spread over a
product of two non-numbers, which would write more).  A common power cancels between a
numerator and its denominator, s·A/s⁴ → A/s³, where the denominator is nonzero, which is
wherever the quotient is defined.

Reading a monomial walks its chain of factors; the walk stops after ``_MAX_FACTORS`` factors (a
longer chain is left as it is), so each rule costs a bounded amount per node.
"""
from __future__ import annotations

import math
from typing import Optional

from matcalc.ir.nodes import Node, Num, op_of
from matcalc.ir.shapes import is_scalar, make
from matcalc.derivation import identity
from matcalc.simplify.normal_form import rewrites
from matcalc.simplify.terms import SIGNED_PRODUCTS, is_num, number, scaled

#: the longest chain of factors read as one monomial (longer ones are left alone)
_MAX_FACTORS = 64


class Monomial:
    """c · Π baseᵢ^kᵢ (· M): ``coeff`` a number, ``powers`` the (base, k) in order of first
    appearance (a base may appear more than once until :meth:`merged`), ``core`` the non-scalar
    factor M (None for a scalar monomial) and ``numbers`` how many number factors were read."""

    __slots__ = ("coeff", "powers", "core", "numbers")

    def __init__(self):
        self.coeff, self.powers, self.core, self.numbers = 1, [], None, 0

    def repeated(self) -> bool:
        seen: set = set()
        for base, _ in self.powers:
            if base in seen:
                return True
            seen.add(base)
        return False

    def merged(self) -> dict:
        """base → total exponent, in order of first appearance."""
        out: dict = {}
        for base, k in self.powers:
            out[base] = out.get(base, 0) + k
        return out


def _integer_power(node: Node) -> Optional[int]:
    """k for node = b^k with an integer k ≠ 0, else None."""
    if op_of(node) == "pow" and is_num(node.args[1]) and float(node.args[1].value).is_integer() \
            and node.args[1].value != 0:
        return int(node.args[1].value)
    return None


def _reads_into(node: Node) -> bool:
    """Whether a power of ``node`` is distributed over its parts: a scaling of scalars, a sign,
    a number or an integer power."""
    return op_of(node) in ("scale", "neg", "num") or _integer_power(node) is not None


def _one_base(node: Node) -> bool:
    """Whether a scaling of scalars has at most one factor that is not a number (up to integer
    powers): (2·s²·s)ᵏ is spread over its factors, (s·t)ᵏ is not, as s^k·t^k writes more."""
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if op_of(n) == "scale":
            stack += n.args
        elif op_of(n) == "neg":
            stack.append(n.args[0])
        elif not is_num(n):
            seen.add(n.args[0] if _integer_power(n) is not None else n)
            if len(seen) > 1 or len(stack) > _MAX_FACTORS:
                return False
    return True


def _unsigned(node: Node) -> Optional[Node]:
    """``node`` without the sign the normal form puts on its leftmost factor (−w for w = yᵀy is
    written (−yᵀ)·y), or None when it has none.  Built with ``make``: only the sign is gone, the
    rest is the normal form it was."""
    spine = [node]
    while op_of(spine[-1]) in SIGNED_PRODUCTS and len(spine) <= _MAX_FACTORS:
        spine.append(spine[-1].args[0])
    head = spine.pop()
    if op_of(head) != "neg" or not spine:
        return None
    out = head.args[0]
    for n in reversed(spine):
        out = make(n.op, out, n.args[1])
    return out


def read(node: Node) -> Optional[Monomial]:
    """``node`` as a monomial, or None when its chain is longer than ``_MAX_FACTORS``.  A
    non-scalar node's scalar factors are those of its chain of scalings s·(t·(…·M)); M is its core."""
    m = Monomial()
    stack = [(node, 1)]
    count = 0
    while stack:
        n, k = stack.pop()
        count += 1
        if count > _MAX_FACTORS:
            return None
        op = op_of(n)
        if not is_scalar(n.shape):
            if op == "scale":
                stack += [(n.args[1], 1), (n.args[0], 1)]
            else:
                m.core = n
            continue
        j = _integer_power(n)
        if op == "num":
            try:
                m.coeff = m.coeff * n.value ** k
            except OverflowError:
                return None
            m.numbers += 1
        elif op == "neg":
            m.coeff = m.coeff * (-1) ** k
            stack.append((n.args[0], k))
        elif op == "scale":
            stack += [(n.args[1], k), (n.args[0], k)]
        elif j is not None and j > 0:       # (b^j)^k = b^(j·k), spread over b's factors where it has one base
            base = n.args[0]
            if op_of(base) == "scale" and not _one_base(base):
                m.powers.append((base, j * k))
            else:
                stack.append((base, j * k))
        elif j is not None and not _reads_into(n.args[0]):   # a negative power of one base
            m.powers.append((n.args[0], j * k))
        else:
            plain = _unsigned(n) if op in SIGNED_PRODUCTS else None
            if plain is not None:
                m.coeff = m.coeff * (-1) ** k
                n = plain
            m.powers.append((n, k))
    if not math.isfinite(m.coeff):
        return None   # a coefficient too large for a float is not written
    m.coeff = number(m.coeff)
    return m


def _product(factors: list, rb) -> Optional[Node]:
    out = None
    for f in factors:
        out = f if out is None else rb("mul", out, f)
    return out


def _power(base: Node, k: int, rb) -> Node:
    return base if k == 1 else rb("pow", base, Num(k))


def write(coeff, powers: dict, core: Optional[Node], shape, rb) -> Node:
    """c · Π base^k · core, the bases in their order, zero exponents dropped."""
    factors = [_power(b, k, rb) for b, k in powers.items() if k != 0]
    if core is not None:
        factors.append(core)
    return scaled(coeff, _product(factors, rb), shape, rb)


@rewrites("collect", "scale")
@identity("s*(3*s^2)*(2*A) = 6*s^3*A", "s: scalar; A: matrix(m,n)")
def merge_scalar_powers(node, rb):
    """Powers of one scalar in a product are one power and its numbers one coefficient:
    s·(3·s²) → 3·s³, 2·s·(3·s·A) → 6·s²·A, s·(2·s)² → 4·s³, s·s⁻¹ → 1, and through the sign
    of a product, (−yᵀ)·y·(yᵀ·y) → −(yᵀy)². [N8]"""
    m = read(node)
    if m is None or not (m.repeated() or m.numbers > 1):
        return None
    return write(m.coeff, m.merged(), m.core, node.shape, rb)


@rewrites("collect", "pow")
@identity("(2*s^3)^2 = 4*s^6", "s: scalar")
def power_of_monomial(node, rb):
    """A positive integer power of a scalar monomial is taken into its factors: (2·s)² → 4·s²,
    ((xᵀx)²)² → (xᵀx)⁴, (−s)³ → −s³, ((s·t)²)³ → (s·t)⁶.  Not (s·t)² → s²·t², which would
    write more. [N8]"""
    j = _integer_power(node)
    base = node.args[0]
    if not is_scalar(node.shape) or j is None or j < 0 or not _reads_into(base):
        return None
    if op_of(base) == "scale" and not _one_base(base):
        return None
    m = read(node)
    return None if m is None else write(m.coeff, m.merged(), None, node.shape, rb)


def _spine_head(node: Node) -> tuple:
    """(head, rights) with node = head·R₁·…·Rₖ along the left spine of its matrix products
    (rights in order of multiplication), for a non-scalar node; the head carries the scalings."""
    rights = []
    while op_of(node) == "mul" and not is_scalar(node.shape) and len(rights) < _MAX_FACTORS:
        rights.append(node.args[1])
        node = node.args[0]
    return node, rights[::-1]


@rewrites("structured", "div")
@identity("s^2*(t*A)/(4*s^3) = t*A/(4*s)", "s: scalar; t: scalar; A: matrix(m,n)")
def cancel_common_powers(node, rb):
    """A scalar's power common to a numerator and its scalar denominator cancels: s·A/s⁴ → A/s³,
    s²·t/s² → t, (xᵀx)·(4·w·xᵀ)/(xᵀx)⁴ → 4·w·xᵀ/(xᵀx)³ (the numerator's scalar factors are
    those of its leftmost factor's scalings).  Only positive powers cancel, and the denominator
    is nonzero wherever the quotient is defined. [N6]"""
    a, b = node.args
    if not is_scalar(b.shape):
        return None
    head, rights = _spine_head(a) if not is_scalar(a.shape) else (a, [])
    top, bottom = read(head), read(b)
    if top is None or bottom is None or bottom.core is not None:
        return None
    up, down = top.merged(), bottom.merged()
    common = {base: min(k, down[base]) for base, k in up.items() if k > 0 and down.get(base, 0) > 0}
    if not common:
        return None
    for base, k in common.items():
        up[base] -= k
        down[base] -= k
    num = write(top.coeff, up, top.core, head.shape, rb)
    for r in rights:
        num = rb("mul", num, r)
    den = write(bottom.coeff, down, None, b.shape, rb)
    return num if is_num(den, 1) else rb("div", num, den)
