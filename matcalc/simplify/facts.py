"""Per-node analyses the rules ask about, each computed once per node and without recursion.

The rules keep asking the same questions of the same nodes (is it symmetric, what is its
number coefficient, does it carry a sign, what is its first factor).  Answering by walking the
expression each time made long products cost their length per question, and recursion made
400 nested ``inv(A + …)`` overflow the stack.  :class:`Facts` belongs to one simplification
pass (no cache on the nodes, no global state); its memo tables are keyed by node identity and
hold the node, so an identity is never reused while the pass runs.
"""
from __future__ import annotations

import weakref
from typing import Callable, Optional

from matcalc.ir.nodes import PRODUCTS, Node, Num, op_of
from matcalc.ir.shapes import is_scalar, make
from matcalc.simplify.terms import SIGNED_PRODUCTS, is_num


class Facts:
    """symmetric, transpose cost, leading sign, number coefficient and leading factors of nodes."""

    def __init__(self, rb):
        # a weak reference: the Simplifier holds its Facts, and a cycle between them would keep
        # both (and every memo table) alive until the cycle collector runs, which ``diff``
        # pauses; so a finished pass is freed at once by reference counting
        self.rb = weakref.proxy(rb)
        self._memo: dict[str, dict] = {k: {} for k in ("sym", "cost", "sign", "split", "lead", "left")}

    # -------------------------------------------------------------- spine facts (left spine)

    def _spine(self, name: str, node: Node, local: Callable, combine: Optional[Callable] = None):
        """A fact defined down one path of children: ``local(n)`` gives ("done", value) or
        ("down", child); ``combine(n, value_of_child)`` lifts a child's value (default: same)."""
        memo = self._memo[name]
        path, n = [], node
        while True:
            hit = memo.get(id(n))
            if hit is not None:
                val = hit[1]
                break
            kind, x = local(n)
            if kind == "done":
                val = x
                memo[id(n)] = (n, val)
                break
            path.append(n)
            n = x
        for p in reversed(path):
            if combine is not None:
                val = combine(p, val)
            memo[id(p)] = (p, val)
        return val

    def has_sign(self, node: Node) -> bool:
        """A leading minus sign: on ``node``, or on the leftmost factor of its product."""
        def local(n):
            op = op_of(n)
            if op in SIGNED_PRODUCTS:
                return "down", n.args[0]
            return "done", op == "neg" or (op == "num" and n.value < 0)
        return self._spine("sign", node, local)

    def lead(self, node: Node) -> Optional[Node]:
        """The leading non-number scalar factor of a matrix product, or None."""
        def local(n):
            if op_of(n) not in PRODUCTS or is_scalar(n.shape):
                return "done", None
            a = n.args[0]
            if is_scalar(a.shape) and not is_num(a):
                return "done", a
            return "down", a
        return self._spine("lead", node, local)

    def _left_first(self, node: Node) -> Optional[Node]:
        def local(n):
            if op_of(n) not in PRODUCTS or is_scalar(n.shape) or is_scalar(n.args[1].shape):
                return "done", None
            a, b = n.args
            if is_scalar(a.shape):
                inner = self._left_first(b)
                return "done", b if inner is None else inner
            if op_of(a) in PRODUCTS and not is_scalar(a.shape) and not is_scalar(a.args[1].shape):
                return "down", a
            return "done", a
        return self._spine("left", node, local)

    def left(self, node: Node) -> Optional[tuple]:
        """(first matrix factor, shape of the rest) of a product: A·B·C gives (A, shape of B·C),
        s·A gives (A, scalar) and s·(A·B) gives (A, shape of B); None if it has none."""
        first = self._left_first(node)
        if first is None:
            return None
        a, b = node.args
        if is_scalar(a.shape) and first is b:
            return first, a.shape
        return first, (first.shape[1], node.shape[1])

    def split(self, node: Node) -> tuple:
        """(c, term) with node = c·term for a number c; term is None when node is the number c."""
        rb = self.rb

        def local(n):
            op = op_of(n)
            if op == "num":
                return "done", (n.value, None)
            if op == "neg":
                return "down", n.args[0]
            if op in PRODUCTS and is_num(n.args[0]):
                return "down", n.args[1]
            if op in ("mul", "scale", "div") and not is_num(n.args[0]):
                return "down", n.args[0]
            return "done", (1, n)

        def combine(n, val):
            c, t = val
            op = op_of(n)
            if op == "neg":
                return -c, t
            if op in PRODUCTS and is_num(n.args[0]):
                return n.args[0].value * c, t
            if c != 1 and op == "div":   # (c·A)/s = c·(A/s)
                return c, (rb("div", Num(1), n.args[1]) if t is None else rb("div", t, n.args[1]))
            if c != 1:
                return c, (n.args[1] if t is None else rb("mul", t, n.args[1]))
            return 1, n
        return self._spine("split", node, local, combine)

    # -------------------------------------------------------------- facts of whole subtrees

    def symmetric(self, node: Node) -> bool:
        """Known to equal its own transpose: scalars, I, square constants, symmetric variables,
        diag(x), AᵀA and AAᵀ, and what inv, −, /, powers, ⊙, scaling and sums keep symmetric."""
        memo = self._memo["sym"]
        if node.shape[0] != node.shape[1]:   # a non-square matrix is never its own transpose
            return False
        stack = [node]
        while stack:
            n = stack[-1]
            if id(n) in memo:
                stack.pop()
                continue
            needs = _symmetry_needs(n)
            missing = [c for c in needs if id(c) not in memo]
            if missing:
                stack.extend(missing)
                continue
            memo[id(n)] = (n, self._symmetric_here(n, needs))
            stack.pop()
        return memo[id(node)][1]

    def _symmetric_here(self, n: Node, needs: list) -> bool:
        memo = self._memo["sym"]
        op = op_of(n)
        if is_scalar(n.shape) or op == "eye" or (op == "fill" and n.shape[0] == n.shape[1]):
            return True
        if op == "var":
            return n.kind == "symmetric"
        if op == "diag":
            return n.args[0].shape[1] == 1
        if op in PRODUCTS and not is_scalar(n.args[0].shape):  # AᵀA, AAᵀ, palindromes L·M·Lᵀ
            a, b = n.args
            if (op_of(a) == "transpose" and a.args[0] == b) or (op_of(b) == "transpose" and b.args[0] == a):
                return True
            return any(all(self._palindrome(c) for c in chains) for chains in _chain_choices(n))
        if op in ("add", "sub") and _is_sum(n):
            terms = signed_parts(n)
            if any(t is n for _, t in terms):
                return False
            pool: dict = {}
            for s, t in terms:
                if memo[id(t)][1]:
                    continue
                partner = t.args[0] if op_of(t) == "transpose" else make("transpose", t)
                if pool.get((s, partner), 0) > 0:
                    pool[(s, partner)] -= 1
                else:
                    pool[(s, t)] = pool.get((s, t), 0) + 1
            return not any(pool.values())
        if not needs:
            return False
        return all(memo[id(c)][1] for c in needs)

    def _palindrome(self, factors: list) -> bool:
        """F₁·…·Fₖ with Fₖ₊₁₋ᵢ = Fᵢᵀ for every i (the middle factor symmetric): a symmetric product."""
        memo = self._memo["sym"]
        i, j = 0, len(factors) - 1
        while i <= j:
            f, g = factors[i], factors[j]
            if i == j or f == g:
                hit = memo.get(id(f))
                if not (hit and hit[1]) and not (op_of(g) == "transpose" and g.args[0] == f):
                    return False
            elif not ((op_of(g) == "transpose" and g.args[0] == f) or (op_of(f) == "transpose" and f.args[0] == g)):
                return False
            i, j = i + 1, j - 1
        return True

    def transpose_cost(self, node: Node) -> int:
        """How many transposes writing ``node``ᵀ takes once pushed inward: 0 for Aᵀ, symmetric A
        and constants, the sum over the factors of a product ((AB)ᵀ = BᵀAᵀ), 1 otherwise."""
        memo = self._memo["cost"]
        stack = [node]
        while stack:
            n = stack[-1]
            if id(n) in memo:
                stack.pop()
                continue
            op = op_of(n)
            if op in ("transpose", "fill") or self.symmetric(n):
                memo[id(n)] = (n, 0)
                stack.pop()
                continue
            kids = n.args if op in PRODUCTS else (n.args[:1] if op == "neg" else ())
            missing = [c for c in kids if id(c) not in memo]
            if missing:
                stack.extend(missing)
                continue
            memo[id(n)] = (n, sum(memo[id(c)][1] for c in kids) if kids else 1)
            stack.pop()
        return memo[id(node)][1]


