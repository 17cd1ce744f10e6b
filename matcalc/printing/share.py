"""One sharing pass for every printer: name the repeated subexpressions of a DAG, ``t1 = …``.

The engine's results are DAGs: the forward activations of an L-layer network are built once and
used by every layer of the backward chain.  Printed as a tree they grow quadratically in L.
:func:`share` names each large subexpression that is used more than once and returns

* ``bindings``: ordered ``(name, node)`` pairs ``t1, t2, …``, each node written in terms of the
  names before it (a :class:`Var` stands in for each named subexpression);
* ``root``: the expression written in terms of all the names.

Each printer prints the bindings and the root with its own rules (text ``t1 = …`` lines, LaTeX
``\\text{where}`` blocks, later MathML and code), so the sharing decision is made once, here.
Sharing is by identity (the nodes the engine built once), in one iterative postorder walk: linear
in the size of the DAG, with no recursion on its depth.
"""
from __future__ import annotations

import dataclasses
from itertools import count
from typing import Iterable, Optional

from matcalc.ir.nodes import Node, Var, postorder, variables

Bindings = list  # [(name, Node)]


def _kind(shape) -> str:
    if shape == (1, 1):
        return "scalar"
    return "vector" if shape[1] == 1 else "matrix"


def _rebuilt(node: Node, args: tuple) -> Node:
    """``node`` with new children (the same object when they are the same)."""
    if all(a is b for a, b in zip(args, node.children())):
        return node
    return dataclasses.replace(node, args=args)


def share(root: Node, min_size: int = 4, *, ratio: float = 2.0, max_depth: Optional[int] = None,
          avoid: Iterable[str] = ()) -> tuple[Bindings, Node]:
    """The repeated subexpressions of ``root`` as named bindings, and ``root`` in terms of them.

    A subexpression is named when it occurs more than once (it has several parents in the DAG),
    has children and has at least ``min_size`` nodes as a tree; and only when sharing pays, that
    is when the tree of ``root`` has more than ``ratio`` times as many nodes as its DAG (pass
    ``ratio=0`` to always share, as code generation will).  With ``max_depth``, a subexpression
    whose printed nesting would exceed ``max_depth`` levels is named too, so that no printed
    line nests deeper (TeX allows 255 grouping levels).

    Names are ``t1``, ``t2``, … in the order the bindings must be read (each uses only earlier
    ones), skipping the variables of ``root`` and the names in ``avoid``.  Returns
    ``(bindings, root)``; ``([], root)`` when nothing is named.
    """
    order = list(postorder(root))
    sizes: dict[int, int] = {}
    parents: dict[int, int] = {}
    for node in order:
        kids = node.children()
        sizes[id(node)] = 1 + sum(sizes[id(c)] for c in kids)
        for c in kids:
            parents[id(c)] = parents.get(id(c), 0) + 1
    shared: set[int] = set()
    if sizes[id(root)] > ratio * len(order):
        shared = {id(n) for n in order if n is not root and n.children() and parents.get(id(n), 0) > 1
                  and sizes[id(n)] >= min_size}
    if not shared and (max_depth is None or len(order) <= max_depth):
        return [], root

    taken = set(variables(root)) | set(avoid)
    names = (f"t{i}" for i in count(1) if f"t{i}" not in taken)
    rebuilt: dict[int, Node] = {}
    depth: dict[int, int] = {}   # nesting of the node as printed in its binding (a name has 0)
    bindings: Bindings = []
    for node in order:
        kids = node.children()
        new = _rebuilt(node, tuple(rebuilt[id(c)] for c in kids)) if kids else node
        d = 1 + max((depth[id(c)] for c in kids), default=-1)
        if node is not root and kids and (id(node) in shared or (max_depth is not None and d >= max_depth)):
            name = next(names)
            bindings.append((name, new))
            new, d = Var(name, node.shape, _kind(node.shape)), 0
        rebuilt[id(node)] = new
        depth[id(node)] = d
    return bindings, rebuilt[id(root)]
