"""The ``matcalc`` command: a thin shell over the Python API, with a contract scripts can rely on.

- Exit status: 0 ok; 1 a check or verification failed; 2 bad input or usage (argparse's usage
  errors included); 130 interrupted (Ctrl-C).  Errors go to stderr, never as a traceback.
- ``--format json`` prints one object of a stable schema for every subcommand (see
  :func:`success` and :func:`failure`); in JSON mode an error is printed to stdout as JSON too.
- Every subcommand that takes an expression reads it from the argument, or from stdin when it
  is ``-`` or absent; an expression that starts with ``-`` (``-y'*log(p)``) is recognised as the
  expression rather than an option.  Piping into ``head`` ends quietly (SIGPIPE as Unix does).

Subcommands register with ``@command(name, help, arguments, example=...)``; ``fn(args)``
prints its output and returns the exit status.
"""
from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from importlib import import_module
from typing import Callable, Optional

import numpy as np

from matcalc.errors import ORDER_MAX, EvaluationError, MatcalcError, checked_order
from matcalc.expr import Expr, parse

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}
EXAMPLES: dict[str, str] = {}

EXIT_CODES = """exit status:
  0    ok
  1    a check or verification failed (diff --check)
  2    bad input or usage: the message says what and where
  130  interrupted (Ctrl-C)"""


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None],
            example: Optional[str] = None):
    """Register ``fn(args) -> exit status`` as subcommand ``name``; ``arguments`` adds its options,
    ``example`` is a command line shown by ``--help``."""
    def register(fn):
        COMMANDS[name] = (help, arguments, fn)
        if example:
            EXAMPLES[name] = example
        return fn
    return register


class UsageError(MatcalcError):
    """The command line itself is wrong: a missing or conflicting option, no expression."""

    def __init__(self, message: str, usage: str = ""):
        self.usage = usage
        super().__init__(message)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises :class:`UsageError` (exit 2, JSON in JSON mode)."""

    def error(self, message):
        if "unrecognized arguments: -" in message or "expected one argument" in message:
            message += ("; an expression that starts with '-' can also follow '--' "
                        "(matcalc diff --wrt x -- \"-x'*y\") or come on stdin")
        raise UsageError(f"{self.prog}: {message}", self.format_usage())


class _Once(argparse.Action):
    """An option that may be given once: a second value is a conflict, never silently the winner."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = namespace.__dict__.setdefault("_given_once", {})
        if self.dest in seen and seen[self.dest] != values:
            parser.error(f"{option_string} given twice ({seen[self.dest]!r} and {values!r}); give it once")
        seen[self.dest] = values
        setattr(namespace, self.dest, values)


# ------------------------------------------------------------------------------ JSON schema

_DIM = {"type": ["integer", "string"]}
JSON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "matcalc --format json",
    "oneOf": [
        {"type": "object", "required": ["ok", "result", "latex", "shape", "variables", "steps", "check", "notes"],
         "properties": {
             "ok": {"const": True},
             "result": {},
             "latex": {"type": ["string", "null"]},
             "shape": {"oneOf": [{"type": "null"}, {"type": "array", "items": _DIM}]},
             "variables": {"type": "object", "additionalProperties": {"type": "string"}},
             "steps": {"type": "array", "items": {"type": "string"}},
             "check": {"oneOf": [{"type": "null"}, {
                 "type": "object", "required": ["ok", "error", "reason", "tolerance", "points"],
                 "properties": {"ok": {"type": "boolean"}, "error": {"type": ["number", "null"]},
                                "reason": {"type": "string"}, "tolerance": {"type": "number"},
                                "points": {"type": "integer"}, "sizes": {"type": "object"},
                                "rejected": {"type": "array", "items": {"type": "string"}},
                                "inconclusive": {"type": "boolean"}}}]},
             "notes": {"type": "array", "items": {"type": "string"}}}},
        {"type": "object", "required": ["ok", "error"], "additionalProperties": False,
         "properties": {
             "ok": {"const": False},
             "error": {"type": "object", "required": ["type", "message", "line", "column", "span"],
                       "properties": {"type": {"type": "string"}, "message": {"type": "string"},
                                      "line": {"type": ["integer", "null"]},
                                      "column": {"type": ["integer", "null"]},
                                      "span": {"oneOf": [{"type": "null"},
                                                         {"type": "array", "items": {"type": "integer"},
                                                          "minItems": 2, "maxItems": 2}]},
                                      "caret": {"type": ["string", "null"]}}}}},
    ],
}


