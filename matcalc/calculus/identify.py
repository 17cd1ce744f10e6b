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

from matcalc.derivation import Step, identity, rule_of
from matcalc.ir.build import inner, T, emul, eye, ones, plus, times
from matcalc.errors import UnsupportedError
from matcalc.ir.nodes import PRODUCTS, Node, Num, Var, op_of, postorder
from matcalc.ir.shapes import dim_product, is_scalar, is_vector, make
from matcalc.tables import registrar

ADJOINT_RULES: dict[str, Callable] = {}


adjoint = registrar(ADJOINT_RULES)


class NotMatrixForm(UnsupportedError):
    """The batched sweep met a node whose cotangents would need a 3-way array."""


def _diag_times(a: Node, c: Node) -> Node:
    """a ⊙ C for a column a and a batch C of columns: diag(a)·C."""
    if is_scalar(a.shape):
        return times(a, c)
    col = a if a.shape[1] == 1 else T(a)
    return times(make("diag", col), c)


@adjoint("add")
@identity("tr(C'*(dA + dB)) = tr(C'*dA) + tr(C'*dB)", "C: matrix(m,n); dA: matrix(m,n); dB: matrix(m,n)")
def adjoint_add(node, c, dep, batched):
    """⟨C, dA + dB⟩ = ⟨C, dA⟩ + ⟨C, dB⟩ (the operands have one shape: a scalar in a sum is spread,
    s·𝟙, and its cotangent ⟨𝟙, C⟩ = sum(C) is adjoint_scale's)."""
    return tuple(c if d else None for d in dep)


@adjoint("sub")
@identity("tr(C'*(dA - dB)) = tr(C'*dA) + tr((-C)'*dB)", "C: matrix(m,n); dA: matrix(m,n); dB: matrix(m,n)")
def adjoint_sub(node, c, dep, batched):
    """⟨C, dA − dB⟩ = ⟨C, dA⟩ + ⟨−C, dB⟩."""
    return (c if dep[0] else None, make("neg", c) if dep[1] else None)


@adjoint("neg")
@identity("tr(C'*(-dA)) = tr((-C)'*dA)", "C: matrix(m,n); dA: matrix(m,n)")
def adjoint_neg(node, c, dep, batched):
    """⟨C, −dA⟩ = ⟨−C, dA⟩."""
    return (make("neg", c),)


def _as_row(v: Node) -> Node:
    """A vector as a row: vᵀ for a column, v itself for a row."""
    return T(v) if v.shape[1] == 1 else v


@adjoint("mul")
@identity("tr(C'*A*dB) = tr((A'*C)'*dB)", "C: matrix(m,p); A: matrix(m,n); dB: matrix(n,p)")
def adjoint_mul(node, c, dep, batched):
    """⟨C, A·dB⟩ = ⟨AᵀC, dB⟩ and ⟨C, dA·B⟩ = ⟨C·Bᵀ, dA⟩ (trace cyclicity)."""
    a, b = node.args
    out = [None, None]
    if dep[0]:
        if not batched:
            out[0] = times(c, T(b))
        elif a.shape[0] == 1:          # a row dA, whose batch is kept as columns: (dA·B)ᵀ = Bᵀ·dAᵀ
            out[0] = times(b, c)
        else:
            raise NotMatrixForm("a matrix-valued factor depends on the variable")
    if dep[1]:
        if not batched or b.shape[1] == 1:
            out[1] = times(T(a), c)
        else:
            raise NotMatrixForm("a matrix-valued factor depends on the variable")
    return tuple(out)


@adjoint("scale")
@identity("tr(C'*(ds*A + s*dA)) = tr(A'*C)*ds + tr((s*C)'*dA)",
          "C: matrix(m,n); A: matrix(m,n); dA: matrix(m,n); s: scalar; ds: scalar")
