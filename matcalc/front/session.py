"""The incremental session: declarations and definitions that build up statement by statement.

A REPL (or a loaded file) adds statements one at a time.  Re-parsing everything typed so far on
every line would make each line slower than the last and would point carets into a text the user
never sees.  So each statement is parsed alone by the front end's ``parse_statements``, on top of
just the names it uses: the session's variables as typed ``Var``s, its definitions as their IR
(shared, never parsed again).  Kinds and dimensions inferred for a new name
become part of the session and stay fixed, so inference only ever works on the line just typed,
and every error's span points into that line (or, for a loaded file, into the file).

A statement text is applied whole or not at all: :meth:`Session.run` works on a copy and keeps it
only when every statement in the text succeeded.  :meth:`Session.save_text` writes the session back
as plain matcalc statements, which :meth:`Session.run` reads again (parsed, never executed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional

from matcalc.errors import MatcalcError, ParseError, ShapeError
from matcalc.front.parser import Type, parse_program, parse_statements, parse_syntax, type_of_var
from matcalc.front.spans import balanced_span  # noqa: F401 - used here, and imported from here by the REPL
from matcalc.ir.nodes import FUNCTIONS, Node, Op, Var, fold, variables

#: Names the language gives a meaning, which a session cannot rebind.
LANGUAGE_NAMES = frozenset(FUNCTIONS) | {"eye", "vector", "matrix"}
#: The name of the last result.
LAST = "_"


def type_of_shape(shape: tuple) -> Type:
    """The declaration that gives a variable this shape (a row vector is a 1×n matrix)."""
    rows, cols = shape
    if rows == 1 and cols == 1:
        return Type("scalar", ())
    if cols == 1:
        return Type("vector", (rows,))
    return Type("matrix", (rows, cols))


def substitute(root: Node, bindings: Mapping[str, Node]) -> Node:
    """``root`` with each variable named in ``bindings`` replaced by its IR (iterative, shared)."""
    if not bindings:
        return root

    def visit(node: Node, kids: tuple) -> Node:
        if isinstance(node, Var) and node.name in bindings:
            return bindings[node.name]
        if isinstance(node, Op) and any(k is not a for k, a in zip(kids, node.args)):
            return Op(node.op, kids, node.shape)
        return node

    return fold(root, visit)


def relocate(err: MatcalcError, source: str, offset: int, fallback: tuple) -> MatcalcError:
    """Point ``err`` into ``source``: its span, found in a piece of ``source`` that starts at
    ``offset``, is shifted; an error without a span is put on ``fallback`` (the statement)."""
    if err.span is not None and err.source is not None:
        span = (err.span[0] + offset, err.span[1] + offset)
    else:
        span = fallback
    err.source, err.span = source, span
    err.args = (str(err),)
    return err


@dataclass(frozen=True)
class Entry:
    """One accepted statement, as the session's log keeps it for saving and replaying.

    ``kind`` is ``declaration``, ``definition``, ``expression`` or ``result`` (a definition whose
    IR was computed outside the language, e.g. a derivative; ``rederive`` computes it again in
    another session).  ``text`` is the statement as plain matcalc; ``inferred`` the variables it
    introduced by inference; ``note`` a comment written above it on saving.
    """

    kind: str
    name: Optional[str]
    text: str
    inferred: tuple = ()          # ((name, Type), ...)
    note: Optional[str] = None
    rederive: Optional[Callable[["Session"], Node]] = field(default=None, compare=False)


@dataclass(frozen=True)
class Outcome:
    """What one statement did: its kind, the name it bound, its IR (or declared type), and the
    variables it introduced by inference; ``span`` is where it stands in the text."""

    kind: str
    name: Optional[str]
    node: Optional[Node]
    type: Optional[Type]
    inferred: dict
    span: tuple
    previous: Optional[Type] = None   # a redeclaration: the variable's type before it


class Session:
    """Variables (declared or inferred), definitions and the last result, built up incrementally.

    ``reserved`` names (e.g. the REPL's ``diff``) cannot be declared or defined.
    """

    def __init__(self, reserved: Iterable[str] = ()):
        self.reserved = frozenset(reserved) | LANGUAGE_NAMES
        self.types: dict[str, Type] = {}          # every variable, in order of appearance
        self.declared: set[str] = set()           # the ones declared explicitly
        self.definitions: dict[str, Node] = {}    # name -> IR, defined names inlined
        self.last: Optional[Node] = None          # the IR of ``_``
        self.log: list[Entry] = []
        self.dims: set = set()                    # every dimension name in use
        self.reasons: dict[str, str] = {}         # why an inferred variable got its type, where the parser says

    # ------------------------------------------------------------------ state

    def copy(self) -> "Session":
        other = Session.__new__(Session)
        other.reserved = self.reserved
        other.types, other.declared = dict(self.types), set(self.declared)
        other.definitions, other.last, other.log = dict(self.definitions), self.last, list(self.log)
        other.dims, other.reasons = set(self.dims), dict(self.reasons)
        return other

    def _become(self, other: "Session") -> None:
        self.types, self.declared, self.definitions = other.types, other.declared, other.definitions
        self.last, self.log, self.dims, self.reasons = other.last, other.log, other.dims, other.reasons

    def names(self) -> list[str]:
        """Every name the session knows: variables, then definitions."""
        return list(self.types) + [n for n in self.definitions if n not in self.types]

    # ------------------------------------------------------------------ statements

    def run(self, text: str) -> list[Outcome]:
        """Apply every statement of ``text``; on any error raise it (located in ``text``) and keep
        the session exactly as it was."""
        trial = self.copy()
        stmts = parse_syntax(text)
        _no_conflicting_declarations(text, stmts)
        outcomes = [trial._statement(text, stmt) for stmt in stmts]
        self._become(trial)
        return outcomes

    def expression(self, text: str, span: Optional[tuple] = None) -> tuple[Node, dict]:
        """The IR of the expression ``text[span]`` in this session, and the variables it would
        introduce (not added: :meth:`adopt` does that).  Errors point into ``text``.

        The front end's :func:`~matcalc.front.parser.parse_statements` reads it on top of what it
        uses: its variables as typed ``Var``s and its definitions (and ``_``) as their IR, which is
        not parsed again; the session's dimension names go along as declarations no text can
        name, so that a new dimension is never given a name already taken."""
        start, end = balanced_span(text, span) if span is not None else (0, len(text))
        piece = text[start:end]
        try:
            names = _names_in(piece, (0, len(piece)))
            if LAST in names and self.last is None:
                at = _name_position(piece, LAST)
                raise ParseError(f"{LAST} is the last result, and there is none yet (or it has no matrix form)",
                                 piece, (at, at + 1))
            stmts = parse_statements(piece, self._known(names), self._dimension_carriers())
            if len(stmts) != 1 or stmts[0].kind != "expression":
                raise ParseError("expected one expression here", piece, (0, len(piece)))
        except MatcalcError as err:
            raise relocate(err, text, start, (start, max(end, start + 1))) from None
        (stmt,) = stmts
        inferred = {n: type_of_var(v) for n, v in stmt.variables.items() if n not in self.types}
        self.reasons.update((n, r) for n, r in (stmt.inferred or {}).items() if r and n in inferred)
        # a definition that is a bare variable (u = v) went in as a variable of its own name
        plain = {n: node for n, node in self._bound(names).items() if isinstance(node, Var)}
        return substitute(stmt.node, plain), inferred

    def _bound(self, names: Iterable[str]) -> dict:
        out = {n: self.definitions[n] for n in names if n in self.definitions and n not in self.types}
        if LAST in names and self.last is not None:
            out[LAST] = self.last
        return out

    def _known(self, names: Iterable[str]) -> dict:
        """What ``names`` stand for: a typed variable, or the IR of a definition or of ``_``."""
        known: dict = {}
        for n in names:
            if n in self.types:
                t = self.types[n]
                known[n] = Var(n, t.shape(), t.kind)
        for n, node in self._bound(names).items():
            # the front end reads a Var in ``known`` as a variable: a definition u = v goes in as a
            # variable u of v's type, and is replaced by v afterwards
            known[n] = Var(n, node.shape, node.kind) if isinstance(node, Var) else node
        return known

    def _dimension_carriers(self) -> dict:
        dims = sorted(self.dims)
        return {f" dims {i}": Type("matrix", tuple(dims[i:i + 2]) * (2 if i + 1 == len(dims) else 1))
                for i in range(0, len(dims), 2)}

    def adopt(self, inferred: Mapping[str, Type]) -> None:
        """Make variables inferred by a statement part of the session."""
        self.types.update(inferred)
        for t in inferred.values():
            self._note(t.dims)

    def _statement(self, text: str, stmt) -> Outcome:
        if stmt.kind == "decl":
            return self._declaration(text, stmt)
        body = stmt.args[0]
        node, inferred = self.expression(text, body.span)
        if stmt.kind == "defn":
            name = stmt.head
            self._check_free(name, text, stmt.op_span, "defined")
            if name in self.types:
                raise ParseError(f"{name} is already a variable ({name}: {self.types[name]}); "
                                 "choose another name for the definition", text, stmt.op_span)
            self.adopt(inferred)
            self.definitions[name] = node
            self._note(node.shape)
            body_text = text[slice(*balanced_span(text, body.span))]
            uses_last = LAST in _names_in(text, body.span)
            saved = f"{name} = {_to_text(node) if uses_last else body_text}"
            self.log.append(Entry("definition", name, saved, tuple(inferred.items())))
            return Outcome("definition", name, node, None, inferred, stmt.span)
        self.adopt(inferred)
        uses_last = LAST in _names_in(text, body.span)
        self.log.append(Entry("expression", None, _to_text(node) if uses_last else
                              text[slice(*balanced_span(text, body.span))], tuple(inferred.items())))
        return Outcome("expression", None, node, None, inferred, stmt.span)

    def _note(self, dims) -> None:
        self.dims.update(d for d in dims if isinstance(d, str))

    def _check_free(self, name: str, text: str, span: tuple, verb: str) -> None:
        if name == LAST:
            raise ParseError(f"{LAST} is the last result and cannot be {verb}", text, span)
        if name in self.reserved:
            raise ParseError(f"{name!r} is a function name and cannot be {verb}", text, span)

    def _declaration(self, text: str, stmt) -> Outcome:
        name, (start, end) = stmt.head, stmt.span
        try:
            typ = parse_program(text[start:end]).declarations[name]
        except MatcalcError as err:
            raise relocate(err, text, start, stmt.span) from None
        name_span = (start, start + len(name))
        before = self.types.get(name)
        self.declare(name, typ, text, name_span)
        return Outcome("declaration", name, None, typ, {}, stmt.span, before if before != typ else None)

    def declare(self, name: str, typ: Type, text: str = "", span: Optional[tuple] = None) -> None:
        """Declare ``name``.  Declaring a known variable again with another type replays the whole
        session under the new type (definitions and results are recomputed); if anything no
        longer fits, the error says which statement and the session is unchanged."""
        span = span or (0, len(name))
        self._check_free(name, text or name, span, "declared")
        if name in self.definitions:
            raise ParseError(f"{name} is defined by '='; a variable needs another name", text or name, span)
        if self.types.get(name) == typ:
            if name not in self.declared:
                self.declared.add(name)
                self.log.append(Entry("declaration", name, f"{name}: {typ}"))
            return
        if name in self.types:
            self._become(self._replayed(name, typ, text or name, span))
            return
        self.types[name] = typ
        self._note(typ.dims)
        self.declared.add(name)
        self.log.append(Entry("declaration", name, f"{name}: {typ}"))

    def _replayed(self, name: str, typ: Type, text: str, span: tuple) -> "Session":
        fresh = Session(self.reserved)
        fresh.declare(name, typ)
        for entry in self.log:
            if entry.kind == "declaration" and entry.name == name:
                continue
            try:
                if entry.kind == "result":
                    fresh.bind(entry.name, entry.rederive(fresh), note=entry.note, rederive=entry.rederive)
                else:
                    fresh.run(entry.text)
            except MatcalcError as err:
                if entry.kind == "expression":  # a query, not state: it no longer applies, that is all
                    continue
                raise ReplayError(f"declaring {name}: {typ} breaks '{entry.text}', which was typed "
                                         f"earlier: {err.message}", text, span) from None
        fresh.last = None
        return fresh

    def bind(self, name: str, node: Node, note: Optional[str] = None,
             rederive: Optional[Callable[["Session"], Node]] = None, text: str = "",
             span: Optional[tuple] = None) -> None:
        """Define ``name`` as an IR computed outside the language (a derivative, say); it is saved as
        its printed form, with ``note`` (how it was computed) as a comment above it."""
        span = span or (0, len(name))
        self._check_free(name, text or name, span, "defined")
        if name in self.types:
            raise ParseError(f"{name} is already a variable ({name}: {self.types[name]}); "
                             "choose another name for the result", text or name, span)
        self.definitions[name] = node
        self._note(node.shape)
        self.log.append(Entry("result", name, f"{name} = {_to_text(node)}", (), note, rederive))

    # ------------------------------------------------------------------ files

    def save_text(self) -> str:
        """The session as plain matcalc statements: declarations (inferred ones marked), definitions
        and named results, in the order they were made.  Bare expressions are not state."""
        lines = ["# matcalc session: plain statements; load it back with :load"]
        written: set[str] = set()
        for entry in self.log:
            for n, t in entry.inferred:
                if n not in written and self.types.get(n) == t:
                    lines.append(f"{n}: {t}    # inferred")
                    written.add(n)
            if entry.kind == "declaration":
                if entry.name not in written:
                    lines.append(entry.text)
                    written.add(entry.name)
            elif entry.kind in ("definition", "result"):
                if self.definitions.get(entry.name) is None:
                    continue
                if entry.note:
                    lines.append(f"# {entry.note}")
                lines.append(entry.text)
        return "\n".join(lines) + "\n"


def _no_conflicting_declarations(text: str, stmts: list) -> None:
    """One text (a line typed, a file loaded) may not declare a name twice with different types:
    the error is at the second declaration and names the first.  (Declaring a known variable
    again on a *later* input is a deliberate redeclaration: :meth:`Session.declare` replays.)"""
    first: dict[str, tuple] = {}
    for stmt in stmts:
        if stmt.kind != "decl":
            continue
        try:
            typ = parse_program(text[stmt.span[0]:stmt.span[1]]).declarations[stmt.head]
        except MatcalcError:
            continue  # the statement's own error is raised, located, when it is applied
        if stmt.head in first and first[stmt.head][0] != typ:
            before, span = first[stmt.head]
            at = ParseError("", text, span)
            raise ParseError(f"{stmt.head} is declared twice with different types: {before} at line {at.line}, "
                             f"column {at.column}, and {typ} here; declare it once", text, stmt.span)
        first.setdefault(stmt.head, (typ, stmt.span))


class ReplayError(ShapeError):
    """A new declaration that contradicts a statement typed earlier."""


def _names_in(text: str, span: tuple) -> list[str]:
    """The names used in ``text[span]`` (by the grammar's tokens)."""
    found: list[str] = []
    stack = list(parse_syntax(text[slice(*balanced_span(text, span))]))
    while stack:
        node = stack.pop()
        if getattr(node, "kind", None) == "name":
            found.append(node.head)
        stack.extend(a for a in getattr(node, "args", ()) if hasattr(a, "kind"))
    return found


def _name_position(text: str, name: str) -> int:
    """Where ``name`` first stands as a whole word in ``text``."""
    import re
    m = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text)
    return m.start() if m else 0


def _to_text(node: Node) -> str:
    from matcalc.printing.text import to_text
    return to_text(node)


def variables_of(node: Node) -> dict[str, Type]:
    """The variables of an IR, with their types."""
    from matcalc.front.parser import type_of_var
    return {n: type_of_var(v) for n, v in variables(node).items()}