def success(result, latex=None, shape=None, variables=None, steps=(), check=None, notes=(), **extra) -> dict:
    """The JSON of a successful run: the seven keys every subcommand has, then its own extras."""
    return {"ok": True, "result": result, "latex": latex, "shape": shape, "variables": dict(variables or {}),
            "steps": list(steps), "check": check, "notes": list(notes), **extra}


def failure(e: MatcalcError) -> dict:
    """The JSON of an error: its class, message and location (None where there is none)."""
    return {"ok": False, "error": {"type": type(e).__name__, "message": e.message, "line": e.line,
                                   "column": e.column, "span": list(e.span) if e.span is not None else None,
                                   "caret": e.caret() or None}}


def print_json(payload: dict) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False))


def _shape_list(shape) -> list:
    return [d if isinstance(d, int) else str(d) for d in shape]


# ------------------------------------------------------------------------------ shared arguments

def _expression_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", nargs="?", default="-",
                   help="the expression; '-' or nothing reads it from stdin; it may start with '-'")
    p.add_argument("--decl", action="append", default=[], metavar="DECL",
                   help="a declaration such as 'X: matrix(m,n)'; repeat for more")


def _format_argument(p: argparse.ArgumentParser, choices=("text", "latex", "json")) -> None:
    p.add_argument("--format", choices=choices, default="text", action=_Once, help="output format (default text)")


def _read_expr(args) -> str:
    if args.expr != "-":
        return args.expr
    stdin = sys.stdin
    if stdin is None or stdin.isatty():
        raise UsageError("no expression given: write it as an argument (matcalc "
                         f"{args.command} \"x'*A*x\" ...) or pipe it on stdin")
    text = stdin.read()
    if not text.strip():
        raise UsageError("no expression given: stdin was empty")
    return text


def _decls(args):
    """The --decl options as one mapping name → Type; two different types for one name conflict."""
    if not args.decl:
        return None
    from matcalc.front.parser import parse_program
    seen: dict = {}
    for text in args.decl:
        program = parse_program(text)
        if program.expressions or program.definitions:
            raise UsageError(f"--decl takes declarations such as 'X: matrix(m,n)', not {text!r}")
        for name, t in program.declarations.items():
            if name in seen and seen[name][0] != t:
                raise UsageError(f"conflicting declarations of {name}: {seen[name][0]} (--decl {seen[name][1]!r}) "
                                 f"and {t} (--decl {text!r}); declare it once")
            seen[name] = (t, text)
    return {name: t for name, (t, _) in seen.items()}


def _parse(args) -> Expr:
    return parse(_read_expr(args), _decls(args))


def _shape_words(shape: tuple) -> str:
    if not shape:
        return "scalar"
    return f"vector({shape[0]})" if len(shape) == 1 else f"matrix({shape[0]},{shape[1]})"


# ------------------------------------------------------------------------------ parse

def _parse_args(p):
    _expression_arguments(p)
    _format_argument(p)


@command("parse", "parse an expression and show its shape and the inferred types", _parse_args,
         example="matcalc parse \"norm2(X*w - y)^2\" --decl \"w: vector(n)\"")
def _show_parse(args) -> int:
    e = _parse(args)
    if args.format == "json":
        print_json(success(str(e), e.latex(), _shape_list(e.shape), e.variables, expr=str(e)))
    elif args.format == "latex":
        print(e.latex())
    else:
        print(str(e))
        print(f"  shape: {_shape_words(e.shape)}")
        for name, t in e.variables.items():
            why = e.inferred.get(name)
            print(f"  {name}: {t}" + (f" — inferred: {why.split(': ', 1)[-1]}" if why else ""))
    return 0


# ------------------------------------------------------------------------------ eval

