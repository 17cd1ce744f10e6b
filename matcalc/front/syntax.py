"""Text to syntax trees: the lark grammar, and syntax errors that say what was meant.

lark's LALR parser builds a light syntax tree (:class:`Syn`, with source spans) as it reduces, so
deeply nested input cannot hit the recursion limit.  A syntax error becomes a
:class:`~matcalc.errors.ParseError` with a caret; the mistakes people make most often are
recognised and answered with the corrected spelling:

==========================  ===============================================
``x**2``                    '**' is not a power here: write x^2 (x.^2 elementwise)
``2x``, ``X w``             two operands side by side: write 2*x, X*w
``X matrix(m,n)``           a declaration is ``name: type``: write X: matrix(m,n)
==========================  ===============================================
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from matcalc.errors import ParseError
from matcalc.ir.types import ARITY


@dataclass(frozen=True, slots=True)
class Syn:
    """A syntax node: ``kind`` is num, name, call, op, decl, type, defn, expr (or ref, a name
    bound to an already built IR node by an incremental session)."""

    kind: str
    head: object
    args: tuple
    span: tuple
    op_span: tuple = None

    def children(self):
        """Operands; the arguments of eye, vector and matrix are a value and sizes, not operands."""
        if self.kind == "op" or (self.kind == "call" and self.head not in ("eye", "vector", "matrix")):
            return self.args
        return ()


def tspan(tok: Token) -> tuple:
    return (tok.start_pos, tok.end_pos)


def _join(a, b) -> tuple:
    return (a.span[0] if isinstance(a, Syn) else a.start_pos, b.span[1] if isinstance(b, Syn) else b.end_pos)


@v_args(inline=True)
class _SynBuilder(Transformer):
    """Runs inside the LALR parser (one call per reduction), so no recursion over the tree."""

    def start(self, *stmts):
        return [s for s in stmts if s is not None]

    def declaration(self, name, typ):
        return Syn("decl", str(name), (typ,), (name.start_pos, typ.span[1]), tspan(name))

    def type_plain(self, name):
        return Syn("type", str(name), (), tspan(name))

    def type_sized(self, name, *dims):
        end = dims[-1].end_pos
        return Syn("type", str(name), tuple(dims), (name.start_pos, end + 1))

    def dim(self, tok):
        return tok

    def definition(self, name, body):
        return Syn("defn", str(name), (body,), (name.start_pos, body.span[1]), tspan(name))

    def expression(self, body):
        return Syn("expr", None, (body,), body.span)

    def _binary(op):
        def build(self, a, tok, b):
            return Syn("op", op, (a, b), _join(a, b), tspan(tok))
        return build

    add, sub, mul, div = _binary("add"), _binary("sub"), _binary("mul"), _binary("div")
    hadamard, ediv, epow = _binary("hadamard"), _binary("ediv"), _binary("epow")

    def pow(self, a, tok, b):
        if isinstance(b, Token) and b.type == "TOP":  # X^⊤, X^{⊤}
            return Syn("op", "transpose", (a,), _join(a, b), (tok.start_pos, b.end_pos))
        return Syn("op", "pow", (a, b), _join(a, b), tspan(tok))

    def neg(self, tok, a):
        if a.kind == "num":  # a negative literal is a number, not an operation
            return Syn("num", -a.head, (), _join(tok, a))
        return Syn("op", "neg", (a,), _join(tok, a), tspan(tok))

    def pos(self, tok, a):
        return a

    def transpose(self, a, tok):
        return Syn("op", "transpose", (a,), _join(a, tok), tspan(tok))

    def number(self, tok):
        text = str(tok)
        value = int(text) if text.isdigit() else float(text)
        return Syn("num", value, (), tspan(tok))

    def name(self, tok):
        return Syn("name", str(tok), (), tspan(tok))

    def call(self, name, *rest):
        *args, rpar = rest
        return Syn("call", str(name), tuple(args), _join(name, rpar), tspan(name))


def grammar_path() -> Path:
    """The grammar file: inside an installed wheel, else the source tree's ``grammar/``."""
    here = Path(__file__).resolve().parent.parent  # the matcalc package
    for candidate in (here / "_grammar" / "matcalc.lark", here.parent / "grammar" / "matcalc.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("matcalc.lark not found next to the package nor in ../grammar")


@functools.lru_cache(maxsize=None)
def _lark() -> Lark:
    return Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", transformer=_SynBuilder(),
                maybe_placeholders=False)


_TERMINAL_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'",
    "SLASH": "'/'", "HADAMARD": "'.*'", "EDIV": "'./'", "CARET": "'^'", "ECARET": "'.^'",
    "TRANSPOSE": "a transpose (')", "RPAR": "')'", "LPAR": "'('", "COMMA": "','", "COLON": "':'",
    "EQUAL": "'='", "SEMICOLON": "';'", "_NL": "a new line", "$END": "the end of the input",
    "LBRACE": "'{'", "RBRACE": "'}'", "TOP": "'⊤'",
}

