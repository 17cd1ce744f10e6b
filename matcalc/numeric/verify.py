"""Every step of a derivation checked numerically, at random points, in random directions, with
every dimension a different size.

- A differential step d(g) = h holds to first order: (g(x + εV) − g(x − εV))/2ε = h(V).
- An equality step (a rewrite, df collected, an adjoint or vec rule, the result, a restatement)
  holds by value, with the directions given random values too.
- An identification holds as a contraction: the derivative D, in the layout f.shape + x.shape,
  contracted with the direction V, is df(V) (⟨G, V⟩, J·v, or the vec form unstacked).
- An index form has the entries of the multilinear form it writes out.

A step that fails is reported as failed, with its error; nothing is hidden.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from matcalc.derivation import Step, Verdict
from matcalc.errors import MatcalcError
from matcalc.ir.nodes import Node, Var, postorder
from matcalc.numeric.check import dimension_sizes, finite_point, random_values, relative_error
from matcalc.numeric.evaluate import bind, evaluate
from matcalc.numeric.layout import multilinear_entries, unvec

#: Largest relative error accepted: by value (rounding only) and to first order (central differences).
EQUAL_TOLERANCE = 1e-7
FIRST_ORDER_TOLERANCE = 1e-5


def verify(d, values: Optional[Mapping[str, object]] = None, seed: Optional[int] = None) -> list:
    """One :class:`~matcalc.derivation.Verdict` per step of the derivative ``d``, in order."""
    rng = np.random.default_rng(seed)
    f, x = d.f.node, d.wrt
    point = dict(values) if values is not None else finite_point(f, rng)
    sizes = {**dimension_sizes(f, x), **bind(f, point)[1]}
    if x.name not in point:
        point.update(random_values(x, rng, sizes=sizes))
    for var in _step_variables(d.steps).values():
        if var.name not in point:
            point.update(random_values(var, rng, sizes=sizes))
    point = {**sizes, **point}
    return [_verify(step, point) for step in d.steps]


def _step_variables(steps) -> dict:
    found: dict[str, Var] = {}
    for step in steps:
        for side in (step.before, step.after):
            if isinstance(side, Node):
                for n in postorder(side):
                    if isinstance(n, Var):
                        found.setdefault(n.name, n)
        for v in (step.direction, *step.directions):
            if v is not None:
                found.setdefault(v.name, v)
    return found


def _verify(step: Step, values: dict) -> Verdict:
    try:
        if step.check == "none":
            return Verdict(step, True, None, "a statement")
        if step.check == "differential":
            return _within(step, _first_order(step, values), FIRST_ORDER_TOLERANCE)
        if step.check == "equal":
            return _within(step, relative_error(evaluate(step.after, values), evaluate(step.before, values)),
                           EQUAL_TOLERANCE)
        if step.check == "identify":
            return _within(step, _contraction(step, values), EQUAL_TOLERANCE)
        if step.check == "index":
            got = step.after.evaluate(values, {k: v for k, v in values.items() if isinstance(v, int)})
            want = multilinear_entries(step.before, step.directions, _f_shape(step), step.wrt, len(step.directions),
                                       values)
            return _within(step, relative_error(got, want), EQUAL_TOLERANCE)
    except (MatcalcError, ValueError, FloatingPointError) as e:
        return Verdict(step, False, None, f"could not be evaluated: {e}")
    return Verdict(step, False, None, f"no check for {step.check!r}")


def _within(step: Step, error: float, tolerance: float) -> Verdict:
    return Verdict(step, bool(error <= tolerance), error)


def _first_order(step: Step, values: dict) -> float:
    x, v = step.wrt, values[step.direction.name]
    x0 = np.asarray(values[x.name], dtype=float)
    v = np.asarray(v, dtype=float)
    h = 1e-6 * max(1.0, float(np.max(np.abs(x0), initial=0.0))) / max(1.0, float(np.max(np.abs(v), initial=0.0)))

    def at(t):
        moved = x0 + t * v
        return np.asarray(evaluate(step.before, dict(values, **{x.name: moved if moved.shape else float(moved)})))

    numeric = (at(h) - at(-h)) / (2 * h)
    return relative_error(evaluate(step.after, values), numeric)


def _contraction(step: Step, values: dict) -> float:
    """|D·V − df(V)| for the derivative D (``after``) of the differential df (``before``)."""
    v = np.asarray(values[step.direction.name], dtype=float)
    raw = evaluate(step.after, values)
    if step.form == "vec":
        from matcalc.numeric.evaluate import evaluate_node
        raw = unvec(evaluate_node(step.after, values), step.before.shape, step.wrt.shape, values)
    got = np.tensordot(np.asarray(raw, dtype=float), v, axes=v.ndim)
    return relative_error(got, evaluate(step.before, values))


def _f_shape(step: Step) -> tuple:
    """The shape of f for an index step: the multilinear form has f's shape."""
    return step.before.shape
