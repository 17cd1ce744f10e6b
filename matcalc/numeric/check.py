"""Numerical verification: a derivative against central finite differences at random inputs.

Every dimension gets its own size (3, 4, 2, 5, …) so that a transposition error cannot hide; values
are drawn at random (square matrices shifted by √n·I, so inverses stay well conditioned), and
redrawn positive (positive-definite for matrices) where the function is not finite, a matrix under
inv/det/logdet is ill-conditioned or an argument sits on a kink; when no draw at one choice of
sizes works, the sizes are permuted among the dimensions (``X'*X`` is invertible only when X has
at least as many rows as columns).  :func:`verdict` says OK or FAILED and why; :func:`check`
returns the bare error, as it always has.
"""
from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np

from matcalc.errors import MatcalcError
from matcalc.numeric.evaluate import NumericalWarning, evaluate
from matcalc.numeric.layout import unit_directions
from matcalc.ir.nodes import Node, postorder, variables
from matcalc.ir.shapes import is_scalar

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


#: The starting steps of :func:`extrapolated_derivative`, relative to the entry's size; the fine
#: ones only when the others leave an error estimate above FINE_WHEN (their tableaux are closer to
#: rounding, whose error estimates can look better than a coarse tableau's true accuracy).
STARTS = (1e-1, 1e-2, 1e-3, 1e-4)
FINE_STARTS = (1e-5, 1e-6, 1e-7)
FINE_WHEN = 1e-9