def _eval_args(p):
    _expression_arguments(p)
    p.add_argument("--values", required=True, metavar="JSON", action=_Once,
                   help='values as JSON, e.g. \'{"x": [1, 2], "A": [[1, 0], [0, 1]]}\'; '
                        'an integer for a dimension name sets its size')
    p.add_argument("--format", choices=("text", "json"), default="text", action=_Once)


class _NonFinite(ValueError):
    pass


def _reject_constant(name: str):
    raise _NonFinite(name)


def parse_values(text: str) -> dict:
    """--values: a JSON object of name → number or rectangular nested lists of finite numbers."""
    try:
        values = json.loads(text, parse_constant=_reject_constant)
    except _NonFinite as err:
        at = text.find(str(err))
        raise EvaluationError(f"--values: {err} is not a number: every value must be finite", text,
                              (at, at + len(str(err))) if at >= 0 else None) from None
    except json.JSONDecodeError as err:
        raise EvaluationError(f"--values is not valid JSON: {err.msg}", text, (err.pos, err.pos + 1)) from None
    if not isinstance(values, dict):
        raise EvaluationError('--values must be a JSON object of name → value, e.g. {"x": [1, 2]}, '
                              f"not a {type(values).__name__}")
    for name, v in values.items():
        _check_array(name, v, name)
    return values


def _check_array(name: str, v, where: str):
    """The nested list ``v`` is rectangular and holds finite numbers; its shape."""
    if isinstance(v, bool) or not isinstance(v, (int, float, list)):
        raise EvaluationError(f"--values: {where} is {json.dumps(v)}, not a number or a list of numbers")
    if isinstance(v, (int, float)):
        if not math.isfinite(v):
            raise EvaluationError(f"--values: {where} is not finite ({v}); every value must be a finite number")
        return ()
    if not v:
        raise EvaluationError(f"--values: {where} is an empty list")
    shapes = [_check_array(name, item, f"{where}[{i}]") for i, item in enumerate(v)]
    for i, s in enumerate(shapes):
        if s != shapes[0]:
            what = "a number" if not s else f"{s[0]} entries"
            first = "a number" if not shapes[0] else f"{shapes[0][0]} entries"
            raise EvaluationError(f"--values: {where}[{i}] has {what} but {where}[0] has {first}: "
                                  f"every row of {name} needs the same length")
    return (len(v),) + shapes[0]


@command("eval", "evaluate an expression at given values (JSON)", _eval_args,
         example="matcalc eval \"x'*A*x\" --values '{\"x\": [1, 2], \"A\": [[2, 0], [0, 3]]}'")
def _evaluate(args) -> int:
    e = _parse(args)
    values = parse_values(args.values)
    result = np.asarray(e.evaluate(values))
    if not np.all(np.isfinite(result)):
        raise EvaluationError(f"the value of {e} is not finite: {result.tolist()}")
    value = result.tolist()
    if args.format == "json":
        print_json(success(value, e.latex(), list(result.shape), e.variables))
    else:
        print(json.dumps(value))
    return 0


# ------------------------------------------------------------------------------ diff

def _order(text: str) -> int:
    """--order: the API's own bound (:func:`matcalc.errors.checked_order`), as a usage error."""
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"order must be an integer 1 … {ORDER_MAX}, not {text!r}") from None
    try:
        return checked_order(k)
    except MatcalcError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def _diff_args(p):
    _expression_arguments(p)
    p.add_argument("--wrt", required=True, metavar="VAR", action=_Once,
                   help="the variable to differentiate with respect to")
    p.add_argument("--order", type=_order, default=1, action=_Once,
                   help=f"1 for the gradient/Jacobian, 2 for the Hessian, ... up to {ORDER_MAX}")
    _format_argument(p)
    p.add_argument("--steps", action="store_true", help="also print the derivation, step by step")
    p.add_argument("--check", action="store_true",
                   help="also verify against finite differences at random inputs (exit 1 if it fails)")


def _no_latex_extras(args) -> None:
    extras = [flag for flag, on in (("--steps", getattr(args, "steps", False)),
                                    ("--check", getattr(args, "check", False))) if on]
    if args.format == "latex" and extras:
        raise UsageError(f"--format latex prints only the formula, so {' and '.join(extras)} would be dropped; "
                         "use --format text or --format json with them")


