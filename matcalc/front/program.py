"""Statements to IR: declarations, definitions, names, paper notation, and the built program.

:func:`parse_program` reads a whole text; :func:`parse_statements` reads statements on top of
names an earlier step already typed (an incremental session passes its variables and
definitions), so nothing earlier is parsed again and carets point into the new text.

Paper notation: ``X^T``, ``X^{T}`` and ``X^⊤`` are transposes.  ``X^T`` is read as a transpose
only while ``T`` names no variable (declared, defined, or used elsewhere in the text); when it
does, ``X^T`` is an error asking for ``X'`` (the transpose) or ``X^(T)`` (the power).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Union

from matcalc.errors import ParseError, ShapeError
from matcalc.ir.nodes import FUNCTIONS, OPS, Const, Node, Num, Op, Var
from matcalc.ir.shapes import broadcast_operands, product_op
from matcalc.ir.types import Type, make_type, parse_type, type_of_var
from matcalc.front.spans import SourceMap
from matcalc.front.syntax import Syn, parse_syntax, tspan
from matcalc.front.infer import (CONSTANT_CALLS, State, constant_dims, dim_of, infer_statement, name_dims,
                                 node_text, walk_new)

Decls = Union[None, str, Mapping[str, Union[str, Type]]]


@dataclass
class Program:
    """What a text says: declarations, definitions (as IR) and its expression statements.

    ``declarations`` holds every variable's type, declared or inferred; ``inferred`` maps each
    inferred variable to how it was inferred (e.g. ``"vector: meets X*w in '-'"``)."""

    declarations: dict  # name -> Type, including inferred ones
    definitions: dict   # name -> Node
    expressions: list   # Node per expression statement, in order
    source: str
    inferred: dict = field(default_factory=dict)  # name -> reason, for undeclared variables
    spans: Optional[SourceMap] = None  # where each built node stands in ``source`` (for evaluation errors)


@dataclass
class Statement:
    """One statement read by :func:`parse_statements`.

    ``kind`` is "declaration", "definition" or "expression"; ``name`` the declared or defined
    name (None for an expression); ``node`` the IR (None for a declaration); ``type`` the declared
    Type; ``variables`` the variables first met in this statement (name -> Var, typed) and
    ``inferred`` the reason for each of them that was not declared; ``span`` its place in the text."""

    kind: str
    name: str | None
    node: Node | None
    type: Type | None
    variables: dict
    inferred: dict
    span: tuple


# ---------------------------------------------------------------------------------- checks

_SUGGEST = {"trace": "tr", "Tr": "tr", "Trace": "tr", "norm": "norm2", "Norm": "norm2", "l2norm": "norm2",
            "inverse": "inv", "Inv": "inv", "determinant": "det", "Det": "det", "log_det": "logdet",
            "logdeterminant": "logdet", "ln": "log", "sigm": "sigmoid", "logistic": "sigmoid",
            "softmax_": "softmax", "lse": "logsumexp", "diagm": "diag", "kronecker": "kron"}


def _unknown_function(node: Syn, text: str) -> ParseError:
    f = node.head
    args = ", ".join(node_text(a, text) for a in node.args)
    if f in ("transpose", "Transpose", "t") and len(node.args) == 1:
        a = node.args[0]
        inner = node_text(a, text)
        fix = f"{inner}'" if a.kind in ("name", "call") else f"({inner})'"
        return ParseError(f"unknown function {f!r}: did you mean {fix}? (a transpose is written X' or X^T)",
                          text, node.op_span)
    g = _SUGGEST.get(f) or next(iter(difflib.get_close_matches(f, FUNCTIONS + CONSTANT_CALLS, n=1, cutoff=0.75)), None)
    if g:
        return ParseError(f"unknown function {f!r}: did you mean {g}({args})?", text, node.op_span)
    return ParseError(f"unknown function {f!r}; expected one of {', '.join(FUNCTIONS)}", text, node.op_span)


def _check_dim(syn: Syn, text: str) -> None:
    """A constant's size: a positive integer, a name, or a product of those."""
    stack = [syn]
    while stack:
        s = stack.pop()
        if s.kind == "num":
            if not isinstance(s.head, int) or s.head < 1:
                raise ParseError(f"a size must be a positive integer or a name, not {node_text(s, text)}", text, s.span)
        elif s.kind == "op" and s.head == "mul":
            stack.extend(s.args)
        elif s.kind != "name" or s.head in FUNCTIONS or s.head in CONSTANT_CALLS:
            raise ParseError(f"a size must be a positive integer, a dimension name or a product such as m*n, "
                             f"not {node_text(s, text)}", text, s.span)


