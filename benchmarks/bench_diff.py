"""Gradient of sum(tanh(W_L*tanh(...tanh(W_1*x)))) w.r.t. W_1 for growing depth L.

matcalc's time and result size should grow linearly in L (no recursion limit at L = 1024);
SymPy's matrix-expression derivative on the same input is the baseline (skipped once a single
depth takes longer than --sympy-budget seconds).

    python benchmarks/bench_diff.py [--max-depth 1024] [--sympy-budget 60]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time

import matcalc
from matcalc.ir.nodes import dag_size


def network_text(depth: int) -> str:
    layers = " ".join(f"h{i} = tanh(W{i}*h{i - 1});" for i in range(1, depth + 1))
    return f"x: vector(n); {' '.join(f'W{i}: matrix(n,n);' for i in range(1, depth + 1))} h0 = x; {layers} sum(h{depth})"


def run_matcalc(depth: int) -> dict:
    text = network_text(depth)
    t0 = time.perf_counter()
    f = matcalc.parse(text)
    t1 = time.perf_counter()
    d = matcalc.diff(f, "W1")
    t2 = time.perf_counter()
    printed = str(d)
    t3 = time.perf_counter()
    return {"parse": t1 - t0, "diff": t2 - t1, "print": t3 - t2, "nodes": dag_size(d.node), "chars": len(printed)}


def _sympy_worker(depth: int, queue) -> None:
    import sympy as sp
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    n = sp.Symbol("n", integer=True, positive=True)
    x = sp.MatrixSymbol("x", n, 1)
    ws = [sp.MatrixSymbol(f"W{i}", n, n) for i in range(1, depth + 1)]
    h = x
    for w in ws:
        h = ElementwiseApplyFunction(sp.tanh, w * h)
    f = (sp.OneMatrix(1, n) * h)
    t0 = time.perf_counter()
    try:
        g = f.diff(ws[0])
    except Exception as e:  # SymPy's own failures are part of the baseline
        queue.put({"error": f"{type(e).__name__} after {time.perf_counter() - t0:.2f} s"})
        return
    t1 = time.perf_counter()
    queue.put({"diff": t1 - t0, "chars": len(str(g))})


def run_sympy(depth: int, budget: float) -> dict | None:
    queue: mp.Queue = mp.Queue()
    proc = mp.Process(target=_sympy_worker, args=(depth, queue))
    proc.start()
    proc.join(budget)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return None
    return queue.get() if not queue.empty() else {"error": True}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-depth", type=int, default=1024)
    p.add_argument("--sympy-budget", type=float, default=60.0)
    args = p.parse_args()
    depths = [1]
    while depths[-1] < args.max_depth:
        depths.append(min(depths[-1] * 2, args.max_depth))
    print(f"Python {sys.version.split()[0]}, recursion limit {sys.getrecursionlimit()}")
    print("| L | matcalc diff (s) | parse (s) | print (s) | result DAG nodes | nodes / L | printed chars | SymPy diff (s) | SymPy result chars |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    timed_out = False
    for depth in depths:
        m = run_matcalc(depth)
        s = None if timed_out else run_sympy(depth, args.sympy_budget)
        if timed_out:
            s_time, s_chars = "not run", "–"
        elif s is None:
            timed_out = True
            s_time, s_chars = f"> {args.sympy_budget:.0f} (stopped)", "–"
        elif "error" in s:
            s_time, s_chars = s["error"], "–"
        else:
            s_time, s_chars = f"{s['diff']:.3f}", str(s["chars"])
        print(f"| {depth} | {m['diff']:.3f} | {m['parse']:.3f} | {m['print']:.3f} | {m['nodes']} | "
              f"{m['nodes'] / depth:.1f} | {m['chars']} | {s_time} | {s_chars} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
