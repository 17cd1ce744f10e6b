"""The REPL's ``:commands``, one table: name, usage, help, and the function that runs it.

Each command is ``run(explorer, text, start) -> status``: ``text`` is the whole input and
``start`` the offset of the command's argument in it, so errors can point into the input.  The
table also feeds ``:help`` and Tab completion (``paths`` marks the commands that take a file).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from matcalc.errors import MatcalcError, ParseError
from matcalc.shell.explorer import FAILED, OK, QUIT, Explorer


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable[[Explorer, str, int], str]
    paths: bool = False


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, help: str, paths: bool = False):
    def register(fn):
        COMMANDS[name] = Command(name, usage, help, fn, paths)
        return fn
    return register


def lookup(name: str) -> Optional[Command]:
    """The command called ``name``, or the only one it is a prefix of (``:q`` is ``:quit``)."""
    if name in COMMANDS:
        return COMMANDS[name]
    matches = [c for n, c in COMMANDS.items() if n.startswith(name)] if name else []
    return matches[0] if len(matches) == 1 else None


def _arg(text: str, start: int) -> str:
    return text[start:].strip()


def _no_args(text: str, start: int, name: str) -> None:
    if _arg(text, start):
        raise ParseError(f":{name} takes no argument", text, (start, len(text.rstrip())))


def _derivative(ex: Explorer, what: str):
    """The last result's derivative, or None after saying what is missing."""
    if ex.result is None or ex.result.derivative is None:
        ex.fail(f"{what} needs a derivative: differentiate first, e.g. d J / d X or grad(J, X)"
                + ("" if ex.result is None else f" (the last result, {ex.result.label}, is an expression)"))
        return None
    return ex.result.derivative


# ------------------------------------------------------------------------------ the commands

@command("explain", ":explain [f x]", "the true derivation of ∂f/∂x and the dimension-consistency shortcut "
         "side by side, with the verdict")
def explain(ex: Explorer, text: str, start: int) -> str:
    from matcalc.consistency.explain import shortcut
    from matcalc.shell.explain_view import side_by_side

    rest = text[start:].rstrip()
    m = re.search(r"\s(\S+)$", rest)
    last = ex.result.derivative if ex.result is not None else None
    if not rest and last is not None and last.order == 1:  # :explain alone: the last derivative
        f, x, label = last.f.node, last.wrt.name, ex.result.f_label
        f_span = (start, start + 1)
    else:
        if not rest or m is None:
            raise ParseError("usage: :explain f x, e.g. :explain J X (or :explain alone, after a derivative)",
                             text, (start, max(len(text), start + 1)))
        f_span, x_span = (start, start + m.start()), (start + m.start(1), start + m.end(1))
        f, new = ex.session.expression(text, f_span)
        if new:
            raise ParseError(f"{', '.join(new)} not known to this session: declare or define it first", text, f_span)
        x = ex.wrt(ex.session, text, x_span)
        label = text[f_span[0]:f_span[1]].strip()
    try:
        r = shortcut(f, x, dict(ex.session.types))
    except MatcalcError as e:
        raise e.with_source(text, f_span) if e.span is None else e
    ex.write(side_by_side(r, ex.width(), ex.show))
    from matcalc.shell.explorer import Result
    ex.result = Result(f"∂{label}/∂{x}", r.truth.node, r.truth, label, "diff", f)
    ex.session.last = r.truth.node
    return OK


@command("steps", ":steps", "the derivation of the last result, step by step, each step verified numerically "
         "where the engine can verify it")
def steps(ex: Explorer, text: str, start: int) -> str:
    _no_args(text, start, "steps")
    d = _derivative(ex, ":steps")
    if d is None:
        return FAILED
    verdicts = d.verify()
    text = ex.show(d.explain(verdicts))
    if not ex.unicode:
        text = text.replace("✓", "ok").replace("✗", "FAIL")
    ex.write(text)
    failed = [v for v in verdicts if not v.ok]
    if failed:
        return ex.fail(f"{len(failed)} step{'s' * (len(failed) > 1)} of the derivation failed verification")
    return OK


@command("check", ":check", "the last derivative against central finite differences at random inputs: "
         "a verdict and the largest relative error")
def check(ex: Explorer, text: str, start: int) -> str:
    _no_args(text, start, "check")
    d = _derivative(ex, ":check")
    if d is None:
        return FAILED
    from matcalc.numeric.check import verdict
    v = verdict(d.f.node, d.wrt, dict(ex.session.types), d.order)
    ex.write(f"{v}; central finite differences, every dimension a different size")
    return OK if v.ok else FAILED


