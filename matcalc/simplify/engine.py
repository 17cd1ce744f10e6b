"""The simplification pass: the rules of :mod:`matcalc.simplify.normal_form`'s four phases,
applied bottom-up to a fixpoint at every node, with a recorded budget.

Rules take the node and ``rb``, the running :class:`Simplifier`: ``rb(op, *args)`` builds a
node *and* simplifies it, ``rb.facts`` answers questions about nodes (symmetric, sign,
coefficient, first factors, transpose cost) once per node, and ``rb.interior(node)`` says
whether a node is an inner link of a larger sum or product chain that is rewritten at its root.
Rules return the rewritten node, or ``None`` when they do not apply.  They never expand a
product over a sum.
"""
from __future__ import annotations

from typing import Optional

from matcalc.ir.nodes import Node, op_of, postorder, postorder_all
from matcalc.ir.shapes import make
from matcalc.simplify import canonical, collect, fold, structured  # noqa: F401  (they register the rules)
from matcalc.simplify import monomial  # noqa: F401  (last: in each phase its rules come after the others)
from matcalc.simplify.facts import Facts
from matcalc.simplify.normal_form import PHASE_RULES, PHASES, rules_for, rules_given  # noqa: F401  (PHASES re-exported)
from matcalc.simplify.terms import is_zero, matrix_product  # noqa: F401  (is_zero is public)

#: op → the rules tried on it, phase by phase (fold, canonical, collect, structured)
SIMPLIFY_RULES: dict[str, list] = {op: rules_for(op) for op in {op for table in PHASE_RULES.values() for op in table}}
_NONE: list = []
#: (op, argument ops…) → the rules that can fire there (their ``given``), filled from
#: SIMPLIFY_RULES as nodes are met (code that puts other functions into SIMPLIFY_RULES clears it)
_TRIED: dict[tuple, list] = {}
#: False: try every rule of the op, as tests/test_simplify.py does to check the ``given``s
DISPATCH = True


def rules_to_try(node: Node) -> list:
    """The rules of ``node``'s op that its arguments' ops allow (all of them if not DISPATCH)."""
    if not DISPATCH:
        return SIMPLIFY_RULES.get(op_of(node), _NONE)
    key = (node.op, *(a.op for a in getattr(node, "args", ())))
    rules = _TRIED.get(key)
    if rules is None:
        rules = _TRIED[key] = rules_given(SIMPLIFY_RULES.get(key[0], _NONE), key[1:])
    return rules


#: rules the pass applies to the whole expression before the per-node rules (not keyed by op)
PASS_RULES = (collect.shared_suffix_out,)


def budget_exhausted(node, rb):
    """The rewrite budget ran out at this node: it is returned as it stands (equal in value,
    perhaps not in normal form).  Recorded in the trace as (budget_exhausted, node, node), never
    a silent return."""
    return None


budget_exhausted.phase = "budget"


class Simplifier:
    """One simplification pass; ``trace`` (a list, or None) receives (rule function, before, after).

    ``max_depth`` bounds how deeply rules may build-and-simplify inside one another, and
    ``max_rewrites`` how many rewrites one node may take; running out of either is recorded as a
    :func:`budget_exhausted` step.
    """

    def __init__(self, trace: Optional[list] = None, max_depth: int = 200, max_rewrites: int = 100,
                 known: Optional["Fixpoints"] = None):
        self.trace = trace
        self.max_depth = max_depth
        self.max_rewrites = max_rewrites
        self.depth = 0
        self.facts = Facts(self)
        self._interior: set = set()
        self._taken: dict = {}
        #: id → node for the nodes this pass took to a fixpoint (no rule applies to them)
        self._fixed: dict = dict(known.nodes) if known is not None else {}
        #: those of them that are fixpoints in any pass (see :class:`Fixpoints`)
        self._lasting: dict = dict(known.nodes) if known is not None else {}

    def __call__(self, op: str, *args: Node) -> Node:
        if self._interior and op not in _LINKS:   # an inner link taken out of its sum or chain
            args = tuple(self._as_whole(a) if id(a) in self._interior else a for a in args)
        return self.normalize(make(op, *args))

    def _as_whole(self, node: Node) -> Node:
        """An inner link (its rules were off) that a rule takes out of its sum or chain, as in
        0 − (A + A) → −(A + A): simplified as a whole now."""
        self._interior.discard(id(node))
        self._fixed.pop(id(node), None)
        return self.normalize(node)

    def simplified(self, node: Node) -> Node:
        """``node`` (whose children are already simple) simplified."""
        return self.normalize(node)

    def interior(self, node: Node) -> bool:
        """An inner partial sum, or inner link of a product chain, of the expression being simplified."""
        return id(node) in self._interior

    def took_out(self, node: Node) -> bool:
        """Whether ``node`` is c·(sum) with the number c taken out of a sum by this pass."""
        return id(node) in self._taken

    def mark_taken_out(self, node: Node) -> None:
        self._taken[id(node)] = node

    def _budget(self, node: Node) -> Node:
        if self.trace is not None:
            self.trace.append((budget_exhausted, node, node))
        return node

    def normalize(self, node: Node) -> Node:
        """Apply the node's rules until none applies (the children are already simplified)."""
        fixed = self._fixed
        if id(node) in fixed:
            return node
        if self.depth > self.max_depth:
            return self._budget(node)
        self.depth += 1
        try:
            last = self.max_rewrites - 1
            for k in range(self.max_rewrites):
                for fn in rules_to_try(node):
                    out = fn(node, self)
                    if out is not None and out is not node:
                        if self.trace is not None:
                            self.trace.append((fn, node, out))
                        if id(out) in self._interior:   # an inner link made the whole: A + A + 0 → A + A
                            self._interior.discard(id(out))
                            fixed.pop(id(out), None)
                        node = out
                        break
                else:
                    fixed[id(node)] = node
                    if op_of(node) not in _CONTEXTUAL and id(node) not in self._interior:
                        self._lasting[id(node)] = node
                    return node
                if id(node) in fixed and k < last:
                    # the rule built its result with rb(…), which already took it to a fixpoint:
                    # trying every rule on it again would find none that applies
                    return node
            return self._budget(node)
        finally:
            self.depth -= 1

    def fixpoints(self) -> "Fixpoints":
        """The nodes this pass found in normal form that any later pass may take as they are."""
        return Fixpoints(self._lasting)

    def run(self, root: Node, simple: Optional[Node] = None) -> Node:
        """``root`` simplified bottom-up, each distinct node once.  ``simple``, if given, is a
        subexpression of ``root`` that is already the output of a pass: its nodes are taken as
        they are (simplification is idempotent), so only what lies above it is visited."""
        skip: set = set()
        done: dict[int, Node] = {}
        if simple is not None:   # a normal form, sums too: a rule that returns one of its nodes is done
            for n in postorder(simple):
                skip.add(id(n))
                done[id(n)] = n
                self._fixed[id(n)] = n
        order = list(postorder_all((root,), skip))
        interior, chained = _inner_links(order)
        if chained:
            # right-nested chains (a reverse sweep's products of Jacobians): sums whose terms all
            # end in one of them take it out before the products are associated
            new = collect.shared_suffixes_out(order, interior, self.trace)
            if new:
                root = new.get(id(root), root)
                order = list(postorder_all((root,), skip))
                interior, _ = _inner_links(order)
        self._interior = interior
        normalize = self.normalize
        kept: list = []
        for node in order:
            kids = node.children()
            new_node = node
            if kids:
                new = tuple(done[id(k)] for k in kids)
                for n, k in zip(new, kids):
                    if n is not k:
                        new_node = make(node.op, *new)
                        if id(node) in interior:
                            interior.add(id(new_node))
                            kept.append(new_node)   # held while its id marks it interior (never reused)
                        break
            done[id(node)] = normalize(new_node)
        self._interior = set()
        return done[id(root)]


