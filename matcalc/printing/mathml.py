"""MathML Core of matcalc's own IR, for reports that need no script and no network.

Written from the IR rather than converted from LaTeX: a converter makes every parenthesis
stretchy (Chromium then leaves a gap inside them), spaces ``tr`` as an operator, gives unary
minus binary spacing and loses the bold of **1**.  Here parentheses are non-stretchy unless they
wrap a fraction, function names are identifiers followed by an invisible function application,
unary minus is a prefix operator, and 𝟏/𝟎 are the mathematical bold digits.

Each rule gets the node and its children's ``(markup, precedence)`` pairs and returns its own;
the precedences are those of the text and LaTeX printers.  Names from the input are escaped.
"""
from __future__ import annotations

import re
from html import escape

from matcalc.ir.nodes import ALL_OPS, Node, fold, op_of
from matcalc.ir.shapes import is_vector, narrowed
from matcalc.printing.notation import FUNCTIONS, SYMBOLIC_FUNCTIONS, register_functions, register_superscripts
from matcalc.printing.text import ATOM, POSTFIX, PRODUCT, SUM, UNARY, _number
from matcalc.tables import registrar

MATHML_RULES: dict = {}

printer = registrar(MATHML_RULES)

APPLY = "<mo>&#x2061;</mo>"       # invisible function application
TIMES = "<mo>&#x2062;</mo>"       # invisible times
THIN = '<mspace width="0.1667em"></mspace>'


def mo(symbol: str, **attrs) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f"<mo{extra}>{symbol}</mo>"


def fenced(inner: str, left: str = "(", right: str = ")") -> str:
    """``inner`` between fences that stretch only around a fraction (Chromium's gap bug)."""
    stretchy = "true" if "<mfrac>" in inner else "false"
    return f'<mrow>{mo(left, stretchy=stretchy)}{inner}{mo(right, stretchy=stretchy)}</mrow>'


def _p(kid, level: int) -> str:
    markup, prec = kid
    return markup if prec >= level else fenced(markup)


def mathml_name(name: str) -> str:
    """``x_0`` → x with subscript 0, ``W1`` → W₁, ``loss`` → an italic multi-letter identifier."""
    base, _, sub = name.partition("_")
    if not sub:
        m = re.fullmatch(r"(\D+?)(\d+)", name)
        if m:
            base, sub = m.groups()
    cls = ' class="mc-word"' if len(base) > 1 else ""
    ident = f"<mi{cls}>{escape(base)}</mi>"
    if not sub:
        return ident
    tag = "mn" if sub.isdigit() else "mi"
    return f"<msub>{ident}<{tag}>{escape(sub)}</{tag}></msub>"


def math(inner: str, display: bool = False) -> str:
    """A complete ``<math>`` element around ``inner``."""
    attrs = ' display="block"' if display else ""
    return f"<math{attrs}>{inner}</math>"


@printer("var")
def mathml_var(node, kids):
    return mathml_name(node.name), ATOM


def _mn(text: str) -> str:
    if "e" in text:
        mant, _, ex = text.partition("e")
        return f"<mrow><mn>{mant}</mn><mo>·</mo><msup><mn>10</mn><mn>{int(ex)}</mn></msup></mrow>"
    return f"<mn>{text}</mn>"


@printer("num")
def mathml_num(node, kids):
    text = _number(node.value)
    if node.value < 0:
        return f"<mrow>{mo('−', form='prefix')}{_mn(text[1:])}</mrow>", UNARY
    return _mn(text), ATOM


@printer("eye")
def mathml_eye(node, kids):
    return "<mi>I</mi>", ATOM


@printer("fill")
def mathml_fill(node, kids):
    """𝟎 and 𝟏 (mathematical bold digits: Chromium ignores mathvariant="bold"), c·𝟏 otherwise."""
    v = node.value
    if v == 0:
        return "<mn>𝟎</mn>", ATOM
    if v == 1:
        return "<mn>𝟏</mn>", ATOM
    return f"<mrow>{MATHML_RULES['num'](_Num(v), ())[0]}{TIMES}<mn>𝟏</mn></mrow>", PRODUCT


class _Num:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _infix(symbol: str, prec: int):
    def mathml_infix(node, kids):
        a, b = kids
        return f"<mrow>{_p(a, prec)}{mo(symbol)}{_p(b, prec + 1)}</mrow>", prec
    return mathml_infix


