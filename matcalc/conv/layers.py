"""Forward definitions of the layers as index sums: convolution, transposed convolution, average pooling.

Only the forward pass is written here, once, in PyTorch's conventions; every gradient comes out of
``derive.py``. Channels are split into (group, channel-in-group) indices so that grouped and
depthwise convolutions stay affine; ``Layout`` fuses them back for printing and for the arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import sympy as sp

from matcalc.indexsum.ir import Index, IndexSum, InRange, Divides, Ref, Term, symbol
from matcalc.indexsum.printing import Layout

SPATIAL = {1: ("",), 2: ("h", "w"), 3: ("t", "h", "w")}
INPUT_POS = {1: ("h",), 2: ("h", "w"), 3: ("t", "h", "w")}
OUTPUT_POS = {1: ("x",), 2: ("x", "y"), 3: ("x", "y", "z")}
KERNEL_POS = {1: ("i",), 2: ("i", "j"), 3: ("i", "j", "k")}


@dataclass(frozen=True)
class Tensor:
    """A tensor of the layer: its user-visible shape and its IR layout."""
    user_shape: tuple[sp.Expr, ...]
    layout: Layout


@dataclass(frozen=True)
class Target:
    """What a gradient is taken with respect to: the IR free indices and the preferred solves."""
    free: tuple[Index, ...]
    prefer: tuple[sp.Symbol, ...]


@dataclass(frozen=True)
class Layer:
    """A layer's forward index sum plus everything needed to derive, print and evaluate it."""
    kind: str
    ndim: int
    forward: IndexSum
    tensors: dict            # name → Tensor (V, W, b, Z; the cotangent delta has Z's shape)
    targets: dict            # tensor name → Target, for each gradient
    params: dict             # symbol → int: strides, paddings, dilations, groups, …
    size_rules: dict         # symbol → sympy expression of other sizes (output sizes)
    where: tuple[str, ...]   # the size rules and parameters in words, for printing

    def __post_init__(self):
        for name in ("tensors", "targets", "params", "size_rules"):  # read-only: layers are shared
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


def _sizes(ndim: int):
    """Per-axis symbols: stride, dilation, padding, kernel, input size, output size."""
    out = []
    for a in SPATIAL[ndim]:
        sfx = f"_{a}" if a else ""
        out.append(dict(s=symbol("s" + sfx, True), d=symbol("d" + sfx, True), p=symbol("p" + sfx),
                        k=symbol("k" + sfx, True), H=symbol("H" + sfx, True), Ho=symbol("H_out" + sfx, True),
                        a=symbol("a" + sfx), sfx=sfx))
    return out


def _channel_layout(batch: sp.Expr | None, G, per_group, spatial) -> Tensor:
    """(batch?, G·per_group, *spatial) seen as (batch?, G, per_group, *spatial)."""
    lead = (batch,) if batch is not None else ()
    shape = lead + (G, per_group) + tuple(spatial)
    off = len(lead)
    groups = tuple((q,) for q in range(off)) + ((off, off + 1),) + tuple((q,) for q in range(off + 2, len(shape)))
    return Tensor(lead + (G * per_group,) + tuple(spatial), Layout(shape, groups))


def _param_values(axes, stride, padding, dilation, extra=None) -> dict:
    values = {}
    for ax, s, p, d in zip(axes, stride, padding, dilation):
        values.update({ax["s"]: s, ax["p"]: p, ax["d"]: d})
    for key, vals in (extra or {}).items():
        values.update({ax[key]: v for ax, v in zip(axes, vals)})
    return values


@dataclass(frozen=True)
class _Grid:
    """The symbols both convolutions share: per-axis sizes, channel sizes and indices, positions."""
    ndim: int
    axes: tuple
    sym: dict
    ix: dict
    xs: tuple
    ks: tuple
    hs: tuple


def _grid(ndim: int) -> _Grid:
    axes = tuple(_sizes(ndim))
    return _Grid(ndim, axes,
                 dict(N=symbol("N", True), Ci=symbol("C_in", True), Co=symbol("C_out", True), G=symbol("G", True)),
                 {v: symbol(v) for v in "ngoc"},
                 tuple(Index(symbol(v), ax["Ho"]) for v, ax in zip(OUTPUT_POS[ndim], axes)),
                 tuple(Index(symbol(v), ax["k"]) for v, ax in zip(KERNEL_POS[ndim], axes)),
                 tuple(Index(symbol(v), ax["H"]) for v, ax in zip(INPUT_POS[ndim], axes)))


