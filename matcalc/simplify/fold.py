"""Phase 1, fold: arithmetic on numbers and neutral operands (normal-form clause [N1])."""
from __future__ import annotations

from matcalc.ir.nodes import PRODUCTS, Const, Num, op_of
from matcalc.ir.shapes import is_scalar
from matcalc.derivation import identity
from matcalc.simplify.normal_form import rewrites
from matcalc.simplify.terms import is_num, is_zero, number, scaled, zero


_FOLD = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "scale": lambda a, b: a * b,
    "hadamard": lambda a, b: a * b, "neg": lambda a: -a,
}


@rewrites("fold", "add", "sub", "mul", "scale", "hadamard", "neg", given=("num",))
@identity("2*3 = 6")
def fold_numbers(node, rb):
    """Arithmetic on numbers is done: 2*3 → 6."""
    if all(is_num(a) for a in node.args):
        return Num(number(_FOLD[node.op](*(a.value for a in node.args))))
    return None


@rewrites("fold", "div", given=("num", "fill"))
@identity("6/3 = 2")
def fold_division(node, rb):
    """a/b of numbers is done when exact: 6/3 → 2; a/1 → a; 0/b → 0."""
    a, b = node.args
    if is_num(b, 1):
        return a
    if is_zero(a):
        return a
    if is_num(a) and is_num(b) and b.value != 0 and (a.value / b.value) * b.value == a.value:
        return Num(number(a.value / b.value))
    return None


@rewrites("fold", "div")
@identity("(6*A)/3 = 2*A", "A: matrix(m,n)")
def divide_coefficient(node, rb):
    """(c·A)/d → (c/d)·A for numbers c, d when exact: (2A)/2 → A."""
    a, b = node.args
    if not is_num(b) or b.value == 0:
        return None
    c, t = rb.facts.split(a)
    if c != 1 and t is not None and (c / b.value) * b.value == c and (c / b.value) != c:
        return scaled(c / b.value, t, node.shape, rb)
    return None


@rewrites("fold", "pow", "epow")
@identity("A^1 = A", "A: matrix(n,n)")
def power_of_one(node, rb):
    """a^1 → a; a.^1 → a."""
    return node.args[0] if is_num(node.args[1], 1) else None


@rewrites("fold", "pow")
@identity("s^0 = 1", "s: scalar")
def power_of_zero(node, rb):
    """a^0 → 1 for a scalar, A^0 → I for a square matrix (as s·s⁻¹ merged into one power
    leaves it)."""
    if not is_num(node.args[1], 0):
        return None
    a = node.args[0]
    if is_scalar(a.shape):
        return Num(1)
    from matcalc.ir.build import eye
    return eye(a.shape[0])


@rewrites("fold", "neg", given=("num", "fill"))
@identity("-matrix(2) = -2*matrix(1)")
def neg_of_number(node, rb):
    """−(c) → the number −c; −0 → 0."""
    a = node.args[0]
    if is_zero(a):
        return a
    if isinstance(a, Const) and a.op == "fill":
        return Const("fill", a.shape, number(-a.value))
    return None


@rewrites("fold", "mul", "scale", given=("num", "eye"))
@identity("eye*A = A", "A: matrix(m,n)")
def multiply_by_one(node, rb):
    """1·A → A, A·1 → A, I·A → A, A·I → A."""
    a, b = node.args
    if is_num(a, 1) or op_of(a) == "eye":
        return b if b.shape == node.shape else None
    if is_num(b, 1) or op_of(b) == "eye":
        return a if a.shape == node.shape else None
    return None


@rewrites("fold", "mul", "scale", "hadamard", "kron", given=("num", "fill"))
@identity("0*A = matrix(0)", "A: matrix(m,n)")
def multiply_by_zero(node, rb):
    """0·A → 0, and so are 0 ⊙ A and kron(0, A)."""
    if any(is_zero(a) for a in node.args):
        return zero(node.shape)
    return None


