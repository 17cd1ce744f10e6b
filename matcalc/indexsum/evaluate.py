"""A generic NumPy evaluator of index sums: the derived expression itself is what gets computed.

For each term it picks a few *loop* indices (the smallest ones needed so that every remaining
index expression and indicator involves at most one index: for a convolution, the kernel
offsets). Per loop value each tensor is read through strided or gathered views along its axes,
each indicator becomes a 0/1 vector over its index, and one ``einsum`` contracts the rest.
Reads outside a tensor, or at a fractional position, must be cancelled by the term's own
indicators; if the derivation forgot one, evaluation fails instead of silently padding.
"""
from __future__ import annotations

import itertools
from fractions import Fraction
from math import lcm

import numpy as np
import sympy as sp

from matcalc.errors import EvaluationError
from matcalc.indexsum.ir import Divides, IndexSum, InRange, Ref, Term, factor_exprs

Affine = tuple[dict, Fraction]  # {index symbol: coefficient}, constant


def _affine(e: sp.Expr, values: dict, indices: set) -> Affine:
    """``e`` with sizes/parameters substituted, as exact coefficients over the index symbols."""
    e = sp.expand(sp.sympify(e).xreplace(values))
    coeffs, const = {}, Fraction(0)
    for term, c in e.as_coefficients_dict().items():
        if term == 1:
            const += Fraction(int(sp.numer(c)), int(sp.denom(c)))
        elif term in indices and c.is_Rational:
            coeffs[term] = Fraction(int(sp.numer(c)), int(sp.denom(c)))
        else:
            raise EvaluationError(f"cannot evaluate index expression {e}: unbound symbol or not affine "
                                  f"(free symbols {sorted(map(str, e.free_symbols - indices))})")
    return coeffs, const


def _numeric(e: sp.Expr, values: dict) -> int:
    v = sp.sympify(e).xreplace(values)
    if not v.is_number:
        raise EvaluationError(f"size {e} is not bound (missing {sorted(map(str, v.free_symbols))})")
    return int(v)


def _fix(aff: Affine, point: dict) -> Affine:
    """Substitute the current loop values."""
    coeffs, const = aff
    rest = {v: c for v, c in coeffs.items() if v not in point}
    return rest, const + sum((c * point[v] for v, c in coeffs.items() if v in point), Fraction(0))


def _scaled(aff: Affine, extents: dict):
    """(var or None, integer numerators over the index range, common denominator)."""
    coeffs, const = aff
    den = lcm(const.denominator, *(c.denominator for c in coeffs.values()))
    if not coeffs:
        return None, np.int64(const * den), den
    (v, c), = coeffs.items()
    return v, np.arange(extents[v], dtype=np.int64) * int(c * den) + int(const * den), den


def _indicator(f, aff: Affine, extents: dict, values: dict):
    """The indicator as (index or None, 0/1 values)."""
    v, num, den = _scaled(aff, extents)
    if isinstance(f, InRange):
        ok = (num >= _numeric(f.lo, values) * den) & (num < _numeric(f.hi, values) * den)
    elif isinstance(f, Divides):
        ok = num % den == 0
    else:
        ok = num == 0
    return v, ok


