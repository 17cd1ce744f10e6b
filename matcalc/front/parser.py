"""Text to IR: the lark grammar, friendly syntax errors, name resolution and type inference.

Three steps, each iterative so that deeply nested input cannot hit the recursion limit:

1. lark's LALR parser builds a light syntax tree (:class:`Syn`, with source spans) as it reduces;
2. :func:`infer` gives every undeclared variable a kind and unifies dimensions using the shape
   rules of :mod:`matcalc.shapes`;
3. :func:`_build` turns the syntax into IR nodes with the inferred shapes.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Union

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from matcalc.errors import ParseError, ShapeError
from matcalc.ir.nodes import FUNCTIONS, OPS, SCALAR, Const, Node, Num, Op, Var
from matcalc.ir.shapes import SHAPE_RULES, Mismatch, Unifier, fmt_shape, is_var


# ---------------------------------------------------------------------------------- syntax

@dataclass(frozen=True, slots=True)
class Syn:
    """A syntax node: ``kind`` is num, name, call, op, decl, defn or expr."""

    kind: str
    head: object
    args: tuple
    span: tuple
    op_span: tuple = None

    def children(self):
        return self.args if self.kind in ("op", "call") else ()


def _tspan(tok: Token) -> tuple:
    return (tok.start_pos, tok.end_pos)


def _join(a, b) -> tuple:
    return (a.span[0] if isinstance(a, Syn) else a.start_pos, b.span[1] if isinstance(b, Syn) else b.end_pos)


@v_args(inline=True)
class _SynBuilder(Transformer):
    """Runs inside the LALR parser (one call per reduction), so no recursion over the tree."""

    def start(self, *stmts):
        return [s for s in stmts if s is not None]

    def declaration(self, name, typ):
        return Syn("decl", str(name), (typ,), (name.start_pos, typ.span[1]))

    def type_plain(self, name):
        return Syn("type", str(name), (), _tspan(name))

    def type_sized(self, name, *dims):
        end = dims[-1].end_pos
        return Syn("type", str(name), tuple(dims), (name.start_pos, end + 1))

    def dim(self, tok):
        return tok

    def definition(self, name, body):
        return Syn("defn", str(name), (body,), (name.start_pos, body.span[1]), _tspan(name))

    def expression(self, body):
        return Syn("expr", None, (body,), body.span)

    def _binary(op):
        def build(self, a, tok, b):
            return Syn("op", op, (a, b), _join(a, b), _tspan(tok))
        return build

    add, sub, mul, div = _binary("add"), _binary("sub"), _binary("mul"), _binary("div")
    hadamard, ediv, pow, epow = _binary("hadamard"), _binary("ediv"), _binary("pow"), _binary("epow")

    def neg(self, tok, a):
        if a.kind == "num":  # a negative literal is a number, not an operation
            return Syn("num", -a.head, (), _join(tok, a))
        return Syn("op", "neg", (a,), _join(tok, a), _tspan(tok))

    def pos(self, tok, a):
        return a

    def transpose(self, a, tok):
        return Syn("op", "transpose", (a,), _join(a, tok), _tspan(tok))

    def number(self, tok):
        text = str(tok)
        value = int(text) if text.isdigit() else float(text)
        return Syn("num", value, (), _tspan(tok))

    def name(self, tok):
        return Syn("name", str(tok), (), _tspan(tok))

    def call(self, name, *rest):
        *args, rpar = rest
        return Syn("call", str(name), tuple(args), _join(name, rpar), _tspan(name))


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


def _friendly(err: UnexpectedInput, text: str) -> ParseError:
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
            msg, span = f"unexpected {kind}{str(tok)!r}", _tspan(tok)
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
    return ParseError(msg, text, span)


def parse_syntax(text: str) -> list[Syn]:
    """The statements of ``text`` as syntax trees; a :class:`ParseError` on bad input."""
    try:
        return _lark().parse(text)
    except UnexpectedInput as err:
        raise _friendly(err, text) from None


# ---------------------------------------------------------------------------------- types

@dataclass(frozen=True)
class Type:
    """A declared type: kind plus dimensions (``()`` for a scalar)."""

    kind: str
    dims: tuple

    def __str__(self) -> str:
        return self.kind if self.kind == "scalar" else f"{self.kind}({','.join(map(str, self.dims))})"

    def shape(self) -> tuple:
        return {"scalar": lambda: SCALAR, "vector": lambda: (self.dims[0], 1),
                "matrix": lambda: tuple(self.dims), "symmetric": lambda: (self.dims[0], self.dims[0])}[self.kind]()


_ARITY = {"scalar": 0, "vector": 1, "matrix": 2, "symmetric": 1}


def _type_of(syn: Syn, text: str) -> Type:
    kind = syn.head
    if kind not in _ARITY:
        raise ParseError(f"unknown type {kind!r}; expected scalar, vector(n), matrix(m,n) or symmetric(n)",
                         text, syn.span)
    if len(syn.args) != _ARITY[kind]:
        want = {0: "no dimensions", 1: "one dimension", 2: "two dimensions"}[_ARITY[kind]]
        raise ParseError(f"{kind} takes {want}, e.g. {Type(kind, ('m', 'n')[:_ARITY[kind]] or ())}", text, syn.span)
    dims = []
    for tok in syn.args:
        s = str(tok)
        if tok.type == "NUMBER":
            if not s.isdigit() or int(s) < 1:
                raise ParseError(f"a dimension must be a positive integer or a name, not {s}", text, _tspan(tok))
            dims.append(int(s))
        else:
            dims.append(s)
    return Type(kind, tuple(dims))


def parse_type(type_text: str) -> Type:
    """``"matrix(m,n)"`` → ``Type('matrix', ('m', 'n'))``."""
    src = f"_: {type_text}"
    stmts = parse_syntax(src)
    if len(stmts) != 1 or stmts[0].kind != "decl":
        raise ParseError("expected one type, such as scalar, vector(n), matrix(m,n) or symmetric(n)", src, (3, len(src)))
    return _type_of(stmts[0].args[0], src)


def type_of_var(var: Var) -> Type:
    """The type string form of an IR variable."""
    dims = {"scalar": (), "vector": var.shape[:1], "symmetric": var.shape[:1], "matrix": var.shape}[var.kind]
    return Type(var.kind, tuple(dims))


# ---------------------------------------------------------------------------------- programs

@dataclass
class Program:
    """What a text says: declarations, definitions (as IR) and its expression statements."""

    declarations: dict  # name -> Type, including inferred ones
    definitions: dict   # name -> Node
    expressions: list   # Node per expression statement, in order
    source: str


def _walk(roots: Iterable[Syn]):
    """Syntax nodes post-order, each distinct node once (definitions are shared)."""
    seen: set[int] = set()
    stack = [(r, False) for r in reversed(list(roots))]
    while stack:
        node, done = stack.pop()
        if done:
            yield node
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children()))


def _substitute(root: Syn, defs: Mapping[str, Syn]) -> Syn:
    """Replace names of definitions by their bodies (shared, not copied)."""
    if not defs:
        return root
    out: dict[int, Syn] = {}
    for node in _walk([root]):
        if node.kind == "name" and node.head in defs:
            out[id(node)] = defs[node.head]
        elif node.children():
            kids = tuple(out[id(c)] for c in node.args)
            out[id(node)] = node if all(k is c for k, c in zip(kids, node.args)) else \
                Syn(node.kind, node.head, kids, node.span, node.op_span)
        else:
            out[id(node)] = node
    return out[id(root)]


_CONSTANTS = ("eye", "vector", "matrix")


def _check_names(roots: list[Syn], text: str) -> list[str]:
    """Validate calls and names; return the variable names in order of first use."""
    names: dict[str, None] = {}
    for node in _walk(roots):
        if node.kind == "name":
            if node.head in FUNCTIONS:
                raise ParseError(f"{node.head} is a function: write {node.head}(...)", text, node.span)
            if node.head != "eye":
                names.setdefault(node.head)
        elif node.kind == "call":
            f, n = node.head, len(node.args)
            if f in ("vector", "matrix"):
                if n != 1 or node.args[0].kind != "num":
                    raise ParseError(f"{f}(c) takes one number, the value of every entry, e.g. {f}(1)", text, node.span)
            elif f == "eye":
                raise ParseError("eye takes no arguments: its size is inferred, write eye", text, node.span)
            elif f not in FUNCTIONS:
                raise ParseError(f"unknown function {f!r}; expected one of {', '.join(FUNCTIONS)}", text, node.op_span)
            elif n != OPS[f]:
                raise ParseError(f"{f} takes {OPS[f]} argument{'s' * (OPS[f] > 1)}, not {n}", text, node.span)
    return list(names)


def convention_kind(name: str) -> str:
    """matrixcalculus.org's convention: a–g scalar, h–z vector, A–Z matrix (Greek alike)."""
    c = name[0]
    if c.isupper():
        return "matrix"
    if "a" <= c <= "g":
        return "scalar"
    if "h" <= c <= "z":
        return "vector"
    return "scalar" if c.isalpha() else "scalar"


