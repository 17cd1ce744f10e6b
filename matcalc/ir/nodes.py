"""The intermediate representation: a small, closed set of immutable, shaped nodes.

Every later stage (shapes, differentials, simplification, printers, evaluation) is a table keyed
by the node's *op* (see :func:`op_of`), so this module holds no mathematics: only the node types,
the list of operators, structural equality and iterative traversal.

Shapes are ``(rows, cols)`` pairs of dimensions, a dimension being an ``int`` or a ``str`` name.
A scalar is ``(1, 1)``, a (column) vector ``(n, 1)``, its transpose, a row, ``(1, n)``.

Products are two ops, both written ``*``: ``mul`` is the matrix product of two operands neither of
which is 1×1 (including the inner product x'*y and the outer product x*y'), and ``scale`` is a
1×1 operand times anything, the scalar always first (``scale(s, A)`` reads ``s*A``).  The
checked constructor :func:`matcalc.ir.shapes.make` chooses between them from the shapes, so
``make("mul", A, s)`` is ``scale(s, A)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Union

Dim = Union[int, str]
Shape = tuple  # (Dim, Dim)
SCALAR: Shape = (1, 1)

#: Elementwise functions of one argument (applied entry by entry).
ELEMENTWISE = (
    "exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan",
    "sqrt", "abs", "sign", "relu", "sigmoid", "softplus", "step",
)
#: Functions whose argument is a whole vector or matrix.
MATRIX_FUNCTIONS = ("sum", "norm1", "norm2", "tr", "det", "logdet", "inv", "diag", "softmax", "logsumexp", "vec")
#: Functions of two arguments.
BINARY_FUNCTIONS = ("kron",)
FUNCTIONS = ELEMENTWISE + MATRIX_FUNCTIONS + BINARY_FUNCTIONS
#: Operators written with symbols, with their arity.
OPERATORS = {
    "add": 2, "sub": 2, "mul": 2, "scale": 2, "div": 2, "hadamard": 2, "ediv": 2,
    "pow": 2, "epow": 2, "neg": 1, "transpose": 1,
}
#: The two product ops (matrix product, and a scalar times anything), both written ``*``.
PRODUCTS = ("mul", "scale")
#: The closed set of ops of ``Op`` nodes, with arity.
OPS: dict[str, int] = {**OPERATORS, **{f: 1 for f in ELEMENTWISE + MATRIX_FUNCTIONS}, **{f: 2 for f in BINARY_FUNCTIONS}}
#: Ops of leaf nodes: variables, numbers, the identity and constant-filled arrays.
LEAVES = ("var", "num", "eye", "fill")
#: Every key a complete interpretation table must have.
ALL_OPS = tuple(LEAVES) + tuple(OPS)

KINDS = ("scalar", "vector", "matrix", "symmetric")


class Node:
    """Base of IR nodes: structural ``==`` and ``hash``, both without recursion."""

    __slots__ = ()

    def children(self) -> tuple["Node", ...]:
        return ()

    def _key(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Node):
            return NotImplemented
        stack = [(self, other)]
        seen: set[tuple[int, int]] = set()
        while stack:
            a, b = stack.pop()
            if a is b or (id(a), id(b)) in seen:
                continue
            if type(a) is not type(b) or a._digest != b._digest or a._key() != b._key():
                return False
            ca, cb = a.children(), b.children()
            if len(ca) != len(cb):
                return False
            seen.add((id(a), id(b)))
            stack.extend(zip(ca, cb))
        return True

    def __hash__(self) -> int:
        return self._digest

    def __repr__(self) -> str:
        from matcalc.printing.text import to_text
        return f"{type(self).__name__}<{to_text(self)}>"


def _digest(key: tuple, children: tuple) -> int:
    return hash((key, tuple(c._digest for c in children)))


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Var(Node):
    """A variable: a name, a shape, and a kind (scalar, vector, matrix or symmetric)."""

    name: str
    shape: Shape
    kind: str
    _digest: int = field(init=False, compare=False)
    op = "var"   # its key in the interpretation tables (a class attribute, not a field)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")
        object.__setattr__(self, "_digest", _digest(self._key(), ()))

    def _key(self):
        return ("var", self.name, self.shape, self.kind)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Num(Node):
    """A scalar number (an ``int`` where exact, else a ``float``)."""

    value: Union[int, float]
    _digest: int = field(init=False, compare=False)
    op = "num"   # its key in the interpretation tables (a class attribute, not a field)

    def __post_init__(self):
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise TypeError(f"Num takes an int or float, not {self.value!r}")
        object.__setattr__(self, "_digest", _digest(self._key(), ()))

    @property
    def shape(self) -> Shape:
        return SCALAR

    def _key(self):
        # 2 and 2.0 are the same number: compare by value, hash alike
        return ("num", self.value)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Const(Node):
    """A constant array: ``eye`` (the identity) or ``fill`` (every entry ``value``)."""

    op: str
    shape: Shape
    value: Union[int, float] = 1
    _digest: int = field(init=False, compare=False)

    def __post_init__(self):
        if self.op not in ("eye", "fill"):
            raise ValueError(f"unknown constant {self.op!r}")
        if self.op == "eye" and self.shape[0] != self.shape[1]:
            raise ValueError("the identity must be square")
        object.__setattr__(self, "_digest", _digest(self._key(), ()))

    def _key(self):
        return (self.op, self.shape, self.value)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Op(Node):
    """An operator or function applied to argument nodes; ``shape`` is the result's shape.

    Build these through :func:`matcalc.shapes.make`, which computes and checks the shape.
    """

    op: str
    args: tuple
    shape: Shape
    _digest: int = field(init=False, compare=False)

    def __init__(self, op: str, args: tuple, shape: Shape):
        # written out (the dataclass's own __init__ and __post_init__ set each slot through
        # object.__setattr__): the engine builds hundreds of thousands of nodes
        arity = OPS.get(op)
        if arity is None:
            raise ValueError(f"unknown op {op!r}")
        if len(args) != arity:
            raise ValueError(f"{op} takes {arity} node argument(s)")
        for a in args:
            if not isinstance(a, Node):
                raise ValueError(f"{op} takes {arity} node argument(s)")
        _set_op(self, op)
        _set_args(self, args)
        _set_shape(self, shape)
        # _digest(self._key(), args), written out
        _set_digest(self, hash(((op, shape), tuple([a._digest for a in args]))))

    def children(self):
        return self.args

    def _key(self):
        return (self.op, self.shape)


#: the frozen slots of Op, set once by its constructor (bypassing the frozen __setattr__)
_set_op, _set_args, _set_shape, _set_digest = (Op.op.__set__, Op.args.__set__, Op.shape.__set__,
                                               Op._digest.__set__)


def constant_value(node: Node):
    """The value of a number or of a constant-filled array (``x + 1`` holds the array 𝟙), else None."""
    if type(node) is Num or (type(node) is Const and node.op == "fill"):
        return node.value
    return None


def op_of(node: Node) -> str:
    """The key of ``node`` in every interpretation table: its ``op`` (a field of Op and Const, a
    class attribute of Var and Num), read directly since the simplifier asks millions of times;
    anything without one (``None`` for a missing operand) reads as ``"num"``, as it always has."""
    try:
        return node.op
    except AttributeError:
        return "num"


def postorder(root: Node) -> Iterator[Node]:
    """Each distinct node (by identity) once, children before parents; no recursion."""
    return postorder_all((root,))


def postorder_all(roots, skip: frozenset = frozenset()) -> Iterator[Node]:
    """:func:`postorder` over several roots at once: each distinct node under any of them once;
    nodes whose ids are in ``skip`` (and what lies only below them) are not visited."""
    seen: set[int] = set(skip)
    for root in roots:
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                yield node
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for child in reversed(node.children()):
                if id(child) not in seen:
                    stack.append((child, False))


def fold(root: Node, visit: Callable[[Node, tuple], object]) -> object:
    """Bottom-up interpretation: ``visit(node, child_results)`` once per distinct node.

    Shared subexpressions are visited once, so the cost is linear in the size of the DAG.
    """
    results: dict[int, object] = {}
    for node in postorder(root):
        results[id(node)] = visit(node, tuple(results[id(c)] for c in node.children()))
    return results[id(root)]


def variables(root: Node) -> dict[str, Var]:
    """The variables of an expression, in order of first appearance."""
    found: dict[str, Var] = {}
    for node in postorder(root):
        if isinstance(node, Var):
            found.setdefault(node.name, node)
    return found


def size(root: Node) -> int:
    """Node count of the tree as printed (shared subtrees counted each time they occur)."""
    return fold(root, lambda n, kids: 1 + sum(kids))


def dag_size(root: Node) -> int:
    """Number of distinct nodes (by identity)."""
    return sum(1 for _ in postorder(root))