def _read(array: np.ndarray, axes: list[Affine], extents: dict):
    """View or gather of ``array`` at the fixed-affine ``axes``; returns it, its labels, bad reads."""
    labels, bad, index = [], {}, []
    for size, aff in zip(array.shape, axes):
        v, num, den = _scaled(aff, extents)
        valid = (num % den == 0) & (num // den >= 0) & (num // den < size)
        pos = np.where(valid, num // den, 0)
        if v is None:
            if not valid:
                return None, None, None
            index.append(int(pos))
            continue
        labels.append(v)
        bad[v] = bad.get(v, False) | ~valid
        step = int(pos[1] - pos[0]) if len(pos) > 1 else 1
        if valid.all() and step > 0 and np.array_equal(pos, pos[0] + step * np.arange(len(pos))):
            index.append(slice(int(pos[0]), int(pos[-1]) + 1, step))
        else:
            index.append(pos)
    # gather one axis at a time so that index arrays do not broadcast against each other
    out = array[tuple(i if isinstance(i, (int, slice)) else slice(None) for i in index)]
    axis = 0
    for i in index:
        if isinstance(i, np.ndarray):
            out = np.take(out, i, axis=axis)
        axis += not isinstance(i, int)
    return out, labels, bad


def _loop_indices(affines: list[Affine], extents: dict) -> list:
    """Indices to loop over (greedily the cheapest) so that no expression keeps two or more;
    indices of extent 1 are always looped over, which keeps them out of the einsum."""
    loop = [v for v, n in extents.items() if n == 1]
    while True:
        multi = [a for a in affines if len([v for v in a[0] if v not in loop]) > 1]
        if not multi:
            return loop
        loop.append(min((v for v in multi[0][0] if v not in loop), key=lambda v: (extents[v], str(v))))


def _masks(fixed_indicators, extents: dict, values: dict) -> dict | None:
    """0/1 vectors per index from the indicators; None when a constant indicator is 0."""
    masks = {}
    for f, aff in fixed_indicators:
        v, ok = _indicator(f, aff, extents, values)
        if v is None and not ok:
            return None
        if v is not None:
            masks[v] = masks.get(v, True) & ok
    return masks


def _supports(masks: dict) -> tuple[dict, dict] | None:
    """Split masks into index ranges (start, step, count) where the support is an arithmetic
    progression, and masks kept as 0/1 operands otherwise; None when some mask is all zero.

    Restricting an index to such a range turns e.g. ``δ[(h + p − i)/s]`` with ``[s | h + p − i]``
    into a plain strided view: no wasted multiplications by zero, no gathers."""
    ranges, kept = {}, {}
    for v, m in masks.items():
        nz = np.flatnonzero(m)
        if not len(nz):
            return None
        step = int(nz[1] - nz[0]) if len(nz) > 1 else 1
        if np.array_equal(nz, nz[0] + step * np.arange(len(nz))):
            ranges[v] = (int(nz[0]), step, len(nz))
        else:
            kept[v] = m
    return ranges, kept


def _restrict(aff: Affine, ranges: dict) -> Affine:
    """Substitute v = start + step·v′ for each restricted index."""
    coeffs, const = aff
    const += sum((c * ranges[v][0] for v, c in coeffs.items() if v in ranges), Fraction(0))
    return {v: c * ranges[v][1] if v in ranges else c for v, c in coeffs.items()}, const


def _coefficient(term: Term, values: dict) -> float:
    """A term's coefficient at ``values``; one that is not a finite real number (1/t^3 at t = 0) is
    an :class:`EvaluationError`, not a TypeError from SymPy's complex infinity."""
    c = sp.sympify(term.coeff).xreplace(values)
    if not (c.is_real and c.is_finite):
        raise EvaluationError(f"the coefficient {term.coeff} of an index sum is {c} at these values "
                              "(a division by zero)")
    return float(c)


def _term(term: Term, free: list, arrays: dict, values: dict, out: np.ndarray) -> None:
    """Add one term into ``out`` (axes in the order of ``free``)."""
    extents = {i.var: _numeric(i.extent, values) for i in term.bound}
    extents.update({v: n for v, n in zip(free, out.shape)})
    parsed = [(f, [_affine(e, values, set(extents)) for e in factor_exprs(f)]) for f in term.factors]
    loop = _loop_indices([a for _, affs in parsed for a in affs], extents)
    label = {v: k for k, v in enumerate(extents)}
    keep = [v for v in free if v not in loop]
    coeff = _coefficient(term, values)
    for point in itertools.product(*(range(extents[v]) for v in loop)):
        point = dict(zip(loop, point))
        fixed = [(f, [_fix(a, point) for a in affs]) for f, affs in parsed]
        masks = _masks([(f, affs[0]) for f, affs in fixed if not isinstance(f, Ref)], extents, values)
        split = None if masks is None else _supports(masks)
        if split is None:
            continue
        ranges, masks = split
        local = {v: ranges[v][2] if v in ranges else n for v, n in extents.items()}
        operands = []
        for f, affs in fixed:
            if not isinstance(f, Ref):
                continue
            view, labels, bad = _read(arrays[f.name], [_restrict(a, ranges) for a in affs], local)
            if view is None or any(np.any(b & masks.get(v, True)) for v, b in bad.items()):
                raise EvaluationError(f"the expression reads {f.name} outside its range or at a fractional "
                                      f"position that no indicator excludes (at {point})")
            operands += [view, [label[v] for v in labels]]
        operands += [x for v, m in masks.items() if not m.all() for x in (m.astype(out.dtype), [label[v]])]
        present = {k for ops in operands[1::2] for k in ops}
        unread = [local[v] for v in extents if v not in loop and v not in free and label[v] not in present]
        value = np.einsum(*operands, [label[v] for v in keep if label[v] in present], optimize=True) \
            if operands else np.array(1.0)
        value = value.reshape([local[v] if label[v] in present else 1 for v in keep])
        where = tuple(point[v] if v in point else
                      slice(ranges[v][0], ranges[v][0] + ranges[v][1] * (ranges[v][2] - 1) + 1, ranges[v][1])
                      if v in ranges else slice(None) for v in free)
        out[where] += coeff * float(np.prod(unread)) * value


def evaluate(expr: IndexSum, arrays: dict[str, np.ndarray], values: dict) -> np.ndarray:
    """The tensor ``expr`` defines, given the arrays it reads (in the IR's layout) and ``values``
    for every size and parameter symbol; float64 unless all inputs are of another float type."""
    values = {sym: sp.sympify(v) for sym, v in values.items()}
    shape = tuple(_numeric(i.extent, values) for i in expr.free)
    dtype = np.result_type(*[a.dtype for a in arrays.values()], np.float32) if arrays else np.float64
    out = np.zeros(shape, dtype=dtype)
    if 0 in shape:
        return out
    for term in expr.terms:
        missing = {f.name for f in term.factors if isinstance(f, Ref)} - set(arrays)
        if missing:
            raise EvaluationError(f"missing array(s) {', '.join(sorted(missing))} for evaluation")
        _term(term, [i.var for i in expr.free], arrays, values, out)
    return out
