"""The table of matrix differential rules (Magnus & Neudecker), one pure function per op.

``differential(f, x, dx)`` walks f's DAG once, children first, and returns df and its steps: df is an expression that
is linear in the direction variable ``dx``.  Each rule gets the node and its children's
differentials (``None`` for an exact zero) and returns the node's differential.  The rules'
docstrings state the identity; "MC (n)" cites equation n of the Matrix Cookbook (2012).
"""
from __future__ import annotations

from typing import Callable, Optional

from matcalc.derivation import Step, identities, identity, rule_for
from matcalc.errors import UnsupportedError
from matcalc.ir.build import inner, T, apply, broadcast, ediv, emul, minus, neg, num, ones, plus, times, total
from matcalc.ir.nodes import ELEMENTWISE, OPS, Node, Var, constant_value, op_of, postorder
from matcalc.ir.shapes import is_scalar, is_vector
from matcalc.tables import registrar

DIFF_RULES: dict[str, Callable] = {}


rule = registrar(DIFF_RULES)


@rule("add")
@identity("d(A + B) = dA + dB", "A: matrix(m,n); B: matrix(m,n)", "MC 35")
def d_add(node, d, dof):
    """d(A + B) = dA + dB (A and B have one shape: a scalar in a sum is spread, s·𝟙)."""
    return plus(d[0], d[1])


@rule("sub")
@identity("d(A - B) = dA - dB", "A: matrix(m,n); B: matrix(m,n)", "MC 35")
def d_sub(node, d, dof):
    """d(A − B) = dA − dB."""
    return minus(d[0], d[1])


@rule("neg")
@identity("d(-A) = -dA", "A: matrix(m,n)", "MC 34")
def d_neg(node, d, dof):
    """d(−A) = −dA."""
    return neg(d[0])


@rule("mul")
@identity("d(A*B) = dA*B + A*dB", "A: matrix(m,n); B: matrix(n,p)", "MC 37")
def d_mul(node, d, dof):
    """d(AB) = dA·B + A·dB (MC 37)."""
    a, b = node.args
    return plus(times(d[0], b), times(a, d[1]))


@rule("scale")
@identity("d(s*A) = ds*A + s*dA", "s: scalar; A: matrix(m,n)", "MC 37")
def d_scale(node, d, dof):
    """d(sA) = ds·A + s·dA (the product rule for a scalar factor)."""
    s, a = node.args
    return plus(times(d[0], a), times(s, d[1]))


@rule("div")
@identity("d(A/s) = dA/s - (A/s^2)*ds", "A: matrix(m,n); s: scalar")
def d_div(node, d, dof):
    """d(A/s) = dA/s − (A/s²)·ds."""
    a, s = node.args
    return minus(ediv(d[0], s), times(ediv(a, apply("pow", s, num(2))), d[1]))


@rule("hadamard")
@identity("d(A .* B) = dA .* B + A .* dB", "A: matrix(m,n); B: matrix(m,n)", "MC 38")
def d_hadamard(node, d, dof):
    """d(A ⊙ B) = dA ⊙ B + A ⊙ dB (MC 38; A and B have one shape: s ⊙ B is the scaling s·B)."""
    a, b = node.args
    return plus(emul(d[0], b), emul(a, d[1]))


@rule("ediv")
@identity("d(A ./ B) = dA ./ B - (A ./ B) .* dB ./ B", "A: matrix(m,n); B: matrix(m,n)")
def d_ediv(node, d, dof):
    """d(A ⊘ B) = dA ⊘ B − (A ⊘ B) ⊙ dB ⊘ B."""
    a, b = node.args
    return minus(ediv(broadcast(d[0], node.shape), b), ediv(emul(node, broadcast(d[1], node.shape)), b))


@rule("transpose")
@identity("d(A') = dA'", "A: matrix(m,n)", "MC 44")
def d_transpose(node, d, dof):
    """d(Aᵀ) = (dA)ᵀ (MC 44)."""
    return T(d[0])


