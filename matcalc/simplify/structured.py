"""Phase 4, structured: identities of structured operands and special functions ([N9])."""
from __future__ import annotations

from typing import Optional

from matcalc.ir.nodes import PRODUCTS, Const, Node, Num, op_of
from matcalc.ir.shapes import is_scalar, make
from matcalc.derivation import identity
from matcalc.simplify.normal_form import rewrites
from matcalc.simplify.terms import is_num, is_ones, is_zero, pull_sign, scaled


@rewrites("structured", "mul", "scale")
@identity("vector(1)'*x = sum(x)", "x: vector(n)")
def ones_inner_product(node, rb):
    """1ᵀx → sum(x) and xᵀ1 → sum(x) (1 the all-ones vector)."""
    a, b = node.args
    if not is_scalar(node.shape) or is_scalar(a.shape):
        return None
    if is_ones(a):
        return rb("sum", b)
    if is_ones(b):
        return rb("sum", a)
    return None


@rewrites("structured", "mul", "scale")
@identity("kron(A, B)*kron(C, D) = kron(A*C, B*D)", "A: matrix(m,n); B: matrix(p,q); C: matrix(n,k); D: matrix(q,l)", "MC 511")
def kron_mixed_product(node, rb):
    """(A ⊗ B)(C ⊗ D) → AC ⊗ BD when the products exist (MC 511)."""
    a, b = node.args
    if op_of(a) == "neg" and op_of(a.args[0]) == "kron":
        out = kron_mixed_product(make("mul", a.args[0], b), rb)
        return rb("neg", out) if out is not None else None
    if op_of(a) == "kron" and op_of(b) == "kron":
        (p, q), (r, t) = a.args, b.args
        if p.shape[1] == r.shape[0] and q.shape[1] == t.shape[0]:
            return rb("kron", rb("mul", p, r), rb("mul", q, t))
    if op_of(a) in PRODUCTS and op_of(a.args[1]) == "kron" and op_of(b) == "kron":  # c·(A ⊗ B) · (C ⊗ D)
        inner = kron_mixed_product(make("mul", a.args[1], b), rb)
        return rb("mul", a.args[0], inner) if inner is not None else None
    return None


@rewrites("structured", "mul", "scale")
@identity("diag(x)*diag(y) = diag(x .* y)", "x: vector(n); y: vector(n)")
def diag_product(node, rb):
    """diag(a)·diag(b) → diag(a ⊙ b), and diag(a)·(diag(b)·C) → diag(a ⊙ b)·C, for vectors a, b."""
    a, b = node.args
    if op_of(a) != "diag" or a.args[0].shape[1] != 1:
        return None
    if op_of(b) == "diag" and b.args[0].shape[1] == 1:
        return rb("diag", rb("hadamard", a.args[0], b.args[0]))
    if op_of(b) in PRODUCTS and op_of(b.args[0]) == "diag" and b.args[0].args[0].shape[1] == 1:
        return rb("mul", rb("diag", rb("hadamard", a.args[0], b.args[0].args[0])), b.args[1])
    return None


@rewrites("structured", "mul", "scale")
@identity("diag(x)*y = x .* y", "x: vector(n); y: vector(n)")
def diag_times_vector(node, rb):
    """diag(a)·v → a ⊙ v for column vectors a, v."""
    a, b = node.args
    if op_of(a) == "diag" and a.args[0].shape[1] == 1 and b.shape[1] == 1 and not is_scalar(b.shape):
        return rb("hadamard", a.args[0], b)
    return None


@rewrites("structured", "mul", "scale")
@identity("A*inv(A) = eye", "A: matrix(n,n)")
def inverse_product(node, rb):
    """A·A⁻¹ → I and A⁻¹·A → I."""
    a, b = node.args
    if (op_of(b) == "inv" and b.args[0] == a) or (op_of(a) == "inv" and a.args[0] == b):
        from matcalc.ir.build import eye
        return eye(a.shape[0])
    return None


# ------------------------------------------------------------------------------ cancellation

def _scalar_spine(node: Node) -> list:
    """The left spine of a product with, at each link, whether its first operand is a scalar factor."""
    spine = [node]
    while op_of(spine[-1]) in PRODUCTS:
        spine.append(spine[-1].args[0])
    return spine


