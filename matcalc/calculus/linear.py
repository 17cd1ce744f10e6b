"""The linear ops of a differential, each registered once with everything it means to identification.

A differential df is linear in its direction dX: every node between dX and the root is a linear
op of dX (a sum, a product with one factor free of dX, a transpose, a trace, …).  Each op is one
class here, with its interpretations side by side, each stating its identity:

- ``adjoint_*(node, c, dep)``: the cotangents of the children from the node's own cotangent C,
  ⟨C, A·dB⟩ = ⟨AᵀC, dB⟩; the reverse sweep :func:`matcalc.calculus.identify.cotangent` reads a
  gradient off df with these;
- ``batched_*(node, c, dep)``: the same for a batch of cotangents, one column per entry of f (the
  Jacobian sweep, seeded with I); absent where the adjoint serves a batch as it is.  It raises
  :class:`NotMatrixForm` where the batch would need a 3-way array.  Its steps cite the adjoint's
  identity: it is that identity, column by column;
- ``vec_*(node, m, dep)``: M with vec(node) = M·vec(dX), from the children's M (Kronecker forms,
  :func:`matcalc.calculus.identify.vec_jacobian`);
- ``index_*(b, node, row, col)``: the node's entry [row, col] as index-sum terms, a generator that
  yields the children's entries it needs, ``(child, row, col)``, and is sent their terms
  (:mod:`matcalc.calculus.index_form` drives it, and its builder ``b`` makes the SymPy objects,
  so that this module, loaded with ``import matcalc``, does not load SymPy).

``dep[k]`` says whether child k depends on the direction; the tables ``ADJOINT_RULES``,
``BATCHED_RULES``, ``VEC_RULES`` and ``INDEX_RULES`` are filled from the classes by :func:`linear`.
"""
from __future__ import annotations

from typing import Callable, Optional

from matcalc.derivation import identity
from matcalc.errors import UnsupportedError
from matcalc.ir.build import inner, T, emul, eye, ones, plus, times, transposed
from matcalc.ir.nodes import Node, Num, op_of
from matcalc.ir.shapes import dim_product, is_scalar, make

ADJOINT_RULES: dict[str, Callable] = {}
BATCHED_RULES: dict[str, Callable] = {}
VEC_RULES: dict[str, Callable] = {}
INDEX_RULES: dict[str, Callable] = {}

_TABLES = {"adjoint_": ADJOINT_RULES, "batched_": BATCHED_RULES, "vec_": VEC_RULES, "index_": INDEX_RULES}


def linear(op: str) -> Callable:
    """Register the class's ``adjoint_*``, ``batched_*``, ``vec_*`` and ``index_*`` functions for ``op``."""
    def register(cls):
        for name, fn in vars(cls).items():
            for prefix, table in _TABLES.items():
                if name.startswith(prefix) and callable(fn):
                    if op in table:
                        raise ValueError(f"two {prefix}rules for {op}")
                    table[op] = fn
        if op not in ADJOINT_RULES:
            raise ValueError(f"the linear op {op} has no adjoint rule")
        return cls
    return register


class NotMatrixForm(UnsupportedError):
    """The batched sweep met a node whose cotangents would need a 3-way array."""


# ------------------------------------------------------------------------------ helpers

def _diag_times(a: Node, c: Node) -> Node:
    """a ⊙ C for a column a and a batch C of columns: diag(a)·C."""
    if is_scalar(a.shape):
        return times(a, c)
    col = a if a.shape[1] == 1 else T(a)
    return times(make("diag", col), c)


def _is_seed(c: Node) -> bool:
    """The cotangent 1 that seeds the sweep of a scalar f (1·A would be shown as a step)."""
    return isinstance(c, Num) and c.value == 1


def _times(c: Node, a: Node) -> Node:
    """c·A, and A itself for the seed c = 1."""
    return a if _is_seed(c) else times(c, a)


def _as_row(v: Node) -> Node:
    """A vector as a row: vᵀ for a column, v itself for a row."""
    return T(v) if v.shape[1] == 1 else v


