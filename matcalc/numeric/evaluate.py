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

MAX_ENTRIES = 10 ** 8          # a result larger than this (800 MB of float64) is refused before allocating
ILL_CONDITIONED = 1e10         # inv of a matrix with a larger condition number warns: digits are lost
SINGULAR = 1e15                # ... and one beyond this is singular to working precision: an error


class NumericalWarning(UserWarning):
    """An IEEE result evaluation returns anyway: an overflow to ±inf, an ill-conditioned inverse."""


evaluates = registrar(EVAL_RULES)


def _text(node: Node) -> str:
    from matcalc.printing.text import to_text
    return to_text(node)


def _where(a: np.ndarray, mask: np.ndarray) -> str:
    """' at entry [i]' / ' at entry [i, j]' of the first True in ``mask`` ('' for a scalar)."""
    i, j = (int(k) for k in np.argwhere(mask)[0])
    if a.shape == (1, 1):
        return ""
    return f" at entry [{i}]" if a.shape[1] == 1 else f" at entry [{i}, {j}]"


def _domain_error(node: Node, a: np.ndarray, mask: np.ndarray, needs: str) -> EvaluationError:
    arg = _text(node.args[0])
    value = float(a[tuple(np.argwhere(mask)[0])])
    return EvaluationError(f"{_text(node)} is undefined: {op_of(node)} needs {needs}, but {arg} is "
                           f"{value:.6g}{_where(a, mask)}")


def _overflow(node: Node, out: np.ndarray, inputs=()) -> np.ndarray:
    """Warn (IEEE ±inf is returned) when ``out`` is infinite where every input was finite."""
    bad = ~np.isfinite(out)
    if bad.any() and all(np.all(np.isfinite(x)) for x in inputs):
        import warnings
        warnings.warn(f"{_text(node)} overflows to ±inf{_where(out, bad)} (IEEE result)", NumericalWarning,
                      stacklevel=2)
    return out


def _guarded(fn):
    """The rule ``fn``, refusing to return NaN made from non-NaN inputs (inf − inf, 0·inf, …)."""
    def rule(node, *args):
        out = fn(node, *args)
        if isinstance(out, np.ndarray) and np.isnan(out).any() and not any(np.isnan(a).any() for a in args):
            raise EvaluationError(f"{_text(node)} is not a number (NaN{_where(out, np.isnan(out))}): "
                                  "an undefined operation such as inf − inf or 0·inf")
        return out
    rule.__name__, rule.__doc__ = getattr(fn, "__name__", "rule"), fn.__doc__
    return rule


def _elementwise(fn):
    return lambda node, a: fn(a)


