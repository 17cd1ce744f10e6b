"""Numerical verification: a derivative against central finite differences at random inputs.

Every dimension gets its own size (3, 4, 2, 5, …) so that a transposition error cannot hide; values
are drawn at random (square matrices shifted by √n·I, so inverses stay well conditioned), and
redrawn positive (positive-definite for matrices) when the function is not finite at the first
draw (log, sqrt, logdet of negative values).
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from matcalc.errors import MatcalcError
from matcalc.numeric.evaluate import evaluate
from matcalc.numeric.layout import unit_directions
from matcalc.ir.nodes import Node, postorder, variables

SIZES = (3, 4, 2, 5, 6, 7)


def dimension_sizes(*roots: Node) -> dict[str, int]:
    """A different size for each named dimension, in order of appearance."""
    sizes: dict[str, int] = {}
    for root in roots:
        for node in postorder(root):
            for d in getattr(node, "shape", ()):
                for part in str(d).split("*"):
                    if not part.isdigit() and part not in sizes:
                        sizes[part] = SIZES[len(sizes) % len(SIZES)] + len(sizes) // len(SIZES)
    return sizes


def _size(d, sizes) -> int:
    total = 1
    for part in str(d).split("*"):
        total *= int(part) if part.isdigit() else sizes[part]
    return total


def random_values(root: Node, rng: np.random.Generator, positive: bool = False,
                  sizes: Optional[dict] = None) -> dict:
    """Random values for every variable of ``root`` (symmetric ones symmetric)."""
    sizes = sizes if sizes is not None else dimension_sizes(root)
    values: dict[str, object] = {}
    for name, var in variables(root).items():
        r, c = (_size(d, sizes) for d in var.shape)
        if var.kind == "scalar":
            v = rng.normal()
            values[name] = float(abs(v) + 0.5) if positive else float(v)
        elif var.kind == "vector":
            v = rng.normal(size=r)
            values[name] = np.abs(v) + 0.5 if positive else v
        else:
            a = rng.normal(size=(r, c))
            if var.kind == "symmetric":
                a = (a + a.T) / 2
            if r == c and not positive:  # keep square matrices well conditioned (inverses, determinants)
                a = a + np.sqrt(r) * np.eye(r)
            if positive:
                a = (a @ a.T / r + np.eye(r)) if r == c else np.abs(a) + 0.5
            values[name] = a
    return values


def finite_difference(fn, x: np.ndarray, symmetric: bool = False, h: float = 1e-6) -> np.ndarray:
    """Central differences of ``fn`` (array-valued) at ``x``: shape fn(x).shape + x.shape.
    For a symmetric x, the direction for entry (i, j) is (E_ij + E_ji)/2."""
    x = np.asarray(x, dtype=float)
    f0 = np.asarray(fn(x))
    out = np.zeros(f0.shape + x.shape)
    for idx, e in unit_directions(x.shape, symmetric):
        step = h * max(1.0, abs(float(x[idx])) if x.shape else abs(float(x)))
        out[(Ellipsis,) + idx] = (np.asarray(fn(x + step * e)) - np.asarray(fn(x - step * e))) / (2 * step)
    return out


def relative_error(got, want) -> float:
    """max |got − want| / max(1, max |want|)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise MatcalcError(f"derivative has shape {got.shape}, finite differences {want.shape}")
    if not (np.all(np.isfinite(got)) and np.all(np.isfinite(want))):
        return float("inf") if not np.allclose(got, want, equal_nan=True) else 0.0
    return float(np.max(np.abs(got - want), initial=0.0) / max(1.0, float(np.max(np.abs(want), initial=0.0))))


def check(f, wrt, decls=None, order: int = 1, values: Optional[Mapping] = None, seed: int = 0,
          trials: int = 2) -> float:
    """The largest relative error between ``diff(f, wrt, order=order)`` and central finite
    differences of the order−1 derivative, over ``trials`` random points (or at ``values``)."""
    from matcalc.calculus.derivative import diff

    d = diff(f, wrt, decls, order)
    lower = diff(f, wrt, decls, order - 1) if order > 1 else None
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(trials if values is None else 1):
        vals = dict(values) if values is not None else finite_point(d.f.node, rng)
        if d.wrt.name not in vals:  # f does not depend on it: any value will do
            vals.update(random_values(d.wrt, rng, sizes={**dimension_sizes(d.f.node, d.wrt), **_bound(d.f.node, vals)}))
        x = np.asarray(vals[d.wrt.name], dtype=float)

        def at(xv, vals=vals):
            v = dict(vals)
            v[d.wrt.name] = xv if xv.shape else float(xv)
            return lower.evaluate(v) if lower is not None else evaluate(d.f.node, v)

        numeric = finite_difference(at, x, symmetric=d.wrt.kind == "symmetric")
        worst = max(worst, relative_error(d.evaluate(vals), numeric))
    return worst


def _bound(root: Node, vals) -> dict:
    from matcalc.numeric.evaluate import bind
    return bind(root, vals)[1]


def finite_point(root: Node, rng) -> dict:
    for positive in (False, True):
        vals = random_values(root, rng, positive)
        try:
            v = evaluate(root, vals)
        except MatcalcError:
            continue
        if np.all(np.isfinite(v)):
            return vals
    return vals