def _check_constant(node: Syn, text: str) -> None:
    f, n = node.head, len(node.args)
    if f == "eye":
        if n > 1:
            raise ParseError("eye takes at most one argument, its size: eye or eye(n)", text, node.span)
    else:
        most = 2 if f == "vector" else 3
        if n not in (1, most) or node.args[0].kind != "num":
            sized = "vector(c, n)" if f == "vector" else "matrix(c, m, n)"
            raise ParseError(f"{f}(c) takes one number, the value of every entry, e.g. {f}(1), "
                             f"and optionally its size: {sized}", text, node.span)
    for d in constant_dims(node):
        _check_dim(d, text)


_TEES = ("T",)


def _is_paper_transpose(node: Syn, text: str) -> bool:
    """``X^T`` or ``X^{T}`` (not ``X^(T)``)."""
    if node.kind != "op" or node.head != "pow":
        return False
    expo = node.args[1]
    if expo.kind != "name" or expo.head not in _TEES:
        return False
    between = text[node.op_span[1]:expo.span[0]].strip()
    return between in ("", "{")


def _count_tees(roots: Iterable[Syn], text: str) -> tuple[dict, dict]:
    """How often each T is used as a name, and how often as a paper-transpose exponent."""
    used: dict[str, int] = {}
    as_tee: dict[str, Syn] = {}
    for node in walk_new(list(roots), {}):
        if node.kind == "name" and node.head in _TEES:
            used[node.head] = used.get(node.head, 0) + 1
        elif _is_paper_transpose(node, text):
            as_tee.setdefault(node.args[1].head, node)
            used[node.args[1].head] = used.get(node.args[1].head, 0) - 1
    return used, as_tee


def _type_of(syn: Syn, text: str) -> Type:
    return make_type(syn.head, [str(t) for t in syn.args], text, syn.span, [tspan(t) for t in syn.args])


def _juxtaposed(name: str, *known: Mapping) -> tuple | None:
    """``("X", "w")`` when ``name`` is two declared names written side by side."""
    def has(n):
        return any(n in k for k in known)
    for k in range(1, len(name)):
        a, b = name[:k], name[k:]
        if has(a) and has(b):
            return a, b
    return None


# ---------------------------------------------------------------------------------- building

def _build(roots: list[Syn], state: State) -> dict[int, Node]:
    u = state.u
    out: dict[int, Node] = {}
    for node in walk_new(roots, {}):
        k = node.kind
        shape = state.shapes.get(id(node))
        if k == "num":
            out[id(node)] = Num(node.head)
        elif k == "ref":
            out[id(node)] = state.refs[node.head]
        elif k == "name" and node.head == "eye":
            out[id(node)] = Const("eye", u.resolve(shape))
        elif k == "name":
            out[id(node)] = Var(node.head, u.resolve(state.env[node.head]), state.kinds[node.head])
        elif k == "call" and node.head == "eye":
            out[id(node)] = Const("eye", u.resolve(shape))
        elif k == "call" and node.head in ("vector", "matrix"):
            out[id(node)] = Const("fill", u.resolve(shape), node.args[0].head)
        elif id(node) in state.scalar_calls:
            a = out[id(node.args[0])]
            out[id(node)] = {"inv": lambda: Op("div", (Num(1), a), a.shape), "det": lambda: a,
                             "logdet": lambda: Op("log", (a,), a.shape)}[node.head]()
        else:
            op, args = product_op(node.head, tuple(out[id(a)] for a in node.args))
            out[id(node)] = Op(op, broadcast_operands(op, args), u.resolve(shape))
    return out


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


def _dims_of_shape(shape) -> set:
    return {p for d in shape if isinstance(d, str) for p in d.split("*")}


