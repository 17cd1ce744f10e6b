"""The dimension-consistency shortcut (维数相容原则), worked step by step and judged honestly.

The shortcut, as the seed notes teach it:
1. treat every matrix as a real number and differentiate with scalar rules (product, chain, power);
2. check whether each term's factors form a valid matrix product of the required shape;
3. where they do not, reorder the factors and transpose some until they do.

``shortcut(f, wrt)`` does exactly that (the scalar derivative keeps the chain-rule order of the
factors, outer derivative first, as a person writes it), searches every reordering and
transposition of each term, and compares the shortcut's answer with the true derivative from
:func:`matcalc.diff`, numerically at random points and symbolically.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from matcalc.numeric.check import random_values
from matcalc.calculus.derivative import Derivative, diff
from matcalc.errors import MatcalcError
from matcalc.numeric.evaluate import evaluate
from matcalc.ir.nodes import PRODUCTS, ELEMENTWISE, Node, Num, Var, fold, op_of, postorder
from matcalc.printing.latex import to_latex
from matcalc.printing.text import to_text
from matcalc.ir.shapes import is_scalar, make
from matcalc.simplify.engine import simplify

MAX_FACTORS = 5   # reorderings × transpositions of 5 factors: 5!·2⁵ = 3840 arrangements per term
MAX_COMBINATIONS = 64


class NotApplicable(MatcalcError):
    """The shortcut has no scalar analogue for this construct."""


@dataclass
class Term:
    """One term of the scalar guess: a number times factors, in the order the rules wrote them."""

    coefficient: float
    factors: list
    problem: Optional[str] = None       # why the raw product is not consistent, if it is not
    candidates: list = field(default_factory=list)   # products of the target shape

    @property
    def consistent(self) -> bool:
        return self.problem is None

    def text(self) -> str:
        return _term_text(self.coefficient, [to_text_factor(f) for f in self.factors])


@dataclass
class ShortcutResult:
    """The shortcut's work and verdict for ∂f/∂x (x = ``wrt``)."""

    f: Node
    wrt: Var
    target: tuple
    truth: Derivative
    guess: list                          # [Term]
    adjusted: Optional[Node]
    agrees: Optional[bool]
    verdict: str                         # right, wrong, ambiguous, not applicable
    explanation: str

    @property
    def consistent(self) -> bool:
        return bool(self.guess) and all(t.consistent for t in self.guess)

    @property
    def candidates(self) -> list:
        return [t.candidates for t in self.guess]

    def guess_text(self) -> str:
        return _join_terms([t.text() for t in self.guess]) if self.guess else "—"

    def __str__(self) -> str:
        x = self.wrt.name
        lines = [f"shortcut for ∂f/∂{x}, f = {to_text(self.f)}"]
        if self.verdict == "not applicable":
            lines.append(f"  not applicable: {self.explanation}")
            return "\n".join(lines)
        lines.append(f"  step 1, scalar rules:   ∂f/∂{x} ≈ {self.guess_text()}")
        for t in self.guess:
            status = "consistent" if t.consistent else f"inconsistent: {t.problem}"
            lines.append(f"  step 2, check {t.text()}: {status}")
        for t in self.guess:
            fits = ", ".join(to_text(c) for c in t.candidates) or "none"
            lines.append(f"  step 3, arrangements of {t.text()} with shape {_shape(self.target)}: {fits}")
        lines.append(f"  shortcut's answer:      {to_text(self.adjusted) if self.adjusted is not None else '—'}")
        lines.append(f"  true derivative:        {self.truth}")
        lines.append(f"  verdict: {self.verdict} — {self.explanation}")
        return "\n".join(lines)

    def latex(self) -> str:
        guess = " + ".join(rf"{_coef_latex(t.coefficient)}{' '.join(to_latex(f) for f in t.factors)}" for t in self.guess)
        adjusted = to_latex(self.adjusted) if self.adjusted is not None else r"\text{---}"
        return (rf"\text{{guess: }} {guess} \;\to\; \text{{adjusted: }} {adjusted}"
                rf"\quad \text{{true: }} {self.truth.latex()} \quad \text{{({self.verdict})}}")

    def to_dict(self) -> dict:
        """Plain data for reports and the REPL."""
        return {
            "f": to_text(self.f), "wrt": self.wrt.name, "target": _shape(self.target),
            "guess": [{"coefficient": t.coefficient, "factors": [[to_text(f), _shape(f.shape)] for f in t.factors],
                       "consistent": t.consistent, "problem": t.problem,
                       "candidates": [to_text(c) for c in t.candidates]} for t in self.guess],
            "adjusted": to_text(self.adjusted) if self.adjusted is not None else None,
            "truth": str(self.truth), "agrees": self.agrees, "verdict": self.verdict,
            "explanation": self.explanation,
        }