def _without_factor(node: Node, factor: Node, rb) -> Optional[Node]:
    """``node`` (a product) with one scalar factor equal to ``factor`` (or to −factor, the sign
    kept) taken out of its left spine, or None when it has no such factor."""
    spine, k = [node], 0
    while op_of(spine[-1]) in PRODUCTS:
        spine.append(spine[-1].args[0])
    for k in range(len(spine) - 1):   # spine[k] = spine[k+1] · spine[k].args[1]
        n = spine[k]
        for i, x in enumerate(n.args):
            if not is_scalar(x.shape):
                continue
            sign = op_of(x) == "neg" and x.args[0] == factor
            if x == factor or sign:
                rest = n.args[1 - i]
                out = rb("neg", rest) if sign else rest
                for m in reversed(spine[:k]):
                    out = rb("mul", out, m.args[1])
                return out
    return None


@identity("s*A/s = A", "s: scalar; A: matrix(m,n)")
@rewrites("structured", "div")
def cancel_scalar_factor(node, rb):
    """s·A/s → A and s·A/(s·t) → A/t; numbers too: 2·A/(2·s) → A/s, a/a → 1."""
    a, b = node.args
    if a == b and not is_zero(b):
        return Num(1)
    ca, ta = rb.facts.split(a)
    cb, tb = rb.facts.split(b)
    if cb != 1 and cb != 0 and ta is not None and tb is not None and float(ca / cb).is_integer():
        return rb("div", scaled(ca / cb, ta, a.shape, rb), tb)
    factors = [b] + ([b.args[0], b.args[1]] if op_of(b) in PRODUCTS and is_scalar(b.args[0].shape) else [])
    for k, f in enumerate(factors):
        if is_num(f):
            continue
        out = _without_factor(a, f, rb)
        if out is None and a == f:
            out = Num(1)
        if out is not None:
            return out if k == 0 else rb("div", out, factors[3 - k])
    return None


def _hadamard_parts(node: Node) -> tuple:
    """(numerators, denominators) of an elementwise product/quotient of same-shaped arrays."""
    num, den, stack = [], [], [(node, True)]
    while stack:
        n, up = stack.pop()
        op = op_of(n)
        if op in ("hadamard", "ediv") and n.args[0].shape == n.args[1].shape == n.shape:
            stack.append((n.args[1], up if op == "hadamard" else not up))
            stack.append((n.args[0], up))
        else:
            (num if up else den).append(n)
    return num, den


@identity("A .* (B ./ A) = B", "A: matrix(m,n); B: matrix(m,n)")
@rewrites("structured", "hadamard", "ediv")
def cancel_elementwise_factor(node, rb):
    """A ⊙ (B ⊘ A) → B, A ⊘ A → 1 (the all-ones array), (A ⊙ B) ⊘ (A ⊙ C) → B ⊘ C."""
    num, den = _hadamard_parts(node)
    if not den:
        return None
    left = list(den)
    kept = []
    for f in num:
        match = next((k for k, d in enumerate(left) if d == f), None)
        if match is None:
            kept.append(f)
        else:
            left.pop(match)
    if len(left) == len(den):
        return None
    top = kept[0] if kept else Const("fill", tuple(node.shape), 1)
    for f in kept[1:]:
        top = rb("hadamard", top, f)
    for d in left:
        top = rb("ediv", top, d)
    return top


def _one_minus(node: Node) -> Optional[Node]:
    """B for node = 1 − B (1 the number or the all-ones array), else None."""
    if op_of(node) == "sub" and (is_num(node.args[0], 1) or is_ones(node.args[0])):
        return node.args[1]
    return None


def _two_factors(node: Node):
    """The two factors of an elementwise product (or of a product of two scalars), else None."""
    if op_of(node) == "hadamard" or (op_of(node) in PRODUCTS and is_scalar(node.args[0].shape)
                                     and is_scalar(node.args[1].shape)):
        return tuple(node.args)
    return None


