"""The document model of a report: what the engine computed, before any format is chosen.

A report is a list of blocks (headings, paragraphs, tables, numbered steps, formulas); inline
content is plain text, code, or :class:`Math`.  Math holds IR nodes (or index sums) and symbols
with their spelling in each format, so every writer prints the engine's own expressions with its
own printer (MathML for HTML, LaTeX for Markdown and TeX), and escapes everything else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, Optional, Union


@dataclass(frozen=True)
class Sym:
    """A piece of notation with its spelling in text, LaTeX and MathML (already escaped)."""
    text: str
    latex: str
    mathml: str


@dataclass(frozen=True)
class IndexMath:
    """An index sum (conv): Unicode text and LaTeX from :mod:`matcalc.indexsum.printing`."""
    text: str
    latex: str


@dataclass(frozen=True)
class Math:
    """A formula: a sequence of IR nodes, :class:`Sym` s and :class:`IndexMath` s."""
    parts: tuple
    display: bool = False
    differentials: frozenset = frozenset()    # variable names that are directions (dX): print as d X


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Strong:
    text: str


Inline = Union[str, Math, Code, Strong]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    items: tuple


@dataclass(frozen=True)
class Alert:
    """A paragraph that must be seen: a failed verification."""
    items: tuple


@dataclass(frozen=True)
class Table:
    header: tuple
    rows: tuple          # tuples of cells; a cell is a tuple of inline items


@dataclass(frozen=True)
class CodeBlock:
    text: str


@dataclass(frozen=True)
class StepItem:
    """One numbered step: the formula it produced, the rule, its identity, and its verdict."""
    number: int
    stage: str
    formula: Math
    rule_name: str
    rule_title: str
    identity: Optional[Math]
    cite: str
    ok: bool
    error: Optional[float]
    note: str = ""
    detail: Optional[Math] = None       # the subterm rewrite inside a whole expression
    identity_text: str = ""             # the identity as matcalc text, where it does not typeset
    where: tuple = ()                   # definitions t1 = … of subexpressions the formula shares
    detail_word: str = "rewriting"      # how the detail reads: a rewrite, or what a step decided


@dataclass(frozen=True)
class Steps:
    title: str
    items: tuple


@dataclass
class Document:
    title: str
    blocks: list = field(default_factory=list)
    failures: list = field(default_factory=list)   # step descriptions that failed verification
    source: Any = None

    def add(self, *blocks) -> None:
        self.blocks.extend(blocks)


# ------------------------------------------------------------------ notation used by the builders

EQ = Sym("=", "=", "<mo>=</mo>")
ARROW = Sym("→", r"\rightarrow", "<mo>→</mo>")
SPACE = Sym(" ", r"\quad", '<mspace width="1em"></mspace>')


def ident(name: str) -> Sym:
    """A name from the input, as an identifier in every format."""
    from matcalc.printing.latex import latex_name
    from matcalc.printing.mathml import mathml_name
    return Sym(name, latex_name(name), mathml_name(name))


def word(text: str) -> Sym:
    """Upright words inside a formula (``df``, ``vec``)."""
    from matcalc.reports.latex import latex_text
    variant = ' mathvariant="normal"' if len(text) == 1 else ""
    return Sym(text, rf"\mathrm{{{latex_text(text)}}}", f"<mi{variant}>{escape(text)}</mi>")


def differential_of(name: str, order: int = 1) -> Sym:
    """d f, d²f."""
    from matcalc.printing.latex import latex_name
    from matcalc.printing.mathml import mathml_name
    sup_t = "" if order == 1 else _superscript(order)
    sup_l = "" if order == 1 else f"^{{{order}}}"
    d = '<mi mathvariant="normal">d</mi>'
    sup_m = f"<msup>{d}<mn>{order}</mn></msup>" if order > 1 else d
    return Sym(f"d{sup_t}{name}", rf"\mathrm{{d}}{sup_l}{latex_name(name)}",
               f"<mrow>{sup_m}{mathml_name(name)}</mrow>")


def partial(f: str, x: str, order: int = 1, vec: bool = False) -> Sym:
    """∂f/∂X (∂²f/∂x², ∂vec(f)/∂vec(X)) as a fraction."""
    from matcalc.printing.latex import latex_name
    from matcalc.printing.mathml import mathml_name
    wrap_t = (lambda s: f"vec({s})") if vec else (lambda s: s)
    wrap_l = (lambda s: rf"\operatorname{{vec}}({s})") if vec else (lambda s: s)
    wrap_m = (lambda s: f'<mrow><mi>vec</mi><mo>&#x2061;</mo><mo stretchy="false">(</mo>{s}<mo stretchy="false">)</mo></mrow>') \
        if vec else (lambda s: s)
    if order == 1:
        text = f"∂{wrap_t(f)}/∂{wrap_t(x)}"
        latex = rf"\frac{{\partial {wrap_l(latex_name(f))}}}{{\partial {wrap_l(latex_name(x))}}}"
        mathml = (f"<mfrac><mrow><mo>∂</mo>{wrap_m(mathml_name(f))}</mrow>"
                  f"<mrow><mo>∂</mo>{wrap_m(mathml_name(x))}</mrow></mfrac>")
    else:
        text = f"∂{_superscript(order)}{f}/∂{x}{_superscript(order)}"
        latex = rf"\frac{{\partial^{{{order}}} {latex_name(f)}}}{{\partial {latex_name(x)}^{{{order}}}}}"
        mathml = (f"<mfrac><mrow><msup><mo>∂</mo><mn>{order}</mn></msup>{mathml_name(f)}</mrow>"
                  f"<mrow><mo>∂</mo><msup>{mathml_name(x)}<mn>{order}</mn></msup></mrow></mfrac>")
    return Sym(text, latex, mathml)


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
