"""Every step of an index-sum derivation checked numerically, with the brute-force evaluator.

The steps of :func:`matcalc.indexsum.derive.derive_gradient` are checked at random arrays whose
sizes are small and all different (so that no two axes can be confused):

- the contraction: L = Σ δ ⊙ Z (``after``) equals the forward sum (``before``) contracted with δ;
- the differentiation: ``after`` (a sum with Kronecker deltas) equals ∂L/∂T entry by entry, T the
  tensor differentiated, by central finite differences of ``before`` (L) in each entry of T;
- every other step (renaming, summing deltas out, dropping indicators): ``before`` and ``after``
  have the same value.

Both sides are computed by :mod:`matcalc.indexsum.naive`, which reads a tensor only where the
sum's own indicators allow: an out-of-range read no indicator guards fails the step, it is not
padded with zeros. One :class:`~matcalc.derivation.Verdict` per step; a failing step is reported,
with its error or the reason it could not be evaluated.
"""
from __future__ import annotations

from math import lcm
from typing import Optional

import numpy as np
import sympy as sp

from matcalc.derivation import Step, Verdict
from matcalc.errors import MatcalcError
from matcalc.indexsum.derive import CONTRACT, DIFFERENTIATE
from matcalc.indexsum.ir import IndexSum, Ref, tensor_names
from matcalc.indexsum.naive import compile_sum
from matcalc.numeric.check import relative_error

#: Largest relative error accepted by value (rounding only) and by central differences.
EQUAL_TOLERANCE = 1e-9
DIFFERENCE_TOLERANCE = 1e-6


# ----- sizes and shapes ----------------------------------------------------------------------

def _extent_coefficients(extents) -> dict:
    """symbol → the lcm of the denominators it has in the extents (C_in/G with G = 2 gives 2)."""
    found: dict = {}
    for e in extents:
        e = sp.expand(sp.sympify(e))
        for sym in e.free_symbols:
            c = e.coeff(sym)
            den = int(sp.fraction(c)[1]) if c.is_number else 1
            found[sym] = lcm(found.get(sym, 1), den)
    return found


def layer_sizes(layer) -> dict:
    """Small, all-different sizes for a layer (with its parameters and derived sizes): kernel sizes,
    batch and channels-per-group from 2 up, each input size the smallest unused one whose output
    size is ≥ 2 (and unused, where a few tries allow); channel counts are multiples of G."""
    values = {sym: sp.Integer(v) for sym, v in layer.params.items()}
    extents = [sp.sympify(e).xreplace(values) for t in layer.tensors.values() for e in t.layout.shape]
    extents += [sp.sympify(i.extent).xreplace(values) for t in layer.targets.values() for i in t.free]
    multiple = _extent_coefficients(extents)
    rules = {sym: rule.xreplace(values) for sym, rule in layer.size_rules.items()}
    for rule in rules.values():
        multiple.update({s: multiple.get(s, 1) for s in rule.free_symbols})
    unknown = [s for s in multiple if s not in values and s not in rules]
    fixed = extents + [sp.sympify(i.extent).xreplace(values) for t in layer.forward.terms for i in t.bound]
    taken = {int(e) for e in fixed if e.is_number} | {0, 1}

    def fresh(start=2):
        v = start
        while v in taken:
            v += 1
        return v

    inputs = [s for s in unknown if s.name.startswith("H") and any(s in r.free_symbols for r in rules.values())]
    for sym in sorted((s for s in unknown if s not in inputs), key=lambda s: (not s.name.startswith("k"), s.name)):
        v = fresh()
        taken.add(v)
        values[sym] = sp.Integer(v * multiple[sym])
    for sym in sorted(inputs, key=lambda s: s.name):
        mine = [out for out, r in rules.items() if sym in r.free_symbols]
        outs = lambda v: [int(rules[o].xreplace({**values, sym: v})) for o in mine]  # noqa: E731
        v = fresh()
        while min(outs(v)) < 2:
            v = fresh(v + 1)
        for w in range(v, v + 6):      # prefer output sizes not used yet
            if w not in taken and min(outs(w)) >= 2 and not set(outs(w)) & (taken | {w}):
                v = w
                break
        values[sym] = sp.Integer(v)
        taken.add(v)
        taken.update(outs(v))
    for out, rule in rules.items():
        values[out] = sp.Integer(rule.xreplace(values))
    return values


