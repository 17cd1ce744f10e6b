"""The derivation record on the L-layer chain: steps recorded, explain() text and time, verify() time.

Every step is printed with the subexpressions it shares with other steps named once (t1 = …), so
the text and the time of explain() grow linearly in L; verify() evaluates every step once.

    python benchmarks/bench_derivation.py [--max-depth 512] [--verify-depth 64]
"""
from __future__ import annotations

import argparse
import time

import matcalc
from bench_diff import network_text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-depth", type=int, default=512)
    ap.add_argument("--verify-depth", type=int, default=64)
    args = ap.parse_args()
    print("| L | steps | explain chars | explain s | verify s |")
    print("|---|---|---|---|---|")
    depth = 16
    while depth <= args.max_depth:
        d = matcalc.diff(matcalc.parse(network_text(depth)), "W1")
        t0 = time.perf_counter()
        text = d.explain()
        t1 = time.perf_counter()
        verified = ""
        if depth <= args.verify_depth:
            verdicts = d.verify(seed=0)
            verified = f"{time.perf_counter() - t1:.2f}" + ("" if all(v.ok for v in verdicts) else " (FAILED)")
        print(f"| {depth} | {len(d.steps)} | {len(text)} | {t1 - t0:.2f} | {verified or '–'} |", flush=True)
        depth *= 2


if __name__ == "__main__":
    main()
