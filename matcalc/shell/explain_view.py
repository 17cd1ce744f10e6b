"""The true derivation and the dimension-consistency shortcut side by side, with the verdict.

Shared by ``matcalc explain`` and the REPL's ``:explain``.  Given a terminal width, the two columns
are kept side by side when they fit, and otherwise stacked (derivation first), each line wrapped
to the width with a hanging indent; without a width the columns are never wrapped.
"""
from __future__ import annotations

import textwrap
from typing import Callable, Optional

LEFT_TITLE = "TRUE DERIVATION (matrix differentials)"
RIGHT_TITLE = "DIMENSION-CONSISTENCY SHORTCUT"


def columns(r) -> tuple[list[str], list[str]]:
    """The two columns of a :class:`~matcalc.consistency.explain.ShortcutResult`: the outline of the
    true derivation (f, df collected, the result, df restated with it) and the shortcut's steps."""
    from matcalc.present import outline

    left = [LEFT_TITLE] + outline(r.truth)
    right = [RIGHT_TITLE] + [line.strip() for line in str(r).splitlines()[1:-1]]
    return left, right


def verdict_line(r) -> str:
    return f"VERDICT: the shortcut is {r.verdict}: {r.explanation}"


def side_by_side(r, width: Optional[int] = None, style: Callable[[str], str] = str) -> str:
    """The whole view as text; ``style`` is applied to every line (e.g. Unicode maths)."""
    left, right = columns(r)
    left, right = [style(x) for x in left], [style(x) for x in right]
    gap = max(len(line) for line in left) + 3
    if width is None or gap + max(len(line) for line in right) <= width:
        lines = [f"{(left[i] if i < len(left) else ''):<{gap}}{right[i] if i < len(right) else ''}".rstrip()
                 for i in range(max(len(left), len(right)))]
        lines.append(style(verdict_line(r)))
        return "\n".join(_wrap(lines, width) if width else lines)
    return "\n".join(_wrap(left + [""] + right + [style(verdict_line(r))], width))


def _wrap(lines: list[str], width: int) -> list[str]:
    out: list[str] = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
        else:
            indent = len(line) - len(line.lstrip())
            out.extend(textwrap.wrap(line, width, subsequent_indent=" " * (indent + 4),
                                     break_long_words=True, break_on_hyphens=False))
    return out