@rewrites("fold", "ediv", given=("num", "fill"))
@identity("matrix(0) ./ A = matrix(0)", "A: matrix(m,n)")
def zero_quotient(node, rb):
    """0 ⊘ B → 0, as 0/b → 0 for a scalar (so a differential has no term that is zero only in value,
    such as (dA − dA) ⊘ B)."""
    return zero(node.shape) if is_zero(node.args[0]) else None


@rewrites("fold", "vec", "sum", "tr", "transpose", "diag", given=("num", "fill"))
@identity("sum(matrix(0)) + s = s", "s: scalar")
def linear_of_zero(node, rb):
    """vec(0), sum(0), tr(0), 0ᵀ and diag(0) → 0: a linear map of the zero array is zero (so a
    differential has no term that is zero only in value, such as vec(A − A))."""
    return zero(node.shape) if is_zero(node.args[0]) else None


@rewrites("fold", "hadamard")
@identity("A .* matrix(1) = A", "A: matrix(m,n)")
def hadamard_by_ones(node, rb):
    """A ⊙ 1 → A, 1 ⊙ A → A (1 the all-ones array); c·1 ⊙ A → c·A."""
    a, b = node.args
    for x, y in ((a, b), (b, a)):
        if isinstance(x, Const) and x.op == "fill" and y.shape == node.shape:
            return y if x.value == 1 else rb("mul", Num(x.value), y)
    return None


@rewrites("fold", "add", "sub", given=("num", "fill"))
@identity("A + 0 = A", "A: matrix(m,n)")
def add_zero(node, rb):
    """A + 0 → A, 0 + A → A, A − 0 → A, 0 − A → −A."""
    a, b = node.args
    if is_zero(b) and a.shape == node.shape:
        return a
    if is_zero(a) and b.shape == node.shape:
        return b if node.op == "add" else rb("neg", b)
    return None


@rewrites("fold", "mul", "scale", given=("fill",))
@identity("2*matrix(3) = matrix(6)")
def scale_constant(node, rb):
    """c·1 → the constant array filled with c."""
    a, b = node.args
    if is_num(a) and isinstance(b, Const) and b.op == "fill":
        value = number(a.value * b.value)
        return Num(value) if is_scalar(b.shape) else Const("fill", b.shape, value)
    return None


@rewrites("fold", "tr")
def trace_of_scalar(node, rb):
    """tr(a) → a for a 1×1 argument."""
    return node.args[0] if is_scalar(node.args[0].shape) else None


@rewrites("fold", "sum")
@identity("sum(s) = s", "s: scalar")
def sum_of_scalar(node, rb):
    """sum(a) → a for a scalar."""
    return node.args[0] if is_scalar(node.args[0].shape) else None


@rewrites("fold", "mul", "scale", given=PRODUCTS)
@identity("(s*eye)*B = s*B", "s: scalar; B: matrix(m,n)")
def scaled_identity(node, rb):
    """(s·I)·B → s·B and B·(s·I) → s·B."""
    a, b = node.args
    for x, other in ((a, b), (b, a)):
        if op_of(x) in PRODUCTS and op_of(x.args[1]) == "eye" and is_scalar(x.args[0].shape) and other.shape == node.shape:
            return rb("mul", x.args[0], other)
    return None


@rewrites("fold", "mul", "scale", given=("num", "neg"))
@identity("(-1)*A = -A", "A: matrix(m,n)")
def minus_one_times(node, rb):
    """(−1)·A → −A; (−I)·A → −A."""
    a, b = node.args
    if is_num(a, -1) or (op_of(a) == "neg" and op_of(a.args[0]) == "eye" and b.shape == node.shape):
        return rb("neg", b)
    return None


@rewrites("fold", "inv")
@identity("inv(inv(A)) = A", "A: matrix(n,n)")
def inverse_of_inverse(node, rb):
    """inv(inv(A)) → A; inv(Aᵀ) stays, inv(s) of a scalar is 1/s."""
    a = node.args[0]
    if op_of(a) == "inv":
        return a.args[0]
    if is_scalar(a.shape):
        return rb("div", Num(1), a)
    return None
