"""Printers for the index-sum IR: readable Unicode text, LaTeX, and SymPy objects.

Index expressions are printed the way they are written by hand (``s·x + d·i − p``,
``(h + p − d·i)/s``), conditions as Iverson brackets, and tensors whose channel axis the IR
splits into (group, channel-in-group) are shown fused back (``V[n, g·C_in/G + c, …]``), so the
printed formula reads in PyTorch's own layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import functools

import sympy as sp

from matcalc.indexsum.ir import Delta, Factor, IndexSum, InRange, Ref, Term


@dataclass(frozen=True)
class Layout:
    """How a tensor's IR axes map to its user axes: ``groups`` of IR axes fuse row-major."""
    shape: tuple[sp.Expr, ...]
    groups: tuple[tuple[int, ...], ...]

    def fuse(self, indices: tuple[sp.Expr, ...]) -> tuple[sp.Expr, ...]:
        """The user-layout index expressions for IR ``indices``."""
        out = []
        for group in self.groups:
            value = sp.Integer(0)
            for axis in group:
                value = value * self.shape[axis] + indices[axis]
            out.append(value)
        return tuple(out)


@dataclass(frozen=True)
class Style:
    """The few tokens in which text and LaTeX output differ."""
    times: str
    minus: str
    iverson: str          # format with {body}
    sum: str              # format with {vars}
    ref: str              # format with {name}, {indices}
    le: str
    divides: str
    frac: str             # format with {num}, {den}; text wraps compound parts in parentheses
    sep: str              # between the factors of a product
    names: dict[str, str]
    rename: Optional[Callable[[str], str]] = None   # every other name, e.g. the matrix printer's latex_name

    def name(self, symbol_name: str) -> str:
        if symbol_name in self.names:
            return self.names[symbol_name]
        if self.rename is not None:
            return self.rename(symbol_name)
        if self is LATEX and symbol_name.startswith("∂L/∂"):
            return rf"\frac{{\partial L}}{{\partial {symbol_name[4:]}}}"
        if self is LATEX:
            base, _, rest = symbol_name.replace("′", "'").partition("_")
            return f"{base}_{{{rest.replace('_', ',')}}}" if rest else base
        return symbol_name


TEXT = Style("·", "−", "[{body}]", "Σ_{{{vars}}} ", "{name}[{indices}]", "≤", "|", "{num}/{den}",
             " · ", {"delta": "δ"})
LATEX = Style(" ", "-", r"\left[{body}\right]", r"\sum_{{{vars}}} ", r"{name}\left[{indices}\right]",
              r"\le", r"\mid", r"\frac{{{num}}}{{{den}}}",
              r" \, ", {"delta": r"\delta"})


def _frac(num: str, den: str, compound_num: bool, compound_den: bool, style: Style) -> str:
    if style is TEXT:
        num, den = (f"({num})" if compound_num else num), (f"({den})" if compound_den else den)
    return style.frac.format(num=num, den=den)


def _product(m: sp.Expr, style: Style) -> str:
    """A product of symbols and numbers, e.g. ``d·i`` or ``C_in/G``."""
    num, den = sp.fraction(m)
    parts = sorted(sp.Mul.make_args(num), key=lambda f: (not f.is_Number, str(f)))
    text = style.times.join(_power(f, style) for f in parts if f != 1) or "1"
    if den == 1:
        return text
    return _frac(text, _product(den, style), False, len(sp.Mul.make_args(den)) > 1, style)


def _power(f: sp.Expr, style: Style) -> str:
    """A symbol, a number, or (in LaTeX) a power of a symbol as ``t_{1}^{3}``, never ``t1**3``."""
    if f.is_Symbol:
        return style.name(str(f))
    if style is not TEXT and f.is_Pow and f.base.is_Symbol and f.exp.is_Number:
        return f"{style.name(str(f.base))}^{{{f.exp}}}"
    return str(f)


def _term(t: sp.Expr, order: list, style: Style) -> str:
    """One monomial: coefficient before the index (``s·x``), or after it when fractional."""
    var = next((v for v in order if t.has(v)), None)
    if var is None:
        return _product(t, style)
    coeff = sp.simplify(t / var)
    var_text = style.name(str(var))
    if coeff == 1:
        return var_text
    if sp.fraction(coeff)[1] != 1:
        return f"{var_text}{style.times}{_product(coeff, style)}"
    return f"{_product(coeff, style)}{style.times}{var_text}"


