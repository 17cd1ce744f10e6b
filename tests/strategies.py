"""Hypothesis strategies: random well-typed matcalc expressions over a fixed set of variables.

Expressions are built as IR through the checked constructor ``make`` (so they are well typed by
construction), over the declarations in ``DECLS``.  The elementwise functions are smooth and
bounded on the values ``random_values`` draws, so the strategies also serve numeric checks.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from matcalc.ir.nodes import Num, Var
from matcalc.ir.shapes import make

DECLS = "a: scalar; b: scalar; x: vector(n); y: vector(n); z: vector(m); A: matrix(n,n); B: matrix(n,n); C: matrix(n,m); S: symmetric(n)"
SIZES = {"n": 3, "m": 2}

S, N, M, NN, NM, MN, MM, RN = (1, 1), ("n", 1), ("m", 1), ("n", "n"), ("n", "m"), ("m", "n"), ("m", "m"), (1, "n")
LEAVES = {
    S: [Var("a", S, "scalar"), Var("b", S, "scalar")],
    N: [Var("x", N, "vector"), Var("y", N, "vector")],
    M: [Var("z", M, "vector")],
    NN: [Var("A", NN, "matrix"), Var("B", NN, "matrix"), Var("S", NN, "symmetric")],
    NM: [Var("C", NM, "matrix")],
}
SHAPES = [S, N, M, NN, NM, MN, MM, RN]
SMOOTH = ["sin", "cos", "tanh", "sigmoid", "softplus", "arctan", "exp"]
NUMBERS = [Num(2), Num(3), Num(0.5), Num(-1), Num(1.5)]


def _t(shape):
    return (shape[1], shape[0])


@st.composite
def exprs(draw, shape=S, depth=3, smooth=SMOOTH):
    """A random expression of the given (rows, cols) shape."""
    if depth <= 0 or draw(st.integers(0, 5)) == 0:
        return draw(leaf(shape))
    sub = lambda s: exprs(shape=s, depth=depth - 1, smooth=smooth)  # noqa: E731
    choices = ["add", "sub", "hadamard", "neg", "transpose", "scale", "fn", "mul"]
    if shape == S:
        choices += ["sum", "norm2", "tr", "inner", "pow", "div"]
    if shape[1] == 1 and shape[0] != 1:
        choices += ["matvec", "softmax", "diagvec"]
    if shape == NN:
        choices += ["diagmat", "matpow", "inv"]
    kind = draw(st.sampled_from(choices))
    if kind in ("add", "sub", "hadamard"):
        return make(kind, draw(sub(shape)), draw(sub(shape)))
    if kind == "neg":  # the parser reads -2 as the number -2, never as neg(2): avoid that form
        arg = draw(sub(shape))
        return make("neg", arg) if not isinstance(arg, Num) else Num(-arg.value)
    if kind == "transpose":
        return make("transpose", draw(sub(_t(shape))))
    if kind == "scale":
        return make("mul", draw(sub(S)), draw(sub(shape)))
    if kind == "fn":
        return make(draw(st.sampled_from(smooth)), draw(sub(shape)))
    if kind == "mul":
        inner = draw(st.sampled_from(["n", "m"]))
        left, right = (shape[0], inner), (inner, shape[1])
        if shape == S or left not in SHAPES or right not in SHAPES or S in (left, right):
            return make("mul", draw(sub(S)), draw(sub(shape)))
        return make("mul", draw(sub(left)), draw(sub(right)))
    if kind in ("sum", "norm2"):
        return make(kind, draw(sub(draw(st.sampled_from([N, NN, NM])))))
    if kind == "tr":
        return make("tr", draw(sub(NN)))
    if kind == "inner":
        v = draw(st.sampled_from([N, M]))
        return make("mul", make("transpose", draw(sub(v))), draw(sub(v)))
    if kind == "pow":
        return make("pow", draw(sub(S)), draw(st.sampled_from([Num(2), Num(3)])))
    if kind == "div":
        return make("div", draw(sub(S)), make("add", Num(2), make("exp", draw(sub(S)))))
    if kind == "matvec":
        return make("mul", draw(sub((shape[0], "n"))) if (shape[0], "n") in SHAPES else draw(sub(NN)),
                    draw(sub(N)))
    if kind == "softmax":
        return make("softmax", draw(sub(shape)))
    if kind == "diagvec":
        return make("diag", draw(sub((shape[0], shape[0]))))
    if kind == "diagmat":
        return make("diag", draw(sub(N)))
    if kind == "matpow":
        return make("pow", draw(sub(NN)), Num(2))
    if kind == "inv":  # keep it well conditioned: inv(3*eye + X .* X)... stays simple: inv of a shifted square
        from matcalc.ir.nodes import Const
        inner = draw(sub(NN))
        return make("inv", make("add", make("mul", Num(4), Const("eye", NN)), make("sin", inner)))
    raise AssertionError(kind)


@st.composite
def leaf(draw, shape):
    if shape in LEAVES:
        options = list(LEAVES[shape]) + (NUMBERS if shape == S else [])
        return draw(st.sampled_from(options))
    t = _t(shape)
    if t in LEAVES:
        return make("transpose", draw(st.sampled_from(LEAVES[t])))
    if shape == MM:
        return make("mul", make("transpose", LEAVES[NM][0]), LEAVES[NM][0])
    raise AssertionError(shape)


def random_values(rng: np.random.Generator, sizes=SIZES) -> dict:
    n, m = sizes["n"], sizes["m"]
    s = rng.normal(size=(n, n))
    return {
        "a": float(rng.normal()), "b": float(rng.normal()),
        "x": rng.normal(size=n), "y": rng.normal(size=n), "z": rng.normal(size=m),
        "A": rng.normal(size=(n, n)), "B": rng.normal(size=(n, n)), "C": rng.normal(size=(n, m)),
        "S": s + s.T,
    }
