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
from typing import Callable, Iterable, Optional

from matcalc.ir.nodes import Node, Var, postorder_all

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


def _postorder(roots) -> list:
    """Each distinct node (by identity) under ``roots`` once, children first; no recursion."""
    return list(postorder_all(roots))


def share(root: Node, min_size: int = 4, **options) -> tuple[Bindings, Node]:
    """The repeated subexpressions of ``root`` as named bindings, and ``root`` in terms of them.

    A subexpression is named when it occurs more than once (it has several parents in the DAG),
    has children and has at least ``min_size`` nodes as a tree; and only when sharing pays, that
    is when the tree of ``root`` has more than ``ratio`` (2) times as many nodes as its DAG.
    Names are ``t1``, ``t2``, … in the order the bindings must be read (each uses only earlier
    ones), skipping the variables of ``root``.  Returns ``(bindings, root)``; ``([], root)`` when
    nothing is named.  The options are those of :func:`share_all`.
    """
    bindings, (body,) = share_all([root], min_size, **options)
    return bindings, body


def share_all(roots, min_size: int = 4, *, ratio: float = 2.0, budget: Optional[int] = None,
              max_depth: Optional[int] = None, nesting: Optional[Callable[[Node, int], int]] = None,
              avoid: Iterable[str] = (), merge_equal: bool = False,
              known: Iterable[tuple] = ()) -> tuple[Bindings, list]:
    """:func:`share` for several expressions printed together (the lines of a derivation): one
    set of bindings, and each root in terms of them.  A root used inside another, or twice, is
    named too (and then is its name).

    - ``ratio``: share only when the trees, together, have more than ``ratio`` times as many
      nodes as their DAG (``ratio=0``: always, as code generation will want);
    - ``budget``: and only when the trees have more than ``budget`` nodes in all;
    - ``max_depth``: also name a subexpression whose printed nesting would exceed ``max_depth``
      levels, so that no printed line nests deeper (TeX allows 255 grouping levels);
      ``nesting(node, k)`` is how many levels ``node`` wraps around its k-th child when printed
      (1 if not given; 0 for a left operand printed flat, as in a + b + c);
    - ``avoid``: names not to use, besides the variables (those that would print alike);
    - ``merge_equal``: treat equal subexpressions built separately as one (hash-consing, one
      visit per node); by default sharing is by identity, the nodes the engine built once;
    - ``known``: ``(name, node)`` definitions printed already (a result's ``t1 = …``): where
      sharing happens, each occurrence of such a node (equal to it, with ``merge_equal``; else the
      node itself) is written as its name, and it is not defined again.  Definitions printed
      once: the derivation of a result uses the result's names.
    """
    roots = list(roots)
    known = [(name, node) for name, node in known]
    order = _postorder(roots)
    rep: dict[int, Node] = {}            # id(node) → the representative of its class
    reachable = {id(n) for n in order}
    if merge_equal:
        classes: dict = {}
        # the roots are walked first, so a class with a member in the roots is represented by one
        for node in _postorder(roots + [n for _, n in known]):
            key = (type(node), node._key(), tuple(id(rep[id(c)]) for c in node.children()))
            rep[id(node)] = classes.setdefault(key, node)
        order = [n for n in order if rep[id(n)] is n]
    else:
        rep = {id(n): n for n in order}
    named = {id(rep[id(n)]): name for name, n in known if id(n) in rep and id(rep[id(n)]) in reachable}
    sizes: dict[int, int] = {}
    parents: dict[int, int] = {}
    for node in order:
        kids = [rep[id(c)] for c in node.children()]
        sizes[id(node)] = 1 + sum(sizes[id(c)] for c in kids)
        if id(node) in named:
            continue                     # printed as its name: its children are not printed here
        for c in kids:
            parents[id(c)] = parents.get(id(c), 0) + 1
    tops = [rep[id(r)] for r in roots]
    for r in tops:
        parents[id(r)] = parents.get(id(r), 0) + 1
    tree = sum(sizes[id(r)] for r in tops)
    shared: set[int] = set()
    if tree > ratio * len(order) and (budget is None or tree > budget):
        shared = {id(n) for n in order if n.children() and parents.get(id(n), 0) > 1 and sizes[id(n)] >= min_size
                  and id(n) not in named}
    else:
        named = {}
    if not shared and not named and max_depth is None:
        return [], roots

    top_ids = {id(r) for r in tops}
    taken = {n.name for n in order if isinstance(n, Var)} | set(avoid) | {name for name, _ in known}
    names = (f"t{i}" for i in count(1) if f"t{i}" not in taken)
    rebuilt: dict[int, Node] = {}
    depth: dict[int, int] = {}   # nesting of the node as printed in its binding (a name has 0)
    bindings: Bindings = []
    for node in order:
        kids = [rep[id(c)] for c in node.children()]
        if id(node) in named:
            rebuilt[id(node)], depth[id(node)] = Var(named[id(node)], node.shape, _kind(node.shape)), 0
            continue
        new = _rebuilt(node, tuple(rebuilt[id(c)] for c in kids)) if kids else node
        d = max((depth[id(c)] + (1 if nesting is None else nesting(node, k)) for k, c in enumerate(kids)), default=0)
        cut = max_depth is not None and d >= max_depth and id(node) not in top_ids
        if kids and (id(node) in shared or cut):
            name = next(names)
            bindings.append((name, new))
            new, d = Var(name, node.shape, _kind(node.shape)), 0
        rebuilt[id(node)] = new
        depth[id(node)] = d
    if not bindings and not named:
        return [], roots
    return bindings, [rebuilt[id(r)] for r in tops]


def share_originals(root: Node, min_size: int = 4, **options) -> list:
    """:func:`share`'s bindings with the subexpression each name stands for written out in full:
    ``[(name, node in terms of the earlier names, node in full)]`` (what ``known`` takes)."""
    bindings, _ = share(root, min_size, **options)
    full: dict = {}
    out = []
    for name, node in bindings:
        whole = _substituted(node, full)
        full[name] = whole
        out.append((name, node, whole))
    return out


def _substituted(root: Node, full: dict) -> Node:
    """``root`` with each name in ``full`` replaced by its node (iterative, one visit per node)."""
    done: dict[int, Node] = {}
    for node in postorder_all([root]):
        if isinstance(node, Var) and node.name in full:
            done[id(node)] = full[node.name]
        elif node.children():
            done[id(node)] = _rebuilt(node, tuple(done[id(c)] for c in node.children()))
        else:
            done[id(node)] = node
    return done[id(root)]