# Common mistakes, recognised by the parser state they leave (lark's match_examples).
_EXAMPLES = {
    "an operand is missing after the operator": ["x +", "x *", "x -", "x .*", "x ./", "x ^", "x .^", "(x +)", "f(x +)"],
    "a ')' is missing": ["(x", "(x + y", "f(x", "f(x, y"],
    "two operands stand side by side: write '*' for a product": ["x y", "2 x", "(x)(y)", "x (y)", "x' y"],
    "an argument is missing": ["f(x,)", "f(,x)"],
    "an operator needs an operand before it": ["* x", ".* x", "/ x", "^ x"],
    "there is an extra ')'": ["x)", "f(x))"],
}

_OPERAND_END = re.compile(r"(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[^\W\d]\w*|\)|')\s*$")


def _statement_start(text: str, pos: int) -> int:
    return max(text.rfind("\n", 0, pos), text.rfind(";", 0, pos)) + 1


def _mistake(err: UnexpectedInput, text: str):
    """A (message, span) for a mistake we know the intent of, else None."""
    tok = getattr(err, "token", None)
    if tok is None or tok.type == "$END":
        return None
    start = tok.start_pos
    before = text[:start]
    if tok.type == "STAR" and before.endswith("*"):
        line_start, line_end = _statement_start(text, start), len(text)
        for sep in ("\n", ";"):
            j = text.find(sep, start)
            if j >= 0:
                line_end = min(line_end, j)
        fixed = text[line_start:line_end].strip().replace("**", "^")
        return (f"'**' is not a power in matcalc: write '^' (or '.^' elementwise), e.g. {fixed}",
                (start - 1, start + 1))
    if tok.type == "NAME":
        stmt = _statement_start(text, start)
        head = text[stmt:start]
        m = re.fullmatch(r"\s*([^\W\d]\w*)\s+", head)
        if m and str(tok) in ARITY:
            line_end = min([j for j in (text.find("\n", start), text.find(";", start)) if j >= 0] or [len(text)])
            typ = text[start:line_end].strip()
            return (f"a declaration is `name: type`: write {m.group(1)}: {typ}", (stmt + m.start(1), line_end))
    if tok.type in ("NAME", "NUMBER") or (tok.type == "LPAR" or str(tok) == "("):
        m = _OPERAND_END.search(before)
        if m:
            left = m.group(1)
            adjacent = m.end(1) == start
            what = "a number and a name stand side by side" if left[0].isdigit() and tok.type == "NAME" \
                else "two operands stand side by side"
            if adjacent and left[0].isdigit() and tok.type == "NAME":
                return (f"{what}: write {left}*{tok} for a product", (m.start(1), tok.end_pos))
            return None
    return None


def _friendly(err: UnexpectedInput, text: str) -> ParseError:
    known = _mistake(err, text)
    if known:
        return ParseError(known[0], text, known[1])
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream]
        msg = f"unexpected character {char!r}"
        expected = err.allowed
        span = (err.pos_in_stream, err.pos_in_stream + 1)
    elif isinstance(err, UnexpectedEOF):
        msg = "unexpected end of input"
        expected = err.expected
        span = (len(text), len(text) + 1)
    else:
        tok = err.token
        if tok.type == "$END":
            msg, span = "unexpected end of input", (len(text), len(text) + 1)
        else:
            kind = {"NAME": "name ", "NUMBER": "number "}.get(tok.type, "")
            msg, span = f"unexpected {kind}{str(tok)!r}", tspan(tok)
        expected = err.expected
    words = sorted({_TERMINAL_WORDS.get(t, t) for t in expected or ()})
    if words:
        msg += "; expected " + (", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0])
    label = None
    if not isinstance(err, UnexpectedCharacters):
        try:
            label = err.match_examples(_lark().parse, _EXAMPLES, use_accepts=True)
        except UnexpectedInput:  # the examples are a hint only
            label = None
    if label:
        msg = f"{label}: {msg}"
        tok = getattr(err, "token", None)
        if label.startswith("two operands") and tok is not None and tok.type != "$END":
            m = _OPERAND_END.search(text[:tok.start_pos])
            if m:
                msg += f"; did you mean {m.group(1)}*{tok}?"
    return ParseError(msg, text, span)


def parse_syntax(text: str) -> list[Syn]:
    """The statements of ``text`` as syntax trees; a :class:`ParseError` on bad input."""
    try:
        return _lark().parse(text)
    except UnexpectedInput as err:
        raise _friendly(err, text) from None