# ------------------------------------------------------------------------------ printing helpers

def _shape(shape) -> str:
    return f"{shape[0]}×{shape[1]}"


def to_text_factor(node: Node) -> str:
    text = to_text(node)
    return text if op_of(node) in ("var", "transpose") or text.isalnum() or op_of(node) in ELEMENTWISE else f"({text})"


def _num_text(c) -> str:
    c = float(c)
    return str(int(c)) if c.is_integer() else repr(c)


def _term_text(c, factors: list) -> str:
    if not factors:
        return _num_text(c)
    body = "".join(factors)
    if c == 1:
        return body
    if c == -1:
        return "-" + body
    return _num_text(c) + body


def _coef_latex(c) -> str:
    return "" if c == 1 else ("-" if c == -1 else _num_text(c))


def _join_terms(texts: list) -> str:
    out = texts[0]
    for t in texts[1:]:
        out += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
    return out


# ------------------------------------------------------------------------------ step 1: scalar rules

def _strip(node: Node) -> Node:
    """As a real number, xᵀ is x."""
    while op_of(node) == "transpose":
        node = node.args[0]
    return node


def _key(node: Node) -> int:
    return hash(_strip(node))


# Factor sequences are built lazily, so that a long chain of products or calls concatenates in O(1)
# per level instead of copying its list of factors at every level: a sequence is None (empty), a
# node (one factor), a tuple of nodes, or a _Cat of two sequences, flattened once per term.

class _Cat:
    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left, self.right = left, right


def _cat(a, b):
    return b if a is None else a if b is None else _Cat(a, b)


def _flatten(seq) -> list:
    out: list = []
    stack = [seq]
    while stack:
        s = stack.pop()
        if s is None:
            continue
        if isinstance(s, _Cat):
            stack.append(s.right)
            stack.append(s.left)
        elif isinstance(s, tuple):
            out.extend(s)
        else:
            out.append(s)
    return out


def _is_unit_product(node: Node) -> bool:
    """A product the scalar rules split into factors: a matrix product, or scaling by a number."""
    op = op_of(node)
    return op in PRODUCTS


def _unit_parts(node: Node) -> tuple:
    """The arguments :func:`_unit` splits ``node`` into (none: the node is one factor)."""
    op = op_of(node)
    if op == "neg" or _is_unit_product(node) or (op == "transpose" and op_of(node.args[0]) in _UNIT_UNDER_TRANSPOSE):
        return node.args
    return ()


def _unit_of(node: Node, parts: list) -> tuple:
    """(coefficient, factor sequence) of ``node`` from those of its :func:`_unit_parts`."""
    op = op_of(node)
    if op == "num":
        return float(node.value), None
    if op == "neg":
        c, fs = parts[0]
        return -c, fs
    if op == "transpose" and parts:
        c, fs = parts[0]
        return c, tuple(make("transpose", f) for f in reversed(_flatten(fs))) or None
    if parts:
        (ca, fa), (cb, fb) = parts
        return ca * cb, _cat(fa, fb)
    return 1.0, node


_UNIT_UNDER_TRANSPOSE = ("neg", "num") + PRODUCTS


