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


class _Points:
    """The points enumerated so far, each one integer in mixed radix (the index given a value
    last is the lowest digit), so that discarding points moves one array, not one per index."""

    def __init__(self):
        self.ids = np.zeros(1, dtype=np.int64)
        self.extents: list = []
        self.cache: dict = {}

    def extend(self, n: int) -> None:
        if prod(self.extents) * n >= 2 ** 62:
            raise EvaluationError("the naive evaluator is for tiny sizes: the index grid is too large")
        self.ids = (self.ids[:, None] * n + np.arange(n, dtype=np.int64)).reshape(-1)
        self.extents.append(n)
        self.cache = {}
        if len(self.ids) > MAX_POINTS:
            raise EvaluationError(f"the naive evaluator is for tiny sizes: {len(self.ids)} points in one term")

    def keep(self, mask: np.ndarray) -> None:
        self.ids = self.ids[mask]
        self.cache = {k: v[mask] for k, v in self.cache.items()}

    def column(self, depth: int) -> np.ndarray:
        """The value of the index given a value at ``depth``, at each point."""
        if depth not in self.cache:
            self.cache[depth] = self.ids // prod(self.extents[depth + 1:]) % self.extents[depth]
        return self.cache[depth]

    def __len__(self) -> int:
        return len(self.ids)


def _numerators(aff, points: _Points) -> np.ndarray:
    """The numerators at ``points``; only the indices with a value so far may occur."""
    coeffs, const, _ = aff
    num = np.full(len(points), const, dtype=np.int64)
    for depth in np.flatnonzero(coeffs):
        num += int(coeffs[depth]) * points.column(int(depth))
    return num


def _holds(f, affs, points: _Points) -> np.ndarray:
    """Where the indicator ``f`` is 1, at each point."""
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


def _enumeration_order(extents: list, indicators: list) -> list:
    """The order to give the indices values in (a permutation of their positions): greedily the
    index that lets the most Kronecker deltas, then other indicators, be decided, else the
    smallest. The order only decides how early the points where a term is 0 are discarded."""
    involved = [(isinstance(f, Delta), {k for a in affs for k in np.flatnonzero(a[0])}) for f, affs in indicators]
    chosen: list = []
    while len(chosen) < len(extents):
        def score(k):
            done = [delta for delta, vs in involved if vs <= set(chosen) | {k} and not vs <= set(chosen)]
            return (sum(done), len(done), -extents[k], -k)
        chosen.append(max((k for k in range(len(extents)) if k not in chosen), key=score))
    return chosen