def adjoint_scale(node, c, dep, batched):
    """⟨C, ds·A⟩ = ⟨A, C⟩·ds and ⟨C, s·dA⟩ = ⟨s·C, dA⟩ (a batch pairs A with each column)."""
    s, a = node.args
    unit = isinstance(c, Num) and c.value == 1          # the seed of a scalar f: s·1 is s
    return (((times(_as_row(a), c) if batched else inner(a, c)) if dep[0] else None),
            (s if unit else times(s, c)) if dep[1] else None)


@adjoint("hadamard")
@identity("tr(C'*(A .* dB)) = tr((A .* C)'*dB)", "C: matrix(m,n); A: matrix(m,n); dB: matrix(m,n)")
def adjoint_hadamard(node, c, dep, batched):
    """⟨C, A ⊙ dB⟩ = ⟨A ⊙ C, dB⟩."""
    a, b = node.args
    out = [None, None]
    for i, other in enumerate((b, a)):
        if dep[i]:
            out[i] = _diag_times(other, c) if batched else emul(other, c)
    return tuple(out)


@adjoint("div")
@identity("tr(C'*(dA/s)) = tr((C/s)'*dA)", "C: matrix(m,n); dA: matrix(m,n); s: scalar")
def adjoint_div(node, c, dep, batched):
    """⟨C, dA/s⟩ = ⟨C/s, dA⟩."""
    return (make("div", c, node.args[1]), None)


@adjoint("ediv")
@identity("tr(C'*(dA ./ B)) = tr((C ./ B)'*dA)", "C: matrix(m,n); dA: matrix(m,n); B: matrix(m,n)")
def adjoint_ediv(node, c, dep, batched):
    """⟨C, dA ⊘ B⟩ = ⟨C ⊘ B, dA⟩."""
    a, b = node.args
    if batched:
        return (_diag_times(make("ediv", Num(1), b), c), None)
    if is_scalar(a.shape) and not is_scalar(b.shape):
        return (make("sum", make("ediv", c, b)), None)
    return (make("ediv", c, b) if not is_scalar(b.shape) else make("div", c, b), None)


@adjoint("transpose")
@identity("tr(C'*dA') = tr((C')'*dA)", "C: matrix(n,m); dA: matrix(m,n)")
def adjoint_transpose(node, c, dep, batched):
    """⟨C, dAᵀ⟩ = ⟨Cᵀ, dA⟩ (a batch keeps rows and columns alike as columns)."""
    return (c if batched else T(c),)


@adjoint("tr")
@identity("c*tr(dA) = tr((c*eye)'*dA)", "c: scalar; dA: matrix(n,n)")
def adjoint_tr(node, c, dep, batched):
    """⟨c, tr(dA)⟩ = ⟨c·I, dA⟩."""
    if batched:
        raise NotMatrixForm("the trace of a matrix that depends on the variable")
    return (times(c, eye(node.args[0].shape[0])),)


@adjoint("sum")
@identity("c*sum(dA) = tr((c*matrix(1))'*dA)", "c: scalar; dA: matrix(m,n)")
def adjoint_sum(node, c, dep, batched):
    """⟨c, sum(dA)⟩ = ⟨c·1, dA⟩ (1 the all-ones array)."""
    a = node.args[0]
    if batched and a.shape[1] != 1:
        raise NotMatrixForm("the sum of a matrix that depends on the variable")
    return (times(ones(a.shape), c) if batched else times(c, ones(a.shape)),)


@adjoint("diag")
@identity("tr(C'*diag(dx)) = diag(C)'*dx", "C: matrix(n,n); dx: vector(n)")
def adjoint_diag(node, c, dep, batched):
    """⟨C, diag(dx)⟩ = ⟨diag(C), dx⟩ and ⟨c, diag(dA)⟩ = ⟨diag(c), dA⟩."""
    if batched:
        raise NotMatrixForm("diag of an argument that depends on the variable")
    return (make("diag", c),)


