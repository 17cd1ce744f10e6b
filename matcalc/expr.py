"""The public face of an expression: its IR plus shape, types, values and printed forms."""
from __future__ import annotations

from typing import Mapping

from matcalc.ir.nodes import Node, variables as ir_variables
from matcalc.front.program import Decls, parse_node
from matcalc.front.spans import SourceMap
from matcalc.ir.types import type_of_var
from matcalc.printing.latex import to_latex
from matcalc.printing.text import to_text


def user_shape(shape: tuple) -> tuple:
    """NumPy-style shape: ``()`` for a scalar, ``(n,)`` for a vector, ``(m, n)`` otherwise."""
    if shape == (1, 1):
        return ()
    if shape[1] == 1:
        return (shape[0],)
    return tuple(shape)


class Expr:
    """A parsed, typed expression.  ``==`` compares structure (with shapes and kinds)."""

    __slots__ = ("node", "_inferred", "spans")

    def __init__(self, node: Node, inferred: Mapping[str, str] | None = None, spans: SourceMap | None = None):
        if not isinstance(node, Node):
            raise TypeError("Expr wraps an IR node; use matcalc.parse(text) for text")
        self.node = node
        self._inferred = dict(inferred or {})
        self.spans = spans  # where its subexpressions stand in the text it was parsed from (None if built)

    @property
    def inferred(self) -> dict[str, str]:
        """How each undeclared variable was typed, e.g. ``{"b": "vector: meets A*x in '-'"}``
        (empty for an expression built from IR, and for declared variables)."""
        names = ir_variables(self.node)
        return {n: r for n, r in self._inferred.items() if n in names}

    @property
    def shape(self) -> tuple:
        return user_shape(self.node.shape)

    @property
    def variables(self) -> dict[str, str]:
        """Each variable's type, declared or inferred, e.g. ``{"X": "matrix(m,n)"}``."""
        return {name: str(type_of_var(v)) for name, v in ir_variables(self.node).items()}

    def evaluate(self, values: Mapping[str, object]):
        """The value with NumPy: a float, a 1-D array for a vector, a 2-D array for a matrix."""
        from matcalc.errors import EvaluationError
        from matcalc.numeric.evaluate import evaluate
        try:
            return evaluate(self.node, values)
        except EvaluationError as e:
            raise self.locate(e) from None

    def locate(self, err, built: bool = False):
        """``err`` (an error raised evaluating this expression, or one the engine ``built`` from it)
        with a caret at the subexpression it names, when this expression was parsed from text."""
        return self.spans.locate(err, built) if self.spans is not None else err

    def latex(self) -> str:
        return to_latex(self.node, shared=True)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def __str__(self) -> str:
        return to_text(self.node)

    def __repr__(self) -> str:
        return f"matcalc.parse({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and self.node == other.node

    def __hash__(self) -> int:
        return hash(self.node)


def parse(text: str, decls: Decls = None) -> Expr:
    """Parse ``text`` (declarations and definitions may precede the expression).

    ``decls`` maps names to types (``"matrix(m,n)"``) or is a text of declarations.
    """
    node, program = parse_node(text, decls)
    return Expr(node, program.inferred, program.spans)
