"""Identification: read the derivative off a differential df that is linear in dX.

For a scalar f, df = tr(Gᵀ dX) = ⟨G, dX⟩ gives ∂f/∂X = G.  G is found by moving every factor
off dX with trace cyclicity and transposition, which on the expression tree is one reverse
sweep: each linear node passes its *cotangent* C (the G of the part above it) to its argument,
by the rules in ``ADJOINT_RULES`` (⟨C, A·dY⟩ = ⟨AᵀC, dY⟩, ⟨C, dY·B⟩ = ⟨C·Bᵀ, dY⟩, …).

For a vector f and a vector x (a Jacobian, or the Hessian as the Jacobian of the gradient),
the same sweep runs with one column of C per entry of f (C starts as the identity), and gives
Jᵀ; then df = J·dx.  A scalar variable needs no sweep: df = g·ds, so g is df at ds = 1.
"""
from __future__ import annotations

from typing import Callable, Optional

from matcalc.ir.build import inner, T, emul, eye, ones, plus, times
from matcalc.errors import UnsupportedError
from matcalc.ir.nodes import Node, Num, Var, op_of, postorder
from matcalc.ir.shapes import dim_product, is_scalar, make
from matcalc.derivation import Step, rule_of
from matcalc.tables import registrar

ADJOINT_RULES: dict[str, Callable] = {}


adjoint = registrar(ADJOINT_RULES)


class NotMatrixForm(UnsupportedError):
    """The batched sweep met a node whose cotangents would need a 3-way array."""


def _reduce(c: Node, child: Node, batched: bool) -> Node:
    """The cotangent of a scalar that was broadcast: the sum over what it was spread to."""
    if not is_scalar(child.shape) or is_scalar(c.shape) and not batched:
        return c
    if batched:
        return times(T(ones((c.shape[0], 1))), c)
    return make("sum", c)


def _diag_times(a: Node, c: Node) -> Node:
    """a ⊙ C for a column a and a batch C of columns: diag(a)·C."""
    if is_scalar(a.shape):
        return times(a, c)
    col = a if a.shape[1] == 1 else T(a)
    return times(make("diag", col), c)


@adjoint("add")
def adjoint_add(node, c, dep, batched):
    """⟨C, dA + dB⟩ = ⟨C, dA⟩ + ⟨C, dB⟩."""
    return tuple(_reduce(c, a, batched) if d else None for a, d in zip(node.args, dep))


@adjoint("sub")
def adjoint_sub(node, c, dep, batched):
    """⟨C, dA − dB⟩ = ⟨C, dA⟩ + ⟨−C, dB⟩."""
    a, b = node.args
    return (_reduce(c, a, batched) if dep[0] else None,
            make("neg", _reduce(c, b, batched)) if dep[1] else None)


@adjoint("neg")
def adjoint_neg(node, c, dep, batched):
    """⟨C, −dA⟩ = ⟨−C, dA⟩."""
    return (make("neg", c),)


def _as_row(v: Node) -> Node:
    """A vector as a row: vᵀ for a column, v itself for a row."""
    return T(v) if v.shape[1] == 1 else v


@adjoint("mul")
def adjoint_mul(node, c, dep, batched):
    """⟨C, A·dB⟩ = ⟨AᵀC, dB⟩ and ⟨C, dA·B⟩ = ⟨C·Bᵀ, dA⟩ (trace cyclicity);
    with a scalar factor s: ⟨C, ds·B⟩ = ⟨B, C⟩·ds and ⟨C, s·dB⟩ = ⟨s·C, dB⟩."""
    a, b = node.args
    out = [None, None]
    if dep[0]:
        if is_scalar(b.shape):
            out[0] = times(b, c)
        elif is_scalar(a.shape):
            out[0] = times(_as_row(b), c) if batched else inner(b, c)
        elif not batched:
            out[0] = times(c, T(b))
        elif a.shape[0] == 1:          # a row dA, whose batch is kept as columns: (dA·B)ᵀ = Bᵀ·dAᵀ
            out[0] = times(b, c)
        else:
            raise NotMatrixForm("a matrix-valued factor depends on the variable")
    if dep[1]:
        if is_scalar(a.shape):
            out[1] = times(a, c)
        elif is_scalar(b.shape):
            out[1] = times(_as_row(a), c) if batched else inner(a, c)
        elif not batched or b.shape[1] == 1:
            out[1] = times(T(a), c)
        else:
            raise NotMatrixForm("a matrix-valued factor depends on the variable")
    return tuple(out)


