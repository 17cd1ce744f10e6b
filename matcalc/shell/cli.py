"""The ``matcalc`` command: a thin shell over the Python API.

Every subcommand reads an expression (from the argument, or from stdin when it is ``-`` or
absent, which also suits expressions that start with ``-``), prints a result, and turns a
:class:`MatcalcError` into a message with a caret and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import import_module
from typing import Callable

import numpy as np

from matcalc.errors import MatcalcError
from matcalc.expr import Expr, parse

COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None]):
    """Register ``fn(args) -> exit status`` as subcommand ``name``; ``arguments`` adds its options."""
    def register(fn):
        COMMANDS[name] = (help, arguments, fn)
        return fn
    return register


def _expression_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", nargs="?", default="-",
                   help="the expression; '-' or nothing reads it from stdin (or write: -- -x'*y)")
    p.add_argument("--decl", action="append", default=[], metavar="DECL",
                   help="a declaration such as 'X: matrix(m,n)'; repeat for more")


def _read_expr(args) -> str:
    return sys.stdin.read() if args.expr == "-" else args.expr


def _decls(args) -> str | None:
    return "\n".join(args.decl) if args.decl else None


def _parse(args) -> Expr:
    return parse(_read_expr(args), _decls(args))


def _parse_args(p):
    _expression_arguments(p)
    p.add_argument("--format", choices=("text", "latex", "json"), default="text")


@command("parse", "parse an expression and show its shape and the inferred types", _parse_args)
def _show_parse(args) -> int:
    e = _parse(args)
    if args.format == "json":
        print(json.dumps({"expr": str(e), "latex": e.latex(), "shape": list(e.shape), "variables": e.variables},
                         ensure_ascii=False, indent=2))
    elif args.format == "latex":
        print(e.latex())
    else:
        print(str(e))
        print(f"  shape: {_shape_words(e.shape)}")
        for name, t in e.variables.items():
            why = e.inferred.get(name)
            print(f"  {name}: {t}" + (f" — inferred: {why.split(': ', 1)[-1]}" if why else ""))
    return 0


def _shape_words(shape: tuple) -> str:
    if not shape:
        return "scalar"
    return f"vector({shape[0]})" if len(shape) == 1 else f"matrix({shape[0]},{shape[1]})"


def _eval_args(p):
    _expression_arguments(p)
    p.add_argument("--values", required=True, metavar="JSON",
                   help='values as JSON, e.g. \'{"x": [1, 2], "A": [[1, 0], [0, 1]]}\'')


@command("eval", "evaluate an expression at given values (JSON)", _eval_args)
def _evaluate(args) -> int:
    e = _parse(args)
    try:
        values = json.loads(args.values)
    except json.JSONDecodeError as err:
        raise MatcalcError(f"--values must be a JSON object of name → number or nested lists: {err.msg}",
                           args.values, (err.pos, err.pos + 1)) from None
    result = e.evaluate(values)
    print(json.dumps(np.asarray(result).tolist()))
    return 0


def _diff_args(p):
    _expression_arguments(p)
    p.add_argument("--wrt", required=True, metavar="VAR", help="the variable to differentiate with respect to")
    p.add_argument("--order", type=int, default=1, help="1 for the gradient/Jacobian, 2 for the Hessian, ...")
    p.add_argument("--format", choices=("text", "latex", "json"), default="text")
    p.add_argument("--steps", action="store_true", help="also print the derivation, step by step")
    p.add_argument("--check", action="store_true", help="also verify against finite differences at random inputs")


@command("diff", "differentiate: gradient, Jacobian, Hessian or higher, in matrix form", _diff_args)
def _diff(args) -> int:
    from matcalc.numeric.check import check
    from matcalc.calculus.derivative import diff
    from matcalc.present import derivation_text, step_line

    text, decls = _read_expr(args), _decls(args)
    d = diff(text, args.wrt, decls, args.order)
    error = check(text, args.wrt, decls, args.order) if args.check else None
    name = _derivative_name(d)
    if args.format == "json":
        print(json.dumps({
            "f": str(d.f), "wrt": d.wrt.name, "order": d.order, "form": d.form, "result": str(d),
            "latex": d.latex(), "shape": list(d.shape), "layout": d.layout, "convention": d.convention,
            "steps": [step_line(s, d.wrt.name) for s in d.steps], "check": error,
        }, ensure_ascii=False, indent=2))
        return 0
    if args.format == "latex":
        print(d.latex())
        return 0
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
    if error is not None:
        print(f"  finite-difference check: max relative error {error:.1e}")
    if args.steps:
        verdicts = d.verify(seed=0) if args.check else None
        print("derivation:" + ("  (each step checked numerically at random points)" if verdicts else ""))
        for line in derivation_text(d, verdicts).splitlines():
            print("  " + line)
        if verdicts is not None:
            failed = [i for i, v in enumerate(verdicts, 1) if not v.ok]
            if failed:
                print(f"verification: FAILED at step(s) {', '.join(map(str, failed))}", file=sys.stderr)
                return 1
            print(f"verification: all {len(verdicts)} steps hold")
    return 0


def _explain_args(p):
    _expression_arguments(p)
    p.add_argument("--wrt", required=True, metavar="VAR", help="the variable to differentiate with respect to")
    p.add_argument("--format", choices=("text", "json"), default="text")


@command("explain", "the true derivation and the dimension-consistency shortcut, side by side, with a verdict",
         _explain_args)
def _explain(args) -> int:
    from matcalc.consistency.explain import shortcut

    r = shortcut(_read_expr(args), args.wrt, _decls(args))
    if args.format == "json":
        data = r.to_dict()
        data["derivation"] = r.truth.explain().splitlines()
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    from matcalc.shell.explain_view import side_by_side
    print(side_by_side(r))
    return 0


def _conv_args(p):
    from matcalc.conv.cli import add_arguments
    add_arguments(p)


@command("conv", "convolution (and transposed convolution, average pooling) gradients as index sums", _conv_args)
def _conv(args) -> int:
    from matcalc.conv.cli import run
    return run(args)


_gen = lambda: __import__("matcalc.generate.cli", fromlist=["run"])  # noqa: E731  (loads on use)
command("codegen", "generate NumPy, JAX or torch code: value and gradient, Hessian, Hessian-vector product",
        lambda p: _gen().add_arguments(p))(lambda args: _gen().run(args))


def inferred_lines(e) -> list:
    """The types of the undeclared variables, each with how it was inferred (none when all were declared)."""
    if not e.inferred:
        return []
    types = e.variables
    return ["types inferred (declare them to change them):"] + [
        f"  {name}: {types[name]} — {why.split(': ', 1)[-1]}" for name, why in e.inferred.items()]


command("report", "a derivation report: HTML (MathML, offline), Markdown, LaTeX or PDF",
        lambda p: import_module("matcalc.reports.cli").add_arguments(p))(lambda a: import_module("matcalc.reports.cli").run(a))


def _repl_args(p):
    from matcalc.shell.repl import add_arguments
    add_arguments(p)


@command("repl", "the interactive explorer (also: matcalc with no arguments on a terminal)", _repl_args)
def _repl(args) -> int:
    from matcalc.shell.repl import run
    return run(args)


def _derivative_name(d) -> str:
    x = d.wrt.name
    if d.order == 1:
        return f"∂f/∂{x}"
    return f"∂^{d.order}f/∂{x}^{d.order}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matcalc", description="Symbolic matrix calculus.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, arguments, fn) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        arguments(p)
        p.set_defaults(run=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv or (["repl"] if sys.stdin.isatty() else argv))
    try:
        return args.run(args)
    except MatcalcError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