def _infer_shapes(steps, values: dict, shapes: dict) -> dict:
    """Shapes of the tensors the steps read: those given, the cotangent's (the forward's free
    extents), the differentiated tensor's (the gradient's free extents), and any tensor read at
    plain indices."""
    shapes = {k: tuple(int(sp.sympify(n).xreplace(values)) for n in v) for k, v in shapes.items()}
    size = lambda e: int(sp.sympify(e).xreplace(values))  # noqa: E731
    for step in steps:
        if step.rule is CONTRACT:
            for name in tensor_names(step.after) - tensor_names(step.before):
                shapes.setdefault(name, tuple(size(i.extent) for i in step.before.free))
        if step.rule is DIFFERENTIATE:
            shapes.setdefault(step.wrt, tuple(size(i.extent) for i in step.after.free))
    for step in steps:
        for side in (step.before, step.after):
            for t in side.terms:
                extent = {i.var: i.extent for i in side.free + t.bound}
                for f in t.factors:
                    if isinstance(f, Ref) and f.name not in shapes and all(e in extent for e in f.indices):
                        shapes[f.name] = tuple(size(extent[e]) for e in f.indices)
    return shapes


# ----- the checks ----------------------------------------------------------------------------

class _Values:
    """Each distinct sum evaluated once (consecutive steps share their sides)."""

    def __init__(self, shapes: dict, values: dict, arrays: dict):
        self.shapes, self.values, self.arrays = shapes, values, arrays
        self.cache: dict = {}
        self.compiled: dict = {}

    def function(self, expr: IndexSum):
        if id(expr) not in self.compiled:
            missing = tensor_names(expr) - set(self.shapes)
            if missing:
                raise MatcalcError(f"no shape known for {', '.join(sorted(missing))}: pass shapes=")
            self.compiled[id(expr)] = (expr, compile_sum(expr, self.shapes, self.values))
        return self.compiled[id(expr)][1]

    def __call__(self, expr: IndexSum) -> np.ndarray:
        if id(expr) not in self.cache:
            self.cache[id(expr)] = (expr, self.function(expr)(self.arrays))
        return self.cache[id(expr)][1]


def _contraction(step: Step, at: _Values) -> float:
    (cotangent,) = tensor_names(step.after) - tensor_names(step.before)
    want = np.sum(at.arrays[cotangent] * at(step.before))
    return relative_error(at(step.after), want)


def _differences(step: Step, at: _Values) -> float:
    """∂L/∂T by central differences in each entry of T, against ``after``."""
    base = np.asarray(at.arrays[step.wrt], dtype=float)
    h = 1e-3 * max(1.0, float(np.max(np.abs(base), initial=0.0)))
    grad = at.function(step.before).central_differences(at.arrays, step.wrt, h)
    return relative_error(at(step.after), grad)


def _check(step: Step, at: _Values) -> Verdict:
    try:
        if step.rule is CONTRACT:
            return _within(step, _contraction(step, at), EQUAL_TOLERANCE)
        if step.rule is DIFFERENTIATE:
            return _within(step, _differences(step, at), DIFFERENCE_TOLERANCE)
        return _within(step, relative_error(at(step.after), at(step.before)), EQUAL_TOLERANCE)
    except (MatcalcError, ValueError) as e:
        return Verdict(step, False, None, f"could not be evaluated: {e}")


def _within(step: Step, error: float, tolerance: float) -> Verdict:
    return Verdict(step, bool(error <= tolerance), error)


def verify_derivation(steps, values: dict, shapes: Optional[dict] = None, seed: Optional[int] = None,
                      arrays: Optional[dict] = None) -> list:
    """One verdict per step of a delta-stage derivation (``steps`` or a Derivation), at the sizes
    ``values`` (symbol → int, parameters included) and random standard-normal arrays (or
    ``arrays``, in the IR's layout). ``shapes`` (name → extents) is needed only for tensors
    that are never read at plain indices (a convolution's input, say)."""
    steps = tuple(getattr(steps, "steps", steps))
    if not all(isinstance(s, Step) for s in steps):
        return []   # a definition (the forward part), not a derivation
    values = {sym: sp.sympify(v) for sym, v in values.items()}
    shapes = _infer_shapes(steps, values, dict(shapes or {}))
    rng = np.random.default_rng(seed)
    arrays = {**{k: rng.standard_normal(v) for k, v in shapes.items()}, **(arrays or {})}
    at = _Values(shapes, values, arrays)
    return [_check(step, at) for step in steps]


def verify_steps(part, seed: Optional[int] = None) -> list:
    """One :class:`~matcalc.derivation.Verdict` per derivation step of a conv ``Part`` (none
    for the forward definition), at random arrays with small, all-different sizes."""
    values = layer_sizes(part.layer)
    layouts = part._layouts()
    shapes = {name: layouts[name].shape for name in ("V", "W", "b", "delta") if name in layouts}
    return verify_derivation(part.steps, values, shapes, seed)
