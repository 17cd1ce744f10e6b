"""Sharing for every report format: repeated subexpressions become ``t1 = …`` definitions.

Done on the IR (a shared subtree is replaced by a variable ``t1`` of its shape), so the text,
LaTeX and MathML printers each print the same definitions with no sharing logic of their own,
and a report's size stays linear in the derivation.  The rule for what is shared is the text
printer's (:func:`matcalc.printing.text.to_text_shared`): a subtree of at least ``min_size`` nodes
used more than once, when the tree as printed is more than twice the DAG.
"""
from __future__ import annotations

from itertools import count

from matcalc.ir.nodes import Op, Node, Var, postorder, variables


def _kind(shape) -> str:
    if tuple(shape) == (1, 1):
        return "scalar"
    return "vector" if shape[1] == 1 else "matrix"


def shared(root: Node, min_size: int = 4, taken: set = frozenset()) -> tuple[list, Node]:
    """``(definitions, root')``: definitions ``[(Var t_k, node)]`` in dependency order, and the
    root with each shared subtree replaced by its variable (``([], root)`` when nothing repeats);
    the names avoid ``taken`` (names already defined beside this expression)."""
    order = list(postorder(root))
    sizes: dict[int, int] = {}
    parents: dict[int, int] = {}
    for node in order:
        sizes[id(node)] = 1 + sum(sizes[id(c)] for c in node.children())
        for c in node.children():
            parents[id(c)] = parents.get(id(c), 0) + 1
    # structurally equal subtrees that are distinct objects count as repeats too
    by_value: dict = {}
    for node in order:
        by_value.setdefault(node, []).append(node)
    repeats = {id(n) for group in by_value.values() if len(group) > 1 for n in group}
    shared_ids = {id(n) for n in order if n is not root and n.children() and sizes[id(n)] >= min_size
                  and (parents.get(id(n), 0) > 1 or id(n) in repeats)}
    if not shared_ids or sizes[id(root)] <= 2 * len(by_value):
        return [], root
    taken = set(variables(root)) | set(taken)
    names = (f"t{i}" for i in count(1) if f"t{i}" not in taken)
    rebuilt: dict[int, Node] = {}
    named: dict = {}
    defs: list = []
    for node in order:
        kids = tuple(rebuilt[id(c)] for c in node.children())
        new = node if not kids or kids == node.children() and all(a is b for a, b in zip(kids, node.children())) \
            else Op(node.op, kids, node.shape)
        if id(node) in shared_ids:
            if node in named:
                new = named[node]
            else:
                var = Var(next(names), node.shape, _kind(node.shape))
                defs.append((var, new))
                named[node] = var
                new = var
        rebuilt[id(node)] = new
    return defs, rebuilt[id(root)]