printer("add")(_infix("+", SUM))
printer("sub")(_infix("−", SUM))
printer("hadamard")(_infix("⊙", PRODUCT))
printer("ediv")(_infix("⊘", PRODUCT))


_NUMERIC_STARTS = ("<mn>", "<mrow><mn>", "<msup><mn>", '<mrow><mo form="prefix">')


@printer("mul", "scale")
def mathml_mul(node, kids):
    """Juxtaposition (invisible times), with a · where a number would run into the next factor."""
    a, b = kids
    left, right = _p(a, PRODUCT), _p(b, UNARY)
    sep = mo("·") if right.startswith(_NUMERIC_STARTS) else TIMES
    if op_of(node.args[1]) in _NAMED_FUNCTIONS and kids[1][1] == ATOM:
        sep += THIN                     # c tr(A), as LaTeX spaces an operator name
    return f"<mrow>{left}{sep}{right}</mrow>", PRODUCT


@printer("div")
def mathml_div(node, kids):
    return f"<mfrac>{_row(kids[0][0])}{_row(kids[1][0])}</mfrac>", ATOM


def _row(markup: str) -> str:
    return markup if markup.startswith("<mrow>") else f"<mrow>{markup}</mrow>"


@printer("neg")
def mathml_neg(node, kids):
    inner = _p(kids[0], UNARY)
    if kids[0][1] == UNARY:
        inner = fenced(kids[0][0])
    return f"<mrow>{mo('−', form='prefix')}{inner}</mrow>", UNARY


def _base(kid) -> str:
    return kid[0] if kid[1] == ATOM else fenced(kid[0])


# Xᵀ, Xᵏ, X^{∘k}, X⁻¹ (the ops of matcalc.printing.notation.SUPERSCRIPTS)
register_superscripts(printer, lambda node, kids, sup: f"<msup>{_base(kids[0])}{sup}</msup>", {
    "transpose": lambda kids: '<mi mathvariant="normal">⊤</mi>',
    "pow": lambda kids: _row(kids[1][0]),
    "epow": lambda kids: f"<mrow>{mo('∘')}{kids[1][0]}</mrow>",
    "inv": lambda kids: f"<mrow>{mo('−', form='prefix')}<mn>1</mn></mrow>",
})


def _function(name: str):
    def mathml_function(node, kids):
        return f"<mrow>{name}{APPLY}{fenced(kids[0][0])}</mrow>", ATOM
    return mathml_function


register_functions(printer, _function, lambda word, tex: f"<mi>{word}</mi>",
                   {"sigmoid": "<mi>σ</mi>", "logdet": f"<mrow><mi>log</mi>{THIN}<mi>det</mi></mrow>"})
_NAMED_FUNCTIONS = set(FUNCTIONS) | set(SYMBOLIC_FUNCTIONS)


@printer("sqrt")
def mathml_sqrt(node, kids):
    return f"<msqrt>{kids[0][0]}</msqrt>", ATOM


@printer("abs")
def mathml_abs(node, kids):
    return fenced(kids[0][0], "|", "|"), ATOM


@printer("norm1", "norm2")
def mathml_norm(node, kids):
    """‖x‖₁, ‖x‖₂, and ‖X‖_F for the Frobenius norm of a matrix."""
    arg = node.args[0].shape
    sub = "<mn>1</mn>" if node.op == "norm1" else ("<mn>2</mn>" if is_vector(arg) or 1 in arg else "<mi>F</mi>")
    return f"<msub>{fenced(kids[0][0], '‖', '‖')}{sub}</msub>", ATOM


@printer("kron")
def mathml_kron(node, kids):
    a, b = kids
    return f"<mrow>{_p(a, POSTFIX)}{mo('⊗')}{_p(b, POSTFIX)}</mrow>", PRODUCT


assert set(MATHML_RULES) == set(ALL_OPS), set(ALL_OPS) ^ set(MATHML_RULES)


def differential_name(name: str) -> str:
    """A direction ``dX`` as an upright d before the variable's own name."""
    return f'<mrow><mi mathvariant="normal">d</mi>{mathml_name(name[1:])}</mrow>'


def to_mathml(root: Node, differentials: frozenset = frozenset()) -> str:
    """The expression as MathML Core presentation markup (without the ``<math>`` element);
    variables named in ``differentials`` (directions such as ``dX``) print as d X."""
    def visit(node, kids):
        if differentials and op_of(node) == "var" and node.name in differentials:
            return differential_name(node.name), ATOM
        return MATHML_RULES[op_of(node)](node, kids)
    return fold(narrowed(root), visit)[0]
