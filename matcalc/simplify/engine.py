"""Simplification: named rewrite rules, each stating its identity, applied bottom-up to a fixpoint.

The rules fold constants, remove identities, normalise signs (a product's sign sits on its
leftmost factor, as the parser reads ``-a*b``), push transposes inward where that does not add
transposes, collect like terms and factor common factors.  They never expand a product over a
sum.  Each rule takes the node and ``rb`` (which builds a new node *and* simplifies it) and
returns the rewritten node, or ``None`` when it does not apply.
"""
from __future__ import annotations

from typing import Callable, Optional

from matcalc.derivation import identity
from matcalc.ir.nodes import Const, Node, Num, op_of, postorder
from matcalc.ir.shapes import is_scalar, make
from matcalc.tables import registrar

SIMPLIFY_RULES: dict[str, list[Callable]] = {}


rewrites = registrar(SIMPLIFY_RULES, many=True)


def _num(node, value=None) -> bool:
    return isinstance(node, Num) and (value is None or node.value == value)


def _number(v):
    return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v


def _zero(shape) -> Node:
    return Num(0) if is_scalar(shape) else Const("fill", tuple(shape), 0)


def is_zero(node) -> bool:
    """The number 0 or an all-zero constant array."""
    return _num(node, 0) or (isinstance(node, Const) and node.op == "fill" and node.value == 0)


def _symmetric(node) -> bool:
    """Known to equal its own transpose."""
    op = op_of(node)
    if is_scalar(node.shape) or op == "eye" or (op == "fill" and node.shape[0] == node.shape[1]):
        return True
    if op == "var":
        return node.kind == "symmetric"
    if op == "diag":
        return node.args[0].shape[1] == 1
    if op in ("inv", "neg", "div") or (op == "pow" and not is_scalar(node.shape)):
        return _symmetric(node.args[0])
    if op in ("add", "sub"):
        return _symmetric_sum(node)
    if op == "hadamard":
        return _symmetric(node.args[0]) and _symmetric(node.args[1])
    if op == "mul" and is_scalar(node.args[0].shape):
        return _symmetric(node.args[1])
    if op == "mul":  # AᵀA and AAᵀ
        a, b = node.args
        return (op_of(a) == "transpose" and a.args[0] == b) or (op_of(b) == "transpose" and b.args[0] == a)
    return False


def _symmetric_sum(node: Node) -> bool:
    """A sum is symmetric when each term is, or comes with its transpose and the same sign (A + Aᵀ)."""
    terms, stack = [], [(1, node)]
    while stack:
        sign, n = stack.pop()
        if op_of(n) in ("add", "sub") and n.args[0].shape == n.args[1].shape == n.shape:
            stack += [(sign, n.args[0]), (-sign if n.op == "sub" else sign, n.args[1])]
        elif op_of(n) == "neg":
            stack.append((-sign, n.args[0]))
        else:
            terms.append((sign, n))
    if any(t is node for _, t in terms):  # a broadcast (scalar + matrix): not looked into
        return False
    unmatched = [(s, t) for s, t in terms if not _symmetric(t)]
    while unmatched:
        s, t = unmatched.pop()
        partner = next((k for k, (s2, t2) in enumerate(unmatched) if s2 == s and (
            (op_of(t2) == "transpose" and t2.args[0] == t) or (op_of(t) == "transpose" and t.args[0] == t2))), None)
        if partner is None:
            return False
        unmatched.pop(partner)
    return True


# ------------------------------------------------------------------------------ constants

_FOLD = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "hadamard": lambda a, b: a * b, "neg": lambda a: -a,
}


@rewrites("add", "sub", "mul", "hadamard", "neg")
@identity("2*3 = 6")
def fold_numbers(node, rb):
    """Arithmetic on numbers is done: 2*3 → 6."""
    if all(_num(a) for a in node.args):
        return Num(_number(_FOLD[node.op](*(a.value for a in node.args))))
    return None


@rewrites("div")
@identity("6/3 = 2")
def fold_division(node, rb):
    """a/b of numbers is done when exact: 6/3 → 2; a/1 → a; 0/b → 0."""
    a, b = node.args
    if _num(b, 1):
        return a
    if is_zero(a):
        return a
    if _num(a) and _num(b) and b.value != 0 and (a.value / b.value) * b.value == a.value:
        return Num(_number(a.value / b.value))
    return None


