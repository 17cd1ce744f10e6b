"""``matcalc conv``: print a layer's forward index sum and its derived gradients.

The lead's ``matcalc`` console script mounts this as a subcommand through ``add_arguments`` and
``run``; ``python -m matcalc.conv.cli`` runs it stand-alone.
"""
from __future__ import annotations

import argparse
import sys


def _ints(text: str) -> int | tuple[int, ...]:
    """``2`` → 2, ``2,1`` → (2, 1)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int or comma-separated ints like 2,1; got {text!r}")
    return values[0] if len(values) == 1 else values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``conv`` subcommand's options on ``parser``."""
    parser.add_argument("--layer", choices=("conv", "conv_transpose", "avgpool"), default="conv",
                        help="which layer (default: conv, PyTorch's conv{1,2,3}d)")
    parser.add_argument("--ndim", type=int, default=2, help="spatial dimensions: 1, 2 or 3 (default 2)")
    parser.add_argument("--stride", type=_ints, default=None,
                        help="int or comma-separated per axis, e.g. 2,1 (default 1; avgpool: kernel size)")
    parser.add_argument("--padding", type=_ints, default=0, help="zero padding, int or per axis (default 0)")
    parser.add_argument("--dilation", type=_ints, default=1, help="int or per axis (default 1)")
    parser.add_argument("--groups", type=int, default=1, help="channel groups (default 1)")
    parser.add_argument("--output-padding", type=_ints, default=0, help="conv_transpose only (default 0)")
    parser.add_argument("--kernel-size", type=_ints, default=2, help="avgpool only (default 2)")
    parser.add_argument("--no-bias", action="store_true", help="layer without bias")
    parser.add_argument("--format", choices=("text", "latex"), default="text", help="output format")
    parser.add_argument("--specialise", "--specialize", action="store_true",
                        help="substitute the parameter values into the formulas")
    parser.add_argument("--steps", action="store_true", help="also print each derivation step")
    parser.add_argument("--check", action="store_true",
                        help="verify every derivation step numerically (with --steps: ✓/✗ and the error per step)")


def run(args: argparse.Namespace) -> int:
    """Print the forward sum and gradients; bad input raises a MatcalcError, which the ``matcalc``
    command reports with exit status 2."""
    from matcalc.conv import api  # loads SymPy: only when a conv command runs, not to build the parser
    stride = 1 if args.stride is None else args.stride
    if args.layer == "avgpool":
        g = api.avgpool_gradients(args.ndim, args.kernel_size, args.stride, args.padding)
    elif args.layer == "conv_transpose":
        g = api.conv_transpose_gradients(args.ndim, stride, args.padding, args.output_padding,
                                         args.dilation, args.groups, not args.no_bias)
    else:
        g = api.conv_gradients(args.ndim, stride, args.padding, args.dilation, args.groups, not args.no_bias)
    verdicts = g.verify(seed=0) if args.check else None
    if args.format == "latex":
        print(g.latex(args.specialise))
    else:
        print(g.text(args.specialise, args.steps, verdicts))
    if verdicts is not None:
        failed = [f"{title} step {k}" for title, vs in verdicts.items() for k, v in enumerate(vs, 1) if not v.ok]
        if failed:
            print(f"verification: FAILED at {', '.join(failed)}", file=sys.stderr)
            return 1
        print(f"verification: all {sum(map(len, verdicts.values()))} steps hold")
    return 0


def main(argv: list[str] | None = None) -> int:
    from matcalc.shell.cli import main as matcalc_main
    return matcalc_main(["conv", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