def _negated(terms):
    return [(-c, f, bd) for c, f, bd in terms]


def _products(left, right, bound=()):
    return [(ca * cb, fa + fb, bound + ba + bb) for ca, fa, ba in left for cb, fb, bb in right]


def index_entrywise_product(b, node, row, col):
    """(s·A)[i, j] = s·A[i, j] and (A ⊙ B)[i, j] = A[i, j]·B[i, j]: the product of the operands'
    entries (a scalar has one, at every [i, j])."""
    left = yield node.args[0], row, col
    return _products(left, (yield node.args[1], row, col))


def _reciprocal(node: Node) -> Node:
    return make("ediv" if not is_scalar(node.shape) else "div", Num(1), node)


# ------------------------------------------------------------------------------ sums and signs

@linear("add")
class Add:
    @identity("tr(C'*(dA + dB)) = tr(C'*dA) + tr(C'*dB)", "C: matrix(m,n); dA: matrix(m,n); dB: matrix(m,n)")
    def adjoint_add(node, c, dep):
        """⟨C, dA + dB⟩ = ⟨C, dA⟩ + ⟨C, dB⟩ (the operands have one shape: a scalar in a sum is
        spread, s·𝟙, and its cotangent ⟨𝟙, C⟩ = sum(C) is adjoint_scale's)."""
        return tuple(c if d else None for d in dep)

    @identity("vec(dA + dB) = vec(dA) + vec(dB)", "dA: matrix(m,n); dB: matrix(m,n)")
    def vec_add(node, m, dep):
        """vec(dA + dB) = vec(dA) + vec(dB)."""
        return plus(*(mi if d else None for mi, d in zip(m, dep)))

    def index_sum(b, node, row, col):
        """(A ± B)[i, j] = A[i, j] ± B[i, j]."""
        a = yield node.args[0], row, col
        c = yield node.args[1], row, col
        return a + (_negated(c) if node.op == "sub" else c)


@linear("sub")
class Sub:
    @identity("tr(C'*(dA - dB)) = tr(C'*dA) + tr((-C)'*dB)", "C: matrix(m,n); dA: matrix(m,n); dB: matrix(m,n)")
    def adjoint_sub(node, c, dep):
        """⟨C, dA − dB⟩ = ⟨C, dA⟩ + ⟨−C, dB⟩."""
        return (c if dep[0] else None, make("neg", c) if dep[1] else None)

    @identity("vec(dA - dB) = vec(dA) - vec(dB)", "dA: matrix(m,n); dB: matrix(m,n)")
    def vec_sub(node, m, dep):
        """vec(dA − dB) = vec(dA) − vec(dB)."""
        return plus(m[0] if dep[0] else None, make("neg", m[1]) if dep[1] else None)

    index_sum = Add.index_sum


@linear("neg")
class Neg:
    @identity("tr(C'*(-dA)) = tr((-C)'*dA)", "C: matrix(m,n); dA: matrix(m,n)")
    def adjoint_neg(node, c, dep):
        """⟨C, −dA⟩ = ⟨−C, dA⟩."""
        return (make("neg", c),)

    @identity("vec(-dA) = -vec(dA)", "dA: matrix(m,n)")
    def vec_neg(node, m, dep):
        """vec(−dA) = −vec(dA)."""
        return make("neg", m[0])

    def index_neg(b, node, row, col):
        """(−A)[i, j] = −A[i, j]."""
        return _negated((yield node.args[0], row, col))


# ------------------------------------------------------------------------------ products

