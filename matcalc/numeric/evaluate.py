"""IR to numbers with NumPy: one rule per op, on 2-D arrays (a vector is an n×1 column).

Values come in the user's layout (a scalar is a number, a vector a 1-D array, a matrix 2-D) and
the result goes back in it; dimension names are bound from the arrays and checked for agreement.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from matcalc.errors import EvaluationError
from matcalc.ir.nodes import ALL_OPS, Const, Dim, Node, Var, fold, op_of, postorder
from matcalc.ir.shapes import is_scalar
from matcalc.tables import registrar

EVAL_RULES: dict = {}


evaluates = registrar(EVAL_RULES)


def _elementwise(fn):
    return lambda node, a: fn(a)


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # stable for large |a|


def _softmax(a):
    e = np.exp(a - a.max())
    return e / e.sum()


def _logsumexp(a):
    top = a.max()
    return np.array([[top + np.log(np.exp(a - top).sum())]])


for _op, _fn in {
    "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "sqrt": np.sqrt, "abs": np.abs,
    "sign": np.sign, "relu": lambda a: np.maximum(a, 0.0), "sigmoid": _sigmoid,
    "softplus": lambda a: np.logaddexp(0.0, a), "step": lambda a: (a > 0).astype(float),
    "neg": np.negative, "transpose": np.transpose, "softmax": _softmax, "logsumexp": _logsumexp,
    "sum": lambda a: np.array([[a.sum()]]), "norm1": lambda a: np.array([[np.abs(a).sum()]]),
    "norm2": lambda a: np.array([[np.sqrt((a * a).sum())]]),
    "tr": lambda a: np.array([[np.trace(a)]]), "det": lambda a: np.array([[np.linalg.det(a)]]),
    "logdet": lambda a: np.array([[np.linalg.slogdet(a)[1]]]), "inv": np.linalg.inv,
    "vec": lambda a: a.reshape(-1, 1, order="F"),
}.items():
    evaluates(_op)(_elementwise(_fn))

evaluates("add")(lambda node, a, b: a + b)
evaluates("sub")(lambda node, a, b: a - b)
evaluates("hadamard")(lambda node, a, b: a * b)
evaluates("ediv")(lambda node, a, b: a / b)
evaluates("div")(lambda node, a, b: a / b)
evaluates("epow")(lambda node, a, b: np.power(a, b))
evaluates("kron")(lambda node, a, b: np.kron(a, b))


@evaluates("mul")
def eval_mul(node, a, b):
    """A matrix product, or scaling when either factor is a scalar."""
    if is_scalar(node.args[0].shape) or is_scalar(node.args[1].shape):
        return a * b
    return a @ b


@evaluates("pow")
def eval_pow(node, a, b):
    """Scalar power, or an integer power of a square matrix (negative: of its inverse)."""
    if is_scalar(node.args[0].shape):
        return np.power(a, b)
    return np.linalg.matrix_power(a, int(round(float(b[0, 0]))))


@evaluates("diag")
def eval_diag(node, a):
    """diag of a vector is a diagonal matrix; diag of a square matrix is its diagonal."""
    return np.diag(a[:, 0]) if a.shape[1] == 1 else np.diag(a).reshape(-1, 1)


@evaluates("var", "num", "eye", "fill")
def eval_leaf(node, *args):
    raise AssertionError("leaves are bound by evaluate()")


assert set(EVAL_RULES) == set(ALL_OPS), set(ALL_OPS) ^ set(EVAL_RULES)


_RANK = {"scalar": 0, "vector": 1, "matrix": 2, "symmetric": 2}
_RANK_WORDS = {0: "a number", 1: "a 1-D array", 2: "a 2-D array"}


def dim_value(d: Dim, dims: Mapping[str, int], what: str) -> int:
    if isinstance(d, int):
        return d
    total = 1
    for part in d.split("*"):
        if part not in dims:
            raise EvaluationError(f"the size of dimension {part!r} (of {what}) is unknown: no given array has it; "
                                  f"pass it in the values, e.g. {{'{part}': 3}}")
        total *= dims[part]
    return total


def bind(root: Node, values: Mapping[str, object]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Check the values against the variables' types; return 2-D arrays and dimension sizes."""
    if not isinstance(values, Mapping):
        raise EvaluationError(f"values must be a dict of name → array, not {type(values).__name__}")
    dims: dict[str, int] = {k: int(v) for k, v in values.items()
                            if isinstance(v, (int, np.integer)) and not isinstance(v, bool)}
    dim_source: dict[str, str] = {k: "the values" for k in dims}
    arrays: dict[str, np.ndarray] = {}
    for node in postorder(root):
        if not isinstance(node, Var) or node.name in arrays:
            continue
        if node.name not in values:
            raise EvaluationError(f"no value given for {node.name} ({_type_words(node)})")
        try:
            a = np.asarray(values[node.name], dtype=float)
        except (TypeError, ValueError):
            raise EvaluationError(f"the value of {node.name} is not numeric: {values[node.name]!r}") from None
        rank = _RANK[node.kind]
        if a.ndim != rank:
            raise EvaluationError(f"{node.name} is {_type_words(node)}, so its value must be {_RANK_WORDS[rank]}, "
                                  f"but an array of shape {a.shape} was given")
        sizes = a.shape + (1,) * (2 - rank) if rank else (1, 1)
        for axis, (d, n) in enumerate(zip(node.shape, sizes)):
            if isinstance(d, int) or "*" in d:
                if dim_value(d, dims, node.name) != n:
                    raise EvaluationError(f"{node.name} must have size {d} along axis {axis}, but has {n}")
            elif d in dims and dims[d] != n:
                raise EvaluationError(f"dimension {d} is {dims[d]} from {dim_source[d]} but {n} from "
                                      f"{node.name} (axis {axis})")
            elif d not in dims:
                dims[d], dim_source[d] = n, f"{node.name} (axis {axis})"
        if node.kind == "symmetric" and not np.allclose(a, a.T, rtol=1e-10, atol=1e-12):
            raise EvaluationError(f"{node.name} is declared symmetric, but its value is not")
        arrays[node.name] = a.reshape(sizes)
    return arrays, dims