class _ScalarRules:
    """Step 1 for one f and x: the analyses it needs, each computed once per node, without recursion."""

    def __init__(self, root: Node, x: Var):
        self.depends: dict[int, bool] = {}
        for n in postorder(root):
            self.depends[id(n)] = (isinstance(n, Var) and n == x) or any(self.depends[id(c)] for c in n.children())
        self.units: dict[int, tuple] = {}

    def unit(self, node: Node) -> tuple:
        """The pieces of a scalar product ``node`` as the scalar rules see them: (coefficient, factor sequence)."""
        memo = self.units
        stack = [node]
        while stack:
            n = stack[-1]
            if id(n) in memo:
                stack.pop()
                continue
            parts = _unit_parts(n)
            todo = [p for p in parts if id(p) not in memo]
            if todo:
                stack.extend(reversed(todo))
                continue
            stack.pop()
            memo[id(n)] = _unit_of(n, [memo[id(p)] for p in parts])
        return memo[id(node)]

    def derivative(self, root: Node) -> list:
        """d root/dx by the scalar rules: a list of (coefficient, factors), chain-rule order.

        A walk from the root with an explicit stack, in the order the rules are written (so the first
        construct without a scalar analogue is the one reported). Each pending node carries its context:
        the numbers its terms are multiplied by (innermost first, as the rules multiply them), the factors
        written before its terms and those written after, and whether its terms are kept (f′ = 0 drops them).
        """
        depends = self.depends
        out: list = []
        stack = [(root, None, None, None, True)]
        while stack:
            node, scale, pre, post, keep = stack.pop()
            if not depends[id(node)]:
                continue
            op = op_of(node)
            if op == "var":
                if keep:
                    c = 1.0
                    while scale is not None:
                        m, scale = scale
                        c = c * m
                    out.append((c, _flatten(_cat(pre, post))))
            elif op in ("transpose", "tr"):  # the trace of a number is the number
                stack.append((node.args[0], scale, pre, post, keep))
            elif op == "neg":
                stack.append((node.args[0], (-1.0, scale), pre, post, keep))
            elif op in ("add", "sub"):
                stack.append((node.args[1], (-1.0, scale) if op == "sub" else scale, pre, post, keep))
                stack.append((node.args[0], scale, pre, post, keep))
            elif _is_unit_product(node):
                a, b = node.args
                ca, fa = self.unit(a)
                cb, fb = self.unit(b)
                stack.append((b, (ca, scale), _cat(pre, fa), post, keep))
                stack.append((a, (cb, scale), pre, _cat(fb, post), keep))
            elif op == "div":
                a, s = node.args
                if depends[id(s)]:
                    raise NotApplicable("a quotient whose divisor depends on the variable")
                stack.append((a, scale, pre, _cat(make("div", Num(1), s), post), keep))
            elif op == "pow":
                base, p = node.args
                if op_of(base) == "norm2" and op_of(p) == "num" and p.value == 2:
                    base = base.args[0]         # ‖a‖² is a² for a number a
                elif not is_scalar(base.shape) and (op_of(p) != "num" or p.value < 0):
                    raise NotApplicable("the inverse of a matrix (a negative matrix power) has no scalar analogue here")
                if op_of(p) != "num" or depends[id(p)]:
                    raise NotApplicable("a power with a variable exponent")
                k = p.value
                outer = () if k == 1 else (base,) * (int(k) - 1) if float(k).is_integer() and k > 1 else \
                    (make("pow", base, Num(k - 1)),)
                stack.append((base, (k, scale), _cat(pre, outer or None), post, keep))
            elif op in ELEMENTWISE and is_scalar(node.shape):
                outer = _outer_derivative(node)
                stack.append((node.args[0], scale, _cat(pre, outer), post, keep and outer is not None))
            else:
                what = _NO_ANALOGUE.get(op, f"{op} of a vector or matrix" if op in ELEMENTWISE else op)
                raise NotApplicable(f"{what} has no scalar analogue")
        return out


_NO_ANALOGUE = {
    "det": "the determinant", "logdet": "log det", "inv": "the inverse", "hadamard": "the Hadamard product",
    "ediv": "elementwise division", "epow": "the elementwise power", "sum": "sum()", "norm1": "the 1-norm",
    "norm2": "the 2-norm (except squared)", "diag": "diag()", "softmax": "softmax", "logsumexp": "logsumexp",
    "vec": "vec()", "kron": "the Kronecker product"}


def _scalar_derivative(node: Node, x: Var) -> list:
    """d node/dx by the scalar rules: a list of (coefficient, factors), chain-rule order."""
    return _ScalarRules(node, x).derivative(node)


def _outer_derivative(node: Node) -> Optional[Node]:
    """f′(u) for an elementwise f of a scalar u, from the differential rules' table."""
    from matcalc.calculus.differential import _ELEMENTWISE_DERIVATIVE
    u = node.args[0]
    if node.op == "log":
        return make("div", Num(1), u)
    if node.op == "sqrt":
        return make("div", Num(1), make("mul", Num(2), node))
    return _ELEMENTWISE_DERIVATIVE[node.op](node, u)