def _fresh_type(kind: str, u: Unifier) -> tuple:
    if kind == "scalar":
        return SCALAR
    if kind == "vector":
        return (u.fresh(), 1)
    return (u.fresh(), u.fresh())


def _node_text(syn: Syn, text: str) -> str:
    return text[syn.span[0]:syn.span[1]]


def _shapes(roots, env: Mapping[str, tuple], u: Unifier, text: str) -> dict[int, tuple]:
    """Every syntax node's shape under the unifier ``u``; raises ShapeError at the culprit."""
    shape: dict[int, tuple] = {}
    for node in _walk(roots):
        k = node.kind
        if k == "num":
            shape[id(node)] = SCALAR
        elif k == "name":
            shape[id(node)] = (lambda d: (d, d))(u.fresh()) if node.head == "eye" else env[node.head]
        elif k == "call" and node.head in ("vector", "matrix"):
            shape[id(node)] = _fresh_type(node.head, u)
        elif k in ("op", "call"):
            op = node.head
            try:
                shape[id(node)] = SHAPE_RULES[op](tuple(shape[id(a)] for a in node.args), u)
            except Mismatch as e:
                operands = [_node_text(a, text) for a in node.args]
                raise ShapeError(e.args[0].format(*operands), text, node.op_span) from None
            if op == "pow" and not _is_scalar_now(shape[id(node.args[0])], u):
                expo = node.args[1]
                if expo.kind != "num" or not float(expo.head).is_integer():
                    raise ShapeError(f"a matrix power needs an integer exponent, not {_node_text(expo, text)}; "
                                     "use '.^' for an elementwise power", text, node.op_span)
    return shape


