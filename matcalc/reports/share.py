"""Sharing for every report format: repeated subexpressions become ``t1 = …`` definitions.

Done on the IR by the one sharing pass of :mod:`matcalc.printing.share` (a shared subtree is
replaced by a variable ``t1`` of its shape), so the text, LaTeX and MathML printers each print the
same definitions with no sharing logic of their own, and a report's size stays linear in the
derivation.  Structurally equal subtrees built separately count as repeats too.
"""
from __future__ import annotations

from matcalc.ir.nodes import Node, Var
from matcalc.printing.share import share


def _kind(shape) -> str:
    if tuple(shape) == (1, 1):
        return "scalar"
    return "vector" if shape[1] == 1 else "matrix"


def shared(root: Node, min_size: int = 4, taken: set = frozenset()) -> tuple[list, Node]:
    """``(definitions, root')``: definitions ``[(Var t_k, node)]`` in dependency order, and the
    root in terms of them (``([], root)`` when nothing repeats); the names avoid ``taken``
    (names already defined beside this expression)."""
    bindings, body = share(root, min_size, avoid=taken, merge_equal=True)
    return [(Var(name, node.shape, _kind(node.shape)), node) for name, node in bindings], body
