"""Wide expressions: N-term sums, the Hessian of a deep chain, and many parallel deep branches.

Each case is differentiated in a fresh interpreter with a time budget, so a slow "before" run
cannot stall the table; times are CPU seconds (``time.process_time``, less disturbed by a busy
machine than wall time), the median of --repeats runs of ``matcalc.diff`` (parsing is not
timed), with BLAS threads pinned to 1.  ``--before TREE`` measures an older source tree
alongside, size by size, before and after in turn (e.g. ``git worktree add /tmp/before 30b63ee``),
and prints the exponent k of time ∝ size^k fitted to each series.  "factored" checks that the
printed result is still collected and factored the textbook way (see ``FACTORED``).  Cases:

- ``sin``: the gradient w.r.t. x of ``sum_i sin(x'*A_i*x)`` (N distinct terms);
- ``wls``: the gradient w.r.t. w of ``sum_i c_i*norm2(X_i*w - y_i)^2`` (weighted least squares);
- ``chain-hessian``: the Hessian w.r.t. x of ``sum(tanh(W_L*…tanh(W_1*x)))`` (benchmarks/bench_diff.py's network);
- ``branches``: the gradient w.r.t. x of ``sum_b sum(tanh(W_b_L*…tanh(W_b_1*x)))``, B branches of depth L.

    python benchmarks/bench_wide.py [--case sin|wls|chain-hessian|branches|all] [--budget 120] [--repeats 3]
                                    [--before /tmp/before] [--sizes 10000 --rounds 5]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time


def sin_sum(n: int) -> tuple[str, str]:
    decl = " ".join(f"A{i}: matrix(n,n);" for i in range(n))
    return f"x: vector(n); {decl} " + " + ".join(f"sin(x'*A{i}*x)" for i in range(n)), "x"


def wls_sum(n: int) -> tuple[str, str]:
    decl = " ".join(f"X{i}: matrix(m,n); y{i}: vector(m); c{i}: scalar;" for i in range(n))
    return f"w: vector(n); {decl} " + " + ".join(f"c{i}*norm2(X{i}*w - y{i})^2" for i in range(n)), "w"


def chain(depth: int) -> tuple[str, str]:
    decl = " ".join(f"W{i}: matrix(n,n);" for i in range(1, depth + 1))
    layers = " ".join(f"h{i} = tanh(W{i}*h{i - 1});" for i in range(1, depth + 1))
    return f"x: vector(n); {decl} h0 = x; {layers} sum(h{depth})", "x"


def branches(width: int, depth: int = 64) -> tuple[str, str]:
    decls, lines, outs = [], [], []
    for b in range(width):
        prev = "x"
        for i in range(1, depth + 1):
            decls.append(f"W{b}_{i}: matrix(n,n);")
            lines.append(f"h{b}_{i} = tanh(W{b}_{i}*{prev});")
            prev = f"h{b}_{i}"
        outs.append(f"sum({prev})")
    return f"x: vector(n); {' '.join(decls)} {' '.join(lines)} " + " + ".join(outs), "x"


CASES = {
    "sin": (sin_sum, 1, [10, 30, 100, 300, 1000, 3000, 10000]),
    "wls": (wls_sum, 1, [10, 30, 100, 300, 1000, 3000, 10000]),
    "chain-hessian": (chain, 2, [16, 32, 64, 128, 256]),
    "branches": (branches, 1, [1, 4, 16, 64]),
}


def worker(case: str, n: int, repeats: int) -> dict:
    """Differentiate one case ``repeats`` times in this process; CPU times (process_time), so a
    busy machine disturbs the numbers less than wall-clock times would."""
    import matcalc
    from matcalc.ir.nodes import dag_size
    if os.environ.get("BENCH_NO_REPLAY"):   # skip the record's whole-expression replay of each rewrite
        from matcalc.calculus import derivative
        if hasattr(derivative, "replace"):
            derivative.replace = lambda root, old, new: None
    build, order, _ = CASES[case]
    text, wrt = build(n)
    f = matcalc.parse(text)
    times = []
    try:
        for _ in range(repeats):
            t0 = time.process_time()
            d = matcalc.diff(f, wrt, order=order)
            times.append(time.process_time() - t0)
    except RecursionError:
        return {"error": f"RecursionError after {time.process_time() - t0:.1f} s"}
    node = d.node if d.node is not None else d.multilinear
    text = str(d)
    return {"time": statistics.median(times), "nodes": dag_size(node), "form": d.form, "chars": len(text),
            "steps": len(d.steps), "factored": FACTORED[case](text, n)}


#: what "still collected and factored" means for each case's printed result
FACTORED = {
    # (cos(x'*A0*x)*(A0 + A0') + …)*x: x taken out of the whole sum, each Ai + Ai' collected
    "sin": lambda text, n: text.endswith(")*x") and text.count("*x)*(A") == n,
    # 2*(c0*X0'*(X0*w - y0) + …): every residual once, the 2 taken out
    "wls": lambda text, n: all(f"X{i}'*(X{i}*w - y{i})" in text for i in range(n)),
    # W1'*diag(1 - t1.^2)*(…)*W1: the Hessian sandwiched between the first layer's Jacobians
    "chain-hessian": lambda text, n: text.splitlines()[-1].startswith("W1'*") and text.endswith("*W1"),
    # one backward chain per branch, each starting with that branch's first layer
    "branches": lambda text, n: all(f"W{b}_1'*" in text for b in range(n)),
}


def exponent(points: list) -> float | None:
    """The least-squares slope of log(time) over log(size): time ∝ size^slope."""
    pts = [(math.log(n), math.log(t)) for n, t in points if t > 0]
    if len(pts) < 2:
        return None
    mx, my = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def run(case: str, n: int, budget: float, repeats: int, tree: str | None) -> dict:
    """One measurement in a fresh interpreter, matcalc imported from ``tree`` (default: as installed)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if tree:
        env["PYTHONPATH"] = tree
    cmd = [sys.executable, __file__, "--worker", case, str(n), str(repeats)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=budget)
    except subprocess.TimeoutExpired:
        return {"error": f"> {budget:.0f} s (stopped)"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["crashed"])[-1][:60]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median_of(results: list) -> dict:
    """The result whose time is the median of ``results`` (the first error if any failed)."""
    bad = [r for r in results if "error" in r]
    if bad:
        return bad[0]
    return sorted(results, key=lambda r: r["time"])[len(results) // 2]


def _cell(r: dict) -> str:
    return r["error"] if "error" in r else f"{r['time']:.3f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", default="all", choices=[*CASES, "all"])
    p.add_argument("--budget", type=float, default=120.0, help="seconds per measurement (all repeats)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max", type=int, default=None, help="largest size to run")
    p.add_argument("--sizes", default=None, help="comma-separated sizes to run instead of the case's own")
    p.add_argument("--rounds", type=int, default=1,
                   help="fresh interpreters per size and tree, before and after alternated; the table shows "
                        "the median of their medians, and each round's is listed below it")
    p.add_argument("--before", default=None, help="a source tree of an older matcalc, measured alongside")
    p.add_argument("--no-replay", action="store_true",
                   help="time the engine without the derivation record's replay of each rewrite in the whole "
                        "expression (Step.whole), which the old tree does not have")
    p.add_argument("--worker", nargs=3, metavar=("CASE", "N", "REPEATS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.no_replay:
        os.environ["BENCH_NO_REPLAY"] = "1"
    if args.worker:
        case, n, repeats = args.worker
        print(json.dumps(worker(case, int(n), int(repeats))))
        return 0
    print(f"Python {sys.version.split()[0]}, recursion limit {sys.getrecursionlimit()}; CPU seconds, "
          f"median of {args.repeats}")
    for case in CASES if args.case == "all" else [args.case]:
        head = "| size | before (s) | after (s) | after / before |" if args.before else "| size | diff (s) |"
        print(f"\n{case}\n\n{head} result DAG nodes | steps | printed chars | factored |")
        print("|---:|---:|" + ("---:|---:|" if args.before else "") + "---:|---:|---:|---|")
        before_done = after_done = False
        fits: dict = {"before": [], "after": []}
        rounds: list = []
        for n in [int(v) for v in args.sizes.split(",")] if args.sizes else CASES[case][2]:
            if args.max is not None and n > args.max:
                break
            bs, rs = [], []
            for _ in range(max(1, args.rounds)):
                bs.append({"error": "not run"} if before_done or not args.before else
                          run(case, n, args.budget, args.repeats, args.before))
                rs.append({"error": "not run"} if after_done else run(case, n, args.budget, args.repeats, None))
            b, r = _median_of(bs), _median_of(rs)
            if args.rounds > 1:
                rounds.append((n, bs, rs))
            before_done = before_done or "error" in b
            after_done = after_done or "error" in r
            info = r if "error" not in r else b
            nodes, steps, chars = (info.get("nodes", "–"), info.get("steps", "–"), info.get("chars", "–"))
            factored = {True: "yes", False: "**no**"}.get(info.get("factored"), "–")
            cells = ([_cell(b)] if args.before else []) + [_cell(r)]
            if args.before:
                ratio = f"{r['time'] / b['time']:.2f}" if "error" not in r and "error" not in b and b["time"] else "–"
                cells.append(ratio)
            for name, res in (("before", b), ("after", r)):
                if "error" not in res:
                    fits[name].append((n, res["time"]))
            print(f"| {n} | {' | '.join(cells)} | {nodes} | {steps} | {chars} | {factored} |", flush=True)
            if after_done and (before_done or not args.before):
                break
        for n, bs, rs in rounds:
            for name, res in (("before", bs), ("after", rs)) if args.before else (("after", rs),):
                print(f"\n{name}, N = {n}, each round: {', '.join(_cell(x) for x in res)}")
        for name in ("before", "after") if args.before else ("after",):
            big = [(n, t) for n, t in fits[name] if t >= 0.3]   # below that, fixed costs and noise dominate
            k = exponent(big)
            if k is not None:
                print(f"\n{name}: time ∝ size^{k:.2f} (least squares over sizes {big[0][0]}–{big[-1][0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