@rewrites("div")
@identity("(6*A)/3 = 2*A", "A: matrix(m,n)")
def divide_coefficient(node, rb):
    """(c·A)/d → (c/d)·A for numbers c, d when exact: (2A)/2 → A."""
    a, b = node.args
    if not _num(b) or b.value == 0:
        return None
    c, t = _split(a, rb)
    if c != 1 and t is not None and (c / b.value) * b.value == c and (c / b.value) != c:
        return _scaled(c / b.value, t, node.shape, rb)
    return None


@rewrites("pow", "epow")
@identity("A^1 = A", "A: matrix(n,n)")
def power_of_one(node, rb):
    """a^1 → a; a.^1 → a."""
    return node.args[0] if _num(node.args[1], 1) else None


# ------------------------------------------------------------------------------ signs

@rewrites("neg")
@identity("-(-A) = A", "A: matrix(m,n)")
def neg_neg(node, rb):
    """−(−a) → a."""
    a = node.args[0]
    return a.args[0] if op_of(a) == "neg" else None


@rewrites("neg")
@identity("-matrix(2) = -2*matrix(1)")
def neg_of_number(node, rb):
    """−(c) → the number −c; −0 → 0."""
    a = node.args[0]
    if is_zero(a):
        return a
    if isinstance(a, Const) and a.op == "fill":
        return Const("fill", a.shape, _number(-a.value))
    return None


def _pull_sign(node: Node, rb) -> Optional[Node]:
    """``node`` without its leading minus sign, or ``None`` when it has none."""
    op = op_of(node)
    if op == "neg":
        return node.args[0]
    if op == "num" and node.value < 0:
        return Num(_number(-node.value))
    if op in ("mul", "hadamard", "div", "ediv"):
        inner = _pull_sign(node.args[0], rb)
        if inner is not None:
            return rb(op, inner, node.args[1])
    return None


@rewrites("neg")
@identity("-(A*B) = (-A)*B", "A: matrix(m,n); B: matrix(n,p)")
def neg_into_product(node, rb):
    """−(a·b) → (−a)·b: a product's sign sits on its leftmost factor, as ``-a*b`` reads."""
    a = node.args[0]
    if op_of(a) in ("mul", "hadamard", "div", "ediv"):
        return rb(a.op, rb("neg", a.args[0]), a.args[1])
    return None


@rewrites("mul", "hadamard", "div", "ediv")
@identity("A*(-B) = (-A)*B", "A: matrix(m,n); B: matrix(n,p)")
def sign_to_the_left(node, rb):
    """a·(−b) → (−a)·b."""
    a, b = node.args
    inner = _pull_sign(b, rb)
    if inner is None:
        return None
    return rb(node.op, rb("neg", a), inner)


# ------------------------------------------------------------------------------ identities

@rewrites("mul")
@identity("eye*A = A", "A: matrix(m,n)")
def multiply_by_one(node, rb):
    """1·A → A, A·1 → A, I·A → A, A·I → A."""
    a, b = node.args
    if _num(a, 1) or op_of(a) == "eye":
        return b if b.shape == node.shape else None
    if _num(b, 1) or op_of(b) == "eye":
        return a if a.shape == node.shape else None
    return None


@rewrites("mul", "hadamard")
@identity("0*A = matrix(0)", "A: matrix(m,n)")
def multiply_by_zero(node, rb):
    """0·A → 0."""
    if any(is_zero(a) for a in node.args):
        return _zero(node.shape)
    return None


@rewrites("hadamard")
@identity("A .* matrix(1) = A", "A: matrix(m,n)")
def hadamard_by_ones(node, rb):
    """A ⊙ 1 → A, 1 ⊙ A → A (1 the all-ones array); c·1 ⊙ A → c·A."""
    a, b = node.args
    for x, y in ((a, b), (b, a)):
        if isinstance(x, Const) and x.op == "fill" and y.shape == node.shape:
            return y if x.value == 1 else rb("mul", Num(x.value), y)
    return None


@rewrites("hadamard")
@identity("s .* B = s*B", "s: scalar; B: matrix(m,n)")
def hadamard_of_scalars(node, rb):
    """a ⊙ B with a scalar is a·B."""
    a, b = node.args
    if is_scalar(a.shape) or is_scalar(b.shape):
        return rb("mul", a, b)
    return None


@rewrites("add", "sub")
@identity("A + 0 = A", "A: matrix(m,n)")
def add_zero(node, rb):
    """A + 0 → A, 0 + A → A, A − 0 → A, 0 − A → −A."""
    a, b = node.args
    if is_zero(b) and a.shape == node.shape:
        return a
    if is_zero(a) and b.shape == node.shape:
        return b if node.op == "add" else rb("neg", b)
    return None


