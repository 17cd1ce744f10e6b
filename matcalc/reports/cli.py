"""``matcalc report``: write a derivation report (HTML, Markdown, LaTeX or PDF, by the suffix of -o).

    matcalc report "norm2(X*w - y)^2" --wrt X,w,y -o seed.html
    matcalc report --example seed -o seed.html
    matcalc report --conv --stride 2 --dilation 2 -o conv.html
    matcalc report "logdet(X)" --wrt X -o - --format md       # to stdout
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    from matcalc.conv.cli import add_arguments as conv_arguments
    p.add_argument("expr", nargs="?", default=None, help="the expression (omit with --example or --conv)")
    p.add_argument("--wrt", metavar="X[,w,...]", help="the variables, comma-separated")
    p.add_argument("--decl", action="append", default=[], metavar="DECL", help="a declaration such as 'X: matrix(m,n)'")
    p.add_argument("--order", type=int, default=1, help="2 for the Hessian, ...")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="where to write: .html, .md, .tex or .pdf; '-' writes to stdout (with --format)")
    p.add_argument("--example", choices=("seed",), help="a worked example: seed, J = ‖Xω − y‖² of the seed notes")
    p.add_argument("--conv", action="store_true", help="a convolution layer's gradients (conv options below)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the numerical checks")
    conv = p.add_argument_group("conv options")
    conv_arguments(conv)
    for action in conv._group_actions:      # the conv --format (text/latex) is the report's --format here
        if action.dest == "format":
            action.choices, action.default = ("html", "md", "tex"), None
            action.help = "the format when writing to stdout (default html)"


def _build(args):
    from matcalc.reports import ReportError, conv_report, example_report, report
    if args.example:
        return example_report(args.example)
    if args.conv:
        return conv_report(seed=args.seed, layer=args.layer, ndim=args.ndim, stride=args.stride, padding=args.padding,
                           dilation=args.dilation, groups=args.groups, bias=not args.no_bias,
                           output_padding=args.output_padding, kernel_size=args.kernel_size)
    if args.expr is None:
        raise ReportError("give an expression (or --example seed, or --conv)")
    if not args.wrt:
        raise ReportError("--wrt is required: the variables to differentiate with respect to, e.g. --wrt X,w")
    text = sys.stdin.read() if args.expr == "-" else args.expr
    return report(text, args.wrt, "\n".join(args.decl) or None, args.order, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    from matcalc.reports import format_of
    if args.output != "-":
        format_of(args.output)          # an unknown suffix fails before any work
    r = _build(args)
    if args.output == "-":
        sys.stdout.write(r.text(args.format or "html"))
        return 0
    path = r.save(args.output)
    print(f"wrote {path}" + (" (verification FAILED: see the top of the report)" if r.failed else ""),
          file=sys.stderr)
    return 1 if r.failed else 0
