"""Small shared helpers of the simplifier's rules: numbers, zeros, signs, powers and scaling."""
from __future__ import annotations

from typing import Optional

from matcalc.ir.nodes import PRODUCTS, Const, Node, Num, op_of
from matcalc.ir.shapes import is_scalar

#: products whose sign is their first operand's
SIGNED_PRODUCTS = ("mul", "scale", "hadamard", "div", "ediv")
#: the ops of a node that can carry a leading minus sign (Facts.has_sign, pull_sign)
SIGNED = ("neg", "num", *SIGNED_PRODUCTS)


def is_num(node, value=None) -> bool:
    """A number (equal to ``value`` when given)."""
    return isinstance(node, Num) and (value is None or node.value == value)


def number(v):
    """``v`` as an int where it is one exactly."""
    return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v


def zero(shape) -> Node:
    return Num(0) if is_scalar(shape) else Const("fill", tuple(shape), 0)


def is_zero(node) -> bool:
    """The number 0 or an all-zero constant array."""
    return is_num(node, 0) or (isinstance(node, Const) and node.op == "fill" and node.value == 0)


def is_ones(node) -> bool:
    """The all-ones constant array."""
    return isinstance(node, Const) and node.op == "fill" and node.value == 1


def matrix_product(node: Node) -> bool:
    """A product of two non-scalar factors (a link of a matrix chain)."""
    return op_of(node) in PRODUCTS and not is_scalar(node.args[0].shape) and not is_scalar(node.args[1].shape)


def power_parts(node: Node):
    """(base, k) with node = base^k for an integer k (k = 1 for anything else)."""
    if op_of(node) == "pow" and is_num(node.args[1]) and float(node.args[1].value).is_integer():
        return node.args[0], int(node.args[1].value)
    return node, 1


def pull_sign(node: Node, rb) -> Optional[Node]:
    """``node`` without its leading minus sign, or ``None`` when it has none."""
    if not rb.facts.has_sign(node):
        return None
    spine = [node]
    while op_of(spine[-1]) in SIGNED_PRODUCTS:
        spine.append(spine[-1].args[0])
    head = spine.pop()
    out = head.args[0] if op_of(head) == "neg" else Num(number(-head.value))
    for n in reversed(spine):
        out = rb(n.op, out, n.args[1])
    return out


def scaled(c, term: Optional[Node], shape, rb) -> Node:
    """c·term, written −term, term or the number c where that is what it is."""
    c = number(c)
    if term is None:
        return Num(c)
    if c == 0:
        return zero(shape)
    if c == 1:
        return term
    if c == -1:
        return rb("neg", term)
    return rb("mul", Num(c), term)