@linear("mul")
class Mul:
    @identity("tr(C'*A*dB) = tr((A'*C)'*dB)", "C: matrix(m,p); A: matrix(m,n); dB: matrix(n,p)")
    def adjoint_mul(node, c, dep):
        """⟨C, A·dB⟩ = ⟨AᵀC, dB⟩ and ⟨C, dA·B⟩ = ⟨C·Bᵀ, dA⟩ (trace cyclicity)."""
        a, b = node.args
        return (times(c, transposed(b)) if dep[0] else None, times(transposed(a), c) if dep[1] else None)

    def batched_mul(node, c, dep):
        """A batch of columns: A·dB for a column dB passes AᵀC; a row dA, whose batch is kept as
        columns, passes B·C, since (dA·B)ᵀ = Bᵀ·dAᵀ; a matrix factor that depends on the variable
        has no matrix form."""
        a, b = node.args
        out = [None, None]
        if dep[0]:
            if a.shape[0] != 1:
                raise NotMatrixForm("a matrix-valued factor depends on the variable")
            out[0] = times(b, c)
        if dep[1]:
            if b.shape[1] != 1:
                raise NotMatrixForm("a matrix-valued factor depends on the variable")
            out[1] = times(T(a), c)
        return tuple(out)

    @identity("vec(A*dX*B) = kron(B', A)*vec(dX)", "A: matrix(m,n); dX: matrix(n,p); B: matrix(p,q)", "MC 520")
    def vec_mul(node, m, dep):
        """vec(A·dX·B) = (Bᵀ ⊗ A)·vec(dX) (MC 520): vec(A·dL) = (I ⊗ A)·vec(dL), vec(dL·B) = (Bᵀ ⊗ I)·vec(dL)."""
        a, b = node.args
        return plus(times(make("kron", T(b), eye(a.shape[0])), m[0]) if dep[0] else None,
                    times(make("kron", eye(b.shape[1]), a), m[1]) if dep[1] else None)

    def index_mul(b, node, row, col):
        """(A·B)[i, j] = Σₖ A[i, k]·B[k, j]."""
        a, c = node.args
        k = next(b.fresh)
        left = yield a, row, k
        return _products(left, (yield c, k, col), (b.bound(k, a.shape[1]),))


@linear("scale")
class Scale:
    @identity("tr(C'*(ds*A + s*dA)) = tr(A'*C)*ds + tr((s*C)'*dA)",
              "C: matrix(m,n); A: matrix(m,n); dA: matrix(m,n); s: scalar; ds: scalar")
    def adjoint_scale(node, c, dep):
        """⟨C, ds·A⟩ = ⟨A, C⟩·ds and ⟨C, s·dA⟩ = ⟨s·C, dA⟩."""
        s, a = node.args
        return (inner(a, c) if dep[0] else None, (s if _is_seed(c) else times(s, c)) if dep[1] else None)

    def batched_scale(node, c, dep):
        """A batch pairs A with each column: ds·A passes Aᵀ·C (A as a row)."""
        s, a = node.args
        return (times(_as_row(a), c) if dep[0] else None, (s if _is_seed(c) else times(s, c)) if dep[1] else None)

    @identity("vec(ds*A + s*dL) = vec(A)*ds + s*vec(dL)", "s: scalar; ds: scalar; A: matrix(m,n); dL: matrix(m,n)")
    def vec_scale(node, m, dep):
        """vec(ds·A) = vec(A)·ds and vec(s·dL) = s·vec(dL)."""
        s, a = node.args
        return plus(times(make("vec", a), m[0]) if dep[0] else None, times(s, m[1]) if dep[1] else None)

    index_scale = index_entrywise_product


@linear("hadamard")
class Hadamard:
    @identity("tr(C'*(A .* dB)) = tr((A .* C)'*dB)", "C: matrix(m,n); A: matrix(m,n); dB: matrix(m,n)")
    def adjoint_hadamard(node, c, dep):
        """⟨C, A ⊙ dB⟩ = ⟨A ⊙ C, dB⟩."""
        a, b = node.args
        return tuple(emul(other, c) if d else None for other, d in zip((b, a), dep))

    def batched_hadamard(node, c, dep):
        """A batch of columns: A ⊙ dB passes diag(A)·C."""
        a, b = node.args
        return tuple(_diag_times(other, c) if d else None for other, d in zip((b, a), dep))

    @identity("vec(A .* dL) = diag(vec(A))*vec(dL)", "A: matrix(m,n); dL: matrix(m,n)")
    def vec_hadamard(node, m, dep):
        """vec(A ⊙ dL) = diag(vec(A))·vec(dL)."""
        out = None
        for other, mi, d in zip(reversed(node.args), m, dep):
            if d:
                out = plus(out, times(make("diag", make("vec", other)), mi))
        return out

    index_hadamard = index_entrywise_product