def _power_derivative(node, d, elementwise: bool):
    a, p = node.args
    da, dp = d
    mul = emul if elementwise else times
    op = "epow" if elementwise else "pow"
    out = None
    if da is not None:
        if op_of(p) == "num":
            if p.value == 0:
                coef = None
            elif p.value == 2:
                coef = mul(num(2), a)
            elif p.value == 1:
                coef = num(1)
            else:
                coef = mul(p, apply(op, a, num(p.value - 1)))
        else:
            coef = mul(p, apply(op, a, apply("sub", p, num(1))))
        out = mul(coef, broadcast(da, node.shape)) if coef is not None else None
    if dp is not None:
        out = plus(out, mul(mul(node, apply("log", a)), broadcast(dp, node.shape)))
    return out


@rule("epow")
@identity("d(A.^p) = p*A.^(p - 1) .* dA + dp*(A.^p .* log(A))", "A: matrix(m,n); p: scalar")
def d_epow(node, d, dof):
    """d(A.^p) = p·A.^(p−1) ⊙ dA + A.^p ⊙ log(A) ⊙ dp."""
    return _power_derivative(node, d, elementwise=True)


@identity("d(a^p) = p*a^(p - 1)*da + a^p*log(a)*dp", "a: scalar; p: scalar")
def d_scalar_pow(node, d, dof):
    """d(a^p) = p·a^(p−1)·da + a^p·log(a)·dp for scalars a, p."""
    return _power_derivative(node, d, elementwise=False)


MATRIX_POWER_TERMS = 64


@identity("d(A^3) = dA*A^2 + A*dA*A + A^2*dA", "A: matrix(n,n)", "MC 37")
def d_matrix_power(node, d, dof):
    """d(Aᵏ) = Σ_{i<k} Aⁱ·dA·A^(k−1−i) (the product rule, MC 37, k times); for k < 0, Aᵏ = (A⁻¹)^|k|
    with d(A⁻¹) = −A⁻¹·dA·A⁻¹."""
    a, p = node.args
    if d[0] is None:
        return None
    k = int(round(float(_integer_value(p))))
    if k == 0:
        return None
    if abs(k) > MATRIX_POWER_TERMS:  # the product rule gives |k| terms: a budget, not a hang
        raise UnsupportedError(f"the differential of a matrix power A^{k} is a sum of {abs(k)} terms; "
                               f"matcalc expands at most {MATRIX_POWER_TERMS}")
    base, da = a, d[0]
    if k < 0:
        base = apply("inv", a)
        da = times(times(neg(base), da), base)
        k = -k
    terms = []
    for i in range(k):
        term = da
        left, right = _matrix_power(base, i), _matrix_power(base, k - 1 - i)
        if left is not None:
            term = times(left, term)
        if right is not None:
            term = times(term, right)
        terms.append(term)
    return total(terms)


@identity("d(norm2(x)^2) = 2*x'*dx", "x: vector(n)", "MC 131")
def d_norm2_squared(node, d, dof):
    """d‖a‖₂² = 2·aᵀda (MC 131 in differential form; 2·tr(AᵀdA) for the Frobenius norm),
    taken from the argument's differential directly, with no square root in between."""
    a = node.args[0].args[0]
    da = dof(a)
    return None if da is None else times(num(2), inner(a, da))


def select_pow(node):
    """d(a^p) for scalars, ‖a‖₂², and integer powers of a square matrix: one of three rules."""
    a, p = node.args
    if op_of(a) == "norm2" and op_of(p) == "num" and p.value == 2:
        return d_norm2_squared
    return d_scalar_pow if is_scalar(a.shape) else d_matrix_power


def _integer_value(p: Node):
    if op_of(p) == "neg":
        return -p.args[0].value
    return p.value


def _matrix_power(a: Node, k: int) -> Optional[Node]:
    if k == 0:
        return None
    return a if k == 1 else apply("pow", a, num(k))


