"""The one generator of random well-typed matcalc expressions (hypothesis strategies).

Both the fuzz campaign (:mod:`matcalc.fuzz`, in CI and on demand) and the property tests of the
suite (``tests/strategies.py`` re-exports this module) draw from :func:`exprs`.  Expressions are
built as IR through the checked constructor ``make`` over the variables of :data:`DECLS`, so they
are well typed by construction.  Two profiles:

- ``"all"`` (the campaign's): every operator and function of the language, kinks (abs, relu,
  sign, step) included; domains are respected by construction (``log``/``sqrt`` of positive
  arguments, ``inv``/``det``/``logdet`` of well-conditioned matrices, where a bare variable relies
  on the checker drawing it shifted by √n·I);
- ``"smooth"`` (the suite's property tests): only functions smooth and defined at *any* real
  values, ``inv`` of a diagonally dominant matrix (4·I + sin(M), for n ≤ 3), so that a fixed draw of
  :func:`random_values` is a valid point for evaluation and finite differences.

hypothesis is imported lazily, and ``import matcalc`` never loads this module.
"""
from __future__ import annotations

import numpy as np

from matcalc.ir.nodes import Const, Node, Num, Var

DECLS = ("a: scalar; b: scalar; x: vector(n); y: vector(n); z: vector(m); "
         "A: matrix(n,n); B: matrix(n,n); C: matrix(n,m); S: symmetric(n); P: symmetric(m)")
SIZES = {"n": 3, "m": 2}

S, N, M, NN, NM, MN, MM, RN, RM = (1, 1), ("n", 1), ("m", 1), ("n", "n"), ("n", "m"), ("m", "n"), ("m", "m"), \
    (1, "n"), (1, "m")
SHAPES = (S, N, M, NN, NM, MN, MM, RN, RM)
LEAVES = {
    S: [Var("a", S, "scalar"), Var("b", S, "scalar")],
    N: [Var("x", N, "vector"), Var("y", N, "vector")],
    M: [Var("z", M, "vector")],
    NN: [Var("A", NN, "matrix"), Var("B", NN, "matrix"), Var("S", NN, "symmetric")],
    NM: [Var("C", NM, "matrix")],
    MM: [Var("P", MM, "symmetric")],
}
SMOOTH = ("sin", "cos", "tanh", "sigmoid", "softplus", "arctan", "exp")
KINKED = ("abs", "relu", "sign", "step")
NUMBERS = (Num(2), Num(3), Num(0.5), Num(-1), Num(1.5))

_COMMON = ("add", "sub", "hadamard", "neg", "transpose", "scale", "smooth", "mul")
_SCALAR = ("sum", "norm2", "tr", "inner", "pow", "div")
_VECTOR = ("matvec", "softmax", "diagvec")
_SQUARE = ("diagmat", "matpow", "inv")
#: What each profile may draw, by the shape drawn: (every shape, scalar, vector, square matrix).
PROFILES = {
    "smooth": (_COMMON, _SCALAR, _VECTOR, _SQUARE),
    "all": (_COMMON + ("kink", "ediv", "epow"),
            _SCALAR + ("norm1", "log", "sqrt", "det", "logdet", "logsumexp", "vecinner", "krontr", "kronsum",
                       "kroninner", "arcsin", "norm2", "vecinner"),
            _VECTOR + ("log", "sqrt"),
            _SQUARE + ("outer", "eye")),
}


def _t(shape):
    return (shape[1], shape[0])


def _make(op, *args):
    from matcalc.ir.shapes import make
    return make(op, *args)


def _ones(shape) -> Node:
    return Const("fill", shape, 1)


