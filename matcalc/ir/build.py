"""Checked constructors for the engine, with ``None`` standing for an exact zero.

Differentials and adjoints are mostly zero (parts that do not depend on the variable); passing
``None`` and dropping it here keeps the rule tables short.  Nothing here rewrites: that is
:mod:`matcalc.simplify`'s job.
"""
from __future__ import annotations

from typing import Optional

from matcalc.ir.nodes import PRODUCTS, Const, Node, Num, op_of, postorder
from matcalc.ir.shapes import is_scalar, make

Maybe = Optional[Node]


def num(value) -> Num:
    return Num(int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value))


def ones(shape) -> Node:
    """The all-ones array of ``shape`` (the number 1 for a scalar)."""
    return Num(1) if is_scalar(shape) else Const("fill", tuple(shape), 1)


def eye(n) -> Const:
    return Const("eye", (n, n))


def plus(a: Maybe, b: Maybe) -> Maybe:
    if a is None:
        return b
    if b is None:
        return a
    return make("add", a, b)


def minus(a: Maybe, b: Maybe) -> Maybe:
    if b is None:
        return a
    if a is None:
        return make("neg", b)
    return make("sub", a, b)


def neg(a: Maybe) -> Maybe:
    return None if a is None else make("neg", a)


def times(a: Maybe, b: Maybe) -> Maybe:
    """Matrix product (or scaling); zero if either factor is."""
    if a is None or b is None:
        return None
    return make("mul", a, b)


def emul(a: Maybe, b: Maybe) -> Maybe:
    """Elementwise product, written ``*`` when either side is a scalar."""
    if a is None or b is None:
        return None
    if is_scalar(a.shape) or is_scalar(b.shape):
        return make("mul", a, b)
    return make("hadamard", a, b)


def ediv(a: Maybe, b: Node) -> Maybe:
    """Elementwise quotient, written ``/`` when the divisor is a scalar."""
    if a is None:
        return None
    return make("div" if is_scalar(b.shape) else "ediv", a, b)


def T(a: Maybe) -> Maybe:
    """Aᵀ; the transpose of a transpose is the node itself ((Aᵀ)ᵀ = A: no step to show)."""
    if a is None:
        return None
    return a.args[0] if op_of(a) == "transpose" else make("transpose", a)


def transposed(a: Maybe) -> Maybe:
    """Aᵀ written through a product where that adds no transpose: (s·xᵀ·Bᵀ)ᵀ is s·B·x and (xᵀA)ᵀ
    is Aᵀx (scalar factors first, the matrix factors reversed, each transposed; at most one of
    them not already a transpose), (AB)ᵀ stays as it is.  The adjoint sweep passes its
    cotangents through transposes with it, so that the raw gradient reads as the simplifier
    would write it (MC 5: (AB)ᵀ = BᵀAᵀ)."""
    if a is None or op_of(a) not in PRODUCTS or is_scalar(a.shape):
        return T(a)
    scalars, factors, stack = [], [], [a]
    while stack:
        n = stack.pop()
        if op_of(n) in PRODUCTS and not is_scalar(n.shape):
            stack.extend(reversed(n.args))
        elif is_scalar(n.shape):
            scalars.append(n)
        else:
            factors.append(n)
    if sum(op_of(f) != "transpose" for f in factors) > 1:
        return T(a)
    out = None
    for f in scalars + [T(f) for f in reversed(factors)]:
        out = f if out is None else make("mul", out, f)
    return out


def inner(a: Node, b: Node) -> Node:
    """⟨A, B⟩ = tr(AᵀB), written aᵀb for column vectors, a·bᵀ for rows and a·b for scalars."""
    if is_scalar(a.shape):
        return make("mul", a, b)
    if a.shape[1] == 1:
        return make("mul", make("transpose", a), b)
    if a.shape[0] == 1:
        return make("mul", a, make("transpose", b))
    return make("tr", make("mul", make("transpose", a), b))


def apply(op: str, *args: Node) -> Node:
    return make(op, *args)


def total(terms) -> Maybe:
    """The sum of the non-zero terms."""
    out = None
    for t in terms:
        out = plus(out, t)
    return out


def broadcast(d: Maybe, shape) -> Maybe:
    """A scalar differential spread over ``shape`` (as in ``a + X`` with scalar a)."""
    if d is None or tuple(d.shape) == tuple(shape) or not is_scalar(d.shape):
        return d
    return make("mul", d, ones(shape))


def replace(root: Node, old: Node, new: Node) -> Optional[Node]:
    """``root`` with every subexpression equal to ``old`` replaced by ``new`` (sharing kept), or
    ``None`` when ``old`` does not occur in it.  Iterative, one visit per distinct node."""
    done: dict[int, Node] = {}
    found = False
    for node in postorder(root):
        if hash(node) == hash(old) and node == old:
            done[id(node)] = new
            found = True
            continue
        kids = node.children()
        if kids:
            new_kids = tuple(done[id(k)] for k in kids)
            done[id(node)] = node if all(a is b for a, b in zip(new_kids, kids)) else make(node.op, *new_kids)
        else:
            done[id(node)] = node
    return done[id(root)] if found else None