@command("latex", ":latex", "LaTeX of the last result")
def latex(ex: Explorer, text: str, start: int) -> str:
    _no_args(text, start, "latex")
    r = ex.result
    if r is None:
        return ex.fail(":latex needs a result first: type an expression or a derivative")
    if r.derivative is not None:
        ex.write(r.derivative.latex())
    else:
        from matcalc.printing.latex import to_latex
        ex.write(to_latex(r.node))
    return OK


@command("code", ":code [numpy|jax|torch]", "generated code for the last derivative (once codegen exists)")
def code(ex: Explorer, text: str, start: int) -> str:
    target = _arg(text, start) or "numpy"
    if target not in ("numpy", "jax", "torch"):
        raise ParseError(f"unknown target {target!r}; expected numpy, jax or torch", text, (start, len(text.rstrip())))
    d = _derivative(ex, ":code")
    if d is None:
        return FAILED
    try:
        from matcalc.generate import codegen as generate
    except ImportError:
        return ex.fail("code generation does not exist in this build of matcalc yet (it is being built); "
                       "meanwhile :latex gives the formula and :check its numbers")
    from matcalc.front.session import variables_of
    from matcalc.printing.text import to_text

    hvp = ex.result.function == "hvp"
    f = ex.result.f_node if hvp else d.f.node
    if d.order > 2 or (d.order == 2 and hvp):
        return ex.fail(":code generates gradients, Hessians and Hessian-vector products; this is a "
                       f"derivative of order {d.order}")
    types = {**variables_of(f), d.wrt.name: ex.session.types.get(d.wrt.name)}
    decls = "; ".join(f"{n}: {t}" for n, t in types.items() if t is not None)
    where = (start, start + max(1, len(text[start:].rstrip())))
    try:
        source = generate(to_text(f), d.wrt.name, target, decls, hessian=d.order == 2, hvp=hvp)
    except MatcalcError as e:
        raise (e.with_source(text, where) if e.span is None else e) from None
    ex.write(source.rstrip("\n"))
    return OK


@command("report", ":report file.html", "a report of the last derivation (.html, .md, .tex: the format "
         "follows the file name)", paths=True)
def report(ex: Explorer, text: str, start: int) -> str:
    path = _arg(text, start)
    if not path:
        raise ParseError("usage: :report file.html (or .md, .tex)", text, (start, start + 1))
    d = _derivative(ex, ":report")
    if d is None:
        return FAILED
    try:
        import matcalc.reports as reports
    except ImportError:
        return ex.fail("reports are not part of this build of matcalc yet (they are being built); "
                       ":steps shows the derivation and :latex its formula")
    from matcalc.front.session import variables_of
    from matcalc.printing.text import to_text

    where = (start, start + len(text[start:].rstrip()))
    try:
        fmt = reports.format_of(path)
        types = {**variables_of(d.f.node), d.wrt.name: ex.session.types.get(d.wrt.name)}
        decls = "; ".join(f"{n}: {t}" for n, t in types.items() if t is not None)
        document = reports.report(to_text(d.f.node), d.wrt.name, decls, order=d.order)
        written = document.save(path)
    except MatcalcError as e:
        raise (e.with_source(text, where) if e.span is None else e) from None
    if getattr(document, "failed", False):
        return ex.fail(f"wrote {written} ({fmt.upper()} report of {ex.result.label}): some step FAILED its check")
    ex.write(f"wrote {written} ({fmt.upper()} report of {ex.result.label})")
    return OK


@command("vars", ":vars", "the variables (declared and inferred), definitions and named results")
def vars_(ex: Explorer, text: str, start: int) -> str:
    _no_args(text, start, "vars")
    s = ex.session
    if not s.types and not s.definitions:
        ex.write("nothing yet: declare (X: matrix(m,n)) or define (J = norm2(X*w - y)^2)")
        return OK
    from matcalc.shell.explorer import shape_words
    width = max(len(n) for n in s.names())
    for n, t in s.types.items():
        how = "declared" if n in s.declared else "inferred" + (f" ({s.reasons[n]})" if n in s.reasons else "")
        ex.write(f"{n:<{width}}  {str(t):<16} {how}")
    results = {e.name for e in s.log if e.kind == "result"}
    for n, node in s.definitions.items():
        what = "result" if n in results else "defined"
        ex.write(f"{n:<{width}}  {shape_words(node.shape):<16} {what}")
    return OK


def _conv_parser() -> argparse.ArgumentParser:
    from matcalc.conv.cli import add_arguments

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise MatcalcError(f":conv: {message} (:help conv for the options)")

        def exit(self, status=0, message=None):
            raise _HelpShown(message or "")

    p = Parser(prog=":conv", description="convolution, transposed convolution and pooling gradients",
               add_help=True)
    add_arguments(p)
    return p


class _HelpShown(Exception):
    pass