@adjoint("hadamard")
def adjoint_hadamard(node, c, dep, batched):
    """⟨C, A ⊙ dB⟩ = ⟨A ⊙ C, dB⟩."""
    a, b = node.args
    out = [None, None]
    for i, (other, mine) in enumerate(((b, a), (a, b))):
        if dep[i]:
            if batched:
                out[i] = _diag_times(other, c)
            elif is_scalar(mine.shape) and not is_scalar(other.shape):
                out[i] = inner(other, c)
            else:
                out[i] = emul(other, c)
    return tuple(out)


@adjoint("div")
def adjoint_div(node, c, dep, batched):
    """⟨C, dA/s⟩ = ⟨C/s, dA⟩."""
    return (make("div", c, node.args[1]), None)


@adjoint("ediv")
def adjoint_ediv(node, c, dep, batched):
    """⟨C, dA ⊘ B⟩ = ⟨C ⊘ B, dA⟩."""
    a, b = node.args
    if batched:
        return (_diag_times(make("ediv", Num(1), b), c), None)
    if is_scalar(a.shape) and not is_scalar(b.shape):
        return (make("sum", make("ediv", c, b)), None)
    return (make("ediv", c, b) if not is_scalar(b.shape) else make("div", c, b), None)


@adjoint("transpose")
def adjoint_transpose(node, c, dep, batched):
    """⟨C, dAᵀ⟩ = ⟨Cᵀ, dA⟩ (a batch keeps rows and columns alike as columns)."""
    return (c if batched else T(c),)


@adjoint("tr")
def adjoint_tr(node, c, dep, batched):
    """⟨c, tr(dA)⟩ = ⟨c·I, dA⟩."""
    if batched:
        raise NotMatrixForm("the trace of a matrix that depends on the variable")
    return (times(c, eye(node.args[0].shape[0])),)


@adjoint("sum")
def adjoint_sum(node, c, dep, batched):
    """⟨c, sum(dA)⟩ = ⟨c·1, dA⟩ (1 the all-ones array)."""
    a = node.args[0]
    if batched and a.shape[1] != 1:
        raise NotMatrixForm("the sum of a matrix that depends on the variable")
    return (times(ones(a.shape), c) if batched else times(c, ones(a.shape)),)


@adjoint("diag")
def adjoint_diag(node, c, dep, batched):
    """⟨C, diag(dx)⟩ = ⟨diag(C), dx⟩ and ⟨c, diag(dA)⟩ = ⟨diag(c), dA⟩."""
    if batched:
        raise NotMatrixForm("diag of an argument that depends on the variable")
    return (make("diag", c),)


def _no_adjoint(name):
    def adjoint_unsupported(node, c, dep, batched):
        """No matrix form: the derivative falls back to the index form."""
        raise NotMatrixForm(f"{name} in a differential")
    return adjoint_unsupported


for _op in ("vec", "kron"):
    adjoint(_op)(_no_adjoint(_op))


def pairing(c: Node, node: Node, batched: bool) -> Node:
    """⟨C, N⟩ as an expression: tr(CᵀN) (written aᵀb for vectors); for a batch of cotangent
    columns C, the column of pairings CᵀN (a row N is paired as Nᵀ, as the batch keeps it)."""
    if not batched:
        return node if isinstance(c, Num) and c.value == 1 else inner(c, node)
    return times(T(c), T(node) if node.shape[0] == 1 and node.shape[1] != 1 else node)


