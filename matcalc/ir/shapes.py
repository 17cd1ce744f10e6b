"""Shape rules, one per op, and the unification that infers undeclared dimensions.

A rule takes the argument shapes and a :class:`Unifier` and returns the result shape, or raises
:class:`Mismatch` with a sentence in which ``{0}``, ``{1}`` stand for the operands; the caller
fills those in with the operands' text and location.  The same rules serve inference in the
parser (with dimension variables) and :func:`make`, the checked constructor the engine uses.
"""
from __future__ import annotations

from typing import Callable

from matcalc.errors import ShapeError
from matcalc.ir.nodes import ALL_OPS, ELEMENTWISE, SCALAR, Const, Dim, Node, Op, Shape, Num, constant_value, op_of, postorder
from matcalc.tables import registrar


class Mismatch(Exception):
    """A shape rule's refusal; ``args[0]`` is a sentence with ``{0}``/``{1}`` for the operands."""


class Unifier:
    """Union-find over dimension variables (strings starting with ``?``); other dims are rigid."""

    def __init__(self):
        self.parent: dict[str, Dim] = {}
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        return f"?{self.count}"

    def find(self, d: Dim) -> Dim:
        path = []
        while isinstance(d, str) and d in self.parent:
            path.append(d)
            d = self.parent[d]
        for p in path:
            self.parent[p] = d
        return d

    def unify(self, a: Dim, b: Dim) -> bool:
        a, b = self.resolve_dim(a), self.resolve_dim(b)
        if a == b:
            return True
        if is_var(a):
            return self._bind(a, b)
        if is_var(b):
            return self._bind(b, a)
        pa, pb = _parts(a), _parts(b)
        if len(pa) > 1 or len(pb) > 1:   # products (vec, kron): cancel common factors, then match the rest
            rest_b = list(pb)
            rest_a = []
            for p in pa:
                if p in rest_b:
                    rest_b.remove(p)
                else:
                    rest_a.append(p)
            if not rest_a and not rest_b:
                return True
            for one, other in ((rest_a, rest_b), (rest_b, rest_a)):
                if len(one) == 1 and is_var(one[0]) and other:   # ?1*m = m*n: ?1 is n
                    return self.unify(one[0], _product(other))
            if len(rest_a) == len(rest_b) > 1:
                return all(self.unify(x, y) for x, y in zip(rest_a, rest_b))
        return False

    def _bind(self, var: str, value: Dim) -> bool:
        """Bind a dimension variable (a subclass may refuse, or record the write)."""
        self.parent[var] = value
        return True

    def resolve_dim(self, d: Dim) -> Dim:
        """``find``, also inside product dimensions such as ``m*n`` (from vec and kron)."""
        if isinstance(d, str) and "*" in d:
            total: Dim = 1
            for part in d.split("*"):
                total = dim_product(total, self.resolve_dim(part))
            return total
        return self.find(d)

    def resolve(self, shape: Shape) -> Shape:
        return tuple(self.resolve_dim(d) for d in shape)


def _product(parts: list) -> Dim:
    total: Dim = 1
    for p in parts:
        total = dim_product(total, int(p) if str(p).isdigit() else p)
    return total


def _parts(d: Dim) -> list:
    return d.split("*") if isinstance(d, str) else [d]


def is_var(d: Dim) -> bool:
    """A dimension variable of inference (``?3``); products like ``?1*m`` are not variables."""
    return isinstance(d, str) and d.startswith("?") and "*" not in d


def is_scalar(s: Shape) -> bool:
    return s[0] == 1 and s[1] == 1


def is_vector(s: Shape) -> bool:
    """A column vector (n, 1), n not the literal 1."""
    return s[1] == 1 and s[0] != 1


def fmt_dim(d: Dim) -> str:
    return "?" if is_var(d) else str(d)


def fmt_shape(s: Shape) -> str:
    """``scalar``, ``n`` for a column vector, ``1×n`` for a row, ``m×n`` for a matrix."""
    if is_scalar(s):
        return "scalar"
    if is_vector(s):
        return fmt_dim(s[0])
    return f"{fmt_dim(s[0])}×{fmt_dim(s[1])}"


