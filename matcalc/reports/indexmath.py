"""MathML for index sums (conv), from the text that :mod:`matcalc.indexsum.printing` writes.

That text is the index-sum IR printed by its own printer (names, affine index expressions,
Iverson brackets, ``Σ_{…}``), a small fixed vocabulary, so it is tokenised here rather than
printed a second time: ``Σ_{o, i}`` becomes a sum with the indices below it, ``∂L/∂V`` a
fraction, ``C_out`` an identifier with a subscript, numbers numbers, and every bracket a
non-stretchy operator.  Everything is escaped.
"""
from __future__ import annotations

import re
from html import escape

_TOKEN = re.compile(r"(?P<sum>Σ_\{(?P<vars>[^}]*)\})|(?P<frac>∂(?P<num>\w+)/∂(?P<den>\w+))|(?P<number>\d+)"
                    r"|(?P<name>[^\W\d][\w′']*)|(?P<space>\s+)|(?P<other>.)")


def _name(name: str) -> str:
    base, _, sub = name.partition("_")
    ident = f"<mi>{escape(base)}</mi>"
    if not sub:
        return ident
    return f"<msub>{ident}<mrow><mi>{escape(sub.replace('_', ','))}</mi></mrow></msub>"


def index_mathml(text: str) -> str:
    """The index-sum text ``text`` as MathML presentation markup (no ``<math>`` element)."""
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "sum":
            subs = "<mo>,</mo>".join(_name(v.strip()) for v in m.group("vars").split(","))
            out.append(f'<munder><mo largeop="true" movablelimits="false">∑</mo><mrow>{subs}</mrow></munder>')
        elif kind == "frac":
            out.append(f"<mfrac><mrow><mo>∂</mo>{_name(m.group('num'))}</mrow>"
                       f"<mrow><mo>∂</mo>{_name(m.group('den'))}</mrow></mfrac>")
        elif kind == "number":
            out.append(f"<mn>{m.group()}</mn>")
        elif kind == "name":
            out.append(_name(m.group()))
        elif kind == "other":
            ch = m.group()
            stretchy = ' stretchy="false"' if ch in "[]()" else ""
            out.append(f"<mo{stretchy}>{escape(ch)}</mo>")
    return "<mrow>" + "".join(out) + "</mrow>"
