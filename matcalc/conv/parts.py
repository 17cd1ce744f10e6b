"""The user-facing objects: one ``Part`` per formula (forward or gradient) and the set of them.

A part ties a derived index sum to its layer: it checks and binds the user's arrays (PyTorch
layout) to the sizes, reshapes them into the IR layout, runs the generic evaluator, and prints
itself as text, LaTeX, steps or SymPy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from matcalc.errors import EvaluationError, ShapeError
from matcalc.indexsum.derive import Derivation
from matcalc.indexsum.evaluate import evaluate as evaluate_sum
from matcalc.indexsum.ir import IndexSum, Ref, subs, tensor_names
from matcalc.conv.layers import Layer
from matcalc.indexsum.printing import LATEX, TEXT, Layout, factor_text, sum_text, to_sympy
from matcalc.indexsum.rules import drop_trivial

ARRAY_ORDER = ("V", "delta", "W", "b")


@dataclass(frozen=True)
class ClosedForm:
    """A recognised textbook form of a result, with an independent way to compute it."""
    text: str
    latex: str
    compute: Callable[..., np.ndarray] | None = None


def _check_groups_divide(layer: Layer, name: str, values: dict) -> None:
    """Every IR extent of the array ``name`` (C_in/G, C_out/G) must be a whole number."""
    G = sp.Symbol("G", integer=True, positive=True)
    for extent in layer.tensors["Z" if name == "delta" else name].layout.shape:
        value = sp.sympify(extent).xreplace(values)
        if value.is_number and not value.is_integer:
            channels = extent * G
            raise ShapeError(f"groups = {values.get(G)} must divide {channels} = "
                             f"{channels.xreplace(values)} (channels of {name})")


def bind_sizes(layer: Layer, arrays: dict[str, np.ndarray]) -> dict:
    """Sizes and parameters as {symbol: SymPy Integer}, read off the arrays and checked against each other."""
    values = {sym: sp.Integer(v) for sym, v in layer.params.items()}
    for name in sorted(arrays, key=ARRAY_ORDER.index):
        arr = arrays[name]
        shape_of = layer.tensors["Z" if name == "delta" else name].user_shape
        if arr.ndim != len(shape_of):
            raise ShapeError(f"{name} must have {len(shape_of)} axes ({', '.join(map(str, shape_of))}), "
                             f"got shape {arr.shape}")
        for axis, (expr, n) in enumerate(zip(shape_of, arr.shape)):
            known = sp.sympify(expr).xreplace(values)
            unknown = known.free_symbols
            if not unknown:
                if known != n:
                    raise ShapeError(f"{name} has shape {arr.shape}, but its axis {axis} ({expr}) must be "
                                     f"{known} to fit the layer and the other arrays")
                continue
            (u,) = unknown
            value = sp.Rational(n) / known.subs(u, 1)
            if not value.is_integer or value < 1:
                raise ShapeError(f"{name} has shape {arr.shape}: axis {axis} ({expr}) cannot be {n}")
            values[u] = sp.Integer(value)
        _check_groups_divide(layer, name, values)
    for sym, rule in layer.size_rules.items():
        value = rule.xreplace(values)
        if not value.is_number:
            continue
        if value < 1:
            why = "the padding leaves nothing" if layer.kind == "conv_transpose" else \
                "the kernel does not fit in the padded input"
            raise ShapeError(f"{sym} would be {value}: {why} ({'; '.join(layer.where)})")
        if sym in values and values[sym] != value:
            raise ShapeError(f"delta has {sym} = {values[sym]}, but the layer gives {sym} = {value} "
                             f"({'; '.join(layer.where)})")
        values[sym] = sp.Integer(value)
    return values


def _specialise(expr: IndexSum, lhs: tuple, params: dict) -> tuple[tuple, IndexSum]:
    """Parameters substituted, indices of extent 1 set to 0, and what became trivial dropped."""
    e = subs(expr, params)
    ones = {i.var: sp.Integer(0) for t in e.terms for i in t.bound if i.extent == 1}
    ones.update({i.var: sp.Integer(0) for i in e.free if i.extent == 1})
    e = subs(e, ones)
    free = tuple(i for i in e.free if i.var not in ones)
    terms = []
    for t in e.terms:
        kept, _ = drop_trivial(type(t)(t.factors, tuple(i for i in t.bound if i.var not in ones), t.coeff), free)
        if kept is not None:
            terms.append(kept)
    return tuple(sp.sympify(v).xreplace(ones) for v in lhs), IndexSum(free, tuple(terms))


@dataclass(frozen=True)
class Part:
    """One formula of a layer: ``title[target indices] = expr``, derived with ``steps``."""
    title: str
    target: str
    layer: Layer
    derivation: Derivation
    closed_form: ClosedForm | None = None

    @property
    def expr(self) -> IndexSum:
        return self.derivation.expr

    @property
    def steps(self) -> tuple:
        """The derivation's steps (:class:`~matcalc.derivation.Step` s of stage ``delta``)."""
        return self.derivation.steps

    def _layouts(self, params: dict | None = None) -> dict:
        layouts = {name: t.layout for name, t in self.layer.tensors.items()}
        layouts["delta"] = layouts["Z"]
        layouts[self.title] = layouts[self.target]
        if params:
            layouts = {k: Layout(tuple(sp.sympify(e).xreplace(params) for e in v.shape), v.groups)
                       for k, v in layouts.items()}
        return layouts

    def text(self, specialise: bool = False, style=TEXT) -> str:
        """``lhs = rhs`` in readable Unicode (or LaTeX); ``specialise`` puts the numbers in."""
        lhs, expr = tuple(i.var for i in self.expr.free), self.expr
        params = self.layer.params if specialise else None
        if specialise:
            lhs, expr = _specialise(expr, lhs, params)
        layouts = self._layouts(params)
        order = [i.var for i in expr.free]
        left = factor_text(Ref(self.title, lhs), order, layouts, style)
        return f"{left} = {sum_text(expr, layouts, style)}"

    __str__ = text

    def latex(self, specialise: bool = False) -> str:
        return self.text(specialise, LATEX)

    def to_sympy(self) -> sp.Expr:
        """The right-hand side as SymPy ``Sum``/``Indexed`` objects (user layout, unevaluated)."""
        return to_sympy(self.expr, self._layouts())

    def steps_text(self) -> str:
        """The derivation, one numbered rule application per line with the expression after it."""
        layouts = self._layouts()
        from matcalc.indexsum.derive import step_text
        return "\n".join(f"{k}. {step_text(s)}\n     {sum_text(s.after, layouts)}" for k, s in enumerate(self.steps, 1))

    def _arrays(self, V, W, b, delta) -> dict[str, np.ndarray]:
        given = {k: v for k, v in dict(V=V, W=W, b=b, delta=delta).items() if v is not None}
        for name in given:
            if name != "delta" and name not in self.layer.tensors:
                raise EvaluationError(f"this {self.layer.kind} layer has no {name}; pass only "
                                      f"{', '.join(n for n in ARRAY_ORDER if n == 'delta' or n in self.layer.tensors)}")
        arrays = {}
        for name, value in given.items():
            arr = np.asarray(value)
            if not np.issubdtype(arr.dtype, np.floating):
                arr = arr.astype(np.float64)
            arrays[name] = arr
        return arrays

    def evaluate(self, V=None, W=None, b=None, delta=None) -> np.ndarray:
        """The formula's value as a NumPy array in PyTorch's layout, computed from the derived sum."""
        arrays = self._arrays(V, W, b, delta)
        missing = sorted(tensor_names(self.expr) - set(arrays))
        if missing:
            raise EvaluationError(f"{self.title} needs {', '.join(m + '=' for m in missing)} to be evaluated")
        values = bind_sizes(self.layer, arrays)
        layouts = self._layouts()
        target = self.layer.tensors[self.target]
        unbound = set().union(*(sp.sympify(e).xreplace(values).free_symbols for e in target.user_shape))
        if unbound:
            raise EvaluationError(f"{self.title} cannot be sized: pass {self.target}= too (its shape gives "
                                  f"{', '.join(sorted(map(str, unbound)))})")
        ir = {name: arr.reshape([int(sp.sympify(e).xreplace(values)) for e in layouts[name].shape])
              for name, arr in arrays.items()}
        out = evaluate_sum(self.expr, ir, values)
        return out.reshape([int(sp.sympify(e).xreplace(values)) for e in target.user_shape])

    def evaluate_closed_form(self, V=None, W=None, b=None, delta=None) -> np.ndarray:
        """The recognised closed form computed its own way (for checking the derivation)."""
        if self.closed_form is None or self.closed_form.compute is None:
            raise EvaluationError(f"{self.title} has no computable closed form")
        arrays = self._arrays(V, W, b, delta)
        bind_sizes(self.layer, arrays)
        return self.closed_form.compute(**arrays)