SHAPE_RULES: dict[str, Callable[..., Shape]] = {}


rule = registrar(SHAPE_RULES)


def _same(sentence: str):
    def same_or_broadcast(shapes, u: Unifier) -> Shape:
        a, b = (u.resolve(s) for s in shapes)
        if is_scalar(a):
            return b
        if is_scalar(b):
            return a
        if u.unify(a[0], b[0]) and u.unify(a[1], b[1]):
            return u.resolve(a)
        raise Mismatch(sentence.format(a=f"{{0}} ({fmt_shape(a)})", b=f"{{1}} ({fmt_shape(b)})"))
    same_or_broadcast.__doc__ = "Equal shapes, or a scalar broadcast over the other operand."
    return same_or_broadcast


rule("add")(_same("cannot add {a} and {b}: the shapes differ"))
rule("sub")(_same("cannot subtract {b} from {a}: the shapes differ"))
rule("hadamard")(_same("cannot multiply {a} elementwise by {b}: the shapes differ"))
rule("ediv")(_same("cannot divide {a} elementwise by {b}: the shapes differ"))
rule("epow")(_same("cannot raise {a} elementwise to {b}: the shapes differ"))


@rule("mul")
def shape_mul(shapes, u):
    """(m×k)(k×n) is m×n; a scalar on either side scales the other operand."""
    a, b = (u.resolve(s) for s in shapes)
    if is_scalar(a):
        return b
    if is_scalar(b):
        return a
    if not u.unify(a[1], b[0]):
        raise Mismatch(f"cannot multiply {{0}} ({fmt_shape(a)}) by {{1}} ({fmt_shape(b)}): "
                       f"inner dimensions {fmt_dim(a[1])} and {fmt_dim(b[0])} differ")
    return u.resolve((a[0], b[1]))


@rule("scale")
def shape_scale(shapes, u):
    """s*A: a scalar s scales A, whatever its shape."""
    a, b = (u.resolve(s) for s in shapes)
    if not is_scalar(a):
        raise Mismatch(f"the scale factor {{0}} must be a scalar, not {fmt_shape(a)}")
    return b


@rule("div")
def shape_div(shapes, u):
    """A / s divides by a scalar s."""
    a, b = (u.resolve(s) for s in shapes)
    if not is_scalar(b):
        raise Mismatch(f"cannot divide by {{1}} ({fmt_shape(b)}): '/' divides by a scalar; "
                       "use './' for elementwise division or inv(...) for a matrix inverse")
    return a


@rule("pow")
def shape_pow(shapes, u):
    """s^t for scalars; A^k for a square matrix A (k an integer, checked by :func:`make`)."""
    a, b = (u.resolve(s) for s in shapes)
    if not is_scalar(b):
        raise Mismatch(f"the exponent {{1}} must be a scalar, not {fmt_shape(b)}")
    if is_scalar(a):
        return a
    if a[1] == 1 or a[0] == 1:
        raise Mismatch(f"cannot raise the vector {{0}} ({fmt_shape(a)}) to a power: use '.^' for an "
                       "elementwise power, or x'*x for the squared norm")
    if not u.unify(a[0], a[1]):
        raise Mismatch(f"cannot raise {{0}} ({fmt_shape(a)}) to a power: it is not square")
    return u.resolve(a)


@rule("neg", *ELEMENTWISE)
def shape_same(shapes, u):
    """The result has the shape of the argument."""
    return u.resolve(shapes[0])


@rule("transpose")
def shape_transpose(shapes, u):
    """(m×n)' is n×m."""
    a = u.resolve(shapes[0])
    return (a[1], a[0])


@rule("sum", "norm1", "norm2")
def shape_reduce(shapes, u):
    """A reduction over all entries is a scalar."""
    return SCALAR


def _square(name: str, a: Shape, u: Unifier) -> Shape:
    if is_scalar(a):
        raise Mismatch(f"{name} needs a square matrix, but {{0}} is a scalar")
    if a[1] == 1 or a[0] == 1 or not u.unify(a[0], a[1]):
        raise Mismatch(f"{name} needs a square matrix, but {{0}} is {fmt_shape(a)}")
    return u.resolve(a)