def cotangent(df: Node, dx: Var, seed: Node, batched: bool = False, steps: Optional[list] = None,
              order: int = 1) -> Optional[Node]:
    """The cotangent that reaches ``dx`` when ``seed`` is put on ``df`` (one reverse sweep).

    Not batched: returns G with df = ⟨G, dx⟩ for seed 1.  Batched: returns Jᵀ (seed I).
    Raises :class:`NotMatrixForm` where no matrix form exists; ``UnsupportedError`` for a
    differential that is not linear in ``dx``.  When ``steps`` is a list, every adjoint rule
    applied is recorded as an equality ⟨C, node⟩ = Σ ⟨Cᵢ, childᵢ⟩ over the children that depend
    on ``dx``: the trace-cyclicity work, step by step.
    """
    order = list(postorder(df))
    depends: dict[int, bool] = {}
    for node in order:
        depends[id(node)] = (node == dx) if isinstance(node, Var) else any(depends[id(k)] for k in node.children())
    if not depends[id(df)]:
        return None
    if batched and not (df.shape[1] == 1 or df.shape[0] == 1):
        raise NotMatrixForm("a matrix-valued function")
    pending: dict[int, list] = {id(df): [seed]}
    result = None
    for node in reversed(order):
        contributions = pending.pop(id(node), None)
        if contributions is None or not depends[id(node)]:
            continue
        c = contributions[0]
        for more in contributions[1:]:
            c = plus(c, more)
        if isinstance(node, Var):
            result = plus(result, c)
            continue
        op = op_of(node)
        fn = ADJOINT_RULES.get(op)
        if fn is None:
            raise UnsupportedError(f"{op} is not linear, yet the differential applies it to the direction "
                                   f"{dx.name}: this is a bug in a differential rule")
        dep = tuple(depends[id(k)] for k in node.children())
        cts = fn(node, c, dep, batched)
        passed = [(child, ct) for child, d, ct in zip(node.children(), dep, cts) if d and ct is not None]
        for child, ct in passed:
            pending.setdefault(id(child), []).append(ct)
        if steps is not None and passed:
            after = None
            for child, ct in passed:
                after = plus(after, pairing(ct, child, batched))
            steps.append(Step("identify", rule_of(fn), order, pairing(c, node, batched), after, direction=dx))
    return result


def substitute(root: Node, old: Var, new: Node) -> Node:
    """``root`` with every occurrence of the variable ``old`` replaced by ``new`` (sharing kept)."""
    done: dict[int, Node] = {}
    for node in postorder(root):
        if isinstance(node, Var):
            done[id(node)] = new if node == old else node
        elif node.children():
            kids = tuple(done[id(k)] for k in node.children())
            done[id(node)] = node if all(a is b for a, b in zip(kids, node.children())) else make(node.op, *kids)
        else:
            done[id(node)] = node
    return done[id(root)]


def depends_on(root: Node, x: Var) -> bool:
    return any(isinstance(n, Var) and n == x for n in postorder(root))


# ------------------------------------------------------------------------------ vec (Kronecker) form

VEC_RULES: dict[str, Callable] = {}


vec_rule = registrar(VEC_RULES)


@vec_rule("add")
def vec_add(node, m, dep):
    """vec(dA + dB) = vec(dA) + vec(dB)."""
    return plus(*(mi if d else None for mi, d in zip(m, dep)))


@vec_rule("sub")
def vec_sub(node, m, dep):
    """vec(dA − dB) = vec(dA) − vec(dB)."""
    a = m[0] if dep[0] else None
    b = make("neg", m[1]) if dep[1] else None
    return plus(a, b)


@vec_rule("neg")
def vec_neg(node, m, dep):
    """vec(−dA) = −vec(dA)."""
    return make("neg", m[0])


