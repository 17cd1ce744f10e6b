"""What the REPL does with one input, with no terminal in sight.

:class:`Explorer` takes the text of one input (a statement of the matcalc language, a REPL-level
derivative such as ``d J / d X`` or ``hessian(J, w)``, or a ``:command``) and writes its result to
``out`` and any error, with a caret under the offending spot of that very input, to ``err``.  It
keeps the :class:`~matcalc.front.session.Session` and the last result, and no error ends it.
The prompt, history and completion live in :mod:`matcalc.shell.repl`; both the interactive and
the piped mode drive this class, and tests drive it directly.

The derivative forms are recognised here, never evaluated: the grammar's own syntax tree (or, for
``d f / d x``, which is not in the grammar, one anchored pattern) gives the spans of ``f`` and
``x``, and the session parses each of them as matcalc text.
"""
from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from typing import Callable, Optional, TextIO

from matcalc.errors import MatcalcError, ParseError
from matcalc.front.parser import Type, parse_syntax
from matcalc.front.session import Session, balanced_span, variables_of
from matcalc.ir.nodes import FUNCTIONS, Node
from matcalc.shell.style import ascii_text, join_open_lines, pretty

OK, FAILED, QUIT = "ok", "failed", "quit"

#: The REPL's derivative functions and their arities (diff takes an optional order).
DERIVATIVE_FUNCTIONS = {"diff": (2, 3), "grad": (2, 2), "hessian": (2, 2), "jacobian": (2, 2), "hvp": (3, 3)}

_NAME = r"[^\W\d]\w*"
#: ``d f / d x``, ``d(f)/d(x)``, optionally named: ``G = d J / d X``.  ``d`` must be followed by a
#: space or a parenthesis, so ``dJ/dX`` (a quotient of two variables) is left to the language.
D_FORM = re.compile(
    rf"^\s*(?:(?P<name>{_NAME})\s*=\s*)?d(?:\s+(?P<f>{_NAME})|\s*\((?P<fe>.*)\))\s*/\s*"
    rf"d(?:\s+(?P<x>{_NAME})|\s*\(\s*(?P<xp>{_NAME})\s*\))\s*$", re.S)


@dataclass
class Result:
    """The last result: its label (``∂J/∂X``, ``_``), its IR where it has one, and the derivative
    (with its recorded steps) when it is one."""

    label: str
    node: Optional[Node]
    derivative: object = None
    f_label: str = "f"
    function: str = ""              # diff, grad, hessian, jacobian or hvp
    f_node: Optional[Node] = None   # the function differentiated (for hvp: f itself, not ⟨∇f, v⟩)