_ELEMENTWISE_DERIVATIVE: dict[str, Callable[[Node, Node], Optional[Node]]] = {
    "exp": lambda node, a: node,
    "sin": lambda node, a: apply("cos", a),
    "cos": lambda node, a: apply("neg", apply("sin", a)),
    "tan": lambda node, a: apply("add", num(1), apply("epow", node, num(2))),
    "tanh": lambda node, a: apply("sub", num(1), apply("epow", node, num(2))),
    "arcsin": lambda node, a: apply("ediv", num(1), apply("sqrt", apply("sub", num(1), apply("epow", a, num(2))))),
    "arccos": lambda node, a: apply("neg", apply("ediv", num(1), apply("sqrt", apply("sub", num(1), apply("epow", a, num(2)))))),
    "arctan": lambda node, a: apply("ediv", num(1), apply("add", num(1), apply("epow", a, num(2)))),
    "abs": lambda node, a: apply("sign", a),
    "sign": lambda node, a: None,
    "step": lambda node, a: None,
    "relu": lambda node, a: apply("step", a),
    "sigmoid": lambda node, a: apply("hadamard" if not is_scalar(a.shape) else "mul", node, apply("sub", num(1), node)),
    "softplus": lambda node, a: apply("sigmoid", a),
}


@identity("d(exp(A)) = exp(A) .* dA", "A: matrix(m,n)")
@identities({
    "exp": ("d(exp(A)) = exp(A) .* dA", "A: matrix(m,n)"),
    "sin": ("d(sin(A)) = cos(A) .* dA", "A: matrix(m,n)"),
    "cos": ("d(cos(A)) = -sin(A) .* dA", "A: matrix(m,n)"),
    "tan": ("d(tan(A)) = (1 + tan(A).^2) .* dA", "A: matrix(m,n)"),
    "tanh": ("d(tanh(A)) = (1 - tanh(A).^2) .* dA", "A: matrix(m,n)"),
    "arcsin": ("d(arcsin(A)) = dA ./ sqrt(1 - A.^2)", "A: matrix(m,n)"),
    "arccos": ("d(arccos(A)) = -dA ./ sqrt(1 - A.^2)", "A: matrix(m,n)"),
    "arctan": ("d(arctan(A)) = dA ./ (1 + A.^2)", "A: matrix(m,n)"),
    "abs": ("d(abs(A)) = sign(A) .* dA", "A: matrix(m,n)"),
    "sign": ("d(sign(A)) = matrix(0)", "A: matrix(m,n)"),
    "step": ("d(step(A)) = matrix(0)", "A: matrix(m,n)"),
    "relu": ("d(relu(A)) = step(A) .* dA", "A: matrix(m,n)"),
    "sigmoid": ("d(sigmoid(A)) = sigmoid(A) .* (1 - sigmoid(A)) .* dA", "A: matrix(m,n)"),
    "softplus": ("d(softplus(A)) = sigmoid(A) .* dA", "A: matrix(m,n)"),
})
def d_elementwise(node, d, dof):
    """d f(A) = f′(A) ⊙ dA for an elementwise f: exp′ = exp, sin′ = cos, tanh′ = 1 − tanh², relu′ = step,
    σ′ = σ(1 − σ), softplus′ = σ, |·|′ = sign; sign and step are piecewise constant (0 away from 0)."""
    (a,), (da,) = node.args, d
    coef = _ELEMENTWISE_DERIVATIVE[node.op](node, a)
    return emul(coef, da) if coef is not None else None


@identity("d(log(A)) = dA ./ A", "A: matrix(m,n)")
def d_log(node, d, dof):
    """d log(A) = dA ⊘ A."""
    return ediv(d[0], node.args[0])


@identity("d(sqrt(A)) = dA ./ (2*sqrt(A))", "A: matrix(m,n)")
def d_sqrt(node, d, dof):
    """d√A = dA ⊘ (2√A)."""
    return ediv(d[0], apply("mul", num(2), node))