@rewrites("mul")
@identity("2*matrix(3) = matrix(6)")
def scale_constant(node, rb):
    """c·1 → the constant array filled with c."""
    a, b = node.args
    if _num(a) and isinstance(b, Const) and b.op == "fill":
        value = _number(a.value * b.value)
        return Num(value) if is_scalar(b.shape) else Const("fill", b.shape, value)
    return None


@rewrites("tr")
def trace_of_scalar(node, rb):
    """tr(a) → a for a 1×1 argument."""
    return node.args[0] if is_scalar(node.args[0].shape) else None


@rewrites("sum")
@identity("sum(s) = s", "s: scalar")
def sum_of_scalar(node, rb):
    """sum(a) → a for a scalar."""
    return node.args[0] if is_scalar(node.args[0].shape) else None


# ------------------------------------------------------------------------------ coefficients

@rewrites("mul")
@identity("A*2 = 2*A", "A: matrix(m,n)")
def coefficient_first(node, rb):
    """A·c → c·A, A·(c·B) → c·A·B and c·(A·B) → (c·A)·B for a number c: coefficients lead."""
    a, b = node.args
    if _num(b) and not _num(a):
        return rb("mul", b, a)
    if op_of(b) == "mul" and _num(b.args[0]) and not _num(a):
        return rb("mul", rb("mul", b.args[0], a), b.args[1])
    if _num(a) and op_of(b) == "mul" and _num(b.args[0]):
        return rb("mul", Num(_number(a.value * b.args[0].value)), b.args[1])
    if _num(a) and op_of(b) == "mul" and not _num(b.args[0]) and not is_scalar(b.shape):
        return rb("mul", rb("mul", a, b.args[0]), b.args[1])
    if is_scalar(a.shape) and op_of(b) == "mul" and not is_scalar(b.shape) and not is_scalar(b.args[0].shape) \
            and not is_scalar(b.args[1].shape):  # s·(A·B) → (s·A)·B for a scalar s
        return rb("mul", rb("mul", a, b.args[0]), b.args[1])
    return None


@rewrites("mul")
@identity("A*(s*B) = s*A*B", "A: matrix(m,n); s: scalar; B: matrix(n,p)")
def scalar_factor_first(node, rb):
    """A·(s·B) → s·A·B for a scalar s and non-scalar A, B (scalars commute)."""
    a, b = node.args
    if op_of(b) == "mul" and is_scalar(b.args[0].shape) and not is_scalar(b.args[1].shape) \
            and not is_scalar(a.shape) and not _num(b.args[0]):
        return rb("mul", rb("mul", b.args[0], a), b.args[1])
    if is_scalar(b.shape) and not is_scalar(a.shape) and not _num(b):
        return rb("mul", b, a)
    return None


# ------------------------------------------------------------------------------ transposes

def _transpose_cost(node: Node, depth: int = 0) -> int:
    """How many transposes writing ``node``ᵀ takes once pushed inward: 0 for Aᵀ, symmetric A and
    constants, the sum over the factors of a product ((AB)ᵀ = BᵀAᵀ), 1 for anything else."""
    op = op_of(node)
    if op in ("transpose", "fill") or _symmetric(node):
        return 0
    if op == "mul" and depth < 8:
        return sum(_transpose_cost(a, depth + 1) for a in node.args)
    if op == "neg" and depth < 8:
        return _transpose_cost(node.args[0], depth + 1)
    return 1


@rewrites("transpose")
@identity("A'' = A", "A: matrix(m,n)")
def transpose_of_transpose(node, rb):
    """(Aᵀ)ᵀ → A."""
    a = node.args[0]
    return a.args[0] if op_of(a) == "transpose" else None


@rewrites("transpose")
@identity("S' = S", "S: symmetric(n)")
def transpose_of_symmetric(node, rb):
    """Aᵀ → A when A is symmetric (a scalar, I, diag(x), a symmetric variable, AᵀA, …)."""
    a = node.args[0]
    if _symmetric(a):
        return a
    if isinstance(a, Const) and a.op == "fill":
        return Const("fill", node.shape, a.value)
    return None


