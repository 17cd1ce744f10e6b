"""``matcalc codegen EXPR --wrt w [--target numpy|jax|torch] [--hessian] [--hvp] [--order K] [-o file.py]``.

The options and the run of the subcommand; :mod:`matcalc.shell.cli` only registers them, so the
code generator loads when the subcommand runs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from matcalc.errors import MatcalcError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", nargs="?", default="-",
                   help="the expression; '-' or nothing reads it from stdin (or write: -- -x'*y)")
    p.add_argument("--decl", action="append", default=[], metavar="DECL",
                   help="a declaration such as 'X: matrix(m,n)'; repeat for more")
    p.add_argument("--wrt", action="append", required=True, metavar="VAR",
                   help="a variable to differentiate with respect to; repeat (or separate by commas) for more")
    p.add_argument("--target", choices=("numpy", "jax", "torch"), default="numpy")
    p.add_argument("--hessian", action="store_true", help="also generate hessian(**values)")
    p.add_argument("--hvp", action="store_true", help="also generate hvp(**values, v=...), a Hessian-vector product")
    p.add_argument("--order", type=int, metavar="K",
                   help="also generate derivative(**values), the K-th derivative (shape f.shape + x.shape × K; "
                        "K ≥ 3 compiles its index form to einsum)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the module to FILE instead of stdout")


def run(args) -> int:
    from matcalc.generate.api import codegen

    text = sys.stdin.read() if args.expr == "-" else args.expr
    wrt = [w.strip() for item in args.wrt for w in item.split(",") if w.strip()]
    source = codegen(text, wrt, args.target, "\n".join(args.decl) if args.decl else None,
                     hessian=args.hessian, hvp=args.hvp, order=args.order)
    if args.output:
        try:
            Path(args.output).write_text(source, encoding="utf-8")
        except OSError as e:
            raise MatcalcError(f"cannot write {args.output}: {e.strerror}") from None
        print(f"wrote {args.output} ({len(source.splitlines())} lines, target {args.target})")
    else:
        sys.stdout.write(source)
    return 0