@command("diff", "differentiate: gradient, Jacobian, Hessian or higher, in matrix form", _diff_args,
         example="matcalc diff \"norm2(X*w - y)^2\" --wrt w --steps --check")
def _diff(args) -> int:
    from matcalc.numeric.check import verdict as check_verdict
    from matcalc.calculus.derivative import diff
    from matcalc.present import derivation_text, step_line

    _no_latex_extras(args)
    text, decls = _read_expr(args), _decls(args)
    d = diff(text, args.wrt, decls, args.order)
    v = check_verdict(text, args.wrt, decls, args.order) if args.check else None
    notes = []
    if d.wrt.name not in d.f.variables:
        notes.append(f"f does not depend on {d.wrt.name}: the derivative is zero")
    status = EXIT_FAILED if v is not None and not v.ok else EXIT_OK
    if args.format == "json":
        variables = dict(d.f.variables)
        variables.setdefault(d.wrt.name, _type_text(d.wrt))
        verdicts = d.verify(seed=0) if args.check else None
        if verdicts is not None and not all(s.ok or s.undefined for s in verdicts):
            status = EXIT_FAILED
        print_json(success(str(d), d.latex(), _shape_list(d.shape), variables,
                           [step_line(s, d.wrt.name) for s in d.steps], v.to_dict() if v is not None else None,
                           notes, f=str(d.f), wrt=d.wrt.name, order=d.order, form=d.form, layout=d.layout,
                           convention=d.convention,
                           verification=None if verdicts is None else
                           [{"step": i, "ok": s.ok, "error": s.error if s.error is None or np.isfinite(s.error) else None,
                             "note": s.note, "undefined": s.undefined} for i, s in enumerate(verdicts, 1)]))
        return status
    if args.format == "latex":
        print(d.latex())
        return status
    name = _derivative_name(d)
    result = str(d)
    if d.form == "index":
        print(f"{name} in index notation:\n  " + result.replace("\n", "\n  "))
    else:
        print(f"{name} = {result}" if "\n" not in result else f"{name} =\n{result}")
    print(f"  {d.layout}")
    if d.convention:
        print(f"  symmetric {d.wrt.name}: {d.convention}")
    for line in inferred_lines(d.f):
        print("  " + line)
    for note in notes:
        print(f"  note: {note}")
    if v is not None:
        print(f"  {v}")   # check: OK (max relative error 1.1e-10), check: FAILED (…) or check: INCONCLUSIVE (…)
    if args.steps:
        verdicts = d.verify(seed=0) if args.check else None
        print("derivation:" + ("  (each step checked numerically at random points)" if verdicts else ""))
        for line in derivation_text(d, verdicts, defined=True).splitlines():   # the result's t1 = … are above
            print("  " + line)
        if verdicts is not None:
            failed = [i for i, s in enumerate(verdicts, 1) if not s.ok and not s.undefined]
            if failed:
                print(f"verification: FAILED at step(s) {', '.join(map(str, failed))}", file=sys.stderr)
                return EXIT_FAILED
            undefined = [i for i, s in enumerate(verdicts, 1) if s.undefined]
            if undefined:
                print(f"verification: {len(verdicts) - len(undefined)} steps hold; step(s) "
                      f"{', '.join(map(str, undefined))} could not be checked: undefined at every point drawn "
                      "(f is not differentiable there)")
            else:
                print(f"verification: all {len(verdicts)} steps hold")
    return status


def _type_text(var) -> str:
    from matcalc.front.parser import type_of_var
    return str(type_of_var(var))


def _derivative_name(d) -> str:
    x = d.wrt.name
    if d.order == 1:
        return f"∂f/∂{x}"
    return f"∂^{d.order}f/∂{x}^{d.order}"


# ------------------------------------------------------------------------------ explain

def _explain_args(p):
    _expression_arguments(p)
    p.add_argument("--wrt", required=True, metavar="VAR", action=_Once,
                   help="the variable to differentiate with respect to")
    p.add_argument("--format", choices=("text", "json"), default="text", action=_Once)