def _inner_links(order: list) -> tuple[set, bool]:
    """The ids of the inner links among ``order``'s nodes: partial sums inside a sum and right
    links of a product chain, used by no other kind of parent (they are collected /
    re-associated with their whole, at its root); and whether any product chain is right-nested."""
    inner, other = set(), set()
    chained = False
    for node in order:
        kids = node.children()
        if not kids:
            continue
        op = op_of(node)
        if op in ("add", "sub") and kids[0].shape == kids[1].shape == node.shape:
            inner.update(id(k) for k in kids if op_of(k) in ("add", "sub"))
        elif op == "mul" and matrix_product(node) and matrix_product(kids[1]):
            inner.add(id(kids[1]))
            other.add(id(kids[0]))
            chained = True
        elif op == "neg" and matrix_product(kids[0]):
            inner.add(id(kids[0]))   # −(A·(B·C)): the sign goes to A before the chain is re-associated
        else:
            other.update(id(k) for k in kids)
    return inner - other, chained


#: the ops that link sums and product chains, whose inner links are rewritten at their root
_LINKS = ("add", "sub", "mul", "scale")

#: ops whose normal form depends on the pass, not only on the node: a sum is collected through
#: the c·(A ± B) this pass took out of its partial sums (``took_out``)
_CONTEXTUAL = ("add", "sub")


class Fixpoints:
    """Nodes a pass found in normal form, handed to a later pass over an expression that shares
    them (the gradient's sweep reuses df's nodes; a Hessian's df reuses the gradient's), so that
    it does not try every rule on them again.  Only nodes whose normal form depends on nothing
    but the node are kept: not an inner link of a sum or chain (``interior``, which switches
    rules off), not a sum (see ``_CONTEXTUAL``).  The table holds the nodes, so an id is never
    reused while it lives."""

    def __init__(self, nodes: Optional[dict] = None):
        self.nodes: dict = nodes if nodes is not None else {}


def _run(root: Node, trace: Optional[list], simple: Optional[Node], known: Optional[Fixpoints]) -> Node:
    rb = Simplifier(trace, known=known)
    out = rb.run(root, simple)
    if known is not None:
        known.nodes = rb._lasting
    return out


def simplify(root: Node, simple: Optional[Node] = None, known: Optional[Fixpoints] = None) -> Node:
    """``root`` rewritten by the rules to a fixpoint; equal in value, never expanded.  ``simple``:
    a subexpression already simplified by a pass, not visited again (e.g. g in ``simplify(g')``).
    ``known``: the nodes an earlier pass found in normal form (:meth:`Simplifier.fixpoints`),
    updated with this pass's."""
    return _run(root, None, simple, known)


def simplify_traced(root: Node, simple: Optional[Node] = None,
                    known: Optional[Fixpoints] = None) -> tuple[Node, list]:
    """:func:`simplify` and its trace: each rewrite as (rule function, before, after), in order."""
    trace: list = []
    return _run(root, trace, simple, known), trace


__all__ = ["PASS_RULES", "PHASES", "SIMPLIFY_RULES", "Fixpoints", "Simplifier", "budget_exhausted", "is_zero", "simplify",
           "simplify_traced"]