@linear("div")
class Div:
    @identity("tr(C'*(dA/s)) = tr((C/s)'*dA)", "C: matrix(m,n); dA: matrix(m,n); s: scalar")
    def adjoint_div(node, c, dep):
        """⟨C, dA/s⟩ = ⟨C/s, dA⟩."""
        return (make("div", c, node.args[1]), None)

    @identity("vec(dL/s) = vec(dL)/s", "dL: matrix(m,n); s: scalar")
    def vec_div(node, m, dep):
        """vec(dL/s) = vec(dL)/s."""
        return make("div", m[0], node.args[1])

    def index_div(b, node, row, col):
        """(A/s)[i, j] = A[i, j]/s for a direction-free s."""
        if id(node.args[1]) in b.depends:
            raise UnsupportedError("div of a direction has no index notation here")
        inverse = b.scalar(node.args[1])
        return [(c / inverse, f, bd) for c, f, bd in (yield node.args[0], row, col)]


@linear("ediv")
class Ediv:
    @identity("tr(C'*(dA ./ B)) = tr((C ./ B)'*dA)", "C: matrix(m,n); dA: matrix(m,n); B: matrix(m,n)")
    def adjoint_ediv(node, c, dep):
        """⟨C, dA ⊘ B⟩ = ⟨C ⊘ B, dA⟩ (a scalar dA spread over B's shape gets the sum)."""
        a, b = node.args
        if is_scalar(a.shape) and not is_scalar(b.shape):
            return (make("sum", make("ediv", c, b)), None)
        return (make("ediv", c, b) if not is_scalar(b.shape) else make("div", c, b), None)

    def batched_ediv(node, c, dep):
        """A batch of columns: dA ⊘ B passes diag(1 ⊘ B)·C."""
        return (_diag_times(make("ediv", Num(1), node.args[1]), c), None)

    @identity("vec(dL ./ B) = diag(vec(1 ./ B))*vec(dL)", "dL: matrix(m,n); B: matrix(m,n)")
    def vec_ediv(node, m, dep):
        """vec(dL ⊘ B) = diag(vec(1 ⊘ B))·vec(dL)."""
        b = node.args[1]
        if is_scalar(b.shape):
            return make("div", m[0], b)
        return times(make("diag", make("vec", make("ediv", Num(1), b))), m[0])

    def index_ediv(b, node, row, col):
        """(A ⊘ B)[i, j] = A[i, j]·(1 ⊘ B)[i, j] for a direction-free B (named)."""
        if id(node.args[1]) in b.depends:
            raise UnsupportedError("ediv of a direction has no index notation here")
        inverse = b.ref(_reciprocal(node.args[1]), row, col)
        return [(c, f + (inverse,), bd) for c, f, bd in (yield node.args[0], row, col)]


# ------------------------------------------------------------------------------ rearrangements

@linear("transpose")
class Transpose:
    @identity("tr(C'*dA') = tr((C')'*dA)", "C: matrix(n,m); dA: matrix(m,n)")
    def adjoint_transpose(node, c, dep):
        """⟨C, dAᵀ⟩ = ⟨Cᵀ, dA⟩."""
        return (transposed(c),)

    def batched_transpose(node, c, dep):
        """A batch keeps rows and columns alike as columns: C passes unchanged."""
        return (c,)

    @identity("vec(dv') = vec(dv)", "dv: vector(n)")
    def vec_transpose(node, m, dep):
        """vec(dvᵀ) = vec(dv) for a vector; a matrix needs the commutation matrix, which has no name here."""
        a = node.args[0]
        if a.shape[0] == 1 or a.shape[1] == 1:
            return m[0]
        raise NotMatrixForm("the transpose of a matrix differential (the commutation matrix)")

    def index_transpose(b, node, row, col):
        """Aᵀ[i, j] = A[j, i]."""
        return (yield node.args[0], col, row)


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


