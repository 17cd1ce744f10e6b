"""Phase 2, canonical: signs, coefficients, association, transposes and quotients ([N2]–[N6]).

Each rule's docstring ends with the clause of :mod:`matcalc.simplify.normal_form` it enforces.
"""
from __future__ import annotations

from matcalc.ir.nodes import PRODUCTS, Const, Num, op_of
from matcalc.ir.shapes import is_scalar
from matcalc.derivation import identity
from matcalc.simplify.normal_form import rewrites
from matcalc.simplify.terms import SIGNED, SIGNED_PRODUCTS, is_num, matrix_product, number, pull_sign


@rewrites("canonical", "neg", given=("neg",))
@identity("-(-A) = A", "A: matrix(m,n)")
def neg_neg(node, rb):
    """−(−a) → a. [N2]"""
    a = node.args[0]
    return a.args[0] if op_of(a) == "neg" else None


@rewrites("canonical", "neg", given=SIGNED_PRODUCTS)
@identity("-(A*B) = (-A)*B", "A: matrix(m,n); B: matrix(n,p)")
def neg_into_product(node, rb):
    """−(a·b) → (−a)·b: a product's sign sits on its leftmost factor, as ``-a*b`` reads. [N2]"""
    a = node.args[0]
    if op_of(a) in SIGNED_PRODUCTS:
        return rb(a.op, rb("neg", a.args[0]), a.args[1])
    return None


@rewrites("canonical", "mul", "scale", "hadamard", "div", "ediv", given=SIGNED)
@identity("A*(-B) = (-A)*B", "A: matrix(m,n); B: matrix(n,p)")
def sign_to_the_left(node, rb):
    """a·(−b) → (−a)·b. [N2]"""
    a, b = node.args
    inner = pull_sign(b, rb)
    if inner is None:
        return None
    return rb(node.op, rb("neg", a), inner)


@rewrites("canonical", "mul", "scale", given=("num", *PRODUCTS))
@identity("s*2 = 2*s", "s: scalar")
def coefficient_first(node, rb):
    """s·c → c·s (of scalars), A·(c·B) → c·A·B and c·(A·B) → (c·A)·B for a number c: coefficients
    lead. [N3] (A scalar times a matrix is built scalar first, see ``scale``.)"""
    a, b = node.args
    if is_num(b) and not is_num(a):
        return rb("mul", b, a)
    if op_of(b) in PRODUCTS and is_num(b.args[0]) and not is_num(a):
        return rb("mul", rb("mul", b.args[0], a), b.args[1])
    if is_num(a) and op_of(b) in PRODUCTS and is_num(b.args[0]):
        return rb("mul", Num(number(a.value * b.args[0].value)), b.args[1])
    if is_num(a) and op_of(b) in PRODUCTS and not is_num(b.args[0]) and not is_scalar(b.shape):
        return rb("mul", rb("mul", a, b.args[0]), b.args[1])
    if is_scalar(a.shape) and op_of(b) in PRODUCTS and not is_scalar(b.shape) and not is_scalar(b.args[0].shape) \
            and not is_scalar(b.args[1].shape):  # s·(A·B) → (s·A)·B for a scalar s
        return rb("mul", rb("mul", a, b.args[0]), b.args[1])
    return None


@rewrites("canonical", "mul", "scale", given=PRODUCTS)
@identity("A*(s*B) = s*A*B", "A: matrix(m,n); s: scalar; B: matrix(n,p)")
def scalar_factor_first(node, rb):
    """A·(s·B) → s·A·B for a scalar s and non-scalar A, B (scalars commute). [N3]"""
    a, b = node.args
    if op_of(b) in PRODUCTS and is_scalar(b.args[0].shape) and not is_scalar(b.args[1].shape) \
            and not is_scalar(a.shape) and not is_num(b.args[0]):
        return rb("mul", rb("mul", b.args[0], a), b.args[1])
    return None


@rewrites("canonical", "transpose", given=("transpose",))
@identity("A'' = A", "A: matrix(m,n)")
def transpose_of_transpose(node, rb):
    """(Aᵀ)ᵀ → A. [N5]"""
    a = node.args[0]
    return a.args[0] if op_of(a) == "transpose" else None


@rewrites("canonical", "transpose")
@identity("S' = S", "S: symmetric(n)")
def transpose_of_symmetric(node, rb):
    """Aᵀ → A when A is symmetric (a scalar, I, diag(x), a symmetric variable, AᵀA, …). [N5]"""
    a = node.args[0]
    if rb.facts.symmetric(a):
        return a
    if isinstance(a, Const) and a.op == "fill":
        return Const("fill", node.shape, a.value)
    return None


