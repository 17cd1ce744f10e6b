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
from matcalc.errors import EvaluationError, MatcalcError
from matcalc.ir.nodes import Node, Var, postorder_all
from matcalc.numeric.check import (INCONCLUSIVE, extrapolated_derivative, dimension_sizes, finite_point, random_values,
                                   relative_error, resolved_to)
from matcalc.numeric.evaluate import bind, node_value, to_user
from matcalc.numeric.layout import multilinear_entries, unvec

#: Largest relative error accepted: by value (rounding only) and to first order (central differences).
EQUAL_TOLERANCE = 1e-7
FIRST_ORDER_TOLERANCE = 1e-5


#: Other random points a step is tried at when it is undefined at the first one.
REDRAWS = 4


def verify(d, values: Optional[Mapping[str, object]] = None, seed: Optional[int] = None) -> list:
    """One :class:`~matcalc.derivation.Verdict` per step of the derivative ``d``, in order.

    A step that cannot be evaluated at the point (it divides by zero there, or leaves its
    domain: the rule is applied where f is not differentiable) is tried again at up to REDRAWS
    other random points (not when ``values`` are given); undefined at all of them, its verdict
    says so (``undefined``), which is not a failure: a step that evaluates but does not hold is."""
    rng = np.random.default_rng(seed)
    variables = _step_variables(d.steps)
    base = _Point(_point(d, variables, rng, values))
    moved: dict = {}   # (variable, direction) -> the points x ± εV, shared by every differential step
    verdicts = [_verify(step, base, moved) for step in d.steps]
    others: list = []  # the redrawn points, made when first needed and shared by the steps
    for i, v in enumerate(verdicts):
        if not v.undefined or values is not None:
            continue
        for k in range(REDRAWS):
            if k == len(others):
                others.append((_Point(_point(d, variables, rng, None)), {}))
            again = _verify(v.step, *others[k])
            if not again.undefined:
                verdicts[i] = again
                break
        else:
            verdicts[i] = Verdict(v.step, False, None, f"not checked: undefined at each of {REDRAWS + 1} random "
                                  f"points ({v.note}); the step's rule does not apply where f is not "
                                  "differentiable", undefined=True)
    return verdicts


def _point(d, variables: dict, rng, values: Optional[Mapping[str, object]]) -> dict:
    """Values for f's variables (``values``, or a point where f is finite), the variable and every
    direction the steps mention, and the dimension sizes."""
    f, x = d.f.node, d.wrt
    point = dict(values) if values is not None else finite_point(f, rng)
    sizes = {**dimension_sizes(f, x), **bind(f, point)[1]}
    if x.name not in point:
        point.update(random_values(x, rng, sizes=sizes))
    for var in variables.values():
        if var.name not in point:
            point.update(random_values(var, rng, sizes=sizes))
    return {**sizes, **point}


class _Point:
    """Values at one point, with every node's value cached by identity: the steps of a derivation
    share their subexpressions, so checking them all costs one evaluation of each distinct node."""

    def __init__(self, values: dict):
        self.values = values
        self.arrays: dict[str, np.ndarray] = {}
        self.dims: dict[str, int] = {k: int(v) for k, v in values.items()
                                     if isinstance(v, (int, np.integer)) and not isinstance(v, bool)}
        self.cache: dict[int, np.ndarray] = {}
        self.keep: list = []   # the nodes cached, kept alive so that their ids stay theirs

    def raw(self, root: Node) -> np.ndarray:
        """The value as a 2-D array; visits only the nodes not evaluated before."""
        cache = self.cache
        stack = [(root, False)]
        with np.errstate(all="ignore"):
            while stack:
                node, expanded = stack.pop()
                if id(node) in cache:
                    continue
                if not expanded:
                    stack.append((node, True))
                    stack.extend((k, False) for k in node.children() if id(k) not in cache)
                    continue
                if isinstance(node, Var) and node.name not in self.arrays:
                    arrays, dims = bind(node, self.values)
                    self.arrays.update(arrays)
                    self.dims.update(dims)
                cache[id(node)] = node_value(node, tuple(cache[id(k)] for k in node.children()),
                                             self.arrays, self.dims)
                self.keep.append(node)
        return cache[id(root)]

    def __call__(self, root: Node):
        try:
            return to_user(root, self.raw(root))
        except np.linalg.LinAlgError as e:
            raise ValueError(f"linear algebra failed: {e}") from None

    def moved(self, x: Var, t: float, v: np.ndarray) -> "_Point":
        x0 = np.asarray(self.values[x.name], dtype=float) + t * v
        return _Point(dict(self.values, **{x.name: x0 if x0.shape else float(x0)}))