def exprs(shape=S, depth=3, profile: str = "all"):
    """A hypothesis strategy: random expressions of ``shape`` ((rows, cols)) over the variables of
    DECLS, nested up to ``depth``, drawing what ``profile`` ("all" or "smooth") allows."""
    from hypothesis import strategies as st

    every, scalar, vector, square = PROFILES[profile]
    smooth = profile == "smooth"

    @st.composite
    def build(draw, shape, depth):
        if depth <= 0 or draw(st.integers(0, 5 if smooth else 6)) == 0:
            return draw(leaf(shape))
        sub = lambda s, dd=1: build(s, depth - dd)  # noqa: E731
        kinds = list(every)
        if shape == S:
            kinds += scalar
        if shape in (N, M):
            kinds += vector
        if shape in (NN, MM):
            kinds += square
        kind = draw(st.sampled_from(kinds))
        if kind in ("add", "sub", "hadamard"):
            return _make(kind, draw(sub(shape)), draw(sub(shape)))
        if kind == "neg":  # the parser reads -2 as the number -2, never neg(2)
            arg = draw(sub(shape))
            return _make("neg", arg) if not isinstance(arg, Num) else Num(-arg.value)
        if kind == "transpose":
            t = _t(shape)
            return _make("transpose", draw(sub(t))) if t in SHAPES else draw(sub(shape))
        if kind == "scale":
            return _make("mul", draw(sub(S)), draw(sub(shape)))
        if kind == "smooth":
            return _make(draw(st.sampled_from(SMOOTH)), draw(sub(shape)))
        if kind == "kink":
            return _make(draw(st.sampled_from(KINKED)), draw(sub(shape)))
        if kind == "ediv":  # a divisor bounded away from 0
            return _make("ediv", draw(sub(shape)), _make("add", Num(1), _make("epow", draw(sub(shape)), Num(2))))
        if kind == "epow":
            return _make("epow", draw(sub(shape)), draw(st.sampled_from([Num(2), Num(3)])))
        if kind == "mul":
            inner = draw(st.sampled_from(["n", "m", 1]))
            left, right = (shape[0], inner), (inner, shape[1])
            if left in SHAPES and right in SHAPES and not (left == S or right == S):
                return _make("mul", draw(sub(left)), draw(sub(right)))
            return _make("mul", draw(sub(S)), draw(sub(shape)))
        if kind in ("sum", "norm1", "norm2"):
            return _make(kind, draw(sub(draw(st.sampled_from([N, M, NN, NM])))))
        if kind == "tr":
            return _make("tr", draw(sub(draw(st.sampled_from([NN, MM])))))
        if kind == "inner":
            v = draw(st.sampled_from([N, M]))
            return _make("mul", _make("transpose", draw(sub(v))), draw(sub(v)))
        if kind == "pow":
            return _make("pow", draw(sub(S)), draw(st.sampled_from([Num(2), Num(3)])))
        if kind == "div":
            return _make("div", draw(sub(S)), _make("add", Num(2), _make("exp", draw(sub(S)))))
        if kind == "log":
            return _make("log", draw(positive(shape, depth - 1)))
        if kind == "sqrt":
            return _make("sqrt", draw(positive(shape, depth - 1)))
        if kind == "arcsin":  # |tanh(u)/2| < 1/2
            return _make(draw(st.sampled_from(["arcsin", "arccos"])),
                         _make("div", _make("tanh", draw(sub(S))), Num(2)))
        if kind in ("det", "logdet"):
            return _make(kind, draw(well_conditioned(draw(st.sampled_from([NN, MM])), depth - 1)))
        if kind == "inv":
            return _make("inv", draw(well_conditioned(shape, depth - 1)))
        if kind == "matpow":
            k = draw(st.sampled_from([2] if smooth else [2, 3, -1, -2]))
            base = draw(well_conditioned(shape, depth - 1)) if k < 0 else draw(sub(shape))
            return _make("pow", base, Num(k))
        if kind == "logsumexp":
            return _make("logsumexp", draw(sub(draw(st.sampled_from([N, M])))))
        if kind == "softmax":
            return _make("softmax", draw(sub(shape)))
        if kind == "matvec":
            other = draw(st.sampled_from([N, M]))
            left = (shape[0], other[0])
            return _make("mul", draw(sub(left)), draw(sub(other)))
        if kind == "diagvec":
            return _make("diag", draw(sub((shape[0], shape[0]))))
        if kind == "diagmat":
            return _make("diag", draw(sub((shape[0], 1))))
        if kind == "outer":
            v = (shape[0], 1)
            return _make("mul", draw(sub(v)), _make("transpose", draw(sub(v))))
        if kind == "eye":
            return _make("add", draw(sub(shape)), _make("mul", draw(sub(S)), Const("eye", shape)))
        if kind == "vecinner":
            m = draw(st.sampled_from([NN, NM]))
            return _make("mul", _make("transpose", _make("vec", draw(sub(m)))), _make("vec", draw(sub(m))))
        if kind == "krontr":
            return _make("tr", _make("kron", draw(sub(draw(st.sampled_from([NN, MM])))), draw(sub(NN))))
        if kind == "kronsum":
            return _make("sum", _make("kron", draw(sub(draw(st.sampled_from([N, NM])))),
                                      draw(sub(draw(st.sampled_from([M, NN]))))))
        if kind == "kroninner":
            u, v = draw(st.sampled_from([N, M])), draw(st.sampled_from([N, M]))
            return _make("mul", _make("transpose", _make("kron", draw(sub(u)), draw(sub(v)))),
                         _make("kron", draw(sub(u)), draw(sub(v))))
        raise AssertionError(kind)

    @st.composite
    def positive(draw, shape, depth):
        """Values > 0 at every point: a positive-valued function of anything, or a leaf (the check
        redraws positive values when a leaf is not)."""
        form = draw(st.sampled_from(["softplus", "square", "exp", "sigmoid", "leaf"]))
        e = draw(build(shape, depth)) if form != "leaf" else draw(leaf(shape).filter(lambda n: not isinstance(n, Num)))
        if form == "softplus":
            return _make("add", _make("softplus", e), Num(0.5) if shape == S else _make("mul", Num(0.5), _ones(shape)))
        if form == "square":
            return _make("add", _make("epow", e, Num(2)), Num(1) if shape == S else _ones(shape))
        if form in ("exp", "sigmoid"):
            return _make(form, e)
        return e

    @st.composite
    def well_conditioned(draw, shape, depth):
        """A square matrix far from singular.  "all": a variable (drawn shifted by √n·I), or
        MᵀM + 2·I; "smooth": 4·I + sin(M), diagonally dominant for any M when n ≤ 3."""
        if smooth:
            return _make("add", _make("mul", Num(4), Const("eye", shape)), _make("sin", draw(build(shape, depth))))
        if draw(st.booleans()):
            return draw(leaf(shape))
        k = shape[0]
        rows = draw(st.sampled_from([N[0], M[0]]))
        m = draw(build((rows, k), depth)) if (rows, k) in SHAPES else draw(build(shape, depth))
        gram = _make("mul", _make("transpose", m), m)
        return _make("add", gram, _make("mul", Num(2), Const("eye", shape)))

    return build(shape, depth)


def leaf(shape):
    """A hypothesis strategy: a variable of DECLS of ``shape`` (a number for a scalar), or its transpose."""
    from hypothesis import strategies as st
    if shape in LEAVES:
        return st.sampled_from(list(LEAVES[shape]) + (list(NUMBERS) if shape == S else []))
    t = _t(shape)
    if t in LEAVES:
        return st.sampled_from(LEAVES[t]).map(lambda v: _make("transpose", v))
    raise AssertionError(shape)


def random_values(rng: np.random.Generator, sizes=SIZES) -> dict:
    """Standard normal values for every variable of DECLS (symmetric ones symmetrised)."""
    n, m = sizes["n"], sizes["m"]
    s = rng.normal(size=(n, n))
    values = {
        "a": float(rng.normal()), "b": float(rng.normal()),
        "x": rng.normal(size=n), "y": rng.normal(size=n), "z": rng.normal(size=m),
        "A": rng.normal(size=(n, n)), "B": rng.normal(size=(n, n)), "C": rng.normal(size=(n, m)),
        "S": s + s.T,
    }
    p = rng.normal(size=(m, m))
    return {**values, "P": p + p.T}