class _Reader:
    """Reads statements in order over a :class:`State`; shared by the batch and incremental paths."""

    def __init__(self, text: str, declared: Mapping[str, Type], known: Mapping[str, Union[Var, Node]] = None):
        self.text = text
        self.state = State()
        self.declared = dict(declared)
        self.given = dict(declared)  # the declarations passed in (decls), which the text may not contradict
        self.known_vars: dict[str, Var] = {}
        self.taken: set = set()
        for name, item in (known or {}).items():
            if isinstance(item, Var):
                self.known_vars[name] = item
                self.state.declare(name, item.kind, item.shape)
                self.taken |= _dims_of_shape(item.shape)
            elif isinstance(item, Node):
                self.state.refs[name] = item
                self.taken |= _dims_of_shape(item.shape)
            else:
                raise TypeError(f"known[{name!r}] must be a Var or a Node, not {type(item).__name__}")
        for name, t in self.declared.items():
            self.state.declare(name, t.kind, t.shape())
            self.taken |= {d for d in t.dims if isinstance(d, str)}
        self.defs: dict[str, Syn] = {}
        self.own: dict[int, set] = {}  # id(body) -> the variable names the statement itself writes
        self.seen: dict[str, None] = dict.fromkeys(self.state.kinds)  # variables typed so far

    def check_declaration(self, stmt: Syn) -> Type:
        name, text = stmt.head, self.text
        if name in FUNCTIONS or name in CONSTANT_CALLS:
            raise ParseError(f"{name!r} is a function name and cannot be declared", text, stmt.span)
        if name in self.defs or name in self.state.refs:
            raise ParseError(f"{name} is already defined by '='", text, stmt.span)
        return _type_of(stmt.args[0], text)

    def prepare(self, stmt: Syn, variable_tees: set) -> tuple[Syn, list[str]]:
        """The statement's body with paper transposes and definitions resolved, and the
        variable names it meets for the first time (one pass over the statement's own syntax)."""
        text, defs, refs = self.text, self.defs, self.state.refs
        out: dict[int, Syn] = {}
        met: list = []          # (name, id of the name node), in order of use
        tees: set[int] = set()  # ids of the T in X^T read as a transpose
        for node in walk_new([stmt.args[0]], {}):
            k = node.kind
            if k == "name":
                h = node.head
                if h in FUNCTIONS:
                    raise ParseError(f"{h} is a function: write {h}(...)", text, node.span)
                if h in ("vector", "matrix"):
                    raise ParseError(f"{h}(c) needs the value of its entries, e.g. {h}(1)", text, node.span)
                if h in defs:
                    out[id(node)] = defs[h]
                elif h in refs:
                    out[id(node)] = Syn("ref", h, (), node.span)
                else:
                    out[id(node)] = node
                    if h != "eye":
                        met.append((h, id(node)))
                continue
            if k == "call":
                f, n = node.head, len(node.args)
                if f in CONSTANT_CALLS:
                    _check_constant(node, text)
                elif f not in FUNCTIONS:
                    raise _unknown_function(node, text)
                elif n != OPS[f]:
                    raise ParseError(f"{f} takes {OPS[f]} argument{'s' * (OPS[f] > 1)}, not {n}", text, node.span)
            kids = tuple(out[id(c)] for c in node.children())
            if _is_paper_transpose(node, text):
                t = node.args[1].head
                if t in variable_tees:
                    raise ParseError(f"{t} is a variable here, so {node_text(node, text)} is ambiguous: write "
                                     f"{node_text(node.args[0], text)}' for the transpose or "
                                     f"{node_text(node.args[0], text)}^({t}) for the power",
                                     text, (node.op_span[0], node.span[1]))
                tees.add(id(node.args[1]))
                out[id(node)] = Syn("op", "transpose", kids[:1], node.span, (node.op_span[0], node.span[1]))
            elif all(a is b for a, b in zip(kids, node.children())):
                out[id(node)] = node
            else:
                out[id(node)] = Syn(node.kind, node.head, kids, node.span, node.op_span)
        body = out[id(stmt.args[0])]
        used = list(dict.fromkeys(h for h, i in met if i not in tees))
        new = [n for n in used if n not in self.seen]
        for n in new:
            split = _juxtaposed(n, self.declared, self.known_vars)
            if split:
                where = next(s.span for s in walk_new([stmt.args[0]], {}) if s.kind == "name" and s.head == n)
                raise ParseError(f"{n} is not declared, but {split[0]} and {split[1]} are: did you mean "
                                 f"{split[0]}*{split[1]}? (declare {n} if it is a name of its own)", text, where)
        if stmt.kind == "defn":
            name = stmt.head
            if name in self.seen or name in used:
                raise ParseError(f"{name} is already a variable; choose another name for the definition",
                                 text, stmt.op_span)
            if name in FUNCTIONS or name in CONSTANT_CALLS:
                raise ParseError(f"{name!r} is a function name and cannot be defined", text, stmt.op_span)
        self.own[id(body)] = set(used)
        self.seen.update(dict.fromkeys(new))
        return body, new

    def infer(self, body: Syn, new: list[str]) -> None:
        infer_statement(self.state, [body], new, self.text)

    def finish(self, roots: list[Syn]) -> dict[int, Node]:
        s = self.state
        shapes = [s.env[n] for n in self.seen if n in s.env] + list(s.shapes.values())
        name_dims(s.u, shapes, self.taken | self._constant_dim_names(roots))
        return _build(roots, s)

    def _constant_dim_names(self, roots) -> set:
        out = set()
        for node in walk_new(roots, {}):
            if node.kind == "call" and node.head in CONSTANT_CALLS:
                for d in constant_dims(node):
                    out |= _dims_of_shape((dim_of(d),))
        return out

    def var(self, name: str) -> Var:
        s = self.state
        return Var(name, s.u.resolve(s.env[name]), s.kinds[name])