def _unvec(c: Node, shape) -> Node:
    """G with c = vec(G), for a cotangent that is a sum of scaled vec(Gᵢ) once simplified
    (there is no reshape in the IR, so any other c has no matrix form here)."""
    from matcalc.simplify.engine import simplify   # the simplifier knows nothing of identification
    out, stack = None, [(simplify(c), None, 1)]
    while stack:
        n, scale, sign = stack.pop()
        op = op_of(n)
        if op in ("add", "sub"):
            stack += [(n.args[0], scale, sign), (n.args[1], scale, -sign if op == "sub" else sign)]
        elif op == "neg":
            stack.append((n.args[0], scale, -sign))
        elif op == "scale" and not is_scalar(n.shape):
            stack.append((n.args[1], n.args[0] if scale is None else times(scale, n.args[0]), sign))
        elif op == "div" and is_scalar(n.args[1].shape):
            stack.append((n.args[0], make("div", Num(1) if scale is None else scale, n.args[1]), sign))
        elif op == "vec" and tuple(n.args[0].shape) == tuple(shape):
            g = n.args[0] if scale is None else times(scale, n.args[0])
            out = plus(out, g) if sign > 0 else plus(out, make("neg", g))
        else:
            raise NotMatrixForm("vec of a differential whose cotangent is not vec of a matrix")
    return out


@identity("vec(G)'*vec(dA) = tr(G'*dA)", "G: matrix(m,n); dA: matrix(m,n)")
@adjoint("vec")
def adjoint_vec(node, c, dep, batched):
    """⟨vec(G), vec(dA)⟩ = ⟨G, dA⟩: the cotangent of vec(dA) is the matrix it stacks."""
    a = node.args[0]
    if a.shape[1] == 1:              # vec of a column is the column
        return (c,)
    if batched:
        raise NotMatrixForm("vec of a matrix that depends on the variable, in a Jacobian")
    return (_unvec(c, a.shape),)


def _square_identity_scale(c: Node) -> Optional[Node]:
    """s with c = s·I (s a scalar, possibly 1), else None."""
    if op_of(c) == "eye":
        return Num(1)
    if op_of(c) == "scale" and op_of(c.args[1]) == "eye":
        return c.args[0]
    if op_of(c) == "neg":
        inner = _square_identity_scale(c.args[0])
        return None if inner is None else make("neg", inner)
    return None


@identity("vec(C)'*kron(da, b) = (kron(eye, b)'*vec(C))'*da", "da: vector(m); b: vector(p); C: matrix(m,p)")
@adjoint("kron")
def adjoint_kron(node, c, dep, batched):
    """Columns: kron(da, b) = kron(I, b)·da and kron(a, db) = kron(a, I)·db, so ⟨C, kron(da, b)⟩ =
    ⟨kron(I, b)ᵀC, da⟩ and ⟨C, kron(a, db)⟩ = ⟨kron(a, I)ᵀC, db⟩; square matrices under a trace
    (C = s·I): ⟨s·I, kron(A, dB)⟩ = s·tr(A)·tr(dB), so dB gets s·tr(A)·I."""
    a, b = node.args
    out = [None, None]
    if a.shape[1] == 1 and b.shape[1] == 1:
        if dep[0]:
            out[0] = times(T(make("kron", eye(a.shape[0]), b)), c)
        if dep[1]:
            out[1] = times(T(make("kron", a, eye(b.shape[0]))), c)
        return tuple(out)
    s = None if batched else _square_identity_scale(c)
    if s is None or a.shape[0] != a.shape[1] or b.shape[0] != b.shape[1]:
        raise NotMatrixForm("kron of a matrix that depends on the variable")
    if dep[0]:
        out[0] = times(times(s, make("tr", b)), eye(a.shape[0]))
    if dep[1]:
        out[1] = times(times(s, make("tr", a)), eye(b.shape[0]))
    return tuple(out)