@identity("A .* (1 - B) - (1 - A) .* B = A - B", "A: matrix(m,n); B: matrix(m,n)")
@rewrites("structured", "sub")
def complementary_products(node, rb):
    """A ⊙ (1 − B) − (1 − A) ⊙ B → A − B (the products A ⊙ B cancel; as in the logistic loss), and
    likewise for scalars: a·(1 − b) − (1 − a)·b → a − b."""
    x, y = (_two_factors(t) for t in node.args)
    if not x or not y:
        return None
    for p, q in (x, x[::-1]):
        b = _one_minus(q)
        if b is None:
            continue
        for r, s in (y, y[::-1]):
            if _one_minus(r) == p and s == b:
                return rb("sub", p, b)
    return None


# ------------------------------------------------------------------------------ special functions

@identity("1 - sigmoid(-u) = sigmoid(u)", "u: vector(n)")
@rewrites("structured", "sub")
def sigmoid_complement(node, rb):
    """1 − σ(−u) → σ(u), and 1 − σ(u) stays (it is the textbook σ′ = σ(1 − σ))."""
    u = _one_minus(node)
    if op_of(u) == "sigmoid" and u.shape == node.shape:
        inner = pull_sign(u.args[0], rb)   # −v, or (−a) ⊙ b as the sign normal form writes −(a ⊙ b)
        if inner is not None:
            return rb("sigmoid", inner)
    return None


def _one_plus_exp(node: Node) -> Optional[Node]:
    """v for node = 1 + exp(v), else None."""
    if op_of(node) == "add" and (is_num(node.args[0], 1) or is_ones(node.args[0])) and op_of(node.args[1]) == "exp":
        return node.args[1].args[0]
    return None


@identity("exp(-u) ./ (1 + exp(-u)) = sigmoid(-u)", "u: vector(n)")
@rewrites("structured", "ediv", "div")
def logistic_quotient(node, rb):
    """exp(v) ⊘ (1 + exp(v)) → σ(v) and 1 ⊘ (1 + exp(−u)) → σ(u) (the logistic function)."""
    a, b = node.args
    v = _one_plus_exp(b)
    if v is None or b.shape != node.shape:
        return None
    if op_of(a) == "exp" and a.args[0] == v:
        return rb("sigmoid", v)
    if (is_num(a, 1) or is_ones(a)) and op_of(v) == "neg":
        return rb("sigmoid", v.args[0])
    return None


@identity("sum(softmax(x)) = 1", "x: vector(n)")
@rewrites("structured", "sum")
def softmax_sums_to_one(node, rb):
    """sum(softmax(x)) → 1: softmax is a probability vector, 1ᵀ·softmax(x) = 1."""
    return Num(1) if op_of(node.args[0]) == "softmax" else None


@identity("x'*(c*vector(1)) = c*sum(x)", "x: vector(n); c: scalar")
@rewrites("structured", "mul", "scale")
def constant_inner_product(node, rb):
    """xᵀ(c·1) → c·sum(x) and (c·1)ᵀx → c·sum(x), for a constant array c·1 (c a number)."""
    a, b = node.args
    if not is_scalar(node.shape) or is_scalar(a.shape):
        return None
    for x, y in ((a, b), (b, a)):
        if isinstance(y, Const) and y.op == "fill" and y.value not in (0, 1):
            return rb("mul", Num(y.value), rb("sum", x))
        if op_of(y) == "transpose" and isinstance(y.args[0], Const) and y.args[0].op == "fill" \
                and y.args[0].value not in (0, 1):
            return rb("mul", Num(y.args[0].value), rb("sum", x))
    return None


@identity("A .* (s*matrix(1)) = s*A", "A: matrix(m,n); s: scalar")
@rewrites("structured", "hadamard")
def hadamard_by_scaled_ones(node, rb):
    """A ⊙ (s·1) → s·A: a scalar broadcast through a constant array is a scaling."""
    a, b = node.args
    for x, y in ((a, b), (b, a)):
        if op_of(y) in PRODUCTS and is_scalar(y.args[0].shape) and is_ones(y.args[1]) and x.shape == node.shape:
            return rb("mul", y.args[0], x)
    return None


@identity("sum(A') = sum(A)", "A: matrix(m,n)")
@rewrites("structured", "sum")
def sum_of_transpose(node, rb):
    """sum(Aᵀ) → sum(A): the entries are the same."""
    a = node.args[0]
    return rb("sum", a.args[0]) if op_of(a) == "transpose" else None