@linear("vec")
class Vec:
    @identity("vec(G)'*vec(dA) = tr(G'*dA)", "G: matrix(m,n); dA: matrix(m,n)")
    def adjoint_vec(node, c, dep):
        """⟨vec(G), vec(dA)⟩ = ⟨G, dA⟩: the cotangent of vec(dA) is the matrix it stacks."""
        a = node.args[0]
        return (c,) if a.shape[1] == 1 else (_unvec(c, a.shape),)   # vec of a column is the column

    def batched_vec(node, c, dep):
        """vec of a column is the column; of a matrix, in a Jacobian, no matrix form."""
        if node.args[0].shape[1] != 1:
            raise NotMatrixForm("vec of a matrix that depends on the variable, in a Jacobian")
        return (c,)

    @identity("vec(vec(dL)) = vec(dL)", "dL: matrix(m,n)")
    def vec_vec(node, m, dep):
        """vec(vec(dL)) = vec(dL)."""
        return m[0]


def _square_identity_scale(c: Node) -> Optional[Node]:
    """s with c = s·I (s a scalar, possibly 1), else None."""
    if op_of(c) == "eye":
        return Num(1)
    if op_of(c) == "scale" and op_of(c.args[1]) == "eye":
        return c.args[0]
    if op_of(c) == "neg":
        inner_ = _square_identity_scale(c.args[0])
        return None if inner_ is None else make("neg", inner_)
    return None


def _kron_of_columns(node, c, dep):
    a, b = node.args
    return (times(T(make("kron", eye(a.shape[0]), b)), c) if dep[0] else None,
            times(T(make("kron", a, eye(b.shape[0]))), c) if dep[1] else None)


@linear("kron")
class Kron:
    @identity("vec(C)'*kron(da, b) = (kron(eye, b)'*vec(C))'*da", "da: vector(m); b: vector(p); C: matrix(m,p)")
    def adjoint_kron(node, c, dep):
        """Columns: kron(da, b) = kron(I, b)·da and kron(a, db) = kron(a, I)·db, so ⟨C, kron(da, b)⟩ =
        ⟨kron(I, b)ᵀC, da⟩ and ⟨C, kron(a, db)⟩ = ⟨kron(a, I)ᵀC, db⟩; square matrices under a trace
        (C = s·I): ⟨s·I, kron(A, dB)⟩ = s·tr(A)·tr(dB), so dB gets s·tr(A)·I."""
        a, b = node.args
        if a.shape[1] == 1 and b.shape[1] == 1:
            return _kron_of_columns(node, c, dep)
        s = _square_identity_scale(c)
        if s is None or a.shape[0] != a.shape[1] or b.shape[0] != b.shape[1]:
            raise NotMatrixForm("kron of a matrix that depends on the variable")
        return (times(times(s, make("tr", b)), eye(a.shape[0])) if dep[0] else None,
                times(times(s, make("tr", a)), eye(b.shape[0])) if dep[1] else None)

    def batched_kron(node, c, dep):
        """A batch of columns: only a Kronecker product of columns has a matrix form."""
        a, b = node.args
        if a.shape[1] != 1 or b.shape[1] != 1:
            raise NotMatrixForm("kron of a matrix that depends on the variable")
        return _kron_of_columns(node, c, dep)

    @identity("kron(a, db) = kron(a, eye)*db", "a: vector(m); db: vector(p)")
    def vec_kron(node, m, dep):
        """For columns, vec(kron(da, b)) = kron(I, b)·vec(da) and vec(kron(a, db)) = kron(a, I)·vec(db);
        a Kronecker product of matrices that depend on the variable has no form here."""
        a, b = node.args
        if a.shape[1] != 1 or b.shape[1] != 1:
            raise NotMatrixForm("kron of a matrix differential in vec form")
        return plus(times(make("kron", eye(a.shape[0]), b), m[0]) if dep[0] else None,
                    times(make("kron", a, eye(b.shape[0])), m[1]) if dep[1] else None)