@identity("d(log(1 + exp(A))) = sigmoid(A) .* dA", "A: matrix(m,n)")
def d_log1p_exp(node, d, dof):
    """d log(1 + exp(u)) = σ(u) ⊙ du (softplus′ = σ), from du: the textbook form, not exp(u) ⊘ (1 + exp(u))."""
    u = node.args[0].args[1].args[0]
    du = dof(u)
    return emul(apply("sigmoid", u), du) if du is not None else None


@identity("d(log(softmax(x))) = dx - vector(1)*(softmax(x)'*dx)", "x: vector(n)")
def d_log_softmax(node, d, dof):
    """d log softmax(u) = du − 1·(softmax(u)ᵀdu), from du."""
    s = node.args[0]
    du = dof(s.args[0])
    if du is None:
        return None
    return minus(du, times(ones(s.shape), times(T(s), du)))


def select_elementwise(node):
    """d f(A) for an elementwise f: d_elementwise, or d_log, d_sqrt, d_log1p_exp, d_log_softmax."""
    a = node.args[0]
    if node.op == "log":
        if op_of(a) == "add" and constant_value(a.args[0]) == 1 and op_of(a.args[1]) == "exp":
            return d_log1p_exp
        return d_log_softmax if op_of(a) == "softmax" else d_log
    return d_sqrt if node.op == "sqrt" else d_elementwise


#: Ops whose rule depends on the node: the selector picks one of several rules, each with its identity.
SELECTORS = {op: select_elementwise for op in ELEMENTWISE}
SELECTORS["pow"] = select_pow


@rule("sum")
@identity("d(sum(A)) = sum(dA)", "A: matrix(m,n)")
def d_sum(node, d, dof):
    """d sum(A) = sum(dA)."""
    return apply("sum", d[0])


@rule("norm1")
@identity("d(norm1(A)) = sum(sign(A) .* dA)", "A: matrix(m,n)")
def d_norm1(node, d, dof):
    """d‖A‖₁ = sum(sign(A) ⊙ dA) (away from zero entries)."""
    a = node.args[0]
    return apply("sum", emul(apply("sign", a), d[0]))


@rule("norm2")
@identity("d(norm2(x)) = x'*dx/norm2(x)", "x: vector(n)", "MC 129")
def d_norm2(node, d, dof):
    """d‖a‖₂ = aᵀda / ‖a‖₂ (MC 129); for a matrix, d‖A‖_F = tr(AᵀdA) / ‖A‖_F."""
    a = node.args[0]
    return ediv(inner(a, d[0]), node)


@rule("tr")
@identity("d(tr(A)) = tr(dA)", "A: matrix(n,n)", "MC 36")
def d_tr(node, d, dof):
    """d tr(A) = tr(dA) (MC 36)."""
    return apply("tr", d[0])


@rule("det")
@identity("d(det(A)) = det(A)*tr(inv(A)*dA)", "A: matrix(n,n)", "MC 42")
def d_det(node, d, dof):
    """d det(A) = det(A)·tr(A⁻¹dA) (MC 42, Jacobi's formula)."""
    a = node.args[0]
    return times(node, apply("tr", times(apply("inv", a), d[0])))


@rule("logdet")
@identity("d(logdet(A)) = tr(inv(A)*dA)", "A: matrix(n,n)", "MC 43")
def d_logdet(node, d, dof):
    """d log|det A| = tr(A⁻¹dA) (MC 43)."""
    a = node.args[0]
    return apply("tr", times(apply("inv", a), d[0]))


@rule("inv")
@identity("d(inv(A)) = -inv(A)*dA*inv(A)", "A: matrix(n,n)", "MC 40")
def d_inv(node, d, dof):
    """d(A⁻¹) = −A⁻¹·dA·A⁻¹ (MC 40)."""
    return times(times(neg(node), d[0]), node)