@command("explain", "the true derivation and the dimension-consistency shortcut, side by side, with a verdict",
         _explain_args, example="matcalc explain \"x'*A*x\" --wrt x")
def _explain(args) -> int:
    from matcalc.consistency.explain import shortcut

    r = shortcut(_read_expr(args), args.wrt, _decls(args))
    if args.format == "json":
        data = r.to_dict()
        derivation = r.truth.explain().splitlines()
        print_json(success(r.verdict, r.latex(), _shape_list(r.truth.shape), r.truth.f.variables, derivation,
                           **data, derivation=derivation))
        return 0
    from matcalc.shell.explain_view import side_by_side
    print(side_by_side(r))
    return 0


# ------------------------------------------------------------------------------ conv

# options that only some layers take: given for another layer they conflict (never silently dropped)
_CONV_ONLY = {"groups": ("--groups", ("conv", "conv_transpose"), 1),
              "dilation": ("--dilation", ("conv", "conv_transpose"), 1),
              "output_padding": ("--output-padding", ("conv_transpose",), 0),
              "kernel_size": ("--kernel-size", ("avgpool",), 2),
              "no_bias": ("--no-bias", ("conv", "conv_transpose"), False)}


def _conv_args(p):
    from matcalc.conv.cli import add_arguments
    add_arguments(p)
    for action in p._actions:  # JSON output, and single-use layer options
        if action.dest == "format":
            action.choices = ("text", "latex", "json")
    p.set_defaults(**{dest: None for dest in _CONV_ONLY})


def _conv_configuration(args) -> None:
    for dest, (flag, layers, default) in _CONV_ONLY.items():
        given = getattr(args, dest)
        if given is not None and given is not False and args.layer not in layers:
            raise UsageError(f"{flag} does not apply to --layer {args.layer} (only to {' and '.join(layers)})")
        if given is None:
            setattr(args, dest, default)
    _no_latex_extras(args)


@command("conv", "convolution (and transposed convolution, average pooling) gradients as index sums", _conv_args,
         example="matcalc conv --ndim 2 --stride 2 --padding 1 --dilation 2")
def _conv(args) -> int:
    from matcalc.conv.cli import run

    _conv_configuration(args)
    if args.format != "json":
        return run(args)
    from matcalc.conv.api import avgpool_gradients, conv_gradients, conv_transpose_gradients
    stride = 1 if args.stride is None else args.stride
    if args.layer == "avgpool":
        g = avgpool_gradients(args.ndim, args.kernel_size, args.stride, args.padding)
    elif args.layer == "conv_transpose":
        g = conv_transpose_gradients(args.ndim, stride, args.padding, args.output_padding,
                                     args.dilation, args.groups, not args.no_bias)
    else:
        g = conv_gradients(args.ndim, stride, args.padding, args.dilation, args.groups, not args.no_bias)
    steps = [line for part in g.parts if part is not g.forward for line in part.steps_text().splitlines()]
    print_json(success(g.text(args.specialise), g.latex(args.specialise), None, {}, steps,
                       parts={part.title: part.text(args.specialise) for part in g.parts}))
    return 0


def _lazy_command(name: str, help_text: str, module: str, example: str) -> None:
    """A subcommand whose options and work live in ``module`` (imported only when it is used)."""
    command(name, help_text, lambda p: import_module(module).add_arguments(p), example=example)(
        lambda args: import_module(module).run(args))


_lazy_command("codegen", "generate NumPy, JAX or torch code: value and gradient, Hessian, Hessian-vector product",
              "matcalc.generate.cli", "matcalc codegen \"norm2(X*w - y)^2\" --wrt w --target numpy -o lsq.py")
_lazy_command("report", "a derivation report: HTML (MathML, offline), Markdown, LaTeX or PDF",
              "matcalc.reports.cli", "matcalc report \"norm2(X*w - y)^2\" --wrt X,w -o report.html")
_lazy_command("repl", "the interactive explorer (also: matcalc with no arguments on a terminal)",
              "matcalc.shell.repl", "matcalc repl < session.mc")


def inferred_lines(e) -> list:
    """The types of the undeclared variables, each with how it was inferred (none when all were declared)."""
    if not e.inferred:
        return []
    types = e.variables
    return ["types inferred (declare them to change them):"] + [
        f"  {name}: {types[name]} — {why.split(': ', 1)[-1]}" for name, why in e.inferred.items()]


