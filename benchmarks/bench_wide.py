"""Wide expressions: N-term sums, the Hessian of a deep chain, and many parallel deep branches.

Each case is differentiated in a fresh subprocess with a time budget, so a slow "before" run
cannot stall the table; times are the median of --repeats runs of ``matcalc.diff`` (parsing is
not timed).  Cases:

- ``sin``: the gradient w.r.t. x of ``sum_i sin(x'*A_i*x)`` (N distinct terms);
- ``wls``: the gradient w.r.t. w of ``sum_i c_i*norm2(X_i*w - y_i)^2`` (weighted least squares);
- ``chain-hessian``: the Hessian w.r.t. x of ``sum(tanh(W_L*…tanh(W_1*x)))`` (benchmarks/bench_diff.py's network);
- ``branches``: the gradient w.r.t. x of ``sum_b sum(tanh(W_b_L*…tanh(W_b_1*x)))``, B branches of depth L.

    python benchmarks/bench_wide.py [--case sin|wls|chain-hessian|branches|all] [--budget 120] [--repeats 3]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
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
    "chain-hessian": (chain, 2, [8, 16, 32, 64, 128, 256]),
    "branches": (branches, 1, [1, 4, 16, 64]),
}


def _worker(case: str, n: int, repeats: int, queue) -> None:
    import matcalc
    from matcalc.ir.nodes import dag_size
    build, order, _ = CASES[case]
    text, wrt = build(n)
    f = matcalc.parse(text)
    times = []
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            d = matcalc.diff(f, wrt, order=order)
            times.append(time.perf_counter() - t0)
    except RecursionError:
        queue.put({"error": f"RecursionError after {time.perf_counter() - t0:.1f} s"})
        return
    node = d.node if d.node is not None else d.multilinear
    queue.put({"time": statistics.median(times), "nodes": dag_size(node), "form": d.form,
               "chars": len(str(d)), "text": str(d)[:120]})


def run(case: str, n: int, budget: float, repeats: int) -> dict:
    queue: mp.Queue = mp.Queue()
    proc = mp.Process(target=_worker, args=(case, n, repeats, queue))
    t0 = time.perf_counter()
    proc.start()
    proc.join(budget)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return {"error": f"> {budget:.0f} s (stopped)"}
    if queue.empty():
        return {"error": f"crashed after {time.perf_counter() - t0:.1f} s"}
    return queue.get()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", default="all", choices=[*CASES, "all"])
    p.add_argument("--budget", type=float, default=120.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max", type=int, default=None, help="largest size to run")
    args = p.parse_args()
    print(f"Python {sys.version.split()[0]}, recursion limit {sys.getrecursionlimit()}")
    for case in CASES if args.case == "all" else [args.case]:
        print(f"\n{case}\n\n| size | diff (s) | result DAG nodes | printed chars | form |\n|---:|---:|---:|---:|---|")
        for n in CASES[case][2]:
            if args.max is not None and n > args.max:
                break
            r = run(case, n, args.budget, args.repeats)
            if "error" in r:
                print(f"| {n} | {r['error']} | – | – | – |", flush=True)
                break  # larger sizes only take longer
            print(f"| {n} | {r['time']:.3f} | {r['nodes']} | {r['chars']} | {r['form']} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
