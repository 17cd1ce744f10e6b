"""Where each parsed IR node stands in the source text: a side table, so that an error raised
while *evaluating* an expression (log of a negative number, a singular inverse) gets the caret a
parse error has, although IR nodes carry no spans (they are frozen, shared and compared by
structure, so a span inside them would make two equal subexpressions unequal).

The front end fills a :class:`SourceMap` as it builds the IR; :class:`~matcalc.expr.Expr` keeps
it, and :meth:`SourceMap.locate` points an :class:`~matcalc.errors.EvaluationError` at its node:
the very node parsed, else a parsed node equal to it (a derivative reuses f's subexpressions),
else, for a node the engine built (a derivative's ``inv(X)'``), the largest parsed subexpression
inside it, saying so; with none, the message says the expression was built by the engine and
no caret is drawn.
"""
from __future__ import annotations

from typing import Iterable, Optional

from matcalc.errors import MatcalcError
from matcalc.ir.nodes import Node, Var


class SourceMap:
    """``source`` and, per parsed node (by identity, the node kept alive with it), its span."""

    __slots__ = ("source", "_by_id", "_by_value")

    def __init__(self, source: str, pairs: Iterable[tuple[Node, tuple]] = ()):
        self.source = source
        self._by_id: dict[int, tuple[Node, tuple]] = {}
        self._by_value: Optional[dict] = None  # built on first need (the error path only)
        for node, span in pairs:
            self._by_id.setdefault(id(node), (node, span))

    def __len__(self) -> int:
        return len(self._by_id)

    def span_of(self, node: Node) -> Optional[tuple]:
        """The span of ``node`` itself, or of the first-parsed node equal to it (None if none)."""
        hit = self._by_id.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        if not node.children() and not isinstance(node, Var):
            return None  # a number or constant equal to one in the text is no sign it came from there
        if self._by_value is None:
            self._by_value = {}
            for parsed, span in self._by_id.values():
                self._by_value.setdefault(parsed, span)
        return self._by_value.get(node)

    def nearest(self, node: Node) -> Optional[tuple[Node, tuple]]:
        """The largest parsed subexpression of ``node`` (breadth first: nearest the top) and its span."""
        level, seen = [node], set()
        while level:
            following = []
            for n in level:
                if id(n) in seen:
                    continue
                seen.add(id(n))
                span = self.span_of(n)
                if span is not None:
                    return n, span
                following.extend(n.children())
            level = following
        return None

    def locate(self, err: MatcalcError, built: bool = False) -> MatcalcError:
        """``err`` pointed at its node's place in the source (the error itself, for ``raise``).

        ``built``: the expression evaluated is not the parsed one but one the engine built from it
        (a derivative), so a node found only by a subexpression is said to come from it."""
        node = getattr(err, "node", None)
        if err.source is not None or node is None:
            return err
        span = self.span_of(node)
        if span is not None:
            return err.with_source(self.source, balanced_span(self.source, span))
        from matcalc.printing.text import to_text
        found = self.nearest(node)
        where = "the derivative" if built else "an expression the engine built"
        if found is None:
            _reword(err, f"{err.message} (in {where}: {to_text(node)} has no place in the source text)")
            return err
        part, span = found
        _reword(err, f"{err.message} (in {where}: {to_text(node)} was built from {to_text(part)}, marked)")
        return err.with_source(self.source, balanced_span(self.source, span))


def balanced_span(text: str, span: tuple) -> tuple:
    """``span`` widened over the parentheses the syntax tree leaves out: the span of ``(x + y)*2``
    starts at ``x``, that of ``2*(x + y)`` ends at ``y``.  Widens while the piece has unmatched
    brackets and the neighbouring character (past blanks) is the missing one."""
    start, end = span
    depth = text.count("(", start, end) - text.count(")", start, end)
    while depth > 0:
        j = end
        while j < len(text) and text[j] in " \t\f\r\n":
            j += 1
        if j >= len(text) or text[j] != ")":
            break
        end, depth = j + 1, depth - 1
    while depth < 0:
        j = start - 1
        while j >= 0 and text[j] in " \t\f\r\n":
            j -= 1
        if j < 0 or text[j] != "(":
            break
        start, depth = j, depth + 1
    return start, end


def _reword(err: MatcalcError, message: str) -> None:
    err.message = message
    err.args = (str(err),)