@rewrites("canonical", "transpose")
@identity("(A*B)' = B'*A'", "A: matrix(m,n); B: matrix(n,p)", "MC 5")
def transpose_inward(node, rb):
    """(AB)ᵀ → BᵀAᵀ (MC 5), (A + B)ᵀ → Aᵀ + Bᵀ, (−A)ᵀ → −Aᵀ (also a product's sign), (A ⊙ B)ᵀ → Aᵀ ⊙ Bᵀ,
    only where this adds no transpose: (2·rᵀ)ᵀ → 2·r, (xᵀA)ᵀ → Aᵀx. [N5]"""
    a = node.args[0]
    op = op_of(a)
    if op == "neg":
        return rb("neg", rb("transpose", a.args[0]))
    inner = pull_sign(a, rb)
    if inner is not None and inner.shape == a.shape:
        return rb("neg", rb("transpose", inner))
    if op in ("add", "sub", "hadamard", "ediv"):
        x, y = a.args
        if x.shape == y.shape and rb.facts.transpose_cost(x) + rb.facts.transpose_cost(y) <= 1:
            return rb(op, rb("transpose", x), rb("transpose", y))
        return None
    if op in PRODUCTS:
        x, y = a.args
        if rb.facts.transpose_cost(x) + rb.facts.transpose_cost(y) <= 1:
            return rb("mul", rb("transpose", y), rb("transpose", x))
        return None
    if op == "inv" and op_of(a.args[0]) == "transpose":
        return rb("inv", a.args[0].args[0])
    return None


@rewrites("canonical", "add", "sub", given=SIGNED)
@identity("A + (-B) = A - B", "A: matrix(m,n); B: matrix(m,n)")
def subtract_negative(node, rb):
    """A + (−B) → A − B, A − (−B) → A + B, (−A) + B → B − A. [N2]"""
    a, b = node.args
    inner = pull_sign(b, rb)
    if inner is not None and inner.shape == b.shape:
        return rb("sub" if node.op == "add" else "add", a, inner)
    inner = pull_sign(a, rb)
    if node.op == "add" and inner is not None and inner.shape == a.shape and pull_sign(b, rb) is None:
        return rb("sub", b, inner)
    return None


@rewrites("canonical", "mul", "scale", given=PRODUCTS)
@identity("A*(B*C) = (A*B)*C", "A: matrix(m,n); B: matrix(n,p); C: matrix(p,q)")
def associate_left(node, rb):
    """A·(B·C) → (A·B)·C for matrix factors: products read left to right, as the parser reads A*B*C.
    The whole chain is re-associated at once, at its root (a chain of k factors costs k steps). [N4]"""
    a, b = node.args
    if not (matrix_product(b) and not is_scalar(a.shape)) or rb.interior(node):
        return None
    factors, stack = [], [node]
    while stack:
        n = stack.pop()
        if n is node or (matrix_product(n) and not is_scalar(n.args[0].shape)):
            stack += [n.args[1], n.args[0]]
        else:
            factors.append(n)
    acc = factors[0]
    for f in factors[1:]:
        acc = rb("mul", acc, f)
    return acc


@rewrites("canonical", "add", "sub", given=("transpose", "neg"))
@identity("A' + A = A + A'", "A: matrix(n,n)")
def plain_before_transposed(node, rb):
    """Aᵀ + A → A + Aᵀ and −Aᵀ − A → −A − Aᵀ (the untransposed term first). [N7]"""
    a, b = node.args
    if node.op == "add" and op_of(a) == "transpose" and a.args[0] == b:
        return rb("add", b, a)
    if node.op == "sub" and op_of(a) == "neg" and op_of(a.args[0]) == "transpose" and a.args[0].args[0] == b:
        return rb("sub", rb("neg", b), a.args[0])
    return None


@rewrites("canonical", "hadamard")
@identity("A .* (1 ./ B) = A ./ B", "A: matrix(m,n); B: matrix(m,n)")
def hadamard_reciprocal(node, rb):
    """A ⊙ (1 ⊘ B) → A ⊘ B. [N6]"""
    a, b = node.args
    if op_of(b) == "ediv" and is_num(b.args[0], 1):
        return rb("ediv", a, b.args[1])
    if op_of(a) == "ediv" and is_num(a.args[0], 1):
        return rb("ediv", b, a.args[1])
    return None