def _collect(terms: list) -> list:
    """Like terms as real numbers (same factors up to order and transposition) are added."""
    merged: dict = {}
    key_of: dict[int, int] = {}     # _key of each distinct factor, computed once
    for c, fs in terms:
        by_id = dict(zip(map(id, fs), fs))
        for i in by_id.keys() - key_of.keys():
            key_of[i] = _key(by_id[i])
        key = tuple(sorted(map(key_of.__getitem__, map(id, fs))))
        if key in merged:
            merged[key] = (merged[key][0] + c, merged[key][1])
        else:
            merged[key] = (c, fs)
    return [Term(c, fs) for c, fs in merged.values() if c != 0]


# ------------------------------------------------------------------------------ steps 2 and 3

def _product(factors: list) -> Node:
    """The factors multiplied in order (make raises ShapeError when they do not fit)."""
    out = factors[0]
    for f in factors[1:]:
        out = make("mul", out, f)
    return out


def _problem(factors: list, target) -> Optional[str]:
    """Why the product of ``factors`` is not a valid matrix of shape ``target`` (None if it is)."""
    matrices = [f for f in factors if not is_scalar(f.shape)]
    if not matrices:
        return None if is_scalar(target) else f"the term is a scalar, but ∂f/∂x must be {_shape(target)}"
    shape = matrices[0].shape
    for f in matrices[1:]:
        if shape[1] != f.shape[0]:
            left = to_text_factor(matrices[0]) if shape == matrices[0].shape else "the product so far"
            return (f"{left} is {_shape(shape)} and {to_text_factor(f)} is {_shape(f.shape)}: "
                    "the product is undefined")
        shape = (shape[0], f.shape[1])
    if shape != target:
        return f"the product is {_shape(shape)}, but ∂f/∂x must be {_shape(target)}"
    return None


def _arrangements(term: Term, target) -> list:
    """Every reordering and transposition of the term's matrix factors giving the target shape."""
    scalars = [f for f in term.factors if is_scalar(f.shape)]
    matrices = [f for f in term.factors if not is_scalar(f.shape)]
    if len(matrices) > MAX_FACTORS:
        raise NotApplicable(f"a term with more than {MAX_FACTORS} matrix factors (too many arrangements to search)")
    found: dict = {}
    for order in itertools.permutations(range(len(matrices))):
        for flips in itertools.product((False, True), repeat=len(matrices)):
            fs = [make("transpose", matrices[i]) if t else matrices[i] for i, t in zip(order, flips)]
            if _problem(fs, target) is not None:
                continue
            node = simplify(_scaled(term.coefficient, scalars + fs))
            cost = (sum(flips), sum(abs(i - j) for j, i in enumerate(order)))
            if node not in found or cost < found[node]:
                found[node] = cost
    if not matrices and is_scalar(target):
        found[simplify(_scaled(term.coefficient, scalars))] = (0, 0)
    return [n for n, _ in sorted(found.items(), key=lambda kv: kv[1])]


def _scaled(c, factors: list) -> Node:
    num = Num(int(c) if float(c).is_integer() else float(c))
    if not factors:
        return num
    body = _product(factors)
    return body if c == 1 else make("mul", num, body)


def _sum(nodes: list) -> Node:
    out = nodes[0]
    for n in nodes[1:]:
        out = make("add", out, n)
    return simplify(out)


# ------------------------------------------------------------------------------ the verdict

def _equal(a: Node, truth: Derivative, f: Node, seed: int = 0) -> bool:
    """Numerically equal at two random points (positive ones where f needs them)."""
    rng = np.random.default_rng(seed)
    for _ in range(2):
        for positive in (False, True):
            vals = random_values(f, rng, positive)
            try:
                want = np.asarray(truth.evaluate(vals), dtype=float)
                got = np.asarray(evaluate(a, vals), dtype=float)
            except MatcalcError:
                continue
            if np.all(np.isfinite(want)):
                break
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-8, atol=1e-10):
            return False
    return True