@rule("tr", "det", "logdet")
def shape_square_to_scalar(shapes, u):
    """tr, det and logdet take a square matrix to a scalar."""
    _square("tr, det and logdet each", u.resolve(shapes[0]), u)
    return SCALAR


@rule("inv")
def shape_inv(shapes, u):
    """inv takes a square matrix to one of the same shape."""
    return _square("inv", u.resolve(shapes[0]), u)


@rule("diag")
def shape_diag(shapes, u):
    """diag(x) of a vector is n×n; diag(A) of a square matrix is the vector of its diagonal."""
    a = u.resolve(shapes[0])
    if a[1] == 1:
        return (a[0], a[0])
    if a[0] == 1:
        raise Mismatch(f"diag takes a column vector or a square matrix, but {{0}} is a row ({fmt_shape(a)})")
    s = _square("diag", a, u)
    return (s[0], 1)


@rule("softmax")
def shape_softmax(shapes, u):
    """softmax maps a vector to a vector of the same length."""
    a = u.resolve(shapes[0])
    if not (a[1] == 1):
        raise Mismatch(f"softmax takes a column vector, but {{0}} is {fmt_shape(a)}")
    return a


@rule("logsumexp")
def shape_logsumexp(shapes, u):
    """logsumexp of a vector (or of all entries of a matrix) is a scalar."""
    return SCALAR


@rule("vec")
def shape_vec(shapes, u):
    """vec stacks the columns of an m×n matrix into an mn-vector."""
    a = u.resolve(shapes[0])
    return (dim_product(a[0], a[1]), 1)


@rule("kron")
def shape_kron(shapes, u):
    """kron(A, B) of m×n and p×q matrices is mp×nq."""
    a, b = (u.resolve(s) for s in shapes)
    return (dim_product(a[0], b[0]), dim_product(a[1], b[1]))


def dim_product(a: Dim, b: Dim) -> Dim:
    """The product of two dimensions: an int, or the factors joined by ``*`` in a canonical order
    (the number first, then names sorted), so that m*n and n*m are one dimension."""
    number, names = 1, []
    for part in _parts(a) + _parts(b):
        if isinstance(part, int) or str(part).isdigit():
            number *= int(part)
        else:
            names.append(part)
    if not names:
        return number
    names.sort()
    return "*".join(([str(number)] if number != 1 else []) + names)


@rule("var", "num", "eye", "fill")
def shape_leaf(shapes, u):
    """Leaves carry their own shape."""
    raise AssertionError("leaves are not built by rules")


assert set(SHAPE_RULES) == set(ALL_OPS), set(ALL_OPS) ^ set(SHAPE_RULES)


def product_op(op: str, args: tuple) -> tuple:
    """The op and operands that ``op`` (``mul`` or ``hadamard``) applied to ``args`` denotes: a
    product with a 1×1 operand is ``scale``, the scalar first (it commutes with anything)."""
    if op in ("mul", "hadamard") and len(args) == 2:
        a, b = args
        if is_scalar(a.shape):
            return "scale", (a, b)
        if is_scalar(b.shape):
            return "scale", (b, a)
    return op, tuple(args)


#: (op, argument shapes) → result shape, for the shapes that fit: the rules are pure functions of
#: the shapes (with a fresh Unifier each time), and the engine builds the same few combinations
#: hundreds of thousands of times on a wide expression.
_SHAPES: dict = {}


def spread(s: Node, shape: Shape) -> Node:
    """The scalar ``s`` broadcast over ``shape``: the constant array c for a number (or 1×1
    constant) c, else s·𝟙, the scaling of the all-ones array."""
    c = constant_value(s)
    if c is not None:
        return Const("fill", tuple(shape), c)
    return make("scale", s, Const("fill", tuple(shape), 1))


