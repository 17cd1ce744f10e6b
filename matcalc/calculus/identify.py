"""Identification: read the derivative off a differential df that is linear in dX.

For a scalar f, df = tr(Gᵀ dX) = ⟨G, dX⟩ gives ∂f/∂X = G.  G is found by moving every factor
off dX with trace cyclicity and transposition, which on the expression tree is one reverse
sweep: each linear node passes its *cotangent* C (the G of the part above it) to its argument,
by the adjoint rules of :mod:`matcalc.calculus.linear` (⟨C, A·dY⟩ = ⟨AᵀC, dY⟩, ⟨C, dY·B⟩ =
⟨C·Bᵀ, dY⟩, …).

For a vector f and a vector x (a Jacobian, or the Hessian as the Jacobian of the gradient),
the same sweep runs with one column of C per entry of f (C starts as the identity), by the
batched rules where a batch needs its own, and gives Jᵀ; then df = J·dx.  A scalar variable
needs no sweep: df = g·ds, so g is df at ds = 1.
"""
from __future__ import annotations

from typing import Optional

from matcalc.derivation import Step, identity, rule_of
from matcalc.ir.build import inner, T, eye, plus, times
from matcalc.errors import UnsupportedError
from matcalc.ir.nodes import PRODUCTS, Node, Num, Var, op_of, postorder
from matcalc.ir.shapes import dim_product, is_scalar, is_vector, make
from matcalc.calculus.linear import ADJOINT_RULES, BATCHED_RULES, VEC_RULES, NotMatrixForm  # noqa: F401


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
        cts = (BATCHED_RULES.get(op, fn) if batched else fn)(node, c, dep)
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