def _conv_layer(kind: str, grid: _Grid, body: tuple, weight_axes: tuple, bias: bool, rules: dict,
                where: tuple, params: dict) -> Layer:
    """Assemble a (transposed) convolution from its main term's factors; ``weight_axes`` are the
    IR channel indices of W after the group index: (o, c) for conv, (c, o) for conv_transpose."""
    N, Ci, Co, G = grid.sym["N"], grid.sym["Ci"], grid.sym["Co"], grid.sym["G"]
    n, g, o, c = (grid.ix[v] for v in "ngoc")
    extent = {o: Co / G, c: Ci / G}
    terms = (Term(body, (Index(c, Ci / G),) + tuple(grid.ks)),) + ((Term((Ref("b", (g, o)),)),) if bias else ())
    kernel = tuple(ax["k"] for ax in grid.axes)
    w_ir = (G,) + tuple(extent[v] for v in weight_axes) + kernel
    tensors = {"V": _channel_layout(N, G, Ci / G, [ax["H"] for ax in grid.axes]),
               "W": Tensor((w_ir[1] * G, w_ir[2]) + kernel,
                           Layout(w_ir, ((0, 1),) + tuple((q,) for q in range(2, 3 + grid.ndim)))),
               "b": _channel_layout(None, G, Co / G, []),
               "Z": _channel_layout(N, G, Co / G, [ax["Ho"] for ax in grid.axes])}
    targets = {"V": Target((Index(n, N), Index(g, G), Index(c, Ci / G)) + tuple(grid.hs),
                           tuple(x.var for x in grid.xs)),
               "W": Target((Index(g, G),) + tuple(Index(v, extent[v]) for v in weight_axes) + tuple(grid.ks), ()),
               **({"b": Target((Index(g, G), Index(o, Co / G)), ())} if bias else {})}
    free = (Index(n, N), Index(g, G), Index(o, Co / G)) + tuple(grid.xs)
    return Layer(kind, grid.ndim, IndexSum(free, terms), tensors, targets, params, rules, where)


def convolution(ndim: int, stride, padding, dilation, groups: int, bias: bool = True) -> Layer:
    """Z[n, o, x] = Σ_{c, i} W[o, c, i] · V[n, g·C_in/G + c, s·x + d·i − p] · [0 ≤ s·x + d·i − p < H] + b[o]."""
    grid = _grid(ndim)
    n, g, o, c = (grid.ix[v] for v in "ngoc")
    pos = [ax["s"] * x.var + ax["d"] * i.var - ax["p"] for ax, x, i in zip(grid.axes, grid.xs, grid.ks)]
    body = (Ref("W", (g, o, c) + tuple(i.var for i in grid.ks)), Ref("V", (n, g, c) + tuple(pos))) + \
        tuple(InRange(e, sp.Integer(0), ax["H"]) for e, ax in zip(pos, grid.axes))
    rules = {ax["Ho"]: sp.floor((ax["H"] + 2 * ax["p"] - ax["d"] * (ax["k"] - 1) - 1) / ax["s"]) + 1
             for ax in grid.axes}
    where = tuple(f"H_out{ax['sfx']} = ⌊(H{ax['sfx']} + 2·p{ax['sfx']} − d{ax['sfx']}·(k{ax['sfx']} − 1) − 1)"
                  f"/s{ax['sfx']}⌋ + 1" for ax in grid.axes)
    params = {grid.sym["G"]: groups, **_param_values(grid.axes, stride, padding, dilation)}
    return _conv_layer("conv", grid, body, (o, c), bias, rules, where, params)