@identity("(s*A + B)*v = s*(A*v) + B*v", "s: scalar; A: matrix(m,n); B: matrix(m,n); v: vector(n)")
def columns_first(df: Node, dx: Var) -> Node:
    """``df`` with each product that is a column and depends on ``dx`` applied factor by factor
    to its column, right to left, scalar factors in front and sums of matrices distributed:
    ``(dx*x' + x*dx')*x`` is ``dx*(x'*x) + (dx'*x)*x`` and ``(s*A')*r`` is ``s*(A'*r)``
    (associativity, distributivity; scalars commute).  Every matrix factor then multiplies a
    column, so the batched sweep meets no matrix-valued node that depends on ``dx``.  Iterative
    over the expression; each chain is taken apart once, at its top."""
    nodes = list(postorder(df))
    depends: dict[int, bool] = {}
    uses: dict[int, int] = {}
    factor_uses: dict[int, int] = {}
    for node in nodes:
        depends[id(node)] = (node == dx) if isinstance(node, Var) else any(depends[id(k)] for k in node.children())
        for k in node.children():
            uses[id(k)] = uses.get(id(k), 0) + 1
            if op_of(node) in PRODUCTS and op_of(k) in PRODUCTS:
                factor_uses[id(k)] = factor_uses.get(id(k), 0) + 1
    inner = {i for i, n in factor_uses.items() if n == uses[i]}   # products used only as factors
    done: dict[int, Node] = {}

    def chain(n: Node) -> tuple[list, list]:
        """The scalar and the matrix factors of a product, left to right."""
        scalars, factors, stack = [], [], [n]
        while stack:
            m = stack.pop()
            if op_of(m) in PRODUCTS and not is_scalar(m.shape) and (m is n or id(m) in inner):
                stack.extend(reversed(m.args))
            elif is_scalar(m.shape):
                scalars.append(done.get(id(m), m))
            else:
                factors.append(m)
        return scalars, factors

    def apply(f: Node, v: Node) -> Node:
        """f·v for a column v, with a dx-dependent matrix f taken apart (a short recursion on the
        sums and products inside one factor)."""
        op = op_of(f)
        if depends[id(f)] and op in ("add", "sub"):
            a, b = apply(f.args[0], v), apply(f.args[1], v)
            return plus(a, b) if op == "add" else make("sub", a, b)
        if depends[id(f)] and op == "neg":
            return make("neg", apply(f.args[0], v))
        if depends[id(f)] and op in PRODUCTS and not is_scalar(f.shape):
            scalars, factors = chain(f)
            return scaled(scalars, applied(factors, v))
        return times(done.get(id(f), f), v)

    def applied(factors: list, v: Node) -> Node:
        for f in reversed(factors):
            v = apply(f, v)
        return v

    def scaled(scalars: list, v: Node) -> Node:
        for c in reversed(scalars):
            v = times(c, v)
        return v

    for node in nodes:
        kids = node.children()
        if not kids:
            done[id(node)] = node
        elif op_of(node) in PRODUCTS and depends[id(node)] and id(node) not in inner and is_vector(node.shape):
            scalars, factors = chain(node)
            done[id(node)] = scaled(scalars, applied(factors[:-1], done.get(id(factors[-1]), factors[-1])))
        else:
            new = tuple(done[id(k)] for k in kids)
            done[id(node)] = node if all(a is b for a, b in zip(new, kids)) else make(node.op, *new)
    return done[id(df)]


def pairing(c: Node, node: Node, batched: bool) -> Node:
    """⟨C, N⟩ as an expression: tr(CᵀN) (written aᵀb for vectors); for a batch of cotangent
    columns C, the column of pairings CᵀN (a row N is paired as Nᵀ, as the batch keeps it)."""
    if not batched:
        return node if isinstance(c, Num) and c.value == 1 else inner(c, node)
    return times(T(c), T(node) if node.shape[0] == 1 and node.shape[1] != 1 else node)