# ------------------------------------------------------------------------------ the shell

def build_parser() -> argparse.ArgumentParser:
    from matcalc import __version__

    examples = "\n".join(f"  {EXAMPLES[name]}" for name in COMMANDS if name in EXAMPLES)
    parser = _Parser(prog="matcalc", description="Symbolic matrix calculus.",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=f"examples:\n{examples}\n\n{EXIT_CODES}\n\n--format json prints "
                            "{\"ok\": true, \"result\", \"latex\", \"shape\", \"variables\", \"steps\", \"check\", ...}"
                            " or {\"ok\": false, \"error\": {\"type\", \"message\", \"line\", \"column\", \"span\"}}.")
    parser.add_argument("--version", action="version", version=f"matcalc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, arguments, fn) in COMMANDS.items():
        epilog = f"example:\n  {EXAMPLES[name]}\n\n{EXIT_CODES}" if name in EXAMPLES else EXIT_CODES
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        arguments(p)
        p.set_defaults(run=fn)
    return parser


def _wants_json(argv: list[str]) -> bool:
    return any(a == "--format=json" or (a == "--format" and i + 1 < len(argv) and argv[i + 1] == "json")
               for i, a in enumerate(argv))


def _looks_like_expression(token: str) -> bool:
    from matcalc.front.parser import parse_syntax
    try:
        return bool(parse_syntax(token))
    except MatcalcError:
        return False
    except Exception:  # noqa: BLE001 - a guess at the argument's role must never crash the shell
        return False


def _option(options: dict, token: str):
    """The action ``token`` names (exactly, as --opt=value, or as argparse's unique prefix)."""
    name = token.split("=", 1)[0] if token.startswith("--") else token
    if name in options:
        return options[name]
    if token.startswith("--"):
        hits = {a for o, a in options.items() if o.startswith(name)}
        if len(hits) == 1:
            return hits.pop()
    return None


def protect_leading_minus(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Move an expression that starts with '-' (``-y'*log(p)``) behind ``--`` so that argparse
    does not take it for an option."""
    if "--" in argv:
        return argv
    subs = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    at = next((i for i, a in enumerate(argv) if subs is not None and a in subs.choices), None)
    if at is None:
        return argv
    sub = subs.choices[argv[at]]
    if not any(a.dest == "expr" for a in sub._actions):
        return argv
    options = sub._option_string_actions
    i = at + 1
    while i < len(argv):
        token = argv[i]
        action = _option(options, token)
        if action is not None:
            i += 1 if (action.nargs == 0 or "=" in token) else 2
            continue
        if token.startswith("-") and not token.startswith("--") and token != "-" and _looks_like_expression(token):
            return argv[:i] + argv[i + 1:] + ["--", token]
        i += 1
    return argv


def _restore_sigpipe() -> None:
    """Die quietly on a closed pipe (``matcalc … | head``), as Unix tools do."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def _report(e: MatcalcError, json_mode: bool) -> None:
    if json_mode:
        print_json(failure(e))
    if isinstance(e, UsageError):
        print(f"{e.usage}{e}" if e.usage else f"matcalc: {e}", file=sys.stderr)
    else:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    if argv is None:
        _restore_sigpipe()
        argv = sys.argv[1:]
    argv = list(argv)
    if not argv and sys.stdin.isatty():
        argv = ["repl"]
    json_mode = _wants_json(argv)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(protect_leading_minus(parser, argv))
        except SystemExit as done:  # --help and --version
            return int(done.code or 0) if not isinstance(done.code, str) else EXIT_USAGE
        return args.run(args)
    except KeyboardInterrupt:
        print("matcalc: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MatcalcError as e:
        _report(e, json_mode)
        return EXIT_USAGE
    except RecursionError:
        e = MatcalcError("the input is nested too deeply for this stage (a recursion limit was reached)")
        _report(e, json_mode)
        return EXIT_USAGE
    except BrokenPipeError:  # in-process callers (the console script dies by SIGPIPE first)
        return EXIT_FAILED