def shortcut(f, wrt, decls=None) -> ShortcutResult:
    """Work the dimension-consistency shortcut for ∂f/∂wrt and judge it against the truth."""
    truth = diff(f, wrt, decls)
    fnode, x = truth.f.node, truth.wrt
    target = x.shape

    def result(guess, adjusted, agrees, verdict, explanation):
        return ShortcutResult(fnode, x, target, truth, guess, adjusted, agrees, verdict, explanation)

    if not is_scalar(fnode.shape):
        return result([], None, None, "not applicable",
                      "the principle fixes the shape of ∂f/∂x for a scalar f only; f here is not a scalar")
    try:
        guess = _collect(_scalar_derivative(fnode, x))
    except NotApplicable as why:
        return result([], None, None, "not applicable", why.message)
    if not guess:
        zero = truth.form == "zero"
        return result([], None, True if zero else None, "right" if zero else "not applicable",
                      "f does not depend on x: both give 0")
    for term in guess:
        term.problem = _problem(term.factors, target)
        try:
            term.candidates = _arrangements(term, target)
        except NotApplicable as why:
            return result(guess, None, None, "not applicable", why.message)
    if any(not t.candidates for t in guess):
        bad = next(t for t in guess if not t.candidates)
        adjusted = None
        return result(guess, adjusted, False, "wrong",
                      f"no reordering or transposition of {bad.text()} has the shape {_shape(target)}: "
                      "the shortcut cannot produce an answer")
    combos = list(itertools.islice(itertools.product(*(t.candidates for t in guess)), MAX_COMBINATIONS))
    sums = [_sum(list(c)) for c in combos]   # each simplified once
    adjusted = sums[0]
    right = [s for s in sums if _equal(s, truth, fnode)]
    n_fits = 1
    for t in guess:
        n_fits *= len(t.candidates)
    symbolic = truth.node is not None and adjusted == truth.node
    if n_fits == 1:
        if right:
            how = "identical to the true derivative" if symbolic else "equal to the true derivative at random inputs"
            return result(guess, adjusted, True, "right",
                          f"one arrangement fits the shape {_shape(target)}, and it is {how}")
        return result(guess, adjusted, False, "wrong", _why_wrong(guess, truth))
    if len(right) == len(combos) and n_fits <= MAX_COMBINATIONS:
        return result(guess, adjusted, True, "right",
                      f"{n_fits} arrangements fit the shape {_shape(target)}, and all of them are equal here")
    if right:
        fits = ", ".join(to_text(s) for s in sums)
        only = " and ".join(to_text(s) for s in right)
        return result(guess, adjusted, None, "ambiguous",
                      f"{n_fits} arrangements fit the shape {_shape(target)} ({fits}); only {only} "
                      f"{'is' if len(right) == 1 else 'are'} right, and the shapes alone cannot tell which"
                      + _square_note(guess))
    return result(guess, adjusted, False, "wrong",
                  f"{n_fits} arrangements fit the shape {_shape(target)}, and none of them is right: "
                  + _why_wrong(guess, truth))


def _square_note(guess) -> str:
    squares = {to_text(f) for t in guess for f in t.factors if not is_scalar(f.shape) and f.shape[0] == f.shape[1]}
    return f" (square factors such as {', '.join(sorted(squares))} fit either way round)" if squares else ""


def _why_wrong(guess: list, truth: Derivative) -> str:
    n_true = _count_terms(truth.node) if truth.node is not None else None
    if n_true is not None and n_true > len(guess):
        return (f"the scalar rules merged terms that differ only in the order of non-commuting factors "
                f"(as numbers, xᵀAx = Ax²), so {len(guess)} term{'s remain' if len(guess) > 1 else ' remains'} where the true "
                f"derivative {truth} has {n_true}: the scalar rule loses the order of the factors")
    return f"the arrangement that fits the shape is not the derivative: the true one is {truth}"


def _count_terms(node: Node) -> int:
    """Terms of a sum, counting factored sums as expanded: (A + Aᵀ)x counts 2."""
    def visit(n: Node, kids: tuple) -> int:
        op = op_of(n)
        if op in ("add", "sub"):
            return kids[0] + kids[1]
        if op in PRODUCTS or op == "hadamard":
            return kids[0] * kids[1]
        if op in ("neg", "transpose"):
            return kids[0]
        return 1
    return fold(node, visit)