def _type_words(var: Var) -> str:
    from matcalc.ir.types import type_of_var
    return str(type_of_var(var))


def node_value(node: Node, kids: tuple, arrays: Mapping[str, np.ndarray], dims: Mapping[str, int]) -> np.ndarray:
    """The value of one node, given its children's values (2-D arrays) and the bound variables."""
    op = op_of(node)
    if op == "var":
        return arrays[node.name]
    if op == "num":
        return np.array([[float(node.value)]])
    if isinstance(node, Const):
        r, c = (dim_value(d, dims, op) for d in node.shape)
        return np.eye(r) if op == "eye" else np.full((r, c), float(node.value))
    return EVAL_RULES[op](node, *kids)


def evaluate_node(root: Node, values: Mapping[str, object]) -> np.ndarray:
    """The value of ``root`` as a 2-D array (n×1 for a vector, 1×1 for a scalar)."""
    arrays, dims = bind(root, values)
    try:
        with np.errstate(all="ignore"):
            return fold(root, lambda node, kids: node_value(node, kids, arrays, dims))
    except np.linalg.LinAlgError as e:
        raise EvaluationError(f"linear algebra failed: {e} (is a matrix singular?)") from None


def to_user(node: Node, a: np.ndarray):
    """A 2-D result in the user's layout: float, 1-D array for a column vector, else 2-D."""
    if is_scalar(node.shape):
        return float(a[0, 0])
    if node.shape[1] == 1:
        return a[:, 0]
    return a


def evaluate(root: Node, values: Mapping[str, object]):
    return to_user(root, evaluate_node(root, values))