def _is_scalar_now(s, u):
    s = u.resolve(s)
    return s[0] == 1 and s[1] == 1


def _no_degenerate_dims(free, kinds, env, u, text):
    """An undeclared matrix with a dimension 1 (or vector of length 1) means a kind was misread."""
    for n in free:
        if kinds[n] != "scalar" and 1 in u.resolve(env[n])[: 1 if kinds[n] == "vector" else 2]:
            raise ShapeError(f"{n} would be {fmt_shape(u.resolve(env[n]))}, a degenerate {kinds[n]}")


def _candidate_kinds(name: str) -> list[str]:
    first = convention_kind(name)
    return [first] + [k for k in ("scalar", "vector", "matrix") if k != first]


def infer(roots: list[Syn], declared: Mapping[str, Type], names: list[str], text: str, budget: int = 256):
    """Kinds and shapes for undeclared variables.

    Declarations win.  Otherwise each name starts from the naming convention; if that does not
    type-check, assignments that deviate from it in as few names as possible are tried (within
    ``budget`` tries), so that a kind determined by use wins over the convention.
    Returns ``(kinds, unifier, env)``.
    """
    # names outside the Latin convention (ω, λ) hold their default more loosely: vary them first
    free = sorted((n for n in names if n not in declared), key=lambda n: n[0].isascii())
    first_error = None
    tries = 0
    for n_changed in range(len(free) + 1):
        for changed in itertools.combinations(range(len(free)), n_changed):
            alternatives = [_candidate_kinds(free[i])[1:] for i in changed]
            for picks in itertools.product(*alternatives):
                kinds = {n: convention_kind(n) for n in free}
                for i, k in zip(changed, picks):
                    kinds[free[i]] = k
                u = Unifier()
                env = {n: t.shape() for n, t in declared.items()}
                env.update({n: _fresh_type(kinds[n], u) for n in free})
                try:
                    shapes = _shapes(roots, env, u, text)
                    _no_degenerate_dims(free, kinds, env, u, text)
                except ShapeError as e:
                    first_error = first_error or e
                    tries += 1
                    if tries >= budget:
                        raise first_error from None
                    continue
                kinds.update({n: t.kind for n, t in declared.items()})
                return kinds, u, env, shapes
    raise first_error


_DIM_NAMES = ("n", "m", "p", "q", "k", "r", "s", "t", "l", "j")


