"""Declared types: a kind (scalar, vector, matrix, symmetric) and its dimensions.

This module knows no grammar, so evaluation and printing can word a type without loading the
parser (lark).  ``parse_type`` reads the small type language (``matrix(m, n)``) by hand.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from matcalc.errors import ParseError
from matcalc.ir.nodes import SCALAR, Var

#: How many dimensions each kind takes.
ARITY = {"scalar": 0, "vector": 1, "matrix": 2, "symmetric": 1}

TYPE_WORDS = "scalar, vector(n), matrix(m,n) or symmetric(n)"


@dataclass(frozen=True)
class Type:
    """A declared type: kind plus dimensions (``()`` for a scalar)."""

    kind: str
    dims: tuple

    def __str__(self) -> str:
        return self.kind if self.kind == "scalar" else f"{self.kind}({','.join(map(str, self.dims))})"

    def shape(self) -> tuple:
        if self.kind == "scalar":
            return SCALAR
        if self.kind == "vector":
            return (self.dims[0], 1)
        if self.kind == "symmetric":
            return (self.dims[0], self.dims[0])
        return tuple(self.dims)


def type_of_var(var: Var) -> Type:
    """The declared-type form of an IR variable."""
    dims = {"scalar": (), "vector": var.shape[:1], "symmetric": var.shape[:1], "matrix": var.shape}[var.kind]
    return Type(var.kind, tuple(dims))


def make_type(kind: str, dims: list, source: str, span: tuple, dim_spans: list) -> Type:
    """Check a kind and its dimension words (ints or names) and build the Type; errors point at
    ``span`` (the type) or at the offending dimension inside ``source``."""
    if kind not in ARITY:
        raise ParseError(f"unknown type {kind!r}; expected {TYPE_WORDS}", source, span)
    if len(dims) != ARITY[kind]:
        want = {0: "no dimensions", 1: "one dimension", 2: "two dimensions"}[ARITY[kind]]
        raise ParseError(f"{kind} takes {want}, e.g. {Type(kind, ('m', 'n')[:ARITY[kind]] or ())}", source, span)
    out = []
    for d, where in zip(dims, dim_spans):
        if isinstance(d, str) and d[:1].isdigit():
            if not d.isdigit() or int(d) < 1:
                raise ParseError(f"a dimension must be a positive integer or a name, not {d}", source, where)
            d = int(d)
        out.append(d)
    return Type(kind, tuple(out))


_TYPE_RE = re.compile(r"\s*([^\W\d]\w*)\s*(?:\(\s*([^()]*)\))?\s*$")


def parse_type(type_text: str) -> Type:
    """``"matrix(m,n)"`` → ``Type('matrix', ('m', 'n'))``; a :class:`ParseError` with a caret otherwise."""
    if isinstance(type_text, Type):
        return type_text
    if not isinstance(type_text, str):
        raise ParseError(f"expected a type such as {TYPE_WORDS}, not {type(type_text).__name__}")
    src = f"_: {type_text}"
    m = _TYPE_RE.match(type_text)
    if not m:
        raise ParseError(f"expected one type, such as {TYPE_WORDS}", src, (3, max(4, len(src))))
    kind, inner = m.group(1), m.group(2)
    span = (3 + m.start(1), 3 + (m.end(2) + 1 if inner is not None else m.end(1)))
    dims, spans = [], []
    if inner is not None:
        pos = 3 + m.start(2)
        for part in inner.split(","):
            word = part.strip()
            start = pos + (len(part) - len(part.lstrip()))
            if not re.fullmatch(r"\d+(\.\d*)?|[^\W\d]\w*", word):
                raise ParseError(f"a dimension must be a positive integer or a name, not {word or 'nothing'}",
                                 src, (start, start + max(1, len(word))))
            dims.append(word)
            spans.append((start, start + len(word)))
            pos += len(part) + 1
    return make_type(kind, dims, src, span, spans)