@rewrites("transpose")
@identity("(A*B)' = B'*A'", "A: matrix(m,n); B: matrix(n,p)", "MC 5")
def transpose_inward(node, rb):
    """(AB)ᵀ → BᵀAᵀ (MC 5), (A + B)ᵀ → Aᵀ + Bᵀ, (−A)ᵀ → −Aᵀ (also a product's sign), (A ⊙ B)ᵀ → Aᵀ ⊙ Bᵀ,
    only where this adds no transpose: (2·rᵀ)ᵀ → 2·r, (xᵀA)ᵀ → Aᵀx."""
    a = node.args[0]
    op = op_of(a)
    if op == "neg":
        return rb("neg", rb("transpose", a.args[0]))
    inner = _pull_sign(a, rb)
    if inner is not None and inner.shape == a.shape:
        return rb("neg", rb("transpose", inner))
    if op in ("add", "sub", "hadamard", "ediv"):
        x, y = a.args
        if x.shape == y.shape and _transpose_cost(x) + _transpose_cost(y) <= 1:
            return rb(op, rb("transpose", x), rb("transpose", y))
        return None
    if op == "mul":
        x, y = a.args
        if _transpose_cost(x) + _transpose_cost(y) <= 1:
            return rb("mul", rb("transpose", y), rb("transpose", x))
        return None
    if op == "inv" and op_of(a.args[0]) == "transpose":
        return rb("inv", a.args[0].args[0])
    return None


# ------------------------------------------------------------------------------ sums

def _split(node: Node, rb) -> tuple:
    """(c, term) with node = c·term, c a number, term ``None`` when node is the number c."""
    op = op_of(node)
    if op == "num":
        return node.value, None
    if op == "neg":
        c, t = _split(node.args[0], rb)
        return -c, t
    if op == "mul" and _num(node.args[0]):
        c, t = _split(node.args[1], rb)
        return node.args[0].value * c, t
    if op == "mul":
        c, t = _split(node.args[0], rb)
        if c != 1:
            return c, (node.args[1] if t is None else rb("mul", t, node.args[1]))
    return 1, node


def _scaled(c, term: Optional[Node], shape, rb) -> Node:
    c = _number(c)
    if term is None:
        return Num(c)
    if c == 0:
        return _zero(shape)
    if c == 1:
        return term
    if c == -1:
        return rb("neg", term)
    return rb("mul", Num(c), term)


def _signed_terms(node: Node, rb) -> list:
    """A sum as [(coefficient, term)], through +, − and unary minus (not through broadcasts)."""
    out, stack = [], [(1, node)]
    while stack:
        sign, n = stack.pop()
        op = op_of(n)
        if op in ("add", "sub") and n.args[0].shape == n.shape == n.args[1].shape:
            stack.append((-sign if op == "sub" else sign, n.args[1]))
            stack.append((sign, n.args[0]))
        elif op == "neg":
            stack.append((-sign, n.args[0]))
        else:
            c, t = _split(n, rb)
            out.append((sign * c, t))
    return out


def _right_factor(node: Node):
    """(rest, last factor) of a product, or None."""
    if op_of(node) == "mul" and not is_scalar(node.args[1].shape):
        return node.args[0], node.args[1]
    return None


def _left_factor(node: Node, rb):
    """(first factor, rest) of a matrix product, re-associating (AB)C as A(BC); a scalar factor s
    rides with the rest: s·(A·B) gives (A, s·B) and s·A gives (A, s)."""
    if op_of(node) != "mul":
        return None
    a, b = node.args
    if is_scalar(node.shape) or is_scalar(b.shape):
        return None
    if is_scalar(a.shape):
        inner = _left_factor(b, rb)
        return (b, a) if inner is None else (inner[0], rb("mul", a, inner[1]))
    if op_of(a) == "mul":
        inner = _left_factor(a, rb)
        if inner is not None:
            return inner[0], rb("mul", inner[1], b)
    return a, b


def _lead_scalar(node: Node, rb):
    """(s, rest) for a matrix product whose leftmost factor is a non-number scalar s, else None."""
    if op_of(node) != "mul" or is_scalar(node.shape):
        return None
    a, b = node.args
    if is_scalar(a.shape) and not _num(a):
        return a, b
    inner = _lead_scalar(a, rb) if op_of(a) == "mul" else None
    return None if inner is None else (inner[0], rb("mul", inner[1], b))


