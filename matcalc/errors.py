"""The one error hierarchy every bad input ends in.

Each error can carry the source text and a span inside it; its message then shows the line,
the column and a caret under the offending spot, so a user sees *where* as well as *what*.
"""
from __future__ import annotations


class MatcalcError(Exception):
    """Base of all errors matcalc raises on purpose.

    ``message`` says what went wrong and what was expected; ``source`` is the text it happened
    in and ``span`` the (start, end) character offsets of the culprit inside it.
    """

    def __init__(self, message: str, source: str | None = None, span: tuple[int, int] | None = None):
        self.message = message
        self.source = source
        self.span = span
        super().__init__(self.__str__())

    @property
    def line(self) -> int | None:
        if self.source is None or self.span is None:
            return None
        return self.source.count("\n", 0, self.span[0]) + 1

    @property
    def column(self) -> int | None:
        if self.source is None or self.span is None:
            return None
        return self.span[0] - (self.source.rfind("\n", 0, self.span[0]) + 1) + 1

    def caret(self) -> str:
        """The offending source line with ``^`` marks under the span ('' when unknown)."""
        if self.source is None or self.span is None:
            return ""
        start, end = self.span
        line_start = self.source.rfind("\n", 0, start) + 1
        line_end = self.source.find("\n", start)
        if line_end < 0:
            line_end = len(self.source)
        text = self.source[line_start:line_end]
        width = max(1, min(end, line_end) - start)
        return f"{text}\n{' ' * (start - line_start)}{'^' * width}"

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.message} (line {self.line}, column {self.column})\n{self.caret()}"

    def _render_traceback_(self) -> list:
        """IPython shows the caret message instead of a traceback."""
        from matcalc.reports.jupyter import render_traceback
        return render_traceback(self)

    def with_source(self, source: str, span: tuple[int, int] | None) -> "MatcalcError":
        """Attach a location if this error has none yet; returns self for ``raise ... from``."""
        if self.source is None and span is not None:
            self.source, self.span = source, span
            self.args = (self.__str__(),)
        return self


class ParseError(MatcalcError):
    """The text is not in the matcalc language."""


class ShapeError(MatcalcError):
    """Operand shapes do not fit together (or contradict a declaration)."""


class UnsupportedError(MatcalcError):
    """A construct matcalc understands but cannot (yet) handle for this operation."""


class EvaluationError(MatcalcError):
    """Values given for evaluation are missing, of the wrong rank, or of inconsistent sizes, or an
    expression is undefined at them; ``node`` is the IR subexpression it was raised at (None when
    it concerns the values as a whole), which a parsed expression turns into a caret."""

    node = None


#: The highest order of derivative matcalc computes (the CLI, the REPL and the API share it).
ORDER_MAX = 6


def checked_order(order: object) -> int:
    """``order`` as an int in 1 … ORDER_MAX, else a :class:`MatcalcError` saying the bound.

    A bool is not an order (``True`` would silently be 1); a NumPy integer is accepted."""
    import numbers
    if isinstance(order, bool) or not isinstance(order, numbers.Integral):
        raise MatcalcError(f"order must be an integer 1 … {ORDER_MAX}, not {order!r}")
    k = int(order)
    if not 1 <= k <= ORDER_MAX:
        raise MatcalcError(f"order must be 1 … {ORDER_MAX} (1 the gradient or Jacobian, 2 the Hessian, …), "
                           f"not {k}")
    return k