@rewrites("canonical", "div")
@identity("(A/s)/t = A/(s*t)", "A: matrix(m,n); s: scalar; t: scalar")
def divide_twice(node, rb):
    """(A/s)/t → A/(s·t). [N6]"""
    a, t = node.args
    if op_of(a) == "div":
        return rb("div", a.args[0], rb("mul", a.args[1], t))
    return None


@rewrites("canonical", "mul", "scale", given=("div",))
@identity("(1/s)*A = A/s", "A: matrix(m,n); s: scalar")
def reciprocal_scaling(node, rb):
    """(1/s)·A → A/s and (c/s)·A → (c·A)/s for a scalar s. [N6]"""
    a, b = node.args
    if op_of(a) == "div" and is_num(a.args[0]) and is_scalar(a.shape):
        c, s_ = a.args[0], a.args[1]
        return rb("div", b if c.value == 1 else rb("mul", c, b), s_)
    if op_of(b) == "div" and is_num(b.args[0]) and is_scalar(b.shape):
        c, s_ = b.args[0], b.args[1]
        return rb("div", a if c.value == 1 else rb("mul", c, a), s_)
    return None


@rewrites("canonical", "pow")
@identity("(A')^3 = (A^3)'", "A: matrix(n,n)")
def power_of_transpose(node, rb):
    """(Aᵀ)ᵏ → (Aᵏ)ᵀ. [N5]"""
    a, k = node.args
    if op_of(a) == "transpose" and not is_scalar(a.shape):
        return rb("transpose", rb("pow", a.args[0], k))
    return None


@rewrites("canonical", "kron")
@identity("kron(-A, B) = -kron(A, B)", "A: matrix(m,n); B: matrix(p,q)")
def kron_sign(node, rb):
    """(−A) ⊗ B → −(A ⊗ B) and A ⊗ (−B) → −(A ⊗ B); c·A ⊗ B → c·(A ⊗ B). [N2]"""
    a, b = node.args
    for i, x in enumerate((a, b)):
        inner = pull_sign(x, rb)
        if inner is not None:
            return rb("neg", rb("kron", inner, b) if i == 0 else rb("kron", a, inner))
    return None


@rewrites("canonical", "ediv")
@identity("(A ./ B) ./ C = A ./ (B .* C)", "A: matrix(m,n); B: matrix(m,n); C: matrix(m,n)")
def elementwise_quotient(node, rb):
    """c·1 ⊘ B → c ⊘ B (a constant array numerator is a scalar one); c ⊘ (k·B) → (c/k) ⊘ B;
    (A ⊘ B) ⊘ C → A ⊘ (B ⊙ C). [N6]"""
    a, b = node.args
    if isinstance(a, Const) and a.op == "fill":
        return rb("ediv", Num(a.value), b)
    if is_num(a) and op_of(b) in PRODUCTS and is_num(b.args[0]) and b.args[0].value != 0:
        return rb("ediv", Num(number(a.value / b.args[0].value)), b.args[1])
    if op_of(a) == "ediv":
        return rb("ediv", a.args[0], rb("hadamard", a.args[1], b))
    return None


@rewrites("canonical", "transpose", given=("div",))
@identity("(A/s)' = A'/s", "A: matrix(m,n); s: scalar")
def transpose_of_quotient(node, rb):
    """(A/s)ᵀ → Aᵀ/s for a scalar s. [N6]"""
    a = node.args[0]
    if op_of(a) == "div":
        return rb("div", rb("transpose", a.args[0]), a.args[1])
    return None


@rewrites("canonical", "mul", "scale", given=("div",))
@identity("A*(B/s) = (A*B)/s", "A: matrix(m,n); B: matrix(n,p); s: scalar")
def quotient_out_of_product(node, rb):
    """A·(B/s) → (A·B)/s and (A/s)·B → (A·B)/s for a scalar s. [N6]"""
    a, b = node.args
    if op_of(b) == "div" and not is_num(b.args[0]):
        return rb("div", rb("mul", a, b.args[0]), b.args[1])
    if op_of(a) == "div" and not is_num(a.args[0]) and not is_scalar(node.shape):
        return rb("div", rb("mul", a.args[0], b), a.args[1])
    return None


@identity("inv(A') = inv(A)'", "A: matrix(n,n)", "MC 3")
@rewrites("canonical", "inv")
def inverse_of_transpose(node, rb):
    """inv(Aᵀ) → inv(A)ᵀ (MC 3): the transpose stands outside the inverse, so that inv(Xᵀ) and
    inv(X)ᵀ, met in two terms, are one term. [N5]"""
    a = node.args[0]
    return rb("transpose", rb("inv", a.args[0])) if op_of(a) == "transpose" else None