def _factor_pair(x: tuple, y: tuple, shape, rb):
    """c·A·B and d·A·C → A·(c·B + d·C) (left factor), or likewise on the right, or a common
    scalar factor s·B ± s·C → s·(B ± C); None if none."""
    (cx, tx), (cy, ty) = x, y
    sx, sy = _lead_scalar(tx, rb), _lead_scalar(ty, rb)
    if sx and sy and sx[0] == sy[0] and sx[1].shape == sy[1].shape:
        return rb("mul", sx[0], _rebuild([(cx, sx[1]), (cy, sy[1])], sx[1].shape, rb))
    rx, ry = _right_factor(tx), _right_factor(ty)
    if rx and ry and rx[1] == ry[1] and rx[0].shape == ry[0].shape:
        inner = _rebuild([(cx, rx[0]), (cy, ry[0])], rx[0].shape, rb)
        return rb("mul", inner, rx[1])
    lx, ly = _left_factor(tx, rb), _left_factor(ty, rb)
    if lx and ly and lx[0] == ly[0] and lx[1].shape == ly[1].shape:
        inner = _rebuild([(cx, lx[1]), (cy, ly[1])], lx[1].shape, rb)
        return rb("mul", lx[0], inner)
    for (c1, t1), (c2, t2), first in ((x, y, True), (y, x, False)):   # A·B ± A → A·(B ± I)
        f = _left_factor(t1, rb)
        if f and f[0] == t2 and f[1].shape[0] == f[1].shape[1] and op_of(f[1]) != "eye":
            from matcalc.ir.build import eye
            pair = [(c1, f[1]), (c2, eye(f[1].shape[0]))]
            return rb("mul", t2, _rebuild(pair if first else pair[::-1], f[1].shape, rb))
    return None


def _rebuild(terms: list, shape, rb) -> Node:
    """Σ cᵢ·tᵢ, a positive term first, written with + and −."""
    terms = [(c, t) for c, t in terms if c != 0]
    if not terms:
        return _zero(shape)
    first = next((k for k, (c, _) in enumerate(terms) if c > 0), 0)
    terms = [terms[first]] + terms[:first] + terms[first + 1:]
    c, t = terms[0]
    acc = _scaled(c, t, shape, rb)
    for c, t in terms[1:]:
        acc = rb("sub", acc, _scaled(-c, t, shape, rb)) if c < 0 else rb("add", acc, _scaled(c, t, shape, rb))
    return acc


@rewrites("add", "sub")
@identity("A*B + A*C = A*(B + C)", "A: matrix(m,n); B: matrix(n,p); C: matrix(n,p)")
def collect_sum(node, rb):
    """Σ cᵢ·Tᵢ with like terms collected (c·T + d·T → (c + d)·T, so A + A → 2A and A − A → 0)
    and common factors taken out (AB + AC → A(B + C), BA + CA → (B + C)A), over the whole sum:
    factor, never expand."""
    terms = _signed_terms(node, rb)
    merged: dict = {}
    for c, t in terms:
        key = t if t is not None else Num(0)
        merged[key] = (merged[key][0] + c, t) if key in merged else (c, t)
    items = [(c, t) for c, t in merged.values()]
    changed = len(items) != len(terms)
    again = True
    while again:
        again = False
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                if items[i][1] is None or items[j][1] is None or items[i][0] == 0 or items[j][0] == 0:
                    continue
                joint = _factor_pair(items[i], items[j], node.shape, rb)
                if joint is not None:
                    items = items[:i] + [(1, joint)] + items[i + 1:j] + items[j + 1:]
                    changed = again = True
                    break
            if again:
                break
    if not changed:
        return None
    out = _rebuild(items, node.shape, rb)
    return None if out == node else out


@rewrites("add", "sub")
@identity("A + (-B) = A - B", "A: matrix(m,n); B: matrix(m,n)")
def subtract_negative(node, rb):
    """A + (−B) → A − B, A − (−B) → A + B, (−A) + B → B − A."""
    a, b = node.args
    inner = _pull_sign(b, rb)
    if inner is not None and inner.shape == b.shape:
        return rb("sub" if node.op == "add" else "add", a, inner)
    inner = _pull_sign(a, rb)
    if node.op == "add" and inner is not None and inner.shape == a.shape and _pull_sign(b, rb) is None:
        return rb("sub", b, inner)
    return None


def _ones(node) -> bool:
    return isinstance(node, Const) and node.op == "fill" and node.value == 1


@rewrites("mul")
@identity("vector(1)'*x = sum(x)", "x: vector(n)")
def ones_inner_product(node, rb):
    """1ᵀx → sum(x) and xᵀ1 → sum(x) (1 the all-ones vector)."""
    a, b = node.args
    if not is_scalar(node.shape) or is_scalar(a.shape):
        return None
    if _ones(a):
        return rb("sum", b)
    if _ones(b):
        return rb("sum", a)
    return None