def cotangent(df: Node, dx: Var, seed: Node, batched: bool = False, order: int = 1,
              record: bool = True) -> tuple[Optional[Node], list]:
    """The cotangent that reaches ``dx`` when ``seed`` is put on ``df`` (one reverse sweep).

    Not batched: returns G with df = ⟨G, dx⟩ for seed 1.  Batched: returns Jᵀ (seed I).
    Raises :class:`NotMatrixForm` where no matrix form exists; ``UnsupportedError`` for a
    differential that is not linear in ``dx``.  Returns the cotangent and its steps: every adjoint rule
    applied is recorded as an equality ⟨C, node⟩ = Σ ⟨Cᵢ, childᵢ⟩ over the children that depend
    on ``dx``: the trace-cyclicity work, step by step.
    """
    nodes = list(postorder(df))
    depends: dict[int, bool] = {}
    for node in nodes:
        depends[id(node)] = (node == dx) if isinstance(node, Var) else any(depends[id(k)] for k in node.children())
    steps: list = []
    if not depends[id(df)]:
        return None, steps
    if batched and not (df.shape[1] == 1 or df.shape[0] == 1):
        raise NotMatrixForm("a matrix-valued function")
    pending: dict[int, list] = {id(df): [seed]}
    result = None
    for node in reversed(nodes):
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
        if record and passed:
            after = None
            for child, ct in passed:
                after = plus(after, pairing(ct, child, batched))
            before = pairing(c, node, batched)
            if after != before:     # ⟨1, s·u⟩ = ⟨s, u⟩ reads the same: nothing to show
                steps.append(Step("identify", rule_of(fn), order, before, after, direction=dx))
    return result, steps


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
@identity("vec(dA + dB) = vec(dA) + vec(dB)", "dA: matrix(m,n); dB: matrix(m,n)")
def vec_add(node, m, dep):
    """vec(dA + dB) = vec(dA) + vec(dB)."""
    return plus(*(mi if d else None for mi, d in zip(m, dep)))


@vec_rule("sub")
@identity("vec(dA - dB) = vec(dA) - vec(dB)", "dA: matrix(m,n); dB: matrix(m,n)")
def vec_sub(node, m, dep):
    """vec(dA − dB) = vec(dA) − vec(dB)."""
    a = m[0] if dep[0] else None
    b = make("neg", m[1]) if dep[1] else None
    return plus(a, b)


@vec_rule("neg")
@identity("vec(-dA) = -vec(dA)", "dA: matrix(m,n)")
def vec_neg(node, m, dep):
    """vec(−dA) = −vec(dA)."""
    return make("neg", m[0])


@vec_rule("mul")
@identity("vec(A*dX*B) = kron(B', A)*vec(dX)", "A: matrix(m,n); dX: matrix(n,p); B: matrix(p,q)", "MC 520")
def vec_mul(node, m, dep):
    """vec(A·dX·B) = (Bᵀ ⊗ A)·vec(dX) (MC 520): vec(A·dL) = (I ⊗ A)·vec(dL), vec(dL·B) = (Bᵀ ⊗ I)·vec(dL)."""
    a, b = node.args
    return plus(times(make("kron", T(b), eye(a.shape[0])), m[0]) if dep[0] else None,
                times(make("kron", eye(b.shape[1]), a), m[1]) if dep[1] else None)


@vec_rule("scale")
@identity("vec(ds*A + s*dL) = vec(A)*ds + s*vec(dL)", "s: scalar; ds: scalar; A: matrix(m,n); dL: matrix(m,n)")
def vec_scale(node, m, dep):
    """vec(ds·A) = vec(A)·ds and vec(s·dL) = s·vec(dL)."""
    s, a = node.args
    return plus(times(make("vec", a), m[0]) if dep[0] else None, times(s, m[1]) if dep[1] else None)


@vec_rule("hadamard")
@identity("vec(A .* dL) = diag(vec(A))*vec(dL)", "A: matrix(m,n); dL: matrix(m,n)")
def vec_hadamard(node, m, dep):
    """vec(A ⊙ dL) = diag(vec(A))·vec(dL)."""
    out = None
    for other, mi, d in zip(reversed(node.args), m, dep):
        if d:
            out = plus(out, times(make("diag", make("vec", other)), mi))
    return out