def index_text(e: sp.Expr, order: list, style: Style = TEXT) -> str:
    """An affine index expression, index terms first in ``order``, negative terms last; a
    denominator common to all terms is factored out (``(h + p − d·i)/s``)."""
    e = sp.expand(sp.sympify(e))
    dens = [sp.fraction(sp.together(t))[1] for t in sp.Add.make_args(e)]
    if all(d.is_Integer for d in dens):          # (h + 1 − 2·i)/2, not h·1/2 + 1/2 − i
        den = functools.reduce(sp.ilcm, (int(d) for d in dens), 1)
        den = sp.Integer(den)
    else:                                        # a symbolic denominator common to all terms: (h + p − d·i)/s
        den = dens[0] if len(set(dens)) == 1 else sp.Integer(1)
    terms = sp.Add.make_args(sp.expand(e * den))
    rank = lambda t: next((k for k, v in enumerate(order) if t.has(v)), len(order))  # noqa: E731
    terms = sorted(terms, key=lambda t: (t.could_extract_minus_sign(), rank(t), str(t)))
    text = ""
    for k, t in enumerate(terms):
        negative = t.could_extract_minus_sign()
        body = _term(-t if negative else t, order, style)
        sign = (f" {style.minus} " if negative else " + ") if k else (style.minus if negative else "")
        text += sign + body
    if den == 1:
        return text or "0"
    return _frac(text, _product(den, style), len(terms) > 1, len(sp.Mul.make_args(den)) > 1, style)


def factor_text(f: Factor, order: list, layouts: dict, style: Style = TEXT) -> str:
    """A tensor element or an Iverson-bracket indicator."""
    ix = lambda e: index_text(e, order, style)  # noqa: E731
    if isinstance(f, Ref):
        layout = layouts.get(f.name)
        indices = layout.fuse(f.indices) if layout else f.indices
        return style.ref.format(name=style.name(f.name), indices=", ".join(ix(e) for e in indices))
    if isinstance(f, Delta):
        body = f"{ix(f.lhs)} = {ix(f.rhs)}"
    elif isinstance(f, InRange):
        body = f"{ix(f.lo)} {style.le} {ix(f.expr)} < {ix(f.hi)}"
    else:
        body = f"{ix(f.divisor)} {style.divides} {ix(f.expr)}"
    return style.iverson.format(body=body)


def term_text(t: Term, order: list, layouts: dict, style: Style = TEXT) -> str:
    """``coeff · Σ_{bound} f₁ · f₂ · …``."""
    order = order + [i.var for i in t.bound]
    body = style.sep.join(factor_text(f, order, layouts, style) for f in t.factors) or "1"
    coeff_value, sign = t.coeff, ""
    if sp.sympify(coeff_value).could_extract_minus_sign():
        coeff_value, sign = -coeff_value, "-"        # -t_{1} and −Σ_{k} t1[k], never -1 t_{1} or Σ_{k} -1·t1[k]
    if coeff_value != 1 and style is not TEXT:
        body = f"{_product(coeff_value, style)}{style.times}{body}"
    elif coeff_value != 1 and style is TEXT:
        coeff = _product(coeff_value, style)
        body = f"({coeff}){style.times}{body}" if "/" in coeff else f"{coeff}{style.times}{body}"
    if t.bound:
        body = style.sum.format(vars=", ".join(style.name(str(i.var)) for i in t.bound)) + body
    return sign + body


def sum_text(expr: IndexSum, layouts: dict | None = None, style: Style = TEXT) -> str:
    """The right-hand side: terms joined by ``+``."""
    order = [i.var for i in expr.free]
    terms = [term_text(t, order, layouts or {}, style) for t in expr.terms]
    if style is TEXT:
        return " + ".join(terms) or "0"
    return "".join((f" - {t[1:]}" if t.startswith("-") else f" + {t}") if k else t
                   for k, t in enumerate(terms)) or "0"


def _factor_sympy(f: Factor, layouts: dict) -> sp.Expr:
    if isinstance(f, Ref):
        layout = layouts.get(f.name)
        return sp.IndexedBase(f.name)[layout.fuse(f.indices) if layout else f.indices]
    if isinstance(f, Delta):
        return sp.KroneckerDelta(f.lhs, f.rhs)
    if isinstance(f, InRange):
        return sp.Piecewise((1, sp.And(f.lo <= f.expr, f.expr < f.hi)), (0, True))
    return sp.Piecewise((1, sp.Eq(sp.Mod(f.expr, f.divisor), 0)), (0, True))


def to_sympy(expr: IndexSum, layouts: dict | None = None) -> sp.Expr:
    """The sum as SymPy ``Sum``/``Indexed``/``KroneckerDelta``/``Piecewise`` objects (unevaluated)."""
    out = []
    for t in expr.terms:
        body = t.coeff * sp.Mul(*(_factor_sympy(f, layouts or {}) for f in t.factors))
        limits = [(i.var, 0, i.extent - 1) for i in t.bound]
        out.append(sp.Sum(body, *limits) if limits else body)
    return sp.Add(*out)