@rule("diag")
@identity("d(diag(x)) = diag(dx)", "x: vector(n)")
def d_diag(node, d, dof):
    """d diag(A) = diag(dA)."""
    return apply("diag", d[0])


@rule("softmax")
@identity("d(softmax(x)) = softmax(x) .* dx - softmax(x)*(softmax(x)'*dx)", "x: vector(n)")
def d_softmax(node, d, dof):
    """d softmax(a) = s ⊙ da − s·(sᵀda), s = softmax(a) (that is, (diag(s) − s·sᵀ)·da)."""
    return minus(emul(node, d[0]), times(node, times(T(node), d[0])))


@rule("logsumexp")
@identity("d(logsumexp(x)) = softmax(x)'*dx", "x: vector(n)")
def d_logsumexp(node, d, dof):
    """d logsumexp(a) = softmax(a)ᵀda; for a matrix, sum(exp(A − logsumexp(A)) ⊙ dA)."""
    a = node.args[0]
    if is_vector(a.shape):
        return times(T(apply("softmax", a)), d[0])
    return apply("sum", emul(apply("exp", apply("sub", a, node)), d[0]))


@rule("vec")
@identity("d(vec(A)) = vec(dA)", "A: matrix(m,n)")
def d_vec(node, d, dof):
    """d vec(A) = vec(dA)."""
    return apply("vec", d[0])


@rule("kron")
@identity("d(kron(A, B)) = kron(dA, B) + kron(A, dB)", "A: matrix(m,n); B: matrix(p,q)", "MC 39")
def d_kron(node, d, dof):
    """d(A ⊗ B) = dA ⊗ B + A ⊗ dB (MC 39)."""
    a, b = node.args
    left = None if d[0] is None else apply("kron", d[0], b)
    right = None if d[1] is None else apply("kron", a, d[1])
    return plus(left, right)


# every op has exactly one of a rule or a selector; leaves have neither (a variable's differential
# is seeded by differential(), a constant's is 0)
assert set(DIFF_RULES) | set(SELECTORS) == set(OPS) and not set(DIFF_RULES) & set(SELECTORS), \
    set(OPS) ^ (set(DIFF_RULES) | set(SELECTORS))


def direction(x: Var, taken: set[str], index: int = 0) -> Var:
    """The direction variable dX (dX1, dX2, ... for higher orders), named apart from ``taken``."""
    base = f"d{x.name}" + (str(index) if index else "")
    name = base
    while name in taken:
        name += "'"
    return Var(name, x.shape, x.kind)


def differential(f: Node, x: Var, dx: Var, order: int = 1, record: bool = True) -> tuple[Optional[Node], list]:
    """df in the direction dx (``None`` when f does not depend on x).

    A rule is only called when some argument's differential is not zero, so the rules of
    one-argument ops never see ``None``.
    Iterative, one rule per distinct node: the cost is linear in the size of f's DAG.  Rules may
    look up the differential of any node below them (``dof``), which lets ‖a‖², log(1 + exp u)
    and log softmax(u) be differentiated as units.  Returns df and its steps: a differential
    :class:`~matcalc.derivation.Step` d(node) = … for every node whose differential is not 0,
    naming the rule that gave it (none when ``record`` is false).
    """
    diffs: dict[int, Optional[Node]] = {}
    steps: list = []

    def dof(node: Node) -> Optional[Node]:
        return diffs[id(node)]

    for node in postorder(f):
        if isinstance(node, Var):
            diffs[id(node)] = dx if node == x else None
            continue
        kids = tuple(diffs[id(c)] for c in node.children())
        if all(k is None for k in kids):
            diffs[id(node)] = None
            continue
        op = op_of(node)
        fn = SELECTORS[op](node) if op in SELECTORS else DIFF_RULES[op]
        out = diffs[id(node)] = fn(node, kids, dof)
        if out is not None and record:
            steps.append(Step("differential", rule_for(fn, op), order, node, out, check="differential",
                              wrt=x, direction=dx))
    return diffs[id(f)], steps