def conv_transpose(ndim: int, stride, padding, dilation, groups: int, output_padding, bias: bool = True) -> Layer:
    """Z[n, o, x] = Σ_{c, i} V[n, c, (x + p − d·i)/s] · W[c, o, i] · [s | x + p − d·i] · [0 ≤ (x + p − d·i)/s < H]
    + b[o].

    PyTorch's ``conv_transpose``: V is (N, C_in, *H), W is (C_in, C_out/G, *k) and the output size
    is (H − 1)·s − 2p + d·(k − 1) + a + 1 with ``a`` the output padding.
    """
    grid = _grid(ndim)
    n, g, o, c = (grid.ix[v] for v in "ngoc")
    nums = [x.var + ax["p"] - ax["d"] * i.var for ax, x, i in zip(grid.axes, grid.xs, grid.ks)]
    pos = [e / ax["s"] for e, ax in zip(nums, grid.axes)]
    body = (Ref("V", (n, g, c) + tuple(pos)), Ref("W", (g, c, o) + tuple(i.var for i in grid.ks))) + \
        tuple(Divides(ax["s"], e) for e, ax in zip(nums, grid.axes)) + \
        tuple(InRange(e, sp.Integer(0), ax["H"]) for e, ax in zip(pos, grid.axes))
    rules = {ax["Ho"]: (ax["H"] - 1) * ax["s"] - 2 * ax["p"] + ax["d"] * (ax["k"] - 1) + ax["a"] + 1
             for ax in grid.axes}
    where = tuple(f"H_out{ax['sfx']} = (H{ax['sfx']} − 1)·s{ax['sfx']} − 2·p{ax['sfx']} + d{ax['sfx']}·"
                  f"(k{ax['sfx']} − 1) + a{ax['sfx']} + 1   (a: output padding)" for ax in grid.axes)
    params = {grid.sym["G"]: groups, **_param_values(grid.axes, stride, padding, dilation, {"a": output_padding})}
    return _conv_layer("conv_transpose", grid, body, (c, o), bias, rules, where, params)


def avgpool(ndim: int, kernel_size, stride, padding) -> Layer:
    """Z[n, c, x] = (1/k) · Σ_i V[n, c, s·x + i − p] · [0 ≤ s·x + i − p < H] (PyTorch's
    ``avg_pool`` with count_include_pad=True, ceil_mode=False)."""
    axes = _sizes(ndim)
    N, C = symbol("N", True), symbol("C", True)
    n, c = symbol("n"), symbol("c")
    xs = [Index(symbol(v), ax["Ho"]) for v, ax in zip(OUTPUT_POS[ndim], axes)]
    ks = [Index(symbol(v), ax["k"]) for v, ax in zip(KERNEL_POS[ndim], axes)]
    hs = [Index(symbol(v), ax["H"]) for v, ax in zip(INPUT_POS[ndim], axes)]
    pos = [ax["s"] * x.var + i.var - ax["p"] for ax, x, i in zip(axes, xs, ks)]
    pads = tuple(InRange(e, sp.Integer(0), ax["H"]) for e, ax in zip(pos, axes))
    coeff = 1 / sp.Mul(*(ax["k"] for ax in axes))
    terms = (Term((Ref("V", (n, c) + tuple(pos)),) + pads, tuple(ks), coeff),)
    plain = lambda spatial: Tensor((N, C) + spatial, Layout((N, C) + spatial, tuple((q,) for q in range(2 + ndim))))  # noqa: E731
    tensors = {"V": plain(tuple(ax["H"] for ax in axes)), "Z": plain(tuple(ax["Ho"] for ax in axes))}
    targets = {"V": Target((Index(n, N), Index(c, C)) + tuple(hs), tuple(x.var for x in xs))}
    rules = {ax["Ho"]: sp.floor((ax["H"] + 2 * ax["p"] - ax["k"]) / ax["s"]) + 1 for ax in axes}
    where = tuple(f"H_out{ax['sfx']} = ⌊(H{ax['sfx']} + 2·p{ax['sfx']} − k{ax['sfx']})/s{ax['sfx']}⌋ + 1"
                  for ax in axes)
    params = {sym: v for ax, s, p, k in zip(axes, stride, padding, kernel_size)
              for sym, v in ((ax["s"], s), (ax["p"], p), (ax["k"], k))}
    return Layer("avgpool", ndim, IndexSum((Index(n, N), Index(c, C)) + tuple(xs), terms), tensors, targets,
                 params, rules, where)
