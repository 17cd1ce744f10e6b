"""A small, exact, brute-force evaluator of index sums: every factor kind, Kronecker deltas included.

It is the reference the derivation is checked against, so it does nothing clever: each term is
evaluated at *every* point of the grid of its free and bound indices (enumerated in chunks, by
iteration), every index expression is computed exactly in integers (a common denominator per
expression, so ``(h + p − d·i)/s`` is never rounded), the indicators ``[a = b]``, ``[lo ≤ e < hi]``
and ``[a | e]`` select the points where they all hold, and only there are tensors read. A read
outside a tensor or at a fractional position at a point the term's own indicators do not exclude
is an :class:`~matcalc.errors.EvaluationError`, as in the fast evaluator: nothing is padded
silently, and nothing vanishes unless the sum itself says so.

Sizes and parameters are substituted from the same ``values`` mapping as
:func:`matcalc.indexsum.evaluate.evaluate`. Arrays of ``object`` dtype (e.g. ``Fraction`` s)
are evaluated exactly; float arrays in float64.

:func:`compile_sum` does the index work once for given tensor shapes; the result is a function
of the arrays, which is what finite differences need (many evaluations at the same shapes).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import lcm, prod

import numpy as np
import sympy as sp

from matcalc.errors import EvaluationError
from matcalc.indexsum.ir import Delta, Divides, IndexSum, InRange, Ref, Term

#: Most points of one term alive at once: this evaluator is for tiny sizes.
MAX_POINTS = 1 << 23


def _size(e, values: dict) -> int:
    v = sp.sympify(e).xreplace(values)
    if not v.is_number or not v.is_integer or v < 0:
        raise EvaluationError(f"size {e} = {v} is not a bound whole number")
    return int(v)


def _affine(e, values: dict, order: list) -> tuple[np.ndarray, int, int]:
    """``e`` with ``values`` substituted as (integer coefficients over ``order``, integer constant,
    common denominator): e = (coeffs · point + const) / den, exactly."""
    e = sp.expand(sp.sympify(e).xreplace(values))
    coeffs, const = [Fraction(0)] * len(order), Fraction(0)
    position = {v: k for k, v in enumerate(order)}
    for term, c in e.as_coefficients_dict().items():
        if not c.is_Rational:
            raise EvaluationError(f"cannot evaluate index expression {e}: coefficient {c} is not rational")
        c = Fraction(int(c.p), int(c.q))
        if term == 1:
            const += c
        elif term in position:
            coeffs[position[term]] += c
        else:
            raise EvaluationError(f"cannot evaluate index expression {e}: not affine in the indices, or "
                                  f"unbound symbol(s) {sorted(map(str, sp.sympify(term).free_symbols - set(order)))}")
    den = lcm(const.denominator, *(c.denominator for c in coeffs))
    return np.array([int(c * den) for c in coeffs], dtype=np.int64), int(const * den), den


def _numerators(aff, points: np.ndarray) -> np.ndarray:
    """The numerators at ``points``, whose columns are the first indices of the order (an
    expression is evaluated once the indices it involves have values)."""
    coeffs, const, _ = aff
    return points @ coeffs[:points.shape[1]] + const


def _holds(f, affs, points: np.ndarray) -> np.ndarray:
    """Where the indicator ``f`` is 1, at each point (rows of ``points``)."""
    if isinstance(f, Delta):
        return _numerators(affs[0], points) == 0
    if isinstance(f, Divides):
        return _numerators(affs[0], points) % affs[0][2] == 0
    # InRange: e − lo ≥ 0 and hi − e > 0
    return (_numerators(affs[0], points) >= 0) & (_numerators(affs[1], points) > 0)


def _indicator_exprs(f) -> tuple:
    if isinstance(f, Delta):
        return (f.lhs - f.rhs,)
    if isinstance(f, Divides):
        return (f.expr / f.divisor,)
    if isinstance(f, InRange):
        return (f.expr - f.lo, f.hi - f.expr)
    raise EvaluationError(f"unknown factor {f!r}")


@dataclass(frozen=True)
class _Compiled:
    """One term at one set of shapes: where it is nonzero, what it reads there, where it adds."""
    coeff: sp.Expr
    reads: tuple      # (tensor name, flat positions)
    out: np.ndarray   # flat position in the output of each point kept


def _compile_term(term: Term, free: list, out_shape: tuple, shapes: dict, values: dict) -> _Compiled:
    extents = [*out_shape, *(_size(i.extent, values) for i in term.bound)]
    order = free + [i.var for i in term.bound]
    if len(set(order)) != len(order):
        raise EvaluationError(f"index {sorted(map(str, order))} bound twice in one term")
    refs = [f for f in term.factors if isinstance(f, Ref)]
    for f in refs:
        if f.name not in shapes:
            raise EvaluationError(f"missing array {f.name} for evaluation")
        if len(shapes[f.name]) != len(f.indices):
            raise EvaluationError(f"{f.name} has {len(shapes[f.name])} axes but is read with {len(f.indices)} indices")
    indicators = [(f, [_affine(e, values, order) for e in _indicator_exprs(f)])
                  for f in term.factors if not isinstance(f, Ref)]
    reads = [(f, [_affine(e, values, order) for e in f.indices]) for f in refs]
    points = np.zeros((1, 0), dtype=np.int64)
    pending = list(indicators)
    for depth, n in enumerate(extents):                        # every point, one index at a time
        points = np.concatenate([np.repeat(points, n, axis=0),
                                 np.tile(np.arange(n, dtype=np.int64), len(points))[:, None]], axis=1)
        if len(points) > MAX_POINTS:
            raise EvaluationError(f"the naive evaluator is for tiny sizes: {len(points)} points in one term")
        # an indicator is applied as soon as every index it involves has a value (pruning only:
        # the points it removes are points where the term is 0)
        later = []
        for f, affs in pending:
            if any(a[0][depth + 1:].any() for a in affs):
                later.append((f, affs))
            else:
                points = points[_holds(f, affs, points)]
        pending = later
    for f, affs in pending:                                    # constant indicators (or no index at all)
        points = points[_holds(f, affs, points)]
    kept_reads = []
    for f, affs in reads:
        shape, pos = shapes[f.name], []
        for axis, (aff, size) in enumerate(zip(affs, shape)):
            num, den = _numerators(aff, points), aff[2]
            bad = (num % den != 0) | (num // den < 0) | (num // den >= size)
            if bad.any():
                at = dict(zip(map(str, order), points[np.flatnonzero(bad)[0]].tolist()))
                raise EvaluationError(f"the expression reads {f.name} outside its range or at a fractional "
                                      f"position (axis {axis}) that no indicator excludes, at {at}")
            pos.append(num // den)
        kept_reads.append(np.ravel_multi_index(pos, shape) if shape else np.zeros(len(points), np.int64))
    out = np.ravel_multi_index(tuple(points[:, :len(free)].T), out_shape) if out_shape \
        else np.zeros(len(points), np.int64)
    coeff = sp.nsimplify(sp.sympify(term.coeff).xreplace(values))
    if not coeff.is_number:
        raise EvaluationError(f"coefficient {term.coeff} is not bound (missing {sorted(map(str, coeff.free_symbols))})")
    return _Compiled(coeff, tuple((f.name, p) for f, p in zip(refs, kept_reads)), out)


def compile_sum(expr: IndexSum, shapes: dict, values: dict):
    """The function ``arrays → tensor`` that ``expr`` defines for arrays of the given ``shapes``
    (name → tuple of ints, in the IR's layout), with every index computation done now."""
    values = {sym: sp.sympify(v) for sym, v in values.items()}
    shapes = {name: tuple(int(n) for n in shape) for name, shape in shapes.items()}
    out_shape = tuple(_size(i.extent, values) for i in expr.free)
    free = [i.var for i in expr.free]
    terms = [_compile_term(t, free, out_shape, shapes, values) for t in expr.terms]

    def run(arrays: dict) -> np.ndarray:
        for name, shape in shapes.items():
            if name in arrays and np.shape(arrays[name]) != shape:
                raise EvaluationError(f"{name} has shape {np.shape(arrays[name])}, compiled for {shape}")
        exact = any(np.asarray(a).dtype == object for a in arrays.values())
        out = np.zeros(prod(out_shape), dtype=object if exact else np.float64)
        if exact:
            out[:] = Fraction(0)
        for t in terms:
            c = Fraction(int(t.coeff.p), int(t.coeff.q)) if exact and t.coeff.is_Rational else \
                (t.coeff if exact else float(t.coeff))
            value = np.full(len(t.out), c, dtype=object if exact else np.float64)
            for name, pos in t.reads:
                if name not in arrays:
                    raise EvaluationError(f"missing array {name} for evaluation")
                flat = np.asarray(arrays[name]).reshape(-1)
                value = value * (flat[pos] if exact else flat[pos].astype(np.float64))
            np.add.at(out, t.out, value)
        return out.reshape(out_shape)

    return run


def evaluate(expr: IndexSum, arrays: dict, values: dict) -> np.ndarray:
    """The tensor ``expr`` defines, by brute force over every index value (see the module)."""
    return compile_sum(expr, {k: np.shape(v) for k, v in arrays.items()}, values)(arrays)