@vec_rule("mul")
def vec_mul(node, m, dep):
    """vec(A·dX·B) = (Bᵀ ⊗ A)·vec(dX) (MC 520): vec(A·dL) = (I ⊗ A)·vec(dL), vec(dL·B) = (Bᵀ ⊗ I)·vec(dL);
    a scalar s: vec(s·dL) = s·vec(dL), vec(ds·B) = vec(B)·ds."""
    a, b = node.args
    out = None
    if dep[0]:
        if is_scalar(b.shape):
            term = times(b, m[0])
        elif is_scalar(a.shape):
            term = times(make("vec", b), m[0])
        else:
            term = times(make("kron", T(b), eye(a.shape[0])), m[0])
        out = plus(out, term)
    if dep[1]:
        if is_scalar(a.shape):
            term = times(a, m[1])
        elif is_scalar(b.shape):
            term = times(make("vec", a), m[1])
        else:
            term = times(make("kron", eye(b.shape[1]), a), m[1])
        out = plus(out, term)
    return out


@vec_rule("hadamard")
def vec_hadamard(node, m, dep):
    """vec(A ⊙ dL) = diag(vec(A))·vec(dL)."""
    out = None
    for other, mi, d in zip(reversed(node.args), m, dep):
        if d:
            out = plus(out, times(other, mi) if is_scalar(other.shape) else times(make("diag", make("vec", other)), mi))
    return out


@vec_rule("div")
def vec_div(node, m, dep):
    """vec(dL/s) = vec(dL)/s."""
    return make("div", m[0], node.args[1])


@vec_rule("ediv")
def vec_ediv(node, m, dep):
    """vec(dL ⊘ B) = diag(vec(1 ⊘ B))·vec(dL)."""
    b = node.args[1]
    if is_scalar(b.shape):
        return make("div", m[0], b)
    return times(make("diag", make("vec", make("ediv", Num(1), b))), m[0])


@vec_rule("transpose")
def vec_transpose(node, m, dep):
    """vec(dvᵀ) = vec(dv) for a vector; a matrix needs the commutation matrix, which has no name here."""
    a = node.args[0]
    if a.shape[0] == 1 or a.shape[1] == 1:
        return m[0]
    raise NotMatrixForm("the transpose of a matrix differential (the commutation matrix)")


@vec_rule("tr")
def vec_tr(node, m, dep):
    """tr(dL) = vec(I)ᵀ·vec(dL)."""
    return times(T(make("vec", eye(node.args[0].shape[0]))), m[0])


@vec_rule("sum")
def vec_sum(node, m, dep):
    """sum(dL) = 1ᵀ·vec(dL)."""
    a = node.args[0]
    return times(T(ones((dim_product(*a.shape), 1))), m[0])


@vec_rule("vec")
def vec_vec(node, m, dep):
    """vec(vec(dL)) = vec(dL)."""
    return m[0]


def _no_vec(name):
    def vec_unsupported(node, m, dep):
        """No Kronecker form here: the derivative falls back to the index form."""
        raise NotMatrixForm(f"{name} of a differential in vec form")
    return vec_unsupported


for _op in ("diag", "kron"):
    vec_rule(_op)(_no_vec(_op))


def vec_jacobian(df: Node, dx: Var, steps: Optional[list] = None, order: int = 1) -> Optional[Node]:
    """J with vec(df) = J·vec(dx), by one forward sweep of ``VEC_RULES`` (Kronecker products).
    When ``steps`` is a list, each vec rule applied is recorded as vec(node) = M·vec(dx)."""
    values: dict[int, Optional[Node]] = {}
    for node in postorder(df):
        if isinstance(node, Var):
            values[id(node)] = eye(dim_product(*dx.shape)) if node == dx else None
            continue
        kids = node.children()
        m = tuple(values[id(k)] for k in kids)
        if not kids or all(v is None for v in m):
            values[id(node)] = None
            continue
        fn = VEC_RULES.get(op_of(node))
        if fn is None:
            raise UnsupportedError(f"{op_of(node)} is not linear, yet the differential applies it to {dx.name}")
        out = values[id(node)] = fn(node, m, tuple(v is not None for v in m))
        if steps is not None and out is not None:
            steps.append(Step("identify", rule_of(fn), order, make("vec", node), times(out, make("vec", dx)),
                              direction=dx))
    return values[id(df)]
