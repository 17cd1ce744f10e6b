"""What each lowered op is in NumPy, JAX and torch: one template table per target.

A template is a Python expression of the library's own (never user text) in which the names
``_0``, ``_1`` stand for the arguments, ``_a`` for the node's attribute, ``_r`` and ``_c`` for
its row and column sizes and ``_ref`` for an input array whose dtype and device constants
follow.  The emitter parses a template once and puts argument *syntax trees* in those places;
the interpreter of :mod:`matcalc.generate.run` compiles the NumPy templates into functions.

Each target also has a prelude: its imports, the error type, the binding of keyword values to
arrays (``_bind``: names, ranks, dimension agreement) and the output helpers.
"""
from __future__ import annotations

from matcalc.generate.plan import LOWERED

TARGETS = ("numpy", "jax", "torch")

_ELEMENTWISE = {op: f"np.{op}(_0)" for op in ("exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos",
                                              "arctan", "sqrt", "abs", "sign", "log1p", "square")}

NUMPY = {
    **_ELEMENTWISE,
    "matmul": "_0 @ _1", "mul": "_0 * _1", "add": "_0 + _1", "sub": "_0 - _1", "div": "_0 / _1", "neg": "-_0",
    "T": "_0.T", "pow": "_0 ** _1",
    "relu": "np.maximum(_0, 0.0)", "sigmoid": "1.0 / (1.0 + np.exp(-_0))",
    "softplus": "np.logaddexp(0.0, _0)", "step": "np.heaviside(_0, 0.0)",
    "sum": "_0.sum()", "sumsq": "np.vdot(_0, _0)", "dot": "np.vdot(_0, _1)", "norm1": "np.abs(_0).sum()",
    "norm2": "np.linalg.norm(_0)", "trace": "np.trace(_0)", "det": "np.linalg.det(_0)",
    "logdet": "np.linalg.slogdet(_0)[1]", "inv": "np.linalg.inv(_0)", "solve": "np.linalg.solve(_0, _1)",
    "matpow": "np.linalg.matrix_power(_0, _a)", "diagvec": "np.diag(_0[:, 0])",
    "diagof": "np.diagonal(_0)[:, None]", "softmax": "_softmax(_0)", "logsumexp": "_logsumexp(_0)",
    "vec": "_0.T.reshape(-1, 1)", "kron": "np.kron(_0, _1)", "unvec": "_unvec(_0, _a)",
    "eye": "np.eye(_a)", "full": "np.full((_r, _c), _a)", "flat": "_0.reshape(-1)", "zeros": "np.zeros(_a)",
    "reshape": "_0.reshape(_a)", "mat": "_0.reshape(_c, _r).T",
}

JAX = {
    **{op: t.replace("np.", "jnp.") for op, t in NUMPY.items()},
    "sigmoid": "jax.nn.sigmoid(_0)", "softplus": "jax.nn.softplus(_0)", "relu": "jnp.maximum(_0, 0.0)",
    "step": "jnp.where(_0 > 0, 1.0, 0.0)", "sum": "jnp.sum(_0)", "norm1": "jnp.sum(jnp.abs(_0))",
    "eye": "jnp.eye(_a, dtype=_ref.dtype)", "full": "jnp.full((_r, _c), _a, dtype=_ref.dtype)",
    "zeros": "jnp.zeros(_a, dtype=_ref.dtype)",
}

TORCH = {
    **{op: f"torch.{op}(_0)" for op in ("exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "sign",
                                        "log1p", "square", "sigmoid")},
    "arcsin": "torch.asin(_0)", "arccos": "torch.acos(_0)", "arctan": "torch.atan(_0)",
    "matmul": "_0 @ _1", "mul": "_0 * _1", "add": "_0 + _1", "sub": "_0 - _1", "div": "_0 / _1", "neg": "-_0",
    "T": "_0.T", "pow": "_0 ** _1",
    "relu": "torch.clamp(_0, min=0.0)", "softplus": "torch.nn.functional.softplus(_0, beta=1.0, threshold=50.0)",
    "step": "(_0 > 0).to(_0.dtype)",
    "sum": "_0.sum()", "sumsq": "torch.dot(_0.reshape(-1), _0.reshape(-1))", "dot": "torch.dot(_0.reshape(-1), _1.reshape(-1))", "norm1": "_0.abs().sum()",
    "norm2": "torch.linalg.norm(_0)", "trace": "torch.trace(_0)", "det": "torch.linalg.det(_0)",
    "logdet": "torch.linalg.slogdet(_0)[1]", "inv": "torch.linalg.inv(_0)", "solve": "torch.linalg.solve(_0, _1)",
    "matpow": "torch.linalg.matrix_power(_0, _a)", "diagvec": "torch.diag(_0[:, 0])",
    "diagof": "torch.diagonal(_0)[:, None]", "softmax": "_softmax(_0)", "logsumexp": "_logsumexp(_0)",
    "vec": "_0.T.reshape(-1, 1)", "kron": "torch.kron(_0.contiguous(), _1.contiguous())", "unvec": "_unvec(_0, _a)",
    "eye": "torch.eye(_a, dtype=_ref.dtype, device=_ref.device)",
    "full": "torch.full((_r, _c), _a, dtype=_ref.dtype, device=_ref.device)", "flat": "_0.reshape(-1)",
    "zeros": "torch.zeros(_a, dtype=_ref.dtype, device=_ref.device)",
    "reshape": "_0.reshape(_a)", "mat": "_0.reshape(_c, _r).T",
}

TEMPLATES = {"numpy": NUMPY, "jax": JAX, "torch": TORCH}
_STRUCTURAL = {"arg", "lit", "einsum"}
for _name, _table in TEMPLATES.items():
    assert set(_table) | _STRUCTURAL == set(LOWERED), (_name, set(LOWERED) ^ (set(_table) | _STRUCTURAL))

