"""The planner: IR to a lowered program that runs as fast as the closed form written by hand.

The printed tree is not the fastest evaluation order: ``2*X'*r`` would build the temporary
``2*X'``, ``X'*diag(d)*X`` a dense diagonal, ``inv(A)*b`` an inverse.  The planner rewrites
the IR into a small target-neutral vocabulary (:data:`LOWERED`), which the emitters turn into
NumPy, JAX or torch code and :mod:`matcalc.generate.run` interprets for ``Derivative.evaluate``:

* products are flattened into chains (through scaling, negation, division by a scalar and
  transposition); the scalar factors are multiplied together and applied to the smallest
  operand or the result (``2*(X'*r)``, never ``(2*X')*r``);
* a chain is ordered by cost from the shapes (dynamic programming over the split points, as
  for the matrix-chain problem): ``X'*X*w`` runs as ``X'*(X*w)``;
* ``diag(d)`` in a chain is broadcasting (``d * X``, ``X * d'``); ``X'*diag(d)*X`` with d
  provably ≥ 0 is the syrk-friendly ``Xs'*Xs`` with ``Xs = sqrt(d) * X``;
* ``inv(A)*B`` is ``solve(A, B)``; ``logdet`` is the log of ``slogdet``; ``tr(A*B)`` is
  ``sum(A .* B')``; ``norm2(r)^2`` is the dot product ``r·r``;
* ``log(1 + exp(u))`` is softplus, ``log(sigmoid(u))`` is ``-softplus(-u)``,
  ``log(softmax(u))`` is ``u - logsumexp(u)``, and softplus, sigmoid, softmax and logsumexp use
  their numerically stable forms;
* equal subexpressions are one lowered node (hash-consing over all the program's outputs), so
  the value and the gradient share the residual.

Dimension sizes come from ``sizes`` where known (``Derivative.evaluate`` knows them all); a
named dimension of unknown size counts as :data:`UNKNOWN_SIZE` in the cost model, and the
literal 1 of vectors as 1, which is what orders ``X'*X*w`` and ``A*B*x``.
Every traversal is iterative.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from matcalc.ir.nodes import Const, Node, Num, Op, op_of, postorder, postorder_all
from matcalc.ir.shapes import is_scalar, narrowed

#: Cost-model size of a named dimension whose size is not known when planning.
UNKNOWN_SIZE = 1000

#: The lowered vocabulary: op -> arity (``None``: any).  Attributes (``attr``) are plain data.
LOWERED: dict[str, Optional[int]] = {
    "arg": 0, "lit": 0, "eye": 0, "full": 0,
    "matmul": 2, "mul": 2, "add": 2, "sub": 2, "div": 2, "neg": 1, "T": 1, "pow": 2, "square": 1,
    "exp": 1, "log": 1, "sin": 1, "cos": 1, "tan": 1, "tanh": 1, "arcsin": 1, "arccos": 1, "arctan": 1,
    "sqrt": 1, "abs": 1, "sign": 1, "relu": 1, "sigmoid": 1, "softplus": 1, "step": 1, "log1p": 1,
    "sum": 1, "sumsq": 1, "dot": 2, "norm1": 1, "norm2": 1, "trace": 1, "det": 1, "logdet": 1,
    "inv": 1, "solve": 2, "matpow": 1, "diagvec": 1, "diagof": 1, "softmax": 1, "logsumexp": 1,
    "vec": 1, "kron": 2, "unvec": 1, "einsum": None, "flat": 1, "zeros": 0, "reshape": 1, "mat": 1,
}
ELEMENTWISE_FUNCTIONS = ("exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "sqrt",
                         "abs", "sign", "relu", "sigmoid", "softplus", "step")


@dataclass(frozen=True, eq=False)
class L:
    """A lowered node: ``op`` from :data:`LOWERED`, argument nodes, plain-data ``attr`` and the
    IR shape ``(rows, cols)`` of its value (a scalar may be 0-d or 1×1 at run time)."""

    op: str
    args: tuple
    attr: object
    shape: tuple
    key: tuple = field(repr=False, default=())

    def children(self):
        return self.args


# ------------------------------------------------------------------------------ facts

def nonnegative(node: Node) -> bool:
    """True when every entry of ``node`` is provably ≥ 0 (for the syrk form X'·diag(d)·X).

    A product is nonnegative when its factors are, counting a factor that occurs an even number
    of times (``y .* s .* y``) as a square."""
    stack, factors = [node], []
    while stack:
        n = stack.pop()
        if isinstance(n, Op) and n.op in ("hadamard", "mul", "scale", "ediv", "div"):
            stack.extend(n.args)
        else:
            factors.append(n)
    counts: dict = {}
    for f in factors:
        counts[f] = counts.get(f, 0) + 1
    return all(c % 2 == 0 or _nonneg_atom(f) for f, c in counts.items())


def _nonneg_atom(n: Node) -> bool:
    if isinstance(n, Num):
        return n.value >= 0
    if isinstance(n, Const):
        return n.op == "eye" or n.value >= 0
    if not isinstance(n, Op):
        return False
    if n.op in ("exp", "sigmoid", "softplus", "abs", "sqrt", "relu", "step", "softmax", "norm1", "norm2"):
        return True
    if n.op in ("epow", "pow") and isinstance(n.args[1], Num) and float(n.args[1].value) % 2 == 0:
        return True
    if n.op == "add":
        return all(nonnegative(a) for a in n.args)
    if n.op == "sub" and isinstance(n.args[0], Num) and n.args[0].value >= 1:
        b = n.args[1]   # 1 - sigmoid(u), 1 - tanh(u)^2
        if op_of(b) == "sigmoid":
            return True
        if op_of(b) in ("epow", "pow") and op_of(b.args[0]) == "tanh" and isinstance(b.args[1], Num) \
                and b.args[1].value == 2:
            return True
    return n.op in ("hadamard", "mul", "scale", "ediv", "div") and nonnegative(n)


# ------------------------------------------------------------------------------ the builder

class Planner:
    """Lowers IR nodes into one hash-consed lowered DAG (call :meth:`lower` for each output)."""

    def __init__(self, sizes: Optional[Mapping[str, int]] = None):
        self.sizes = dict(sizes or {})
        self.table: dict[tuple, L] = {}
        self.done: dict[int, L] = {}
        self.keep: list = []          # IR nodes whose ids key ``done`` stay alive

    # -- construction with local algebra (never a rewrite that changes the value)
    def mk(self, op: str, args=(), attr=None, shape=(1, 1)) -> L:
        args = tuple(args)
        if op == "T":
            (a,) = args
            if is_scalar(a.shape):
                return a
            if a.op == "T":
                return a.args[0]
            shape = (a.shape[1], a.shape[0])
        if op == "neg":
            (a,) = args
            if a.op == "lit":
                return self.lit(-a.attr)
            if a.op == "neg":
                return a.args[0]
        if op in ("mul", "div", "add", "sub", "pow") and all(a.op == "lit" for a in args):
            x, y = (a.attr for a in args)
            try:
                value = {"mul": x * y, "div": x / y if y else None, "add": x + y, "sub": x - y,
                         "pow": x ** y if (x > 0 or float(y).is_integer()) else None}[op]
            except (OverflowError, ZeroDivisionError):
                value = None
            if value is not None and not isinstance(value, complex):
                return self.lit(value)
        if op == "mul":
            a, b = args
            if a.op == "lit" and a.attr == 1:
                return b
            if b.op == "lit" and b.attr == 1:
                return a
            if a.op == "lit" and a.attr == -1:
                return self.mk("neg", (b,), shape=shape)
        key = (op, tuple(id(a) for a in args), attr, shape)
        found = self.table.get(key)
        if found is None:
            found = self.table[key] = L(op, args, attr, tuple(shape), key)
        return found

    def lit(self, value) -> L:
        return self.mk("lit", (), float(value), (1, 1))

    def size(self, d) -> int:
        total = 1
        for part in str(d).split("*"):
            total *= int(part) if part.isdigit() else int(self.sizes.get(part, UNKNOWN_SIZE))
        return total

    def numel(self, shape) -> int:
        return self.size(shape[0]) * self.size(shape[1])

    # -- the entry point
    def lower(self, root: Node) -> L:
        """The lowered form of ``root`` (its subexpressions are shared with earlier calls).  A
        scalar spread in a sum is lowered as the scalar, which NumPy, JAX and torch broadcast
        (``x + 1``, not ``x + np.full(…)``; see :func:`matcalc.ir.shapes.narrowed`)."""
        return self._lower(narrowed(root))

    def _lower(self, root: Node) -> L:
        for node in postorder(root):
            if id(node) not in self.done:
                self.done[id(node)] = self._lower_one(node)
                self.keep.append(node)
        return self.done[id(root)]

    def of(self, node: Node) -> L:
        found = self.done.get(id(node))
        return found if found is not None else self._lower(node)

    def _lower_one(self, node: Node) -> L:
        op = op_of(node)
        shape = tuple(node.shape)
        if op == "var":
            return self.mk("arg", (), node.name, shape)
        if op == "num":
            return self.lit(node.value)
        if op == "eye":
            return self.mk("eye", (), node.shape[0], shape)
        if op == "fill":
            return self.mk("full", (), float(node.value), shape)
        a = [self.of(x) for x in node.args]
        if op in ("mul", "scale", "neg", "div", "transpose"):
            return self._chain(node)
        if op in ("add", "sub"):
            return self.mk(op, a, shape=shape)
        if op == "hadamard":
            return self.mk("mul", a, shape=shape)
        if op == "ediv":
            return self.mk("div", a, shape=shape)
        if op == "epow":
            return self._power(node, a, shape)
        if op == "pow":
            base, expo = node.args
            if is_scalar(base.shape):
                if op_of(base) == "norm2" and isinstance(expo, Num) and expo.value == 2:
                    return self.mk("sumsq", (self.of(base.args[0]),), shape=shape)
                return self._power(node, a, shape)
            k = int(round(float(expo.value if isinstance(expo, Num) else -expo.args[0].value)))
            if k == 1:
                return a[0]
            if k == -1:
                return self.mk("inv", (a[0],), shape=shape)
            if k == 2:
                return self.mk("matmul", (a[0], a[0]), shape=shape)
            return self.mk("matpow", (a[0],), k, shape)
        if op == "log":
            return self._log(node, shape)
        if op in ELEMENTWISE_FUNCTIONS:
            return self.mk(op, a, shape=shape)
        if op == "tr":
            inner = node.args[0]
            if op_of(inner) == "mul":
                p, q = (self.of(x) for x in inner.args)       # tr(PQ) = sum(P .* Q')
                return self.mk("sum", (self.mk("mul", (p, self.mk("T", (q,))), shape=p.shape),), shape=shape)
            return self.mk("trace", a, shape=shape)
        if op == "diag":
            return self.mk("diagvec" if node.args[0].shape[1] == 1 else "diagof", a, shape=shape)
        if op == "vec" and str(node.args[0].shape[1]) == "1":
            return a[0]                                                  # vec of a column is itself
        if op in ("sum", "norm1", "norm2", "det", "logdet", "inv", "softmax", "logsumexp", "vec", "kron"):
            return self.mk(op, a, shape=shape)
        raise AssertionError(f"no lowering for {op}")

    def _power(self, node, a, shape) -> L:
        expo = node.args[1]
        if isinstance(expo, Num):
            if expo.value == 2:
                return self.mk("square", (a[0],), shape=shape)
            if expo.value == 1:
                return a[0]
            if expo.value == 0.5:
                return self.mk("sqrt", (a[0],), shape=shape)
        return self.mk("pow", a, shape=shape)

    def _log(self, node, shape) -> L:
        """log with its stable special cases."""
        u = node.args[0]
        ou = op_of(u)
        if ou == "add":
            x, y = u.args
            if isinstance(y, Num) and y.value == 1:
                x, y = y, x
            if isinstance(x, Num) and x.value == 1:
                if op_of(y) == "exp":                                   # log(1 + exp(v)) = softplus(v)
                    return self.mk("softplus", (self.of(y.args[0]),), shape=shape)
                return self.mk("log1p", (self.of(y),), shape=shape)     # log(1 + v)
        if ou == "sigmoid":                                             # log σ(v) = −softplus(−v)
            v = self.of(u.args[0])
            return self.mk("neg", (self.mk("softplus", (self.mk("neg", (v,), shape=shape),), shape=shape),),
                           shape=shape)
        if ou == "sub" and isinstance(u.args[0], Num) and u.args[0].value == 1 and op_of(u.args[1]) == "sigmoid":
            v = self.of(u.args[1].args[0])                              # log(1 − σ(v)) = −softplus(v)
            return self.mk("neg", (self.mk("softplus", (v,), shape=shape),), shape=shape)
        if ou == "softmax":                                             # log softmax(v) = v − lse(v)
            v = self.of(u.args[0])
            return self.mk("sub", (v, self.mk("logsumexp", (v,), shape=(1, 1))), shape=shape)
        return self.mk("log", (self.of(u),), shape=shape)

    # -- products
    def _flatten(self, node: Node):
        """(coefficient, scalar factors, scalar divisors, [(IR operand, transposed)])."""
        coef, scal, den, items = 1.0, [], [], []
        stack = [(node, False)]
        while stack:
            n, t = stack.pop()
            op = op_of(n)
            if op == "num":
                coef *= n.value
            elif n is not node and is_scalar(n.shape):    # a scalar factor, lowered on its own
                scal.append(n)
            elif op == "neg":
                coef = -coef
                stack.append((n.args[0], t))
            elif op == "transpose":
                stack.append((n.args[0], not t))
            elif op == "div" and is_scalar(n.args[1].shape):
                a, s = n.args
                if isinstance(s, Num) and s.value != 0:
                    coef /= s.value
                else:
                    den.append(s)
                stack.append((a, t))
            elif op == "scale":
                stack.extend([(n.args[1], t), (n.args[0], t)])
            elif op == "mul":
                a, b = n.args
                first, second = (b, a) if t else (a, b)
                stack.extend([(second, t), (first, t)])
            elif op == "eye":
                continue
            else:
                items.append((n, t))
        return coef, scal, den, items

    def _chain(self, node: Node) -> L:
        coef, scal, den, items = self._flatten(node)
        shape = tuple(node.shape)
        s = None
        for x in scal:
            s = self.of(x) if s is None else self.mk("mul", (s, self.of(x)))
        for x in den:
            s = self.mk("div", (s if s is not None else self.lit(1), self.of(x)))
        if coef != 1:
            s = self.lit(coef) if s is None else self.mk("mul", (self.lit(coef), s))
        if not items:
            if is_scalar(shape):
                return s if s is not None else self.lit(1)
            eye = self.mk("eye", (), shape[0], shape)
            return eye if s is None else self.mk("mul", (s, eye), shape=shape)
        ops = [self._operand(n, t) for n, t in items]
        if len(ops) == 3 and ops[0][0] == "plain" and ops[1][0] == "diag" and ops[2][0] == "plain" \
                and ops[0][1] is self.mk("T", (ops[2][1],)) and nonnegative(items[1][0].args[0]):
            xs = self.mk("mul", (self.mk("sqrt", (ops[1][1],), shape=ops[1][1].shape), ops[2][1]),
                         shape=ops[2][1].shape)                         # X'·diag(d)·X = Xs'·Xs
            out = self.mk("matmul", (self.mk("T", (xs,)), xs), shape=shape)
            return self._scaled(out, s, shape)
        return self._order(ops, s, shape)

    def _operand(self, n: Node, t: bool):
        op = op_of(n)
        if op == "diag" and n.args[0].shape[1] == 1:
            return ("diag", self.of(n.args[0]), (n.args[0].shape[0], n.args[0].shape[0]))
        if op == "inv":
            a = self.of(n.args[0])
            a = self.mk("T", (a,)) if t else a
            return ("inv", a, a.shape)
        v = self.of(n)
        v = self.mk("T", (v,)) if t else v
        return ("plain", v, v.shape)

    def _scaled(self, value: L, s: Optional[L], shape) -> L:
        if s is None:
            return value
        if s.op == "lit" and s.attr == -1:
            return self.mk("neg", (value,), shape=shape)
        return self.mk("mul", (s, value), shape=shape)

    def _order(self, ops, s: Optional[L], shape) -> L:
        """The cheapest parenthesisation of the chain (O(k³) for k operands), with the scalar
        on the smallest operand or on the result."""
        k = len(ops)
        if s is not None:
            sizes = [(self.numel(o[2]) if o[0] == "plain" else (self.size(o[2][0]) if o[0] == "diag" else None), i)
                     for i, o in enumerate(ops)]
            sizes = [(z, i) for z, i in sizes if z is not None]
            best = min(sizes) if sizes else None
            if best is not None and best[0] < self.numel(shape):
                i = best[1]
                kind, v, shp = ops[i]
                ops = list(ops)
                ops[i] = (kind, self._scaled(v, s, v.shape), shp)
                s = None
        dims = [o[2] for o in ops]
        cost = [[0.0] * k for _ in range(k)]
        split = [[0] * k for _ in range(k)]
        kind = [[ops[i][0] if i == j else "plain" for j in range(k)] for i in range(k)]
        for length in range(2, k + 1):
            for i in range(k - length + 1):
                j = i + length - 1
                best = None
                for m in range(i, j):
                    c, kd = self._pair_cost(kind[i][m], kind[m + 1][j], dims[i][0], dims[m][1], dims[j][1])
                    c += cost[i][m] + cost[m + 1][j]
                    if best is None or c < best[0]:
                        best = (c, m, kd)
                cost[i][j], split[i][j], kind[i][j] = best
        memo: dict = {}
        order = []
        stack = [(0, k - 1)]
        while stack:                       # the split tree, children before parents, iteratively
            i, j = stack.pop()
            order.append((i, j))
            if i != j:
                m = split[i][j]
                stack.extend([(i, m), (m + 1, j)])
        for i, j in reversed(order):
            if i == j:
                memo[(i, j)] = (ops[i][0], ops[i][1])
            else:
                m = split[i][j]
                memo[(i, j)] = self._pair(memo[(i, m)], memo[(m + 1, j)], (dims[i][0], dims[j][1]))
        kd, value = memo[(0, k - 1)]
        value = self._materialise(kd, value, shape)
        return self._scaled(value, s, shape)

    def _pair_cost(self, ka, kb, r, inner, c):
        r, n, c = self.size(r), self.size(inner), self.size(c)
        cube = n ** 3 / 3
        if ka == "diag" and kb == "diag":
            return n, "diag"
        if ka == "diag":
            return n * c, "plain"
        if kb == "diag":
            return r * n, "plain"
        if ka == "inv" and kb == "inv":
            return n ** 3, "inv"
        if ka == "inv":
            return cube + n * n * c, "plain"
        if kb == "inv":
            return cube + r * n * n, "plain"
        return r * n * c, "plain"

    def _materialise(self, kind, value, shape) -> L:
        if kind == "diag":
            return self.mk("diagvec", (value,), shape=shape)
        if kind == "inv":
            return self.mk("inv", (value,), shape=shape)
        return value

    def _pair(self, a, b, shape):
        (ka, va), (kb, vb) = a, b
        if ka == "diag" and kb == "diag":
            return "diag", self.mk("mul", (va, vb), shape=va.shape)
        if ka == "diag":
            vb = self._materialise(kb, vb, (vb.shape[0], vb.shape[0]) if kb == "inv" else vb.shape)
            return "plain", self.mk("mul", (va, vb), shape=shape)
        if kb == "diag":
            va = self._materialise(ka, va, va.shape)
            return "plain", self.mk("mul", (va, self.mk("T", (vb,))), shape=shape)
        if ka == "inv" and kb == "inv":                 # inv(A)·inv(B) = inv(B·A)
            return "inv", self.mk("matmul", (vb, va), shape=va.shape)
        if ka == "inv":
            return "plain", self.mk("solve", (va, vb), shape=shape)
        if kb == "inv":                                 # P·inv(B) = solve(B', P')'
            t = self.mk("solve", (self.mk("T", (vb,)), self.mk("T", (va,))), shape=(shape[1], shape[0]))
            return "plain", self.mk("T", (t,))
        if str(vb.shape[1]) == "1" and va.op in ("add", "sub"):      # (A ± B)·v = A·v ± B·v: no n×n temporary
            spread = self._distribute(va, lambda t: self.mk("matmul", (t, vb), shape=shape), shape)
            if spread is not None:
                return "plain", spread
        if str(va.shape[0]) == "1" and vb.op in ("add", "sub"):      # u'·(A ± B) = u'·A ± u'·B
            spread = self._distribute(vb, lambda t: self.mk("matmul", (va, t), shape=shape), shape)
            if spread is not None:
                return "plain", spread
        return "plain", self.mk("matmul", (va, vb), shape=shape)

    def _distribute(self, total: L, apply, shape, limit: int = 8) -> Optional[L]:
        """Σ ±apply(term) over the terms of the sum ``total`` (None when a term broadcasts or
        there are more than ``limit`` terms)."""
        terms, stack = [], [(total, 1)]
        while stack:
            n, sign = stack.pop()
            if n.op in ("add", "sub") and all(a.shape == n.shape for a in n.args):
                stack.append((n.args[1], sign if n.op == "add" else -sign))
                stack.append((n.args[0], sign))
            else:
                terms.append((n, sign))
            if len(terms) + len(stack) > limit:
                return None
        out = None
        for n, sign in terms:
            t = apply(n)
            if out is None:
                out = t if sign > 0 else self.mk("neg", (t,), shape=shape)
            else:
                out = self.mk("add" if sign > 0 else "sub", (out, t), shape=shape)
        return out

    # -- vec forms in the layout f.shape + x.shape
    def vec_form(self, node: Node, dims: tuple, limit: int = 16) -> L:
        """The vec-form matrix J (vec(dF) = J·vec(dX)), an IR node, as the array
        D[f…, x…] = ∂F[f…]/∂X[x…] of the shape :func:`vec_shape` ``(p, q, r, s)`` without its
        literal 1s.  Sums are expanded (up to ``limit`` terms), and each product term
        ``c·K₁·K₂·…`` of Kronecker products, ``diag(vec(M))`` and plain matrices becomes one
        ``einsum``: ``kron(A, B)`` is ``B[i,k]·A[j,l]``, ``diag(vec(M))`` is
        ``M[i,j]·δᵢₖ·δⱼₗ``, an identity factor is a δ, and the δs are eliminated by identifying
        indices, so no dense Kronecker product or mn×mn diagonal is formed (only a plain
        matrix the derivative already holds is reshaped).  A term whose splits of the vec
        indices do not line up is multiplied out as a matrix and reshaped."""
        out_shape = vec_shape(dims)
        terms = self._vec_terms(node, limit)
        if terms is None:
            return self._dense_vec(self.lower(node), dims)
        total = None
        for coef, scal, den, items in terms:
            s = self._scalar_factor(coef, scal, den)
            value = self._vec_chain(items, dims, s)
            if value is None:
                value = self._dense_vec(self._dense_product(items, s, node.shape), dims)
            total = value if total is None else self.mk("add", (total, value), shape=out_shape)
        return total

    def _dense_vec(self, j: L, dims) -> L:
        full = self.mk("unvec", (j,), tuple(dims), tuple(dims))
        out_shape = vec_shape(dims)
        return full if out_shape == tuple(dims) else self.mk("reshape", (full,), out_shape, out_shape)

    def _dense_product(self, items, s, shape) -> L:
        if not items:
            eye = self.mk("eye", (), shape[0], tuple(shape))
            return eye if s is None else self.mk("mul", (s, eye), shape=tuple(shape))
        ops = [self._operand(n, t) for n, t in items]
        rows, cols = ops[0][2][0], ops[-1][2][1]
        return self._order(ops, s, (rows, cols))

    def _scalar_factor(self, coef, scal, den) -> Optional[L]:
        s = None
        for x in scal:
            s = self.of(x) if s is None else self.mk("mul", (s, self.of(x)))
        for x in den:
            s = self.mk("div", (s if s is not None else self.lit(1), self.of(x)))
        if coef != 1:
            s = self.lit(coef) if s is None else self.mk("mul", (self.lit(coef), s))
        return s

    def _vec_terms(self, node: Node, limit: int):
        """The product terms of ``node`` with sums multiplied out: a list of (coefficient,
        scalar factors, scalar divisors, [(IR factor, transposed)]), or None past ``limit``."""
        done, work = [], [(1.0, [], [], [], [(node, False)])]
        while work:
            coef, scal, den, items, pending = work.pop()
            if not pending:
                done.append((coef, scal, den, items))
                continue
            (n, t), rest = pending[0], pending[1:]
            op = op_of(n)
            if op in ("add", "sub") and not is_scalar(n.shape) and all(a.shape == n.shape for a in n.args):
                a, b = n.args
                work.append((coef, scal, den, items, [(a, t)] + rest))
                work.append((-coef if op == "sub" else coef, scal, den, items, [(b, t)] + rest))
                if len(work) + len(done) > limit:
                    return None
            elif op in ("mul", "scale", "neg", "div", "transpose") and not is_scalar(n.shape):
                c2, s2, d2, its = self._flatten(n)
                if t:
                    its = [(x, not tx) for x, tx in reversed(its)]
                work.append((coef * c2, scal + s2, den + d2, items, its + rest))
            elif op == "eye":
                work.append((coef, scal, den, items, rest))
            else:
                work.append((coef, scal, den, items + [(n, t)], rest))
        return done

    def _vec_chain(self, items, dims, s: Optional[L]) -> Optional[L]:
        """One product term as an einsum over the vec indices (None where the splits of the
        vec indices between its factors cannot be determined or do not agree)."""
        p, q, r, s_ = dims
        k = len(items)
        split: list = [None] * (k + 1)          # boundary t: (rows, cols) of the matrix vec'ed there
        conflict = False

        def put(t, value):
            nonlocal conflict
            value = (str(value[0]), str(value[1]))
            if split[t] is None:
                split[t] = value
            elif split[t] != value:
                conflict = True

        put(0, (p, q))
        put(k, (r, s_))
        factors = []
        for t, (n, tr) in enumerate(items):
            op = op_of(n)
            if op == "kron":
                a, b = n.args
                ash = (a.shape[1], a.shape[0]) if tr else tuple(a.shape)
                bsh = (b.shape[1], b.shape[0]) if tr else tuple(b.shape)
                put(t, (bsh[0], ash[0]))
                put(t + 1, (bsh[1], ash[1]))
                factors.append(("kron", (a, b, tr)))
            elif op == "diag" and n.args[0].shape[1] == 1:
                u = n.args[0]
                if op_of(u) == "vec":
                    put(t, u.args[0].shape)
                    put(t + 1, u.args[0].shape)
                factors.append(("diag", u))
            else:
                factors.append(("plain", (n, tr)))
        if conflict or (factors and all(kind == "plain" for kind, _ in factors)):
            return None
        changed = True
        while changed:                          # a diagonal has the same split on both sides
            changed = False
            for t, (kind, _) in enumerate(factors):
                if kind == "diag" and (split[t] is None) != (split[t + 1] is None):
                    split[t if split[t] is None else t + 1] = split[t + 1] if split[t] is None else split[t]
                    changed = True
        if any(b is None for b in split):
            return None
        if any(kind == "diag" and split[t] != split[t + 1] for t, (kind, _) in enumerate(factors)):
            return None                         # a diagonal between two different splits: no index form here
        # index labels (boundary, 0 or 1), δs by union-find
        parent: dict = {}

        def find(x):
            while parent.get(x, x) != x:
                x = parent[x]
            return x

        def unite(x, y):
            if not (_unit(extent(x)) or _unit(extent(y))):
                parent[find(x)] = find(y)

        def extent(label):
            return split[label[0]][label[1]]

        operands: list = []                     # (L, labels)
        scalars: list = []

        def factor(value: L, labels):
            if all(_unit(extent(x)) for x in labels):
                scalars.append(value)
            else:
                operands.append((value, labels))

        t = 0
        while t < k:
            kind, data = factors[t]
            if kind == "kron":
                a, b, tr = data
                for m, axis in ((b, 0), (a, 1)):
                    labels = ((t, axis), (t + 1, axis))
                    if op_of(m) == "eye":
                        unite(*labels)
                    elif op_of(m) == "diag" and m.args[0].shape[1] == 1:   # diag(v)[i, k] = v[i]·δ(i, k)
                        unite(*labels)
                        v = m.args[0]
                        factor(self.mk("flat", (self.of(v),), shape=(_dim(v.shape[0]),)), labels[:1])
                    else:
                        v = self.of(m)
                        factor(self.mk("T", (v,)) if tr else v, labels)
                t += 1
            elif kind == "diag":
                rows, cols = split[t]
                factor(self._as_matrix(data, rows, cols), ((t, 0), (t, 1)))
                unite((t, 0), (t + 1, 0))
                unite((t, 1), (t + 1, 1))
                t += 1
            else:
                end = t
                while end < k and factors[end][0] == "plain":
                    end += 1
                prod = self._dense_product(items[t:end], None, None)
                a4 = (split[t][0], split[t][1], split[end][0], split[end][1])
                operands.append((self.mk("unvec", (prod,), _dims(a4), _dims(a4)),
                                 ((t, 0), (t, 1), (end, 0), (end, 1))))
                t = end
        letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        class_letter: dict = {}
        unit_letters: dict = {}

        def letter(label):
            if _unit(extent(label)):
                if label not in unit_letters:
                    unit_letters[label] = next(letters)
                return unit_letters[label]
            c = find(label)
            if c not in class_letter:
                class_letter[c] = next(letters)
            return class_letter[c]

        try:
            specs = ["".join(letter(x) for x in labels) for _, labels in operands]
            carried = set(class_letter.values())
            out, extra = [], []
            outputs = [x for x in ((0, 0), (0, 1), (k, 0), (k, 1)) if not _unit(extent(x))]
            shared = [letter(x) for x in outputs]
            seen_out: set = set()
            for label, ch in zip(outputs, shared):
                if ch in seen_out:                   # a δ between two output indices: an identity
                    other = next(letters)
                    extra.append((self.mk("eye", (), _dim(extent(label)), (_dim(extent(label)),) * 2), ch + other))
                    ch = other
                elif ch not in carried and shared.count(ch) == 1:   # an index nothing carries: broadcast
                    extra.append((self._ones(extent(label)), ch))
                seen_out.add(ch)
                out.append(ch)
        except StopIteration:
            return None
        vals = [v for v, _ in operands] + [v for v, _ in extra]
        spec = ",".join(specs + [e for _, e in extra]) + "->" + "".join(out)
        out_shape = vec_shape(dims)
        for x in scalars:
            s = x if s is None else self.mk("mul", (s, x))
        if s is not None and vals:                   # the scalar on the smallest operand
            i = min(range(len(vals)), key=lambda i: self._numel_any(vals[i].shape))
            if self._numel_any(vals[i].shape) < self._numel_any(out_shape):
                vals[i] = self.mk("mul", (s, vals[i]), shape=vals[i].shape)
                s = None
        value = self.mk("einsum", tuple(vals), spec, out_shape)
        return self._scaled(value, s, out_shape)

    def _as_matrix(self, u: Node, rows, cols) -> L:
        """The vector u (rows·cols × 1) as the rows×cols matrix M with vec(M) = u."""
        stack, order = [u], []
        while stack:
            n = stack.pop()
            order.append(n)
            if op_of(n) in ("hadamard", "ediv", "add", "sub") and all(a.shape == n.shape for a in n.args):
                stack.extend(n.args)
        done: dict = {}
        shape = (_dim(rows), _dim(cols))
        for n in reversed(order):
            if id(n) in done:
                continue
            op = op_of(n)
            if op == "vec" and tuple(map(str, n.args[0].shape)) == (rows, cols):
                done[id(n)] = self.of(n.args[0])
            elif op in ("hadamard", "ediv", "add", "sub") and id(n.args[0]) in done:
                lop = {"hadamard": "mul", "ediv": "div"}.get(op, op)
                done[id(n)] = self.mk(lop, tuple(done[id(a)] for a in n.args), shape=shape)
            elif str(n.shape[0]) == rows and cols == "1":
                done[id(n)] = self.of(n)
            else:
                done[id(n)] = self.mk("mat", (self.of(n),), shape=shape)
        return done[id(u)]

    def _ones(self, extent) -> L:
        n = _dim(extent)
        return self.mk("flat", (self.mk("full", (), 1.0, (n, 1)),), shape=(n,))

    def _numel_any(self, shape) -> int:
        total = 1
        for d in shape:
            total *= self.size(d)
        return total


def _unit(d) -> bool:
    return str(d) == "1"


def _dim(d):
    return int(d) if str(d).isdigit() else d


def _dims(ds) -> tuple:
    return tuple(_dim(d) for d in ds)


def vec_shape(dims) -> tuple:
    """The array layout of a vec form (p, q, r, s) without its literal 1s (a column vector's
    second axis, a scalar's)."""
    return tuple(_dim(d) for d in dims if not _unit(d))


def for_target(planner: Planner, outputs: list, target: str) -> list:
    """Target-specific forms of the same values.  JAX (XLA on CPU) transposes a big left operand
    of ``A' @ b`` physically, about 4× slower than ``(b' @ A)'``, so a thin product with a
    transposed left factor is flipped."""
    if target != "jax":
        return outputs
    new: dict[int, L] = {}
    for n in postorder_all(outputs):
        args = tuple(new[id(a)] for a in n.args)
        if n.op == "matmul" and args[0].op == "T" and planner.size(args[1].shape[1]) <= planner.size(args[1].shape[0]):
            a, b = args[0].args[0], args[1]
            flipped = planner.mk("matmul", (planner.mk("T", (b,)), a), shape=(n.shape[1], n.shape[0]))
            new[id(n)] = planner.mk("T", (flipped,))
        elif args == n.args:
            new[id(n)] = n
        else:
            new[id(n)] = planner.mk(n.op, args, n.attr, n.shape)
    return [new[id(o)] for o in outputs]