def _variable_tees(stmts: list[Syn], text: str, names: set) -> set:
    used, _ = _count_tees([s.args[0] for s in stmts if s.kind != "decl"], text)
    return {t for t in _TEES if t in names or used.get(t, 0) > 0}


def _predeclare(reader: "_Reader", stmts: list[Syn]) -> None:
    """Declarations hold for the whole text, wherever they stand (but not after a definition
    of the same name)."""
    defined: set[str] = set()
    first: dict[str, Syn] = {}  # name -> its first declaration in this text
    for stmt in stmts:
        if stmt.kind == "defn":
            defined.add(stmt.head)
        elif stmt.kind == "decl":
            if stmt.head in defined:
                raise ParseError(f"{stmt.head} is already defined by '='", reader.text, stmt.span)
            t = reader.check_declaration(stmt)
            old = reader.known_vars.get(stmt.head)
            if old is not None and str(type_of_var(old)) != str(t):
                raise ParseError(f"{stmt.head} is already {type_of_var(old)}; it cannot become {t}",
                                 reader.text, stmt.span)
            _check_redeclaration(reader, stmt, t, first.get(stmt.head))
            first.setdefault(stmt.head, stmt)
            reader.declared[stmt.head] = t
            reader.state.declare(stmt.head, t.kind, t.shape())
            reader.seen.setdefault(stmt.head)
            reader.taken |= {d for d in t.dims if isinstance(d, str)}


def _check_redeclaration(reader: "_Reader", stmt: Syn, t: Type, earlier: Syn | None) -> None:
    """A second declaration of a name must say the same type as the first (in this text, or in
    ``decls``): two different types for one name are an error at the second, naming the first,
    never silently resolved.  Saying the same type again is allowed."""
    name, text = stmt.head, reader.text
    if earlier is not None:
        before = _type_of(earlier.args[0], text)
        if str(before) != str(t):
            e = ParseError("", text, earlier.span)
            raise ParseError(f"{name} is declared twice with different types: {before} at line {e.line}, "
                             f"column {e.column}, and {t} here; declare it once", text, stmt.span)
    elif name in reader.given and str(reader.given[name]) != str(t):
        raise ParseError(f"{name} is declared {reader.given[name]} in decls but {t} here; "
                         "declare it once (drop one of the two)", text, stmt.span)