#: What a target needs: the import line (for the docstring), and whether entry points are jitted.
IMPORTS = {"numpy": "numpy", "jax": "jax", "torch": "torch"}

_COMMON = '''
try:
    from matcalc.errors import EvaluationError as InputError
except ImportError:  # the module also runs without matcalc installed
    class InputError(ValueError):
        """The values do not fit the expression's variables (missing, wrong rank or sizes)."""

_RANKS = {"scalar": 0, "vector": 1, "matrix": 2, "symmetric": 2}
_WORDS = {0: "a number", 1: "a 1-D array", 2: "a 2-D array"}


def _bind(values, spec, fn):
    """The values in ``spec`` order as arrays, after checking names, ranks and that every
    dimension has one size; ``spec`` holds (name, kind, dimensions) per variable."""
    names = [s[0] for s in spec]
    missing = [n for n in names if n not in values]
    if missing:
        raise InputError(f"{fn}() needs a value for {', '.join(missing)} (it takes {', '.join(names)})")
    extra = [k for k in values if k not in names]
    if extra:
        raise InputError(f"{fn}() got unexpected values for {', '.join(map(str, extra))} "
                         f"(it takes {', '.join(names)})")
    arrays = _convert([values[n] for n in names])
    sizes, source = {}, {}
    for (name, kind, dims), a in zip(spec, arrays):
        rank = _RANKS[kind]
        shape = tuple(a.shape)
        if len(shape) != rank:
            raise InputError(f"{fn}(): {name} is a {kind}, so its value must be {_WORDS[rank]}, "
                             f"but an array of shape {shape} was given")
        for axis, (d, n) in enumerate(zip(dims, shape)):
            if isinstance(d, int):
                if d != n:
                    raise InputError(f"{fn}(): {name} must have size {d} along axis {axis}, but has {n}")
            elif "*" in d:
                parts = d.split("*")
                if all(p.isdigit() or p in sizes for p in parts):
                    want = 1
                    for p in parts:
                        want *= int(p) if p.isdigit() else sizes[p]
                    if want != n:
                        raise InputError(f"{fn}(): {name} must have size {d} = {want} along axis {axis}, "
                                         f"but has {n}")
            elif d in sizes and sizes[d] != n:
                raise InputError(f"{fn}(): dimension {d} is {sizes[d]} from {source[d]} but {n} from "
                                 f"{name} (axis {axis})")
            else:
                sizes.setdefault(d, n)
                source.setdefault(d, f"{name} (axis {axis})")
        if kind == "symmetric" and not _symmetric(a):
            raise InputError(f"{fn}(): {name} is declared symmetric, but its value is not")
    return arrays
'''

PRELUDES = {
    "numpy": '''import numpy as np
''' + _COMMON + '''

def _convert(values):
    return [np.asarray(v, dtype=np.float64) for v in values]


def _symmetric(a):
    return np.allclose(a, a.T, rtol=1e-10, atol=1e-12)


def _softmax(a):
    e = np.exp(a - a.max())
    return e / e.sum()


def _logsumexp(a):
    top = a.max()
    return top + np.log(np.exp(a - top).sum())


def _unvec(j, dims):
    p, q, r, s = dims
    return j.reshape(q, p, s, r).transpose(1, 0, 3, 2)


def _scalar(v, ref=None):
    return float(np.reshape(v, ()))


def _out(v, shape, ref=None):
    return np.reshape(v, shape)
''',
    "jax": '''import jax
import jax.numpy as jnp
import numpy as np
''' + _COMMON + '''

def _convert(values):
    return [v if hasattr(v, "shape") else np.asarray(v, dtype=np.float64) for v in values]


def _symmetric(a):
    return np.allclose(np.asarray(a), np.asarray(a).T, rtol=1e-6, atol=1e-8)


def _softmax(a):
    e = jnp.exp(a - jnp.max(a))
    return e / jnp.sum(e)


def _logsumexp(a):
    top = jax.lax.stop_gradient(jnp.max(a))
    return top + jnp.log(jnp.sum(jnp.exp(a - top)))


def _unvec(j, dims):
    p, q, r, s = dims
    return j.reshape(q, p, s, r).transpose(1, 0, 3, 2)


def _scalar(v, ref=None):
    return jnp.reshape(v, ())


def _out(v, shape, ref=None):
    return jnp.reshape(v, shape)
''',
    "torch": '''import numpy as np
import torch
''' + _COMMON + '''

def _convert(values):
    ref = next((v for v in values if isinstance(v, torch.Tensor) and v.is_floating_point()), None)
    dtype = ref.dtype if ref is not None else torch.float64
    device = ref.device if ref is not None else None
    out = []
    for v in values:
        if not isinstance(v, torch.Tensor):
            v = torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype, device=device)
        elif not v.is_floating_point():
            v = v.to(dtype)
        out.append(v)
    return out


def _symmetric(a):
    return bool(torch.allclose(a, a.T, rtol=1e-10, atol=1e-12))


def _softmax(a):
    e = torch.exp(a - a.max())
    return e / e.sum()


def _logsumexp(a):
    return torch.logsumexp(a.reshape(-1), 0)


def _unvec(j, dims):
    p, q, r, s = dims
    return j.reshape(q, p, s, r).permute(1, 0, 3, 2)


def _scalar(v, ref):
    if not isinstance(v, torch.Tensor):
        v = torch.as_tensor(v, dtype=ref.dtype, device=ref.device)
    return v.reshape(())


def _out(v, shape, ref):
    if not isinstance(v, torch.Tensor):
        v = torch.as_tensor(v, dtype=ref.dtype, device=ref.device)
    return v.reshape(shape)
''',
}
