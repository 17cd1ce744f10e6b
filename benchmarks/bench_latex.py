"""LaTeX of the gradient of sum(tanh(W_L*tanh(...tanh(W_1*x)))) w.r.t. W_1 for growing depth L.

``Derivative.latex()`` prints the shared form (the result, then ``\\text{where}`` and one
``t_{k} = …`` row per forward activation, from ``matcalc.printing.share``): its size should grow
linearly in L.  The unshared ``to_latex`` of the same DAG is the baseline (it grows
quadratically; it is not run past --max-plain, where its intermediate strings exhaust memory).
Where pdflatex is installed, the shared output is also compiled (amsmath), and its time given.

    python benchmarks/bench_latex.py [--max-depth 1024] [--max-plain 256] [--repeats 3]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matcalc
from matcalc.printing.latex import to_latex

sys.path.insert(0, str(Path(__file__).parent))
from bench_diff import network_text  # noqa: E402


def median_time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def compile_time(tex: str) -> str:
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        return "no pdflatex"
    with tempfile.TemporaryDirectory() as tmp:
        doc = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n\\[" + tex + "\\]\n\\end{document}\n"
        Path(tmp, "d.tex").write_text(doc, encoding="ascii")
        t0 = time.perf_counter()
        run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "d.tex"], cwd=tmp,
                             capture_output=True, text=True, errors="replace")
        elapsed = time.perf_counter() - t0
    return f"{elapsed:.2f}" if run.returncode == 0 else "FAILED"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-depth", type=int, default=1024)
    p.add_argument("--max-plain", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    depths = [1]
    while depths[-1] < args.max_depth:
        depths.append(min(depths[-1] * 2, args.max_depth))
    print(f"Python {sys.version.split()[0]}, median of {args.repeats}")
    print("| L | shared LaTeX chars | chars / L | shared time (s) | pdflatex (s) | unshared chars | unshared time (s) | text chars |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for depth in depths:
        d = matcalc.diff(matcalc.parse(network_text(depth)), "W1")
        t_shared, tex = median_time(d.latex, args.repeats)
        if depth <= args.max_plain:
            t_plain, plain = median_time(lambda: to_latex(d.node), args.repeats)
            plain_cols = f"{len(plain)} | {t_plain:.3f}"
        else:
            plain_cols = "not run | –"
        print(f"| {depth} | {len(tex)} | {len(tex) / depth:.0f} | {t_shared:.3f} | {compile_time(tex)} | "
              f"{plain_cols} | {len(str(d))} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