# ------------------------------------------------------------------------------ reductions

@linear("tr")
class Tr:
    @identity("c*tr(dA) = tr((c*eye)'*dA)", "c: scalar; dA: matrix(n,n)")
    def adjoint_tr(node, c, dep):
        """⟨c, tr(dA)⟩ = ⟨c·I, dA⟩."""
        return (_times(c, eye(node.args[0].shape[0])),)

    def batched_tr(node, c, dep):
        """The trace of a matrix that depends on the variable has no batch of columns."""
        raise NotMatrixForm("the trace of a matrix that depends on the variable")

    @identity("tr(dL) = vec(eye)'*vec(dL)", "dL: matrix(n,n)")
    def vec_tr(node, m, dep):
        """tr(dL) = vec(I)ᵀ·vec(dL)."""
        return times(T(make("vec", eye(node.args[0].shape[0]))), m[0])

    def index_tr(b, node, row, col):
        """tr(A) = Σₖ A[k, k]."""
        k = next(b.fresh)
        terms = yield node.args[0], k, k
        return [(c, f, bd + (b.bound(k, node.args[0].shape[0]),)) for c, f, bd in terms]


@linear("sum")
class Sum:
    @identity("c*sum(dA) = tr((c*matrix(1))'*dA)", "c: scalar; dA: matrix(m,n)")
    def adjoint_sum(node, c, dep):
        """⟨c, sum(dA)⟩ = ⟨c·1, dA⟩ (1 the all-ones array)."""
        return (_times(c, ones(node.args[0].shape)),)

    def batched_sum(node, c, dep):
        """A batch: the sum of a column passes 1·C; of a matrix, no matrix form."""
        a = node.args[0]
        if a.shape[1] != 1:
            raise NotMatrixForm("the sum of a matrix that depends on the variable")
        return (times(ones(a.shape), c),)

    @identity("sum(dL) = vector(1)'*vec(dL)", "dL: matrix(m,n)")
    def vec_sum(node, m, dep):
        """sum(dL) = 1ᵀ·vec(dL)."""
        return times(T(ones((dim_product(*node.args[0].shape), 1))), m[0])

    def index_sum_all(b, node, row, col):
        """sum(A) = Σₖₗ A[k, l] (no sum over a dimension of extent 1)."""
        a = node.args[0]
        k, l = next(b.fresh), next(b.fresh)
        bound = tuple(b.bound(s, d) for s, d in zip((k, l), a.shape) if d != 1)
        return [(c, f, bd + bound) for c, f, bd in (yield a, k, l)]


@linear("diag")
class Diag:
    @identity("tr(C'*diag(dx)) = diag(C)'*dx", "C: matrix(n,n); dx: vector(n)")
    def adjoint_diag(node, c, dep):
        """⟨C, diag(dx)⟩ = ⟨diag(C), dx⟩ and ⟨c, diag(dA)⟩ = ⟨diag(c), dA⟩."""
        return (make("diag", c),)

    def batched_diag(node, c, dep):
        """diag of an argument that depends on the variable has no batch of columns."""
        raise NotMatrixForm("diag of an argument that depends on the variable")

    def vec_unsupported(node, m, dep):
        """No Kronecker form here: the derivative falls back to the index form."""
        raise NotMatrixForm("diag of a differential in vec form")

    def index_diag(b, node, row, col):
        """diag(v)[i, j] = v[i]·δ(i, j); diag(A)[i] = A[i, i]."""
        if node.args[0].shape[1] == 1:
            return [(c, f + (b.delta(row, col),), bd) for c, f, bd in (yield node.args[0], row, col)]
        return (yield node.args[0], row, row)