@command("conv", ":conv [options]",
         "conv gradients as index sums, with the options of `matcalc conv` (:conv --help)")
def conv(ex: Explorer, text: str, start: int) -> str:
    from matcalc.conv.cli import run

    try:
        argv = shlex.split(text[start:])
    except ValueError as e:
        raise ParseError(f":conv: {e}", text, (start, len(text))) from None
    parser = _conv_parser()
    buffer = io.StringIO()
    status = 0
    try:
        with contextlib.redirect_stdout(buffer):
            args = parser.parse_args(argv)
            status = run(args)
    except _HelpShown:
        pass
    ex.write(buffer.getvalue().rstrip("\n"))
    return OK if not status else ex.fail(":conv: a derivation step failed its check (marked above)")


@command("save", ":save file.mc", "write the session (declarations, definitions, named results) as plain "
         "matcalc statements", paths=True)
def save(ex: Explorer, text: str, start: int) -> str:
    path = _arg(text, start)
    if not path:
        raise ParseError("usage: :save file.mc", text, (start, start + 1))
    try:
        Path(path).expanduser().write_text(ex.session.save_text(), encoding="utf-8")
    except OSError as e:
        return ex.fail(f"cannot write {path}: {e.strerror}")
    n = sum(1 for e in ex.session.log if e.kind != "expression")
    ex.write(f"saved {n} statement{'s' * (n != 1)} to {path}")
    return OK


@command("load", ":load file.mc", "read a file of matcalc statements into the session: it is parsed, never "
         "executed, and a bad file changes nothing", paths=True)
def load(ex: Explorer, text: str, start: int) -> str:
    path = _arg(text, start)
    if not path:
        raise ParseError("usage: :load file.mc", text, (start, start + 1))
    try:
        source = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return ex.fail(f"cannot read {path}: {getattr(e, 'strerror', None) or e}")
    before = set(ex.session.names())
    try:
        ex.session.run(source)
    except MatcalcError as e:
        ex.error(e, text)
        return ex.fail(f"nothing was loaded from {path}: the session is as it was")
    added = [n for n in ex.session.names() if n not in before]
    ex.write(f"loaded {path}" + (f": {', '.join(added)}" if added else " (nothing new)"))
    return OK


@command("reset", ":reset", "forget every declaration, definition and result")
def reset(ex: Explorer, text: str, start: int) -> str:
    _no_args(text, start, "reset")
    from matcalc.front.session import Session
    ex.session = Session(reserved=ex.session.reserved)
    ex.result = None
    ex.write("the session is empty")
    return OK


HELP_TOPICS = {
    "language": """\
Statements of the matcalc language:
  X: matrix(m,n)     declare (scalar, vector(n), matrix(m,n), symmetric(n))
  J = norm2(X*w - y)^2   define; undeclared names get kinds by use or by convention
  X*w - y            an expression: its pretty form, shape and inferred types
Operators: + - * / .* ./ ^ .^ ' (transpose); functions: """,
    "derivatives": """\
Derivatives (the result is also _ , the last result):
  d J / d X          or diff(J, X), diff(J, X, 2) for the second derivative
  grad(J, w)  hessian(J, w)  jacobian(F, x)  hvp(J, w, v)   (hvp: the Hessian times v)
  G = d J / d X      names the result; G can be differentiated again
Then :steps, :check, :latex, :report file.html, :explain J X.""",
    "keys": """\
Keys: Tab completes names, functions, commands and file paths; Up/Down walk the history (kept
between sessions); an open '(' continues the input on the next line; Ctrl-C discards the line;
Ctrl-D (or :quit) leaves.""",
}


@command("help", ":help [topic]", "this help; topics: language, derivatives, keys, or a command's name")
def help_(ex: Explorer, text: str, start: int) -> str:
    from matcalc.ir.nodes import FUNCTIONS

    topic = _arg(text, start).lstrip(":")
    if topic:
        if topic in HELP_TOPICS:
            body = HELP_TOPICS[topic]
            ex.write(body + (", ".join(FUNCTIONS) if topic == "language" else ""))
            return OK
        cmd = lookup(topic)
        if cmd is None:
            raise ParseError(f"no help on {topic!r}; topics: {', '.join(HELP_TOPICS)}, or a command's name",
                             text, (start, len(text.rstrip())))
        ex.write(f"{cmd.usage}\n  {cmd.help}")
        return OK
    ex.write("Type matcalc statements, derivatives or commands.  :help language | derivatives | keys")
    width = max(len(c.usage) for c in COMMANDS.values())
    for c in COMMANDS.values():
        ex.write(f"  {c.usage:<{width}}  {c.help}")
    return OK


@command("quit", ":quit", "leave (as Ctrl-D does)")
def quit_(ex: Explorer, text: str, start: int) -> str:
    return QUIT