def extrapolated_difference(fn, x: np.ndarray, symmetric: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of ``fn`` at ``x`` refined by Richardson extrapolation, one direction at a
    time (:func:`extrapolated_derivative`), and each entry's error estimate (absolute).  Costs up
    to 2·8·7 evaluations per direction, so :func:`verdict` uses it only to re-examine a comparison
    that failed at the standard step."""
    x = np.asarray(x, dtype=float)
    f0 = np.asarray(fn(x))
    out = np.zeros(f0.shape + x.shape)
    bound = np.zeros(f0.shape + x.shape)
    for idx, e in unit_directions(x.shape, symmetric):
        scale = max(1.0, abs(float(x[idx])) if x.shape else abs(float(x)))
        best, err = extrapolated_derivative(fn, x, e, scale)
        out[(Ellipsis,) + idx] = best if best is not None else np.nan
        bound[(Ellipsis,) + idx] = err
    return out, bound


def extrapolated_derivative(fn, x, e, scale: float, shrink: float = 1.4, levels: int = 8):
    """The derivative of ``fn`` at ``x`` along ``e`` by Ridders' method, and its error estimate
    (absolute; (None, inf) when no estimate was finite): per starting step h·scale (h in
    STARTS), the differences at steps h, h/1.4, h/1.4², … are extrapolated to step 0 in a
    tableau whose neighbouring entries estimate the error; the estimate with the smallest error
    over all starting steps is kept.  Far more accurate than one step where f has a huge dynamic
    range: a large step keeps the rounding error eps·|f|/h small (B − A.^9), a small one keeps
    the extrapolation in range (exp(exp(exp(x)))) and resolves a fast oscillation
    (sin(exp(exp(b))) at b ≈ 2.3 has a period of 5·10⁻⁵)."""
    best, best_err = None, np.inf
    for h in STARTS + FINE_STARTS:
        if h in FINE_STARTS and best_err <= FINE_WHEN * max(1.0, float(np.max(np.abs(best), initial=0.0))):
            break
        estimate, err = ridders(fn, x, e, h * scale, shrink, levels)
        if estimate is not None and err < best_err:
            best, best_err = estimate, err
    return best, best_err


def ridders(fn, x, e, step, shrink, levels):
    """One Ridders tableau from ``step``: the best extrapolated derivative and its error estimate
    (absolute, max-norm over the entries), or (None, inf) when no two levels were finite.  No
    estimate is better than the rounding of f at its step, eps·|f|/step: where f(x ± step·e)
    differ by a few units in the last place (a large constant in f), neighbouring entries can
    agree exactly and would claim no error at all."""
    best, best_err = None, np.inf
    previous: list = []
    fac0 = shrink * shrink
    eps = np.finfo(float).eps
    with np.errstate(all="ignore"):
        for i in range(levels):
            up, down = np.asarray(fn(x + step * e), dtype=float), np.asarray(fn(x - step * e), dtype=float)
            d0 = (up - down) / (2 * step)
            floor = 2 * eps * max(float(np.max(np.abs(up), initial=0.0)), float(np.max(np.abs(down), initial=0.0))) / step
            step /= shrink
            if not np.all(np.isfinite(d0)):
                previous = []
                continue
            row, fac = [d0], fac0
            for j in range(1, len(previous) + 1):
                row.append((row[j - 1] * fac - previous[j - 1]) / (fac - 1))
                fac *= fac0
                err = max(float(np.max(np.abs(row[j] - row[j - 1]), initial=0.0)),
                          float(np.max(np.abs(row[j] - previous[j - 1]), initial=0.0)), floor)
                if np.isfinite(err) and err <= best_err:
                    best, best_err = row[j], err
            if len(row) > 1 and best is not None and \
                    not float(np.max(np.abs(row[-1] - previous[-1]), initial=0.0)) < 2 * best_err:
                break  # higher orders got worse: rounding has taken over
            previous = row
    return best, best_err


def resolved_to(estimate, bound) -> float:
    """The relative error finite differences resolve ``estimate`` to, given its absolute error
    ``bound`` (as :func:`relative_error` scales); 0 when a bound is not finite (no estimate: no
    excuse either), so that no disagreement is called inconclusive for want of one."""
    bound = np.asarray(bound, dtype=float)
    if not np.all(np.isfinite(bound)):
        return 0.0
    return float(np.max(bound, initial=0.0)) / max(1.0, float(np.max(np.abs(estimate), initial=0.0)))


def relative_error(got, want) -> float:
    """max |got − want| / max(1, max |want|)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise MatcalcError(f"derivative has shape {got.shape}, finite differences {want.shape}")
    if not (np.all(np.isfinite(got)) and np.all(np.isfinite(want))):
        return float("inf") if not np.allclose(got, want, equal_nan=True) else 0.0
    return float(np.max(np.abs(got - want), initial=0.0) / max(1.0, float(np.max(np.abs(want), initial=0.0))))


TOLERANCE = 1e-6
DRAWS = 4            # random points tried per choice of dimension sizes
KINKS = ("abs", "relu", "sign", "step", "norm1")
WELL_CONDITIONED = 1e8
#: a disagreement within this many times what finite differences resolve is no verdict either way
INCONCLUSIVE = 3.0


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a finite-difference check.

    ``ok`` is True when the largest relative error is within ``tolerance``; ``error`` is that
    error (NaN when no valid point was found); ``reason`` says why in words; ``points`` is the
    number of points compared, ``rejected`` the reasons points were redrawn, ``sizes`` the
    dimension sizes used.
    """

    ok: bool
    error: float
    reason: str
    tolerance: float = TOLERANCE
    points: int = 0
    sizes: dict = field(default_factory=dict)
    rejected: tuple = ()
    inconclusive: bool = False

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return f"check: {'OK' if self.ok else 'INCONCLUSIVE' if self.inconclusive else 'FAILED'} ({self.reason})"

    def to_dict(self) -> dict:
        return {"ok": self.ok, "error": self.error if np.isfinite(self.error) else None, "reason": self.reason,
                "tolerance": self.tolerance, "points": self.points, "sizes": dict(self.sizes),
                "rejected": list(self.rejected), "inconclusive": self.inconclusive}


def check(f, wrt, decls=None, order: int = 1, values: Optional[Mapping] = None, seed: int = 0,
          trials: int = 2) -> float:
    """The largest relative error between ``diff(f, wrt, order=order)`` and central finite
    differences of the order−1 derivative, over ``trials`` random points (or at ``values``);
    NaN when no point was found where f is finite and its matrices well conditioned (see
    :func:`verdict` for the reason)."""
    return verdict(f, wrt, decls, order, values, seed, trials).error


def verdict(f, wrt, decls=None, order: int = 1, values: Optional[Mapping] = None, seed: int = 0,
            trials: int = 2, tolerance: float = TOLERANCE) -> CheckResult:
    """Check ``diff(f, wrt, order=order)`` against central finite differences and say so.

    Random points are drawn where f is finite, every matrix under ``inv``, ``det``, ``logdet`` or
    a negative power is well conditioned, and no argument of a kink (abs, relu, …) is near 0;
    when a draw fails, it is redrawn (positive, then positive definite), and when all draws at
    one choice of dimension sizes fail, the sizes are permuted (``X'*X`` needs rows ≥ columns).
    """
    from matcalc.calculus.derivative import diff

    d = diff(f, wrt, decls, order)
    lower = diff(f, wrt, decls, order - 1) if order > 1 else None
    rng = np.random.default_rng(seed)
    if values is not None:
        points, rejected = [(dict(values), _bound_sizes(d.f.node, values))], []
    else:
        points, rejected = _valid_points(d, rng, trials)
        if not points:
            return CheckResult(False, float("nan"),
                               f"no valid point found in {len(rejected)} random draws: {_summary(rejected)}",
                               tolerance, 0, {}, tuple(rejected))
    worst = resolution = 0.0   # resolution: what finite differences can resolve where they disagree
    for vals, sizes in points:
        if d.wrt.name not in vals:  # f does not depend on it: any value will do
            vals.update(random_values(d.wrt, rng, sizes={**dimension_sizes(d.f.node, d.wrt), **sizes}))
        x = np.asarray(vals[d.wrt.name], dtype=float)

        def at(xv, vals=vals):
            v = dict(vals)
            v[d.wrt.name] = xv if xv.shape else float(xv)
            return lower.evaluate(v) if lower is not None else evaluate(d.f.node, v)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumericalWarning)
            numeric = finite_difference(at, x, symmetric=d.wrt.kind == "symmetric")
            got = d.evaluate(vals)
            error = relative_error(got, numeric)
            if not error <= tolerance:  # one step size may be the culprit: extrapolate to step 0
                better, bound = extrapolated_difference(at, x, symmetric=d.wrt.kind == "symmetric")
                error = min(error, relative_error(got, better))
                if not error <= tolerance:
                    resolution = max(resolution, resolved_to(better, bound))
            worst = max(worst, error)
    sizes = points[-1][1]
    where = ", ".join(f"{k}={v}" for k, v in sizes.items())
    text = f"max relative error {worst:.1e}"
    if worst <= tolerance:
        return CheckResult(True, worst, text, tolerance, len(points), sizes, tuple(rejected))
    if worst <= INCONCLUSIVE * resolution:
        return CheckResult(False, worst, f"{text}, tolerance {tolerance:.0e}, but finite differences resolve it only "
                           f"to {resolution:.0e} here: the rounding of f swamps the change a step makes",
                           tolerance, len(points), sizes, tuple(rejected), inconclusive=True)
    return CheckResult(False, worst, f"{text} > tolerance {tolerance:.0e} at {len(points)} random point"
                       f"{'s' if len(points) > 1 else ''}{' with ' + where if where else ''}",
                       tolerance, len(points), sizes, tuple(rejected))


def _summary(reasons: list) -> str:
    """The first reason a draw was rejected, and how many others were (each says why in .rejected)."""
    distinct = list(dict.fromkeys(reasons))
    more = len(reasons) - 1
    return distinct[0] + (f" (and {more} more draw{'s' if more > 1 else ''} rejected"
                          f"{', the same way' if len(distinct) == 1 else ''})" if more else "")


def _bound_sizes(root: Node, vals) -> dict:
    try:
        return _bound(root, vals)
    except MatcalcError:
        return {}


def _size_choices(root: Node):
    """The default dimension sizes, then the same sizes permuted among the dimensions."""
    base = dimension_sizes(root)
    names, sizes = list(base), list(base.values())
    yield base
    seen = {tuple(sizes)}
    for perm in itertools.islice(itertools.permutations(sizes), 1, 24):
        if perm not in seen:
            seen.add(perm)
            yield dict(zip(names, perm))


def _valid_points(d, rng, trials: int) -> tuple[list, list]:
    """Up to ``trials`` points (values, sizes) valid for d; the reasons of the rejected draws."""
    rejected: list = []
    for sizes in _size_choices(d.f.node):
        points = []
        for k in range(DRAWS + trials):
            vals = random_values(d.f.node, rng, positive=k % 2 == 1, sizes=sizes)
            if d.wrt.name not in vals:
                vals.update(random_values(d.wrt, rng, sizes={**dimension_sizes(d.f.node, d.wrt), **sizes}))
            problem = _problem(d, vals)
            if problem:
                rejected.append(problem)
                continue
            points.append((vals, sizes))
            if len(points) == trials:
                return points, rejected
        if points:
            return points, rejected
    return [], rejected


def _problem(d, vals) -> Optional[str]:
    """Why ``vals`` is no point to check the derivative d at (None when it is fine)."""
    problem = _problem_at(d.f.node, vals)
    if problem is not None:
        return problem
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        try:
            if not np.all(np.isfinite(d.evaluate(vals))):
                return "the derivative is not finite"
        except NumericalWarning as w:
            return str(w)
        except MatcalcError as e:
            return e.message
    return None


def _problem_at(root: Node, vals) -> Optional[str]:
    """Why ``root`` cannot be checked at ``vals``: it is not finite there, a matrix under inv, det,
    logdet or a negative power is ill-conditioned, or a kink's argument is near 0 (None if fine)."""
    from matcalc.printing.text import to_text
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        try:
            v = evaluate(root, vals)
            if not np.all(np.isfinite(v)):
                return "f is not finite"
            for node in postorder(root):
                op = getattr(node, "op", None)
                if op in ("inv", "det", "logdet") or (op == "pow" and not is_scalar(node.args[0].shape)):
                    a = evaluate(node.args[0], vals)
                    cond = float(np.linalg.cond(np.atleast_2d(a)))
                    if not cond < WELL_CONDITIONED:
                        return (f"{to_text(node.args[0])} is singular or ill-conditioned (condition number "
                                f"{cond:.1e}) in {to_text(node)}")
                elif op in KINKS:
                    a = np.asarray(evaluate(node.args[0], vals))
                    if np.any(np.abs(a) < 1e-4):
                        return f"{to_text(node.args[0])} is at a kink of {op} (≈ 0)"
        except NumericalWarning as w:
            return str(w)
        except MatcalcError as e:
            return e.message
    return None


def _bound(root: Node, vals) -> dict:
    from matcalc.numeric.evaluate import bind
    return bind(root, vals)[1]


def finite_point(root: Node, rng, sizes: Optional[dict] = None) -> dict:
    """Values where ``root`` is finite and its matrices well conditioned, redrawn (positive, other
    sizes) as :func:`verdict` does; the last draw when none is."""
    vals: dict = {}
    for choice in ([sizes] if sizes is not None else _size_choices(root)):
        for k in range(DRAWS):
            vals = random_values(root, rng, positive=k % 2 == 1, sizes=choice)
            if _problem_at(root, vals) is None:
                return vals
    return vals
