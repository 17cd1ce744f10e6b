"""Parse time of the L-layer chain program, and the time to report a shape error in its last line.

Kind inference is local to the statement that introduces a name (issue 8 §8): a shape error in
the last line of a 1,024-layer program is reported without re-inferring the layers above it.

    python benchmarks/bench_front.py [--depths 256 1024] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import matcalc


def layers(depth: int) -> str:
    return " ".join(f"h{i} = tanh(W{i}*h{i - 1});" for i in range(1, depth + 1))


def cases(depth: int) -> dict:
    body = f"h0 = x; {layers(depth)}"
    decl = "x: vector(n); y: vector(m); " + " ".join(f"W{i}: matrix(n,n);" for i in range(1, depth + 1))
    return {
        "parse, undeclared": f"{body} sum(h{depth})",
        "shape error, undeclared": f"{body}\nsum(h{depth}) + sum(h{depth} .* vector(1)')",
        "shape error, declared": f"{decl} {body}\ny'*h{depth}",
    }


def timed(text: str, repeats: int) -> tuple[float, str]:
    times, outcome = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        try:
            matcalc.parse(text)
            outcome = "ok"
        except matcalc.MatcalcError as e:
            outcome = f"{type(e).__name__} at line {e.line}"
        times.append(time.perf_counter() - t0)
    return statistics.median(times), outcome


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--depths", type=int, nargs="+", default=[256, 1024])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    matcalc.parse("x")  # build the grammar once
    print(f"Python {sys.version.split()[0]}, median of {args.repeats}")
    print("| L | case | time (s) | outcome |")
    print("|---:|---|---:|---|")
    for depth in args.depths:
        for name, text in cases(depth).items():
            t, outcome = timed(text, args.repeats)
            print(f"| {depth} | {name} | {t:.3f} | {outcome} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