def parse_program(text: str, decls: Decls = None) -> Program:
    """Parse statements (declarations, definitions, expressions) and infer the types of the
    undeclared names, statement by statement (see :mod:`matcalc.front.infer`)."""
    if not isinstance(text, str):
        raise ParseError(f"expected the text of an expression, not {type(text).__name__}")
    declared = _declarations(decls)
    stmts = parse_syntax(text)
    reader = _Reader(text, declared)
    _predeclare(reader, stmts)
    tees = _variable_tees(stmts, text, set(reader.declared) | {s.head for s in stmts if s.kind == "defn"})
    pending: list = []
    failed = None
    for stmt in stmts:
        if stmt.kind == "decl":
            continue
        body, new = reader.prepare(stmt, tees)
        if stmt.kind == "defn":
            reader.defs[stmt.head] = body
        pending.append((stmt, body, new))
        if failed is None:
            try:
                reader.infer(body, new)
            except ShapeError as e:
                # a later line may contradict an earlier guess about a name it uses itself;
                # then everything is inferred jointly, once (else the error is local)
                own = reader.own[id(body)] - set(new) - set(reader.declared)
                if not own & set(reader.seen):
                    raise
                failed = e
    roots = [body for _, body, _ in pending]
    if failed is not None:
        local = failed
        joint = _Reader(text, reader.declared)
        try:
            size = sum(1 for _ in walk_new(roots, {}))
            infer_statement(joint.state, roots, [n for _, _, nw in pending for n in nw], text,
                            budget=max(4, min(256, 200_000 // max(1, size))))
        except ShapeError:
            raise local from None
        reader.state = joint.state
    built = reader.finish(roots)
    s = reader.state
    all_types = dict(reader.declared)
    inferred = {}
    for n in reader.seen:
        if n not in all_types and n in s.env:
            all_types[n] = type_of_var(reader.var(n))
            inferred[n] = s.reasons.get(n, "")
    defs = {stmt.head: built[id(body)] for stmt, body, _ in pending if stmt.kind == "defn"}
    exprs = [built[id(body)] for stmt, body, _ in pending if stmt.kind == "expr"]
    spans = SourceMap(text, ((built[id(syn)], syn.span) for syn in walk_new(roots, {})
                             if syn.kind != "ref" and id(syn) in built))
    return Program(all_types, defs, exprs, text, inferred, spans)


def parse_statements(text: str, known: Mapping[str, Union[Var, Node]] = None, decls: Decls = None) -> list[Statement]:
    """Read the statements of ``text`` on top of ``known``, names an earlier step already typed:
    a :class:`Var` for a variable, an IR :class:`Node` for a definition.  Nothing in ``known``
    is parsed again; each statement's new variables are inferred with it (and then fixed), so
    carets point into ``text``.  Returns one :class:`Statement` per statement, in order."""
    if not isinstance(text, str):
        raise ParseError(f"expected the text of a statement, not {type(text).__name__}")
    stmts = parse_syntax(text)
    reader = _Reader(text, _declarations(decls), known)
    _predeclare(reader, stmts)
    tees = _variable_tees(stmts, text, set(reader.state.kinds) | set(reader.state.refs)
                          | {s.head for s in stmts if s.kind == "defn"})
    pending = []
    for stmt in stmts:
        if stmt.kind == "decl":
            pending.append((stmt, None, []))
            continue
        body, new = reader.prepare(stmt, tees)
        reader.infer(body, new)
        if stmt.kind == "defn":
            reader.defs[stmt.head] = body
        pending.append((stmt, body, new))
    built = reader.finish([b for _, b, _ in pending if b is not None])
    s = reader.state
    out: list[Statement] = []
    for stmt, body, new in pending:
        if stmt.kind == "decl":
            t = reader.declared[stmt.head]
            out.append(Statement("declaration", stmt.head, None, t, {stmt.head: reader.var(stmt.head)}, {}, stmt.span))
            continue
        variables = {n: reader.var(n) for n in new}
        out.append(Statement("definition" if stmt.kind == "defn" else "expression",
                             stmt.head if stmt.kind == "defn" else None, built[id(body)], None, variables,
                             {n: s.reasons.get(n, "") for n in new if n not in reader.declared}, stmt.span))
    return out


def parse_statement(text: str, known: Mapping[str, Union[Var, Node]] = None) -> Statement:
    """Exactly one statement of ``text`` on top of ``known`` (see :func:`parse_statements`)."""
    stmts = parse_statements(text, known)
    if len(stmts) != 1:
        raise ParseError(f"expected one statement, found {len(stmts)}", text, (0, max(1, len(text))))
    return stmts[0]


def parse_node(text: str, decls: Decls = None) -> tuple[Node, Program]:
    """The IR of the last expression statement of ``text`` (and the whole program)."""
    program = parse_program(text, decls)
    if not program.expressions:
        where = (len(text), len(text) + 1)
        raise ParseError("expected an expression (the text holds only declarations or definitions)", text, where)
    return program.expressions[-1], program