def _name_dims(u: Unifier, shapes: Iterable[tuple], taken: set) -> dict:
    """Give the dimensions left open by inference readable names (n, m, p, ...)."""
    pool = itertools.chain(_DIM_NAMES, (f"n{i}" for i in itertools.count(1)))
    names: dict[str, str] = {}
    for s in shapes:
        for d in (part for dim in u.resolve(s) for part in str(dim).split("*")):
            if is_var(d) and d not in names:
                name = next(x for x in pool if x not in taken)
                names[d] = name
    for var, name in names.items():
        u.unify(var, name)
    return names


def _build(roots: list[Syn], kinds, u: Unifier, env, shapes) -> dict[int, Node]:
    out: dict[int, Node] = {}
    for node in _walk(roots):
        k = node.kind
        if k == "num":
            out[id(node)] = Num(node.head)
        elif k == "name" and node.head == "eye":
            out[id(node)] = Const("eye", u.resolve(shapes[id(node)]))
        elif k == "name":
            kind = kinds[node.head]
            out[id(node)] = Var(node.head, u.resolve(env[node.head]), kind)
        elif k == "call" and node.head in ("vector", "matrix"):
            out[id(node)] = Const("fill", u.resolve(shapes[id(node)]), node.args[0].head)
        else:
            out[id(node)] = Op(node.head, tuple(out[id(a)] for a in node.args), u.resolve(shapes[id(node)]))
    return out


Decls = Union[None, str, Mapping[str, Union[str, Type]]]


def _declarations(decls: Decls) -> dict[str, Type]:
    if decls is None:
        return {}
    if isinstance(decls, str):
        program = parse_program(decls)
        if program.expressions or program.definitions:
            raise ParseError("decls may only hold declarations such as 'X: matrix(m,n)'", decls, (0, len(decls)))
        return program.declarations
    out = {}
    for name, t in decls.items():
        out[name] = t if isinstance(t, Type) else parse_type(t)
    return out


def parse_program(text: str, decls: Decls = None) -> Program:
    """Parse statements (declarations, definitions, expressions) and infer all types jointly."""
    if not isinstance(text, str):
        raise ParseError(f"expected the text of an expression, not {type(text).__name__}")
    declared = _declarations(decls)
    defs: dict[str, Syn] = {}
    used: dict[str, None] = {}  # variable names, in order of first use
    roots: list[Syn] = []
    expr_roots: list[Syn] = []
    def_roots: dict[str, Syn] = {}
    for stmt in parse_syntax(text):
        if stmt.kind == "decl":
            name = stmt.head
            if name in FUNCTIONS or name in _CONSTANTS:
                raise ParseError(f"{name!r} is a function name and cannot be declared", text, stmt.span)
            if name in defs:
                raise ParseError(f"{name} is already defined by '='", text, stmt.span)
            declared[name] = _type_of(stmt.args[0], text)
            continue
        used.update(dict.fromkeys(n for n in _check_names([stmt.args[0]], text) if n not in defs))
        body = _substitute(stmt.args[0], defs)
        if stmt.kind == "defn":
            name = stmt.head
            if name in declared or name in used:
                raise ParseError(f"{name} is already a variable; choose another name for the definition",
                                 text, stmt.op_span)
            if name in FUNCTIONS or name in _CONSTANTS:
                raise ParseError(f"{name!r} is a function name and cannot be defined", text, stmt.op_span)
            defs[name] = body
            def_roots[name] = body
        else:
            expr_roots.append(body)
        roots.append(body)
    names = list(used)
    kinds, u, env, shapes = infer(roots, declared, names, text)
    taken = {d for t in declared.values() for d in t.dims if isinstance(d, str)}
    _name_dims(u, [env[n] for n in names] + list(shapes.values()), taken)
    built = _build(roots, kinds, u, env, shapes)
    all_types = dict(declared)
    for n in names:
        if n not in all_types:
            all_types[n] = type_of_var(Var(n, u.resolve(env[n]), kinds[n]))
    return Program(all_types, {n: built[id(s)] for n, s in def_roots.items()},
                   [built[id(s)] for s in expr_roots], text)


def parse_node(text: str, decls: Decls = None) -> tuple[Node, Program]:
    """The IR of the last expression statement of ``text`` (and the whole program)."""
    program = parse_program(text, decls)
    if not program.expressions:
        where = (len(text), len(text) + 1)
        raise ParseError("expected an expression (the text holds only declarations or definitions)", text, where)
    return program.expressions[-1], program