@rewrites("mul")
@identity("A*(B*C) = (A*B)*C", "A: matrix(m,n); B: matrix(n,p); C: matrix(p,q)")
def associate_left(node, rb):
    """A·(B·C) → (A·B)·C for matrix factors: products read left to right, as the parser reads A*B*C."""
    a, b = node.args
    if op_of(b) == "mul" and not is_scalar(a.shape) and not is_scalar(b.args[0].shape) \
            and not is_scalar(b.args[1].shape):
        return rb("mul", rb("mul", a, b.args[0]), b.args[1])
    return None


@rewrites("mul")
@identity("kron(A, B)*kron(C, D) = kron(A*C, B*D)", "A: matrix(m,n); B: matrix(p,q); C: matrix(n,k); D: matrix(q,l)", "MC 511")
def kron_mixed_product(node, rb):
    """(A ⊗ B)(C ⊗ D) → AC ⊗ BD when the products exist (MC 511)."""
    a, b = node.args
    inner = _pull_sign(a, rb)
    if inner is not None and op_of(inner) == "kron":
        out = kron_mixed_product(make("mul", inner, b), rb)
        return rb("neg", out) if out is not None else None
    if op_of(a) == "kron" and op_of(b) == "kron":
        (p, q), (r, t) = a.args, b.args
        if p.shape[1] == r.shape[0] and q.shape[1] == t.shape[0]:
            return rb("kron", rb("mul", p, r), rb("mul", q, t))
    if op_of(a) == "mul" and op_of(a.args[1]) == "kron" and op_of(b) == "kron":  # c·(A ⊗ B) · (C ⊗ D)
        inner = kron_mixed_product(make("mul", a.args[1], b), rb)
        return rb("mul", a.args[0], inner) if inner is not None else None
    return None


@rewrites("mul")
@identity("diag(x)*diag(y) = diag(x .* y)", "x: vector(n); y: vector(n)")
def diag_product(node, rb):
    """diag(a)·diag(b) → diag(a ⊙ b), and diag(a)·(diag(b)·C) → diag(a ⊙ b)·C, for vectors a, b."""
    a, b = node.args
    if op_of(a) != "diag" or a.args[0].shape[1] != 1:
        return None
    if op_of(b) == "diag" and b.args[0].shape[1] == 1:
        return rb("diag", rb("hadamard", a.args[0], b.args[0]))
    if op_of(b) == "mul" and op_of(b.args[0]) == "diag" and b.args[0].args[0].shape[1] == 1:
        return rb("mul", rb("diag", rb("hadamard", a.args[0], b.args[0].args[0])), b.args[1])
    return None


@rewrites("add", "sub")
@identity("A' + A = A + A'", "A: matrix(n,n)")
def plain_before_transposed(node, rb):
    """Aᵀ + A → A + Aᵀ and −Aᵀ − A → −A − Aᵀ (the untransposed term first)."""
    a, b = node.args
    if node.op == "add" and op_of(a) == "transpose" and a.args[0] == b:
        return rb("add", b, a)
    if node.op == "sub" and op_of(a) == "neg" and op_of(a.args[0]) == "transpose" and a.args[0].args[0] == b:
        return rb("sub", rb("neg", b), a.args[0])
    return None


@rewrites("hadamard")
@identity("A .* (1 ./ B) = A ./ B", "A: matrix(m,n); B: matrix(m,n)")
def hadamard_reciprocal(node, rb):
    """A ⊙ (1 ⊘ B) → A ⊘ B."""
    a, b = node.args
    if op_of(b) == "ediv" and _num(b.args[0], 1):
        return rb("ediv", a, b.args[1])
    if op_of(a) == "ediv" and _num(a.args[0], 1):
        return rb("ediv", b, a.args[1])
    return None


@rewrites("div")
@identity("(A/s)/t = A/(s*t)", "A: matrix(m,n); s: scalar; t: scalar")
def divide_twice(node, rb):
    """(A/s)/t → A/(s·t)."""
    a, t = node.args
    if op_of(a) == "div":
        return rb("div", a.args[0], rb("mul", a.args[1], t))
    return None