def broadcast_operands(op: str, args: tuple) -> tuple:
    """The operands of a sum or difference with a 1×1 operand and a larger one: the scalar
    spread over the other's shape (:func:`spread`), so that ``add`` and ``sub`` always have
    operands of one shape.  ``x + 1`` is x + 𝟙 and ``x - a`` is x − a·𝟙; printed, they read
    ``x + 1`` and ``x - a`` again."""
    if op in ("add", "sub") and len(args) == 2:
        a, b = args
        if is_scalar(a.shape) and not is_scalar(b.shape):
            return spread(a, b.shape), b
        if is_scalar(b.shape) and not is_scalar(a.shape):
            return a, spread(b, a.shape)
    return args


def spread_scalar(node: Node):
    """The scalar that ``node`` spreads (:func:`spread`), or None: the number c of a constant
    array c (not 1×1), or s of s·𝟙 for s not a number (:func:`spread` writes c·𝟙 as the constant
    c, so 0.5·𝟙 stays itself and its text parses back to the same tree)."""
    if is_scalar(node.shape):
        return None
    if op_of(node) == "fill":
        return Num(node.value)
    if op_of(node) == "scale" and not isinstance(node.args[0], Num) and constant_value(node.args[1]) == 1:
        return node.args[0]
    return None


def narrowed(root: Node) -> Node:
    """``root`` as the text writes it: in a sum or difference with one spread operand
    (:func:`spread`), that operand is its scalar, broadcast (x + 𝟙 is ``x + 1``, x − a·𝟙 is
    ``x - a``).  For printers and code generation only: the nodes are built without
    :func:`make`, which would spread the scalar again.  Iterative; sharing kept."""
    done: dict[int, Node] = {}
    for node in postorder(root):
        kids = node.children()
        if not kids:
            continue
        new = tuple(done.get(id(k), k) for k in kids)
        if node.op in ("add", "sub"):
            bare = [spread_scalar(k) for k in node.args]
            if (bare[0] is None) != (bare[1] is None):
                new = tuple(done.get(id(b), b) if b is not None else n for b, n in zip(bare, new))
        if any(n is not k for n, k in zip(new, kids)):
            done[id(node)] = Op(node.op, new, node.shape)
    return done.get(id(root), root)


def make(op: str, *args: Node) -> Op:
    """Build an ``Op`` node, computing its shape; a misfit raises :class:`ShapeError`.
    A product with a scalar operand becomes ``scale`` (see :func:`product_op`), and a scalar in
    a sum is spread over the other operand's shape (see :func:`broadcast_operands`)."""
    if len(args) == 2:   # product_op and broadcast_operands, written out for two operands (the common case)
        a, b = args
        sa, sb = a.shape, b.shape
        scalar_a, scalar_b = sa[0] == 1 and sa[1] == 1, sb[0] == 1 and sb[1] == 1
        if op == "mul" or op == "hadamard":
            if scalar_a:
                op = "scale"
            elif scalar_b:
                op, args, sa, sb = "scale", (b, a), sb, sa
        elif (op == "add" or op == "sub") and scalar_a != scalar_b:
            args = broadcast_operands(op, args)
            sa, sb = args[0].shape, args[1].shape
        key = (op, sa, sb)
    else:
        key = (op, *[a.shape for a in args])
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _shape_of(op, args)
        if len(_SHAPES) < 100_000:
            _SHAPES[key] = shape
    if op == "pow" and not is_scalar(args[0].shape) and not is_integer(args[1]):
        raise ShapeError("a matrix power needs an integer exponent; use '.^' for elementwise powers")
    return Op(op, tuple(args), shape)


def _shape_of(op: str, args: tuple) -> Shape:
    try:
        return SHAPE_RULES[op](tuple(a.shape for a in args), Unifier())
    except Mismatch as e:
        from matcalc.printing.text import to_text
        raise ShapeError(e.args[0].format(*(to_text(a) for a in args))) from None


def is_integer(node: Node) -> bool:
    """A literal integer (possibly negated)."""
    if isinstance(node, Op) and node.op == "neg":
        node = node.args[0]
    return isinstance(node, Num) and float(node.value).is_integer()