def _step_variables(steps) -> dict:
    """Every variable the steps mention (one visit per distinct node over all steps)."""
    roots = [side for step in steps for side in (step.before, step.after) if isinstance(side, Node)]
    found = {n.name: n for n in postorder_all(roots) if isinstance(n, Var)}
    for step in steps:
        for v in (step.direction, *step.directions):
            if v is not None:
                found.setdefault(v.name, v)
    return found


def _verify(step: Step, at: _Point, moved: dict) -> Verdict:
    values = at.values
    try:
        if step.check == "none":
            return Verdict(step, True, None, "a statement")
        if step.check == "differential":
            return _within(step, _first_order(step, at, moved), FIRST_ORDER_TOLERANCE)
        if step.check == "equal":
            return _within(step, relative_error(at(step.after), at(step.before)), EQUAL_TOLERANCE)
        if step.check == "identify":
            return _within(step, _contraction(step, at), EQUAL_TOLERANCE)
        if step.check == "index":
            got = step.after.evaluate(values, {k: v for k, v in values.items() if isinstance(v, int)})
            want = multilinear_entries(step.before, step.directions, step.before.shape, step.wrt, len(step.directions),
                                       values)
            return _within(step, relative_error(got, want), EQUAL_TOLERANCE)
    except EvaluationError as e:  # undefined here (a division by zero, outside a domain)
        return Verdict(step, False, None, e.message, undefined=True)
    except (MatcalcError, ValueError, FloatingPointError, KeyError) as e:
        return Verdict(step, False, None, f"could not be evaluated: {e}")
    return Verdict(step, False, None, f"no check for {step.check!r}")


def _within(step: Step, error: float, tolerance: float) -> Verdict:
    return Verdict(step, bool(error <= tolerance), error)


def _first_order(step: Step, at: _Point, moved: dict) -> float:
    x, v = step.wrt, np.asarray(at.values[step.direction.name], dtype=float)
    key = (x.name, step.direction.name)
    if key not in moved:
        x0 = np.asarray(at.values[x.name], dtype=float)
        h = 1e-6 * max(1.0, float(np.max(np.abs(x0), initial=0.0))) / max(1.0, float(np.max(np.abs(v), initial=0.0)))
        moved[key] = (h, at.moved(x, h, v), at.moved(x, -h, v))
    h, plus, minus = moved[key]
    here, ahead, behind = (np.asarray(p(step.before), dtype=float) for p in (at, plus, minus))
    want = at(step.after)
    if not (np.all(np.isfinite(here)) and np.all(np.isfinite(want))):
        raise EvaluationError("the step's two sides are not finite here (an overflow)")
    numeric = (ahead - behind) / (2 * h)
    error = relative_error(want, numeric)
    if not error <= FIRST_ORDER_TOLERANCE:  # one step may have lost the digits: extrapolate to step 0
        x0 = np.asarray(at.values[x.name], dtype=float)
        scale = max(1.0, float(np.max(np.abs(x0), initial=0.0))) / max(1.0, float(np.max(np.abs(v), initial=0.0)))

        def along(t):
            return np.asarray(at.moved(x, float(t), v)(step.before), dtype=float)
        better, bound = extrapolated_derivative(along, np.array(0.0), np.array(1.0), scale)
        if better is not None:
            error = min(error, relative_error(want, better))
            resolution = resolved_to(better, bound)
            if not error <= FIRST_ORDER_TOLERANCE and error <= INCONCLUSIVE * resolution:
                # as check's INCONCLUSIVE: no verdict here either way; another point is tried
                raise EvaluationError(f"finite differences resolve this step only to {resolution:.0e} here (the "
                                      "rounding of its values swamps the change a step makes)")
    return error


def _contraction(step: Step, at: _Point) -> float:
    """|D·V − df(V)| for the derivative D (``after``) of the differential df (``before``)."""
    v = np.asarray(at.values[step.direction.name], dtype=float)
    if step.form == "vec":
        raw = unvec(at.raw(step.after), step.before.shape, step.wrt.shape, at.values)
    else:
        raw = at(step.after)
    got = np.tensordot(np.asarray(raw, dtype=float), v, axes=v.ndim)
    return relative_error(got, at(step.before))
