"""Standard mathematical notation in LaTeX: Xᵀ as X^{\\top}, X⁻¹, ⊙, ‖x‖₂, tr, det, σ, …"""
from __future__ import annotations

import re
import unicodedata

from matcalc.ir.nodes import ALL_OPS, Node, fold, op_of
from matcalc.ir.shapes import is_vector
from matcalc.printing.text import ATOM, POSTFIX, PRODUCT, SUM, UNARY, _number
from matcalc.tables import registrar

LATEX_RULES: dict = {}


printer = registrar(LATEX_RULES)


def _p(kid, level: int) -> str:
    text, prec = kid
    return text if prec >= level else rf"\left({text}\right)"


_GREEK = {unicodedata.lookup(f"GREEK SMALL LETTER {n}"): "\\" + n.lower() for n in (
    "ALPHA BETA GAMMA DELTA EPSILON ZETA ETA THETA IOTA KAPPA LAMDA MU NU XI PI RHO SIGMA TAU "
    "UPSILON PHI CHI PSI OMEGA").split()}
_GREEK["λ"] = r"\lambda"
_GREEK.update({unicodedata.lookup(f"GREEK CAPITAL LETTER {n}"): "\\" + n.capitalize() for n in (
    "GAMMA DELTA THETA LAMDA XI PI SIGMA UPSILON PHI PSI OMEGA").split()})
_GREEK["Λ"] = r"\Lambda"


def latex_name(name: str) -> str:
    """``x_0`` → ``x_{0}``, ``W1`` → ``W_{1}``, ``ω`` → ``\\omega``, ``loss`` → ``\\mathit{loss}``."""
    base, _, sub = name.partition("_")
    if not sub:
        m = re.fullmatch(r"(\D+?)(\d+)", name)
        if m:
            base, sub = m.groups()
    base = "".join(_GREEK.get(c, c) + (" " if c in _GREEK else "") for c in base).strip()
    if len(base) > 1 and not base.startswith("\\"):
        base = rf"\mathit{{{base}}}"
    return f"{base}_{{{sub}}}" if sub else base


@printer("var")
def latex_var(node, kids):
    return latex_name(node.name), ATOM


@printer("num")
def latex_num(node, kids):
    text = _number(node.value)
    if "e" in text:
        mant, _, ex = text.partition("e")
        text = rf"{mant} \cdot 10^{{{int(ex)}}}"
    return text, (UNARY if node.value < 0 else ATOM)


@printer("eye")
def latex_eye(node, kids):
    return "I", ATOM


@printer("fill")
def latex_fill(node, kids):
    v = node.value
    if v == 0:
        return r"\mathbf{0}", ATOM
    one = r"\mathbf{1}"
    return (one, ATOM) if v == 1 else (rf"{_number(v)}{one}", PRODUCT)


def _infix(symbol: str, prec: int):
    def latex_infix(node, kids):
        a, b = kids
        return f"{_p(a, prec)}{symbol}{_p(b, prec + 1)}", prec
    return latex_infix


printer("add")(_infix(" + ", SUM))
printer("sub")(_infix(" - ", SUM))
printer("hadamard")(_infix(r" \odot ", PRODUCT))
printer("ediv")(_infix(r" \oslash ", PRODUCT))


@printer("mul")
def latex_mul(node, kids):
    """Juxtaposition, with a \\cdot where a number would run into the next factor."""
    a, b = kids
    left, right = _p(a, PRODUCT), _p(b, UNARY)
    sep = r" \cdot " if (right[:1].isdigit() or right.startswith("-")) else " "
    return f"{left}{sep}{right}", PRODUCT


@printer("div")
def latex_div(node, kids):
    return rf"\frac{{{kids[0][0]}}}{{{kids[1][0]}}}", ATOM


@printer("neg")
def latex_neg(node, kids):
    inner = _p(kids[0], UNARY)
    return "-" + (rf"\left({inner}\right)" if inner.startswith("-") else inner), UNARY


def _base(kid) -> str:
    return kid[0] if kid[1] == ATOM else rf"\left({kid[0]}\right)"


@printer("transpose")
def latex_transpose(node, kids):
    return f"{_base(kids[0])}^{{\\top}}", POSTFIX


@printer("pow")
def latex_pow(node, kids):
    return f"{_base(kids[0])}^{{{kids[1][0]}}}", POSTFIX


@printer("epow")
def latex_epow(node, kids):
    return f"{_base(kids[0])}^{{\\circ {kids[1][0]}}}", POSTFIX


@printer("inv")
def latex_inv(node, kids):
    return f"{_base(kids[0])}^{{-1}}", POSTFIX


def _function(command: str):
    def latex_function(node, kids):
        return rf"{command}\left({kids[0][0]}\right)", ATOM
    return latex_function


for _op, _cmd in {
    "exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "tanh": r"\tanh",
    "arcsin": r"\arcsin", "arccos": r"\arccos", "arctan": r"\arctan", "sign": r"\operatorname{sign}",
    "relu": r"\operatorname{relu}", "sigmoid": r"\sigma", "softplus": r"\operatorname{softplus}",
    "step": r"\operatorname{step}", "sum": r"\operatorname{sum}", "tr": r"\operatorname{tr}",
    "det": r"\det", "logdet": r"\log\det", "diag": r"\operatorname{diag}",
    "softmax": r"\operatorname{softmax}", "logsumexp": r"\operatorname{logsumexp}", "vec": r"\operatorname{vec}",
}.items():
    printer(_op)(_function(_cmd))


@printer("sqrt")
def latex_sqrt(node, kids):
    return rf"\sqrt{{{kids[0][0]}}}", ATOM


@printer("abs")
def latex_abs(node, kids):
    return rf"\left\lvert {kids[0][0]} \right\rvert", ATOM


@printer("norm1", "norm2")
def latex_norm(node, kids):
    """‖x‖₁, ‖x‖₂, and ‖X‖_F for the Frobenius norm of a matrix."""
    arg = node.args[0].shape
    sub = "1" if node.op == "norm1" else ("2" if is_vector(arg) or 1 in arg else "F")
    return rf"\left\lVert {kids[0][0]} \right\rVert_{{{sub}}}", ATOM


@printer("kron")
def latex_kron(node, kids):
    a, b = kids
    return rf"{_p(a, POSTFIX)} \otimes {_p(b, POSTFIX)}", PRODUCT


assert set(LATEX_RULES) == set(ALL_OPS), set(ALL_OPS) ^ set(LATEX_RULES)


def to_latex(root: Node) -> str:
    """The expression in LaTeX (math mode, without the surrounding ``$``)."""
    return fold(root, lambda node, kids: LATEX_RULES[op_of(node)](node, kids))[0]