@rewrites("mul")
@identity("(1/s)*A = A/s", "A: matrix(m,n); s: scalar")
def reciprocal_scaling(node, rb):
    """(1/s)·A → A/s and (c/s)·A → (c·A)/s for a scalar s."""
    a, b = node.args
    if op_of(a) == "div" and _num(a.args[0]) and is_scalar(a.shape):
        c, s_ = a.args[0], a.args[1]
        return rb("div", b if c.value == 1 else rb("mul", c, b), s_)
    if op_of(b) == "div" and _num(b.args[0]) and is_scalar(b.shape) and not _num(a):
        c, s_ = b.args[0], b.args[1]
        return rb("div", a if c.value == 1 else rb("mul", c, a), s_)
    return None


@rewrites("mul")
@identity("(s*eye)*B = s*B", "s: scalar; B: matrix(m,n)")
def scaled_identity(node, rb):
    """(s·I)·B → s·B and B·(s·I) → s·B."""
    a, b = node.args
    for x, other in ((a, b), (b, a)):
        if op_of(x) == "mul" and op_of(x.args[1]) == "eye" and is_scalar(x.args[0].shape) and other.shape == node.shape:
            return rb("mul", x.args[0], other)
    return None


@rewrites("mul")
@identity("(-1)*A = -A", "A: matrix(m,n)")
def minus_one_times(node, rb):
    """(−1)·A → −A; (−I)·A → −A."""
    a, b = node.args
    if _num(a, -1) or (op_of(a) == "neg" and op_of(a.args[0]) == "eye" and b.shape == node.shape):
        return rb("neg", b)
    return None


def _power_parts(node: Node):
    """(base, k) with node = base^k for an integer k (k = 1 for anything else)."""
    if op_of(node) == "pow" and _num(node.args[1]) and float(node.args[1].value).is_integer():
        return node.args[0], int(node.args[1].value)
    return node, 1


@rewrites("mul")
@identity("A*A = A^2", "A: matrix(n,n)")
def equal_factors_to_power(node, rb):
    """A·A → A², Aᵏ·A → Aᵏ⁺¹, A·Aᵏ → Aᵏ⁺¹ (scalars and square matrices)."""
    a, b = node.args
    if a.shape != b.shape or a.shape[0] != a.shape[1]:
        return None
    (ba, ka), (bb, kb) = _power_parts(a), _power_parts(b)
    if ba == bb and not _num(ba):
        return rb("pow", ba, Num(ka + kb))
    return None


@rewrites("hadamard")
@identity("A .* A = A.^2", "A: matrix(m,n)")
def equal_factors_to_elementwise_power(node, rb):
    """A ⊙ A → A.^2."""
    a, b = node.args
    return rb("epow", a, Num(2)) if a == b and not is_scalar(a.shape) else None


@rewrites("pow")
@identity("(A')^3 = (A^3)'", "A: matrix(n,n)")
def power_of_transpose(node, rb):
    """(Aᵀ)ᵏ → (Aᵏ)ᵀ."""
    a, k = node.args
    if op_of(a) == "transpose" and not is_scalar(a.shape):
        return rb("transpose", rb("pow", a.args[0], k))
    return None


@rewrites("inv")
@identity("inv(inv(A)) = A", "A: matrix(n,n)")
def inverse_of_inverse(node, rb):
    """inv(inv(A)) → A; inv(Aᵀ) stays, inv(s) of a scalar is 1/s."""
    a = node.args[0]
    if op_of(a) == "inv":
        return a.args[0]
    if is_scalar(a.shape):
        return rb("div", Num(1), a)
    return None


@rewrites("kron")
@identity("kron(-A, B) = -kron(A, B)", "A: matrix(m,n); B: matrix(p,q)")
def kron_sign(node, rb):
    """(−A) ⊗ B → −(A ⊗ B) and A ⊗ (−B) → −(A ⊗ B); c·A ⊗ B → c·(A ⊗ B)."""
    a, b = node.args
    for i, x in enumerate((a, b)):
        inner = _pull_sign(x, rb)
        if inner is not None:
            return rb("neg", rb("kron", inner, b) if i == 0 else rb("kron", a, inner))
    return None


@rewrites("ediv")
@identity("(A ./ B) ./ C = A ./ (B .* C)", "A: matrix(m,n); B: matrix(m,n); C: matrix(m,n)")
def elementwise_quotient(node, rb):
    """c·1 ⊘ B → c ⊘ B (a constant array numerator is a scalar one); c ⊘ (k·B) → (c/k) ⊘ B;
    (A ⊘ B) ⊘ C → A ⊘ (B ⊙ C)."""
    a, b = node.args
    if isinstance(a, Const) and a.op == "fill":
        return rb("ediv", Num(a.value), b)
    if _num(a) and op_of(b) == "mul" and _num(b.args[0]) and b.args[0].value != 0:
        return rb("ediv", Num(_number(a.value / b.args[0].value)), b.args[1])
    if op_of(a) == "ediv":
        return rb("ediv", a.args[0], rb("hadamard", a.args[1], b))
    return None