def _superscript(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def shape_words(shape: tuple) -> str:
    rows, cols = shape
    if rows == 1 and cols == 1:
        return "scalar"
    if cols == 1:
        return f"vector({rows})"
    if rows == 1:
        return f"row vector({cols})"
    return f"matrix({rows},{cols})"


class Explorer:
    """The REPL's application logic: one :meth:`handle` per input.

    ``unicode`` renders results with Xᵀ, ⊙, ‖·‖; ``interactive`` puts carets under the prompt
    line (``prompt_width`` columns in) instead of repeating the input; ``width`` gives the
    terminal width for ``:explain`` (None: the real terminal's).
    """

    def __init__(self, out: TextIO = None, err: TextIO = None, unicode: bool = True, interactive: bool = False,
                 prompt_width: int = 0, width: Optional[Callable[[], int]] = None, color: bool = False):
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.unicode, self.interactive, self.prompt_width, self.color = unicode, interactive, prompt_width, color
        self._width = width
        self.session = Session(reserved=DERIVATIVE_FUNCTIONS)
        self.result: Optional[Result] = None
        self.failures = 0

    # ------------------------------------------------------------------ output

    def width(self) -> int:
        return self._width() if self._width else shutil.get_terminal_size((100, 24)).columns

    def show(self, text: str) -> str:
        """matcalc text as the user sees it (Unicode maths unless ASCII was asked for)."""
        return pretty(text) if self.unicode else text

    def write(self, text: str = "") -> None:
        if not self.unicode:
            text = ascii_text(text)
        self.out.write(text + "\n")
        self.out.flush()

    def fail(self, message: str) -> str:
        """Report a failure that has no position (a missing file, a missing last result)."""
        self.out.flush()
        if not self.unicode:
            message = ascii_text(message)
        self.err.write(("\x1b[31m" + message + "\x1b[0m" if self.color else message) + "\n")
        self.err.flush()
        return FAILED

    def error(self, e: MatcalcError, text: str, line: int = 1) -> None:
        """An error with a caret: under the prompt line when the input was typed on one line,
        else under a copy of the offending line."""
        head = f"{type(e).__name__}: {e.message}"
        if e.source is None or e.span is None:
            self.fail(head if self.interactive or line == 1 else f"line {line}: {head}")
            return
        start, end = e.span
        line_start = e.source.rfind("\n", 0, start) + 1
        line_end = e.source.find("\n", start)
        line_end = len(e.source) if line_end < 0 else line_end
        marks = " " * (start - line_start) + "^" * max(1, min(end, line_end) - start)
        if e.source == text:
            where_line = line + e.source.count("\n", 0, start)
            if self.interactive and "\n" not in text:
                self.write(" " * self.prompt_width + marks)
                self.fail(head)
            else:
                where = "" if self.interactive else f"line {where_line}, column {start - line_start + 1}: "
                self.fail(f"{where}{head}\n  {e.source[line_start:line_end]}\n  {marks}")
        else:  # an error inside another text: a loaded file
            self.fail(f"{head} (line {e.line}, column {e.column})\n  {e.source[line_start:line_end]}\n  {marks}")

    # ------------------------------------------------------------------ input

    def handle(self, text: str, line: int = 1) -> str:
        """Run one input; returns OK, FAILED or QUIT.  No exception escapes but KeyboardInterrupt."""
        text = join_open_lines(text)
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            return OK
        try:
            status = self._command(text) if stripped.startswith(":") else self._input(text)
        except MatcalcError as e:
            self.error(e, text, line)
            status = FAILED
        except RecursionError:
            status = self.fail("internal error: the input is nested too deeply for this operation")
        except Exception as e:  # a bug must not end the session; say so plainly
            status = self.fail(f"internal error (a bug in matcalc, please report it): {type(e).__name__}: {e}")
        if status == FAILED:
            self.failures += 1
        return status

    def _command(self, text: str) -> str:
        from matcalc.shell.commands import COMMANDS, lookup

        start = text.index(":")
        match = re.match(r":(\S*)\s*", text[start:])
        name = match.group(1)
        cmd = lookup(name)
        if cmd is None:
            known = ", ".join(":" + c for c in COMMANDS)
            raise ParseError(f"unknown command :{name}; the commands are {known} (:help for more)",
                             text, (start, start + 1 + len(name)))
        return cmd.run(self, text, start + match.end())

    def _input(self, text: str) -> str:
        m = D_FORM.match(text)
        if m:
            f_span = m.span("f") if m.group("f") is not None else m.span("fe")
            x_span = m.span("x") if m.group("x") is not None else m.span("xp")
            name_span = m.span("name") if m.group("name") else None
            return self.derivative(text, "diff", [f_span, x_span], name_span)
        stmts = parse_syntax(text)
        if len(stmts) == 1 and stmts[0].kind in ("expr", "defn"):
            body = stmts[0].args[0]
            if body.kind == "call" and body.head in DERIVATIVE_FUNCTIONS:
                lo, hi = DERIVATIVE_FUNCTIONS[body.head]
                if not lo <= len(body.args) <= hi:
                    want = f"{lo}" if lo == hi else f"{lo} or {hi}"
                    raise ParseError(f"{body.head} takes {want} arguments, not {len(body.args)}: "
                                     f"{self.usage(body.head)}", text, body.span)
                name_span = stmts[0].op_span if stmts[0].kind == "defn" else None
                return self.derivative(text, body.head, [balanced_span(text, a.span) for a in body.args], name_span)
        for stmt in stmts:
            nested = _find_call(stmt, DERIVATIVE_FUNCTIONS)
            if nested is not None:
                raise ParseError(f"{nested.head}(…) must be a whole input: name it first (G = {nested.head}(…)) "
                                 "and use the name", text, nested.op_span)
        for outcome in self.session.run(text):
            self._show_outcome(outcome)
        return OK

    @staticmethod
    def usage(function: str) -> str:
        return {"diff": "diff(f, x) or diff(f, x, order)", "grad": "grad(f, x)", "hessian": "hessian(f, x)",
                "jacobian": "jacobian(F, x)", "hvp": "hvp(f, x, v), the Hessian of f times v"}[function]

    def _show_outcome(self, o) -> None:
        if o.kind == "declaration":
            if o.previous is not None:  # a redeclaration replays the session: say so, it changes things
                self.write(f"{o.name}: {o.type} (was {o.previous}; the session was replayed under the new type)")
            return
        if o.kind == "definition":
            self.write(f"{o.name}: {shape_words(o.node.shape)}")
            if o.inferred:  # :vars says why, where the parser records it
                self.write("  inferred " + ", ".join(f"{n}: {t}" for n, t in o.inferred.items()))
            return
        from matcalc.printing.text import to_text_shared
        self.write(self.show(to_text_shared(o.node)))
        self.write(f"  shape: {shape_words(o.node.shape)}")
        types = variables_of(o.node)
        if types:
            self.write("  " + ", ".join(f"{n}: {t}{' (inferred)' if n in o.inferred else ''}"
                                        for n, t in types.items()))
        self.session.last = o.node
        self.result = Result("_", o.node)

    # ------------------------------------------------------------------ derivatives

    def wrt(self, session: Session, text: str, span: tuple) -> str:
        """The variable named at ``text[span]``, which the session must know as a variable."""
        name = text[span[0]:span[1]].strip()
        start = span[0] + (len(text[span[0]:span[1]]) - len(text[span[0]:span[1]].lstrip()))
        where = (start, start + max(1, len(name)))
        if not re.fullmatch(_NAME, name):
            raise ParseError(f"expected the name of a variable to differentiate by, not {name!r}", text, where)
        if name in session.definitions or name == "_":
            raise ParseError(f"{name} is a definition, not a variable: differentiate by one of its variables",
                             text, where)
        if name not in session.types:
            known = ", ".join(session.types) or "none yet"
            raise ParseError(f"{name} is not a variable of this session (its variables: {known}); "
                             f"declare it first, e.g. {name}: vector(n)", text, where)
        return name

    def compute(self, session: Session, text: str, function: str, spans: list):
        """The Derivative that ``function(spans…)`` asks for, in ``session``; and f's label."""
        from matcalc.calculus import derivative as calc
        from matcalc.ir.shapes import make

        f_text = text[spans[0][0]:spans[0][1]].strip()
        f, inferred = session.expression(text, spans[0])
        if inferred:
            names = ", ".join(inferred)
            raise ParseError(f"{names} {'is' if len(inferred) == 1 else 'are'} not known to this session: "
                             "declare or define it first", text, spans[0])
        x = self.wrt(session, text, spans[1])
        decls = dict(session.types)
        label = f_text if re.fullmatch(_NAME, f_text) else "f"
        where = spans[0]
        try:
            if function == "diff":
                order = 1
                if len(spans) == 3:
                    o_text = text[spans[2][0]:spans[2][1]].strip()
                    if not o_text.isdigit() or not 1 <= int(o_text) <= 6:
                        raise ParseError("the order is a whole number from 1 to 6", text, spans[2])
                    order = int(o_text)
                return calc.diff(f, x, decls, order), label
            if function == "grad":
                return calc.gradient(f, x, decls), label
            if function == "jacobian":
                return calc.jacobian(f, x, decls), label
            if function == "hessian":
                return calc.hessian(f, x, decls), label
            # hvp(f, x, v): the gradient of ⟨∇f, v⟩ with v held fixed, which is H·v
            g = calc.gradient(f, x, decls)
            if g.node is None:
                raise MatcalcError(f"the gradient of {label} has no matrix form, so hvp cannot be formed")
            v, new = session.expression(text, spans[2])
            xt = session.types[x]
            if new:
                raise ParseError(f"{', '.join(new)} is not known: declare the direction, e.g. "
                                 f"{next(iter(new))}: {xt}", text, spans[2])
            if tuple(v.shape) != tuple(xt.shape()):
                raise MatcalcError(f"the direction must have {x}'s shape {shape_words(xt.shape())}, "
                                   f"not {shape_words(v.shape)}", text, spans[2])
            if x in {n for n in variables_of(v)}:
                raise MatcalcError(f"the direction must not depend on {x}", text, spans[2])
            inner = make("mul", make("transpose", g.node), v) if xt.kind != "matrix" and xt.kind != "symmetric" \
                else make("tr", make("mul", make("transpose", g.node), v))
            return calc.diff(inner, x, decls), label
        except MatcalcError as e:
            if e.span is None:
                e.with_source(text, where)
            raise

    def derivative(self, text: str, function: str, spans: list, name_span: Optional[tuple]) -> str:
        d, label = self.compute(self.session, text, function, spans)
        f_node = self.session.expression(text, spans[0])[0]
        head = self.label(function, d, label, text[spans[2][0]:spans[2][1]].strip() if function == "hvp" else "")
        name = text[name_span[0]:name_span[1]] if name_span else None
        if name is not None:
            if d.node is None:
                raise MatcalcError(f"{head} has no matrix form (only an index form), so it cannot be named",
                                   text, name_span)
            source = text.strip()

            def rederive(session, text=text, function=function, spans=spans):
                return self.compute(session, text, function, spans)[0].node

            self.session.bind(name, d.node, note=source, rederive=rederive, text=text, span=name_span)
        self._print_derivative(d, head, name)
        self.result = Result(head, d.node, d, label, function, f_node)
        self.session.last = d.node
        return OK

    def label(self, function: str, d, f: str, v: str = "") -> str:
        """∂J/∂X, ∂²J/∂w², ∂vec(F)/∂vec(X), ∂²J/∂w² · v (or dJ/dX, d^2J/dw^2 … in ASCII)."""
        x, k = d.wrt.name, d.order
        if self.unicode:
            p, power = "∂", (lambda n: "" if n == 1 else _superscript(n))
        else:
            p, power = "d", (lambda n: "" if n == 1 else f"^{n}")
        if function == "hvp":
            return f"{p}{power(2)}{f}/{p}{x}{power(2)} {'·' if self.unicode else '*'} {v}"
        if d.form == "vec":
            return f"{p}vec({f})/{p}vec({x})"
        return f"{p}{power(k)}{f}/{p}{x}{power(k)}"

    def _print_derivative(self, d, head: str, name: Optional[str]) -> None:
        result = self.show(str(d))
        lhs = f"{name} = {head}" if name else head
        if d.form == "index":
            self.write(f"{lhs} in index notation:\n  " + result.replace("\n", "\n  "))
        elif "\n" in result:
            self.write(f"{lhs} =\n{result}")
        else:
            self.write(f"{lhs} = {result}")
        self.write(f"  {d.layout}")
        if d.convention:
            self.write(f"  symmetric {d.wrt.name}: {d.convention}")

    def decls(self) -> dict[str, Type]:
        return dict(self.session.types)


def _find_call(stmt, names):
    """The first call of one of ``names`` anywhere inside a syntax tree (None if there is none)."""
    stack = [stmt]
    while stack:
        node = stack.pop()
        if getattr(node, "kind", None) == "call" and node.head in names:
            return node
        stack.extend(a for a in getattr(node, "args", ()) if hasattr(a, "kind"))
    return None


__all__ = ["Explorer", "Result", "OK", "FAILED", "QUIT", "DERIVATIVE_FUNCTIONS", "FUNCTIONS"]