def _is_sum(n: Node) -> bool:
    return op_of(n) in ("add", "sub")


def signed_parts(node: Node) -> list:
    """A sum as [(sign, term)] through +, − and unary minus."""
    out, stack = [], [(1, node)]
    while stack:
        sign, n = stack.pop()
        if _is_sum(n):
            stack += [(-sign if n.op == "sub" else sign, n.args[1]), (sign, n.args[0])]
        elif op_of(n) == "neg":
            stack.append((-sign, n.args[0]))
        else:
            out.append((sign, n))
    return out


_CHAIN = 24


def _chain(node: Node) -> Optional[list]:
    """The matrix factors of a product, scalars and identities left out (None if over _CHAIN long)."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if op_of(n) in PRODUCTS:
            a, b = n.args
            stack += [x for x in (b, a) if not is_scalar(x.shape)]
        elif op_of(n) != "eye":
            out.append(n)
        if len(out) + len(stack) > _CHAIN:
            return None
    return out


def _chain_choices(n: Node) -> list:
    """Ways to read ``n`` as products to test for palindromes: its chain; and, when one factor is a
    sum, the chains of each term with that factor replaced by it (L·(M₁ + M₂)·R is symmetric when
    every L·Mᵢ·R is).  A list of lists of chains."""
    chain = _chain(n)
    if chain is None:
        return []
    choices = [[chain]]
    for k, f in enumerate(chain):
        if _is_sum(f):
            parts = signed_parts(f)
            if len(parts) > 8:
                break
            chains = []
            for _, t in parts:
                sub = _chain(t) if op_of(t) in PRODUCTS else ([] if op_of(t) == "eye" else [t])
                if sub is None:
                    break
                chains.append(chain[:k] + sub + chain[k + 1:])
            else:
                choices.append(chains)
            break
    return choices


def _symmetry_needs(n: Node) -> list:
    """The nodes whose symmetry decides ``n``'s."""
    op = op_of(n)
    if is_scalar(n.shape) or not isinstance(n, Node) or op in ("var", "num", "eye", "fill", "diag"):
        return []
    if op in ("inv", "neg", "div") or (op == "pow" and not is_scalar(n.shape)):
        return [n.args[0]]
    if op in ("add", "sub"):
        return [t for _, t in signed_parts(n) if t is not n] if _is_sum(n) else []
    if op == "hadamard":
        return list(n.args)
    if op in PRODUCTS and is_scalar(n.args[0].shape):
        return [n.args[1]]
    if op in PRODUCTS:   # the factors a palindrome test looks at
        seen, out = set(), []
        for chains in _chain_choices(n):
            for chain in chains:
                for f in chain:
                    if id(f) not in seen and f is not n:
                        seen.add(id(f))
                        out.append(f)
        return out
    return []