@vec_rule("div")
@identity("vec(dL/s) = vec(dL)/s", "dL: matrix(m,n); s: scalar")
def vec_div(node, m, dep):
    """vec(dL/s) = vec(dL)/s."""
    return make("div", m[0], node.args[1])


@vec_rule("ediv")
@identity("vec(dL ./ B) = diag(vec(1 ./ B))*vec(dL)", "dL: matrix(m,n); B: matrix(m,n)")
def vec_ediv(node, m, dep):
    """vec(dL ⊘ B) = diag(vec(1 ⊘ B))·vec(dL)."""
    b = node.args[1]
    if is_scalar(b.shape):
        return make("div", m[0], b)
    return times(make("diag", make("vec", make("ediv", Num(1), b))), m[0])


@vec_rule("transpose")
@identity("vec(dv') = vec(dv)", "dv: vector(n)")
def vec_transpose(node, m, dep):
    """vec(dvᵀ) = vec(dv) for a vector; a matrix needs the commutation matrix, which has no name here."""
    a = node.args[0]
    if a.shape[0] == 1 or a.shape[1] == 1:
        return m[0]
    raise NotMatrixForm("the transpose of a matrix differential (the commutation matrix)")


@vec_rule("tr")
@identity("tr(dL) = vec(eye)'*vec(dL)", "dL: matrix(n,n)")
def vec_tr(node, m, dep):
    """tr(dL) = vec(I)ᵀ·vec(dL)."""
    return times(T(make("vec", eye(node.args[0].shape[0]))), m[0])


@vec_rule("sum")
@identity("sum(dL) = vector(1)'*vec(dL)", "dL: matrix(m,n)")
def vec_sum(node, m, dep):
    """sum(dL) = 1ᵀ·vec(dL)."""
    a = node.args[0]
    return times(T(ones((dim_product(*a.shape), 1))), m[0])


@vec_rule("vec")
@identity("vec(vec(dL)) = vec(dL)", "dL: matrix(m,n)")
def vec_vec(node, m, dep):
    """vec(vec(dL)) = vec(dL)."""
    return m[0]


def _no_vec(name):
    def vec_unsupported(node, m, dep):
        """No Kronecker form here: the derivative falls back to the index form."""
        raise NotMatrixForm(f"{name} of a differential in vec form")
    return vec_unsupported


vec_rule("diag")(_no_vec("diag"))


@identity("kron(a, db) = kron(a, eye)*db", "a: vector(m); db: vector(p)")
@vec_rule("kron")
def vec_kron(node, m, dep):
    """For columns, vec(kron(da, b)) = kron(I, b)·vec(da) and vec(kron(a, db)) = kron(a, I)·vec(db);
    a Kronecker product of matrices that depend on the variable has no form here."""
    a, b = node.args
    if a.shape[1] != 1 or b.shape[1] != 1:
        raise NotMatrixForm("kron of a matrix differential in vec form")
    out = None
    if dep[0]:
        out = plus(out, times(make("kron", eye(a.shape[0]), b), m[0]))
    if dep[1]:
        out = plus(out, times(make("kron", a, eye(b.shape[0])), m[1]))
    return out


def vec_jacobian(df: Node, dx: Var, order: int = 1, record: bool = True) -> tuple[Optional[Node], list]:
    """J with vec(df) = J·vec(dx), by one forward sweep of ``VEC_RULES`` (Kronecker products).
    Returns J and its steps: each vec rule applied, as vec(node) = M·vec(dx)."""
    steps: list = []
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
        if record and out is not None:
            steps.append(Step("identify", rule_of(fn), order, make("vec", node), times(out, make("vec", dx)),
                              direction=dx))
    return values[id(df)], steps