@rewrites("mul")
@identity("diag(x)*y = x .* y", "x: vector(n); y: vector(n)")
def diag_times_vector(node, rb):
    """diag(a)·v → a ⊙ v for column vectors a, v."""
    a, b = node.args
    if op_of(a) == "diag" and a.args[0].shape[1] == 1 and b.shape[1] == 1 and not is_scalar(b.shape):
        return rb("hadamard", a.args[0], b)
    return None


@rewrites("mul")
@identity("A*inv(A) = eye", "A: matrix(n,n)")
def inverse_product(node, rb):
    """A·A⁻¹ → I and A⁻¹·A → I."""
    a, b = node.args
    if (op_of(b) == "inv" and b.args[0] == a) or (op_of(a) == "inv" and a.args[0] == b):
        from matcalc.ir.build import eye
        return eye(a.shape[0])
    return None


@rewrites("transpose")
@identity("(A/s)' = A'/s", "A: matrix(m,n); s: scalar")
def transpose_of_quotient(node, rb):
    """(A/s)ᵀ → Aᵀ/s for a scalar s."""
    a = node.args[0]
    if op_of(a) == "div":
        return rb("div", rb("transpose", a.args[0]), a.args[1])
    return None


@rewrites("mul")
@identity("A*(B/s) = (A*B)/s", "A: matrix(m,n); B: matrix(n,p); s: scalar")
def quotient_out_of_product(node, rb):
    """A·(B/s) → (A·B)/s and (A/s)·B → (A·B)/s for a scalar s."""
    a, b = node.args
    if op_of(b) == "div" and not _num(b.args[0]):
        return rb("div", rb("mul", a, b.args[0]), b.args[1])
    if op_of(a) == "div" and not _num(a.args[0]) and not is_scalar(node.shape):
        return rb("div", rb("mul", a.args[0], b), a.args[1])
    return None


@rewrites("mul")
@identity("(A^2)'*(A^3)' = (A^5)'", "A: matrix(n,n)")
def transposes_of_powers(node, rb):
    """(Aᵏ)ᵀ·(Aʲ)ᵀ → (Aᵏ⁺ʲ)ᵀ: transposed powers of one matrix combine."""
    a, b = node.args
    if op_of(a) == "transpose" and op_of(b) == "transpose":
        (ba, _), (bb, _) = _power_parts(a.args[0]), _power_parts(b.args[0])
        if ba == bb and not is_scalar(ba.shape):
            return rb("transpose", rb("mul", b.args[0], a.args[0]))
    return None




class Simplifier:
    """One simplification pass; ``trace`` (a list, or None) receives (rule, before, after)."""

    MAX_DEPTH = 200

    def __init__(self, trace: Optional[list] = None):
        self.trace = trace
        self.depth = 0

    def rb(self, op: str, *args: Node) -> Node:
        return self.normalize(make(op, *args))

    def normalize(self, node: Node) -> Node:
        """Apply the node's rules until none applies (the children are already simplified)."""
        if self.depth > self.MAX_DEPTH:
            return node
        self.depth += 1
        try:
            for _ in range(100):
                rules = SIMPLIFY_RULES.get(op_of(node), ())
                for fn in rules:
                    out = fn(node, self.rb)
                    if out is not None and out is not node:
                        if self.trace is not None:
                            self.trace.append((fn.__name__, node, out))
                        node = out
                        break
                else:
                    return node
            return node
        finally:
            self.depth -= 1

    def __call__(self, root: Node) -> Node:
        done: dict[int, Node] = {}
        for node in postorder(root):
            kids = node.children()
            if kids:
                new = tuple(done[id(k)] for k in kids)
                if any(n is not k for n, k in zip(new, kids)):
                    node_new = make(node.op, *new)
                else:
                    node_new = node
            else:
                node_new = node
            done[id(node)] = self.normalize(node_new)
        return done[id(root)]


def simplify(root: Node, trace: Optional[list] = None) -> Node:
    """``root`` rewritten by the rules to a fixpoint; equal in value, never expanded."""
    return Simplifier(trace)(root)
