"""How the REPL shows matcalc text: tokens from the grammar's own lexer, Unicode maths, bracket depth.

One lexer serves three jobs, so they can never disagree with the parser about what a token is:
the syntax highlighting of the prompt, the Unicode rendering of results (Xᵀ, ⊙, ‖·‖, x²), and
deciding whether a bracket is still open (multi-line input).  The lexer is built from
``grammar/matcalc.lark`` itself, with lark's basic lexer, on first use.
"""
from __future__ import annotations

import functools
from typing import Iterator

from lark import Lark
from lark.exceptions import UnexpectedCharacters

from matcalc.front.parser import grammar_path

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
UNICODE_PROBE = "ᵀ⊙⊘‖²∂"


@functools.lru_cache(maxsize=None)
def _lexer() -> Lark:
    return Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="basic")


def tokens(text: str) -> Iterator[tuple[str, str, int]]:
    """``(type, text, start)`` for every token of ``text``, whitespace and comments included; a
    character the language does not know comes out as type ``ERROR`` and lexing goes on after it."""
    pos = 0
    while pos <= len(text):
        try:
            for tok in _lexer().lex(text[pos:], dont_ignore=True):
                yield tok.type, str(tok), pos + tok.start_pos
            return
        except UnexpectedCharacters as err:
            at = pos + err.pos_in_stream
            # tokens before the bad character were yielded already by the generator
            yield "ERROR", text[at], at
            pos = at + 1


def open_brackets(text: str) -> int:
    """How many '(' are still open at the end of ``text`` (comments and strings of the language
    are skipped by the lexer)."""
    depth = 0
    for kind, value, _ in tokens(text):
        if value == "(":
            depth += 1
        elif kind == "RPAR" and depth:
            depth -= 1
    return depth


def join_open_lines(text: str) -> str:
    """``text`` with the line breaks that fall inside brackets turned into spaces (same length, so
    spans stay valid): a statement continued over lines is one statement."""
    out = list(text)
    depth = 0
    for kind, value, start in tokens(text):
        if value == "(":
            depth += 1
        elif kind == "RPAR" and depth:
            depth -= 1
        elif kind == "_NL" and depth:
            for i in range(start, start + len(value)):
                out[i] = " "
    return "".join(out)


def can_encode(encoding: str | None) -> bool:
    """Whether a stream in ``encoding`` can show the Unicode maths."""
    try:
        UNICODE_PROBE.encode(encoding or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def pretty(text: str) -> str:
    """matcalc text with Unicode maths: ``'`` → ᵀ, ``.*`` → ⊙, ``./`` → ⊘, ``norm2(a)`` → ‖a‖ and a
    small integer power ``^2`` → ². Everything else is kept, character for character."""
    toks = list(tokens(text))
    out: list[str] = []
    depth_stack: list[int] = []    # indices of open '(' tokens, None for ordinary ones
    i = 0
    while i < len(toks):
        kind, value, _ = toks[i]
        if kind == "NAME" and value == "norm2" and i + 1 < len(toks) and toks[i + 1][1] == "(":
            out.append("‖")
            depth_stack.append(-1)
            i += 2
            continue
        if value == "(":
            depth_stack.append(i)
            out.append(value)
        elif kind == "RPAR":
            opener = depth_stack.pop() if depth_stack else None
            out.append("‖" if opener == -1 else value)
        elif kind == "TRANSPOSE":
            # in prose ("the shortcut's answer") an apostrophe is followed by a letter; a transpose never is
            after = text[toks[i][2] + len(value):toks[i][2] + len(value) + 1]
            out.append(value if value == "'" and (after.isalnum() or after == "_") else "ᵀ")
        elif kind == "HADAMARD":
            out.append("⊙")
        elif kind == "EDIV":
            out.append("⊘")
        elif kind == "CARET" and i + 1 < len(toks) and toks[i + 1][0] == "NUMBER" and toks[i + 1][1].isdigit() \
                and not (i + 2 < len(toks) and toks[i + 2][0] in ("CARET", "ECARET")):
            out.append(toks[i + 1][1].translate(_SUPERSCRIPTS))
            i += 2
            continue
        else:
            out.append(value)
        i += 1
    return "".join(out)


#: The mathematical symbols of matcalc's messages, spelled in ASCII (names, even Greek ones, stay).
ASCII = str.maketrans({"∂": "d", "≈": "~", "×": "x", "—": "-", "–": "-", "·": "*", "⋅": "*", "ᵀ": "'",
                       "⊙": ".*", "⊘": "./", "‖": "||", "²": "^2", "³": "^3", "⁴": "^4", "✓": "ok", "✗": "FAIL",
                       "→": "->", "⟨": "<", "⟩": ">", "≤": "<=", "≥": ">=", "≠": "!=", "⊗": "(x)", "Σ": "sum",
                       "δ": "delta", "⋆": "*", "⌊": "floor(", "⌋": ")", "…": "...", "′": "'", "−": "-"})


def ascii_text(text: str) -> str:
    """``text`` with the symbols of :data:`ASCII` spelled out (for ``--ascii``)."""
    return text.translate(ASCII)


# token type -> prompt_toolkit style class, for highlighting
TOKEN_CLASSES = {
    "NAME": "name", "NUMBER": "number", "COMMENT": "comment", "ERROR": "error",
    "PLUS": "operator", "MINUS": "operator", "STAR": "operator", "SLASH": "operator",
    "HADAMARD": "operator", "EDIV": "operator", "CARET": "operator", "ECARET": "operator",
    "TRANSPOSE": "operator", "EQUAL": "punct", "COLON": "punct", "LPAR": "punct", "RPAR": "punct",
    "COMMA": "punct", "SEMICOLON": "punct",
}

STYLE = {
    "name": "", "function": "ansicyan", "number": "ansiyellow", "comment": "ansibrightblack italic",
    "error": "ansired bold", "operator": "ansimagenta", "punct": "", "command": "ansigreen bold",
    "type": "ansiblue",
}


def highlight(text: str, functions: frozenset, types: frozenset = frozenset(("scalar", "vector", "matrix", "symmetric"))
              ) -> list[tuple[str, str]]:
    """``[(style class, text), …]`` covering ``text``: REPL commands (``:name``), functions, types,
    numbers, operators, comments, and characters the language does not know."""
    if text.lstrip().startswith(":"):
        head, _, rest = text.partition(" ")
        return [("command", head)] + ([("", " " + rest)] if _ else [])
    pieces: list[tuple[str, str]] = []
    for kind, value, _ in tokens(text):
        cls = TOKEN_CLASSES.get(kind, "")
        if kind == "NAME" and value in functions:
            cls = "function"
        elif kind == "NAME" and value in types:
            cls = "type"
        pieces.append((cls, value))
    return pieces