def _permuted(aff, perm: list):
    coeffs, const, den = aff
    return coeffs[perm], const, den


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
        raise EvaluationError(f"an index is bound twice in one term ({', '.join(map(str, order))})")
    refs = [f for f in term.factors if isinstance(f, Ref)]
    for f in refs:
        if f.name not in shapes:
            raise EvaluationError(f"missing array {f.name} for evaluation")
        if len(shapes[f.name]) != len(f.indices):
            raise EvaluationError(f"{f.name} has {len(shapes[f.name])} axes but is read with {len(f.indices)} indices")
    indicators = [(f, [_affine(e, values, order) for e in _indicator_exprs(f)])
                  for f in term.factors if not isinstance(f, Ref)]
    perm = _enumeration_order(extents, indicators)
    pending = [(f, [_permuted(a, perm) for a in affs]) for f, affs in indicators]
    reads = [(f, [_permuted(_affine(e, values, order), perm) for e in f.indices]) for f in refs]
    points = _Points()
    for depth, k in enumerate(perm):                           # every point, one index at a time
        points.extend(extents[k])
        # an indicator is applied as soon as every index it involves has a value (pruning only:
        # the points it removes are points where the term is 0)
        later = []
        for f, affs in pending:
            if any(a[0][depth + 1:].any() for a in affs):
                later.append((f, affs))
            else:
                points.keep(_holds(f, affs, points))
        pending = later
    for f, affs in pending:                                    # constant indicators, with no index at all
        points.keep(_holds(f, affs, points))
    kept_reads = []
    for f, affs in reads:
        shape, pos = shapes[f.name], []
        for axis, (aff, size) in enumerate(zip(affs, shape)):
            num, den = _numerators(aff, points), aff[2]
            bad = (num % den != 0) | (num // den < 0) | (num // den >= size)
            if bad.any():
                first = np.flatnonzero(bad)[0]
                at = {str(order[k]): int(points.column(depth)[first]) for depth, k in enumerate(perm)}
                raise EvaluationError(f"the expression reads {f.name} outside its range or at a fractional "
                                      f"position (axis {axis}) that no indicator excludes, at {at}")
            pos.append(num // den)
        kept_reads.append(np.ravel_multi_index(pos, shape) if shape else np.zeros(len(points), np.int64))
    columns = [perm.index(k) for k in range(len(free))]
    out = np.ravel_multi_index(tuple(points.column(c) for c in columns), out_shape) if out_shape \
        else np.zeros(len(points), np.int64)
    coeff = sp.nsimplify(sp.sympify(term.coeff).xreplace(values))
    if not coeff.is_number:
        raise EvaluationError(f"coefficient {term.coeff} is not bound (missing {sorted(map(str, coeff.free_symbols))})")
    return _Compiled(coeff, tuple((f.name, p) for f, p in zip(refs, kept_reads)), out)


def _exact(arrays: dict) -> bool:
    return any(np.asarray(a).dtype == object for a in arrays.values())


def _coefficient(c: sp.Expr, exact: bool):
    if not exact:
        return float(c)
    return Fraction(int(c.p), int(c.q)) if c.is_Rational else c


def _flat(arrays: dict, name: str, exact: bool) -> np.ndarray:
    if name not in arrays:
        raise EvaluationError(f"missing array {name} for evaluation")
    flat = np.asarray(arrays[name]).reshape(-1)
    return flat if exact else flat.astype(np.float64)


class CompiledSum:
    """An index sum with every index computation done for fixed shapes: call it with the arrays."""

    def __init__(self, expr: IndexSum, shapes: dict, values: dict):
        values = {sym: sp.sympify(v) for sym, v in values.items()}
        self.shapes = {name: tuple(int(n) for n in shape) for name, shape in shapes.items()}
        self.out_shape = tuple(_size(i.extent, values) for i in expr.free)
        free = [i.var for i in expr.free]
        self.terms = [_compile_term(t, free, self.out_shape, self.shapes, values) for t in expr.terms]

    def _check(self, arrays: dict) -> bool:
        for name, shape in self.shapes.items():
            if name in arrays and np.shape(arrays[name]) != shape:
                raise EvaluationError(f"{name} has shape {np.shape(arrays[name])}, compiled for {shape}")
        return _exact(arrays)

    def __call__(self, arrays: dict) -> np.ndarray:
        exact = self._check(arrays)
        out = np.zeros(prod(self.out_shape), dtype=object if exact else np.float64)
        if exact:
            out[:] = Fraction(0)
        for t in self.terms:
            value = np.full(len(t.out), _coefficient(t.coeff, exact), dtype=object if exact else np.float64)
            for name, pos in t.reads:
                value = value * _flat(arrays, name, exact)[pos]
            np.add.at(out, t.out, value)
        return out.reshape(self.out_shape)

    def central_differences(self, arrays: dict, name: str, h) -> np.ndarray:
        """(L(T + h·e_k) − L(T − h·e_k)) / 2h for every entry k of ``T = arrays[name]``, this sum
        being the scalar L. Only the points of the sum that read entry k change when it moves;
        the others cancel exactly, so each difference is computed from those points alone."""
        if self.out_shape:
            raise EvaluationError("central differences are taken of a scalar sum")
        exact = self._check(arrays)
        size = prod(self.shapes[name])
        diff = np.zeros(size, dtype=object if exact else np.float64)
        if exact:
            diff[:] = Fraction(0)
        for t in self.terms:
            mine = [r for r, (n, _) in enumerate(t.reads) if n == name]
            if not mine:
                continue
            vals = [_flat(arrays, n, exact)[pos] for n, pos in t.reads]
            count = len(t.out)
            if len(mine) == 1:
                point, entry = np.arange(count), t.reads[mine[0]][1]
            else:   # T read more than once: each (point, entry) pair once
                pairs = np.unique(np.concatenate([np.arange(count) * size + t.reads[r][1] for r in mine]))
                point, entry = pairs // size, pairs % size
            moved = {}
            for sign in (1, -1):
                value = np.full(len(point), _coefficient(t.coeff, exact), dtype=object if exact else np.float64)
                for r, (n, pos) in enumerate(t.reads):
                    factor = vals[r][point]
                    if n == name:
                        factor = factor + sign * h * (pos[point] == entry)
                    value = value * factor
                moved[sign] = value
            np.add.at(diff, entry, moved[1] - moved[-1])
        return (diff / (2 * h)).reshape(self.shapes[name])


def compile_sum(expr: IndexSum, shapes: dict, values: dict) -> CompiledSum:
    """The function ``arrays → tensor`` that ``expr`` defines for arrays of the given ``shapes``
    (name → tuple of ints, in the IR's layout), with every index computation done now."""
    return CompiledSum(expr, shapes, values)


def evaluate(expr: IndexSum, arrays: dict, values: dict) -> np.ndarray:
    """The tensor ``expr`` defines, by brute force over every index value (see the module)."""
    return compile_sum(expr, {k: np.shape(v) for k, v in arrays.items()}, values)(arrays)
