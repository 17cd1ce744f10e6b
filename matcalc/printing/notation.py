"""The notation the LaTeX and MathML printers share, decided once: which ops are set as a
superscript on their operand, and how each function is named.

The two printers write the same mathematics in different markup.  Their per-op tables had the
same rows twice (Xᵀ, Xᵏ, X^{∘k}, X⁻¹; exp, log, …, tr, det, softmax); here each row is stated
once, and each printer registers its rules from these tables with its own markup.
"""
from __future__ import annotations

from typing import Callable

from matcalc.printing.text import POSTFIX

#: ops set as their operand with a superscript: Xᵀ, Xᵏ, X^{∘k}, X⁻¹
SUPERSCRIPTS = ("transpose", "pow", "epow", "inv")

#: functions named by a word, as op → (the word, whether TeX has a command for it: ``\exp``, else
#: ``\operatorname{…}``); sigmoid (σ) and logdet (log det) have their own markup
FUNCTIONS = {
    "exp": ("exp", True), "log": ("log", True), "sin": ("sin", True), "cos": ("cos", True),
    "tan": ("tan", True), "tanh": ("tanh", True), "arcsin": ("arcsin", True), "arccos": ("arccos", True),
    "arctan": ("arctan", True), "sign": ("sign", False), "relu": ("relu", False),
    "softplus": ("softplus", False), "step": ("step", False), "sum": ("sum", False), "tr": ("tr", False),
    "det": ("det", True), "diag": ("diag", False), "softmax": ("softmax", False),
    "logsumexp": ("logsumexp", False), "vec": ("vec", False),
}

#: the functions with a markup of their own (a symbol, or two words)
SYMBOLIC_FUNCTIONS = ("sigmoid", "logdet")


def register_superscripts(printer: Callable, write: Callable, superscript: dict) -> None:
    """One rule per op of :data:`SUPERSCRIPTS`: ``write(node, kids, superscript[op](kids))``, the
    operand with its superscript, binding as a postfix."""
    assert set(superscript) == set(SUPERSCRIPTS), set(superscript) ^ set(SUPERSCRIPTS)
    for op, sup in superscript.items():
        printer(op)(_superscripted(write, sup))


def _superscripted(write: Callable, sup: Callable) -> Callable:
    def superscript_rule(node, kids):
        return write(node, kids, sup(kids)), POSTFIX
    return superscript_rule


def register_functions(printer: Callable, rule: Callable, name: Callable, special: dict) -> None:
    """One rule per function: ``rule(markup)`` applies a function's name to its argument; the
    name of each of :data:`FUNCTIONS` is ``name(word, tex_has_it)``, and ``special`` gives those of
    :data:`SYMBOLIC_FUNCTIONS`."""
    assert set(special) == set(SYMBOLIC_FUNCTIONS), set(special) ^ set(SYMBOLIC_FUNCTIONS)
    for op, (word, tex) in FUNCTIONS.items():
        printer(op)(rule(name(word, tex)))
    for op, markup in special.items():
        printer(op)(rule(markup))
