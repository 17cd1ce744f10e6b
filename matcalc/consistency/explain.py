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
from matcalc.ir.nodes import PRODUCTS, ELEMENTWISE, Node, Num, Var, op_of
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


def _unit(node: Node) -> tuple:
    """The pieces of a scalar product ``node`` as the scalar rules see them: (coefficient, factors)."""
    op = op_of(node)
    if op == "num":
        return float(node.value), []
    if op == "neg":
        c, fs = _unit(node.args[0])
        return -c, fs
    if op in ("mul", "scale", "hadamard") and (op in PRODUCTS or is_scalar(node.args[0].shape) or is_scalar(node.args[1].shape)):
        ca, fa = _unit(node.args[0])
        cb, fb = _unit(node.args[1])
        return ca * cb, fa + fb
    if op == "transpose" and op_of(node.args[0]) in ("mul", "scale", "neg", "num"):
        c, fs = _unit(node.args[0])
        return c, [make("transpose", f) for f in reversed(fs)]
    return 1.0, [node]


def _scalar_derivative(node: Node, x: Var) -> list:
    """d node/dx by the scalar rules: a list of (coefficient, factors), chain-rule order."""
    if not _depends(node, x):
        return []
    op = op_of(node)
    if op == "var":
        return [(1.0, [])]
    if op == "transpose":
        return _scalar_derivative(node.args[0], x)
    if op == "neg":
        return [(-c, fs) for c, fs in _scalar_derivative(node.args[0], x)]
    if op in ("add", "sub"):
        sign = -1.0 if op == "sub" else 1.0
        return _scalar_derivative(node.args[0], x) + [(sign * c, fs) for c, fs in _scalar_derivative(node.args[1], x)]
    if op == "tr":  # the trace of a number is the number
        return _scalar_derivative(node.args[0], x)
    if op in PRODUCTS or (op == "hadamard" and (is_scalar(node.args[0].shape) or is_scalar(node.args[1].shape))):
        a, b = node.args
        ca, fa = _unit(a)
        cb, fb = _unit(b)
        out = [(c * cb, fs + fb) for c, fs in _scalar_derivative(a, x)]
        out += [(ca * c, fa + fs) for c, fs in _scalar_derivative(b, x)]
        return out
    if op == "div":
        a, s = node.args
        if _depends(s, x):
            raise NotApplicable("a quotient whose divisor depends on the variable")
        return [(c, fs + [make("div", Num(1), s)]) for c, fs in _scalar_derivative(a, x)]
    if op == "pow":
        base, p = node.args
        if op_of(base) == "norm2" and op_of(p) == "num" and p.value == 2:
            base = base.args[0]         # ‖a‖² is a² for a number a
        elif not is_scalar(base.shape) and (op_of(p) != "num" or p.value < 0):
            raise NotApplicable("the inverse of a matrix (a negative matrix power) has no scalar analogue here")
        if op_of(p) != "num" or _depends(p, x):
            raise NotApplicable("a power with a variable exponent")
        k = p.value
        outer = [] if k == 1 else [base] * (int(k) - 1) if float(k).is_integer() and k > 1 else \
            [make("pow", base, Num(k - 1))]
        return [(k * c, outer + fs) for c, fs in _scalar_derivative(base, x)]
    if op in ELEMENTWISE and is_scalar(node.shape):
        outer = _outer_derivative(node)
        return [(c, ([outer] if outer is not None else []) + fs) for c, fs in _scalar_derivative(node.args[0], x)
                if outer is not None]
    names = {"det": "the determinant", "logdet": "log det", "inv": "the inverse", "hadamard": "the Hadamard product",
             "ediv": "elementwise division", "epow": "the elementwise power", "sum": "sum()", "norm1": "the 1-norm",
             "norm2": "the 2-norm (except squared)", "diag": "diag()", "softmax": "softmax", "logsumexp": "logsumexp",
             "vec": "vec()", "kron": "the Kronecker product"}
    what = names.get(op, f"{op} of a vector or matrix" if op in ELEMENTWISE else op)
    raise NotApplicable(f"{what} has no scalar analogue")


def _outer_derivative(node: Node) -> Optional[Node]:
    """f′(u) for an elementwise f of a scalar u, from the differential rules' table."""
    from matcalc.calculus.differential import _ELEMENTWISE_DERIVATIVE
    u = node.args[0]
    if node.op == "log":
        return make("div", Num(1), u)
    if node.op == "sqrt":
        return make("div", Num(1), make("mul", Num(2), node))
    return _ELEMENTWISE_DERIVATIVE[node.op](node, u)


def _depends(node: Node, x: Var) -> bool:
    from matcalc.calculus.identify import depends_on
    return depends_on(node, x)


def _collect(terms: list) -> list:
    """Like terms as real numbers (same factors up to order and transposition) are added."""
    merged: dict = {}
    for c, fs in terms:
        key = tuple(sorted(_key(f) for f in fs))
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
    adjusted = _sum(list(combos[0]))
    right = [c for c in combos if _equal(_sum(list(c)), truth, fnode)]
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
        fits = ", ".join(to_text(_sum(list(c))) for c in combos)
        only = " and ".join(to_text(_sum(list(c))) for c in right)
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
    op = op_of(node)
    if op in ("add", "sub"):
        return _count_terms(node.args[0]) + _count_terms(node.args[1])
    if op in ("mul", "scale", "hadamard"):
        return _count_terms(node.args[0]) * _count_terms(node.args[1])
    if op in ("neg", "transpose"):
        return _count_terms(node.args[0])
    return 1