def _sigmoid(a):
    """1/(1 + e^−a), to full relative precision on both tails (e^−a overflowing to inf below
    a ≈ −709 gives the correct 0); the former 0.5·(1 + tanh(a/2)) kept only absolute precision
    (sigmoid(−35) came out as 4.4e-16, 2·10⁻¹⁶ from any neighbour, so log(sigmoid(a)) was flat)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-a))


def _softmax(a):
    e = np.exp(a - a.max())
    return e / e.sum()


def _logsumexp(a):
    top = a.max()
    return np.array([[top + np.log(np.exp(a - top).sum())]])


for _op, _fn in {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
    "arctan": np.arctan, "abs": np.abs,
    "sign": np.sign, "relu": lambda a: np.maximum(a, 0.0), "sigmoid": _sigmoid,
    "softplus": lambda a: np.logaddexp(0.0, a), "step": lambda a: (a > 0).astype(float),
    "neg": np.negative, "transpose": np.transpose, "softmax": _softmax, "logsumexp": _logsumexp,
    "sum": lambda a: np.array([[a.sum()]]), "norm1": lambda a: np.array([[np.abs(a).sum()]]),
    "norm2": lambda a: np.array([[np.sqrt((a * a).sum())]]),
    "tr": lambda a: np.array([[np.trace(a)]]),
    "vec": lambda a: a.reshape(-1, 1, order="F"),
}.items():
    evaluates(_op)(_guarded(_elementwise(_fn)))


@evaluates("exp")
def eval_exp(node, a):
    """exp; an overflow (argument above ~709) is IEEE inf, with a NumericalWarning."""
    return _overflow(node, np.exp(a), (a,))


@evaluates("log")
def eval_log(node, a):
    """log of positive values; zero or negative entries are an EvaluationError naming them."""
    bad = a <= 0
    if bad.any():
        raise _domain_error(node, a, bad, "positive values")
    return np.log(a)


@evaluates("sqrt")
def eval_sqrt(node, a):
    """sqrt of non-negative values; a negative entry is an EvaluationError naming it."""
    bad = a < 0
    if bad.any():
        raise _domain_error(node, a, bad, "non-negative values")
    return np.sqrt(a)


def _unit_interval(fn):
    def rule(node, a):
        bad = np.abs(a) > 1
        if bad.any():
            raise _domain_error(node, a, bad, "values in [-1, 1]")
        return fn(a)
    rule.__doc__ = f"{fn.__name__} on [-1, 1]; outside it an EvaluationError."
    return rule


evaluates("arcsin")(_unit_interval(np.arcsin))
evaluates("arccos")(_unit_interval(np.arccos))


def _condition(node: Node, a: np.ndarray) -> float:
    try:
        return float(np.linalg.cond(a))
    except np.linalg.LinAlgError:
        return float("inf")


def _singular(node: Node, a: np.ndarray, cond: float) -> EvaluationError:
    arg = _text(node.args[0])
    how = "exactly singular" if not np.isfinite(cond) else f"singular to working precision (condition number {cond:.1e})"
    return EvaluationError(f"{_text(node)} is undefined: the matrix {arg} is {how}")


@evaluates("inv")
def eval_inv(node, a):
    """The inverse; a singular matrix is an EvaluationError, an ill-conditioned one a NumericalWarning
    (the 1-norm condition number ‖A‖₁‖A⁻¹‖₁, from the inverse itself)."""
    try:
        out = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _singular(node, a, float("inf")) from None
    cond = float(np.abs(a).sum(axis=0).max() * np.abs(out).sum(axis=0).max())
    if not cond < SINGULAR:
        raise _singular(node, a, cond)
    if cond > ILL_CONDITIONED:
        import warnings
        warnings.warn(f"{_text(node)}: {_text(node.args[0])} is ill-conditioned (condition number {cond:.1e}); "
                      "the inverse has lost digits", NumericalWarning, stacklevel=2)
    return out


@evaluates("det")
def eval_det(node, a):
    """The determinant (0, up to rounding, for a singular matrix: the IEEE result)."""
    return _overflow(node, np.array([[np.linalg.det(a)]]), (a,))


@evaluates("logdet")
def eval_logdet(node, a):
    """log|det A|; a singular A (det 0, log −inf) is an EvaluationError."""
    sign, value = np.linalg.slogdet(a)
    if sign == 0 or not np.isfinite(value):
        raise _singular(node, a, _condition(node, a))
    return np.array([[value]])


@evaluates("ediv", "div")
def eval_div(node, a, b):
    """a / b (elementwise); a zero divisor is an EvaluationError naming it."""
    zero = b == 0
    if zero.any():
        raise EvaluationError(f"{_text(node)} divides by zero: {_text(node.args[1])} is 0{_where(b, zero)}")
    return _overflow(node, a / b, (a, b))


def _power(node, a, b):
    """a^b elementwise over the reals: no negative base with a fractional exponent, no 0^negative."""
    a_, b_ = np.broadcast_arrays(a, b)
    fractional = (a_ < 0) & (b_ != np.round(b_))
    if fractional.any():
        raise EvaluationError(f"{_text(node)} is undefined: a negative base ({_text(node.args[0])} = "
                              f"{float(a_[tuple(np.argwhere(fractional)[0])]):.6g}{_where(a_, fractional)}) "
                              "to a fractional power is not real")
    pole = (a_ == 0) & (b_ < 0)
    if pole.any():
        raise EvaluationError(f"{_text(node)} divides by zero: {_text(node.args[0])} is 0{_where(a_, pole)} "
                              "and the exponent is negative")
    return _overflow(node, np.power(a_, b_), (a, b))


evaluates("add")(_guarded(lambda node, a, b: a + b))
evaluates("sub")(_guarded(lambda node, a, b: a - b))
evaluates("hadamard")(_guarded(lambda node, a, b: a * b))
evaluates("epow")(_power)


def _budget(node: Node, rows: int, cols: int) -> None:
    if rows * cols > MAX_ENTRIES:
        raise EvaluationError(f"{_text(node)} would be a dense {rows}×{cols} array ({rows * cols:.2e} entries, "
                              f"{rows * cols * 8 / 2 ** 30:.3g} GiB); evaluation refuses results beyond "
                              f"{MAX_ENTRIES:.0e} entries")


@evaluates("kron")
def eval_kron(node, a, b):
    """The Kronecker product, refused before allocating when it would exceed MAX_ENTRIES."""
    _budget(node, a.shape[0] * b.shape[0], a.shape[1] * b.shape[1])
    return np.kron(a, b)


@evaluates("mul")
@_guarded
def eval_mul(node, a, b):
    """A matrix product."""
    _budget(node, a.shape[0], b.shape[1])
    return a @ b


@evaluates("scale")
@_guarded
def eval_scale(node, s, a):
    """A scalar times an array."""
    return s * a


@evaluates("pow")
def eval_pow(node, a, b):
    """Scalar power, or an integer power of a square matrix (negative: of its inverse; by repeated
    squaring, so X^1000000 takes 20 products)."""
    if is_scalar(node.args[0].shape):
        return _power(node, a, b)
    k = int(round(float(b[0, 0])))
    if k < 0:
        cond = _condition(node, a)
        if not cond < SINGULAR:
            raise _singular(node, a, cond)
    return _overflow(node, np.linalg.matrix_power(a, k), (a,))


@evaluates("diag")
def eval_diag(node, a):
    """diag of a vector is a diagonal matrix; diag of a square matrix is its diagonal."""
    if a.shape[1] == 1:
        _budget(node, a.shape[0], a.shape[0])
        return np.diag(a[:, 0])
    return np.diag(a).reshape(-1, 1)


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

    def visit(node: Node, kids: tuple) -> np.ndarray:
        try:
            return node_value(node, kids, arrays, dims)
        except EvaluationError as e:
            raise at_node(e, node)
        except np.linalg.LinAlgError as e:
            raise at_node(EvaluationError(f"{_text(node)}: linear algebra failed: {e} (is a matrix singular?)"),
                          node) from None

    with np.errstate(all="ignore"):
        return fold(root, visit)


def at_node(err: EvaluationError, node: Node) -> EvaluationError:
    """``err`` marked as raised at ``node`` (the innermost: a mark already there stays), so that
    the text ``node`` was parsed from can put a caret under it (:mod:`matcalc.front.spans`)."""
    if getattr(err, "node", None) is None:
        err.node = node
    return err


def diagnose(root: Node | None, values: Mapping[str, object], err: EvaluationError) -> EvaluationError:
    """``err`` if it names its node; else the error this module's evaluator raises for ``root`` at
    ``values``, which does (another evaluator, the planner's, may only know that a solve failed)."""
    if getattr(err, "node", None) is not None or root is None:
        return err
    try:
        evaluate_node(root, values)
    except EvaluationError as e:
        if e.node is not None:
            return e
    except Exception:  # noqa: BLE001 - a diagnosis must never hide the error it diagnoses
        pass
    return err


def to_user(node: Node, a: np.ndarray):
    """A 2-D result in the user's layout: float, 1-D array for a column vector, else 2-D."""
    if is_scalar(node.shape):
        return float(a[0, 0])
    if node.shape[1] == 1:
        return a[:, 0]
    return a


def evaluate(root: Node, values: Mapping[str, object]):
    return to_user(root, evaluate_node(root, values))
