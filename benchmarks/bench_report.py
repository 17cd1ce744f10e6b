"""Time to make each derivation report, and its size, for the cases of the reports issue.

Build = derive, verify every step, run the shortcut and the finite-difference check, build the
document; then each writer separately.  Median of --repeats runs in one process (the first run,
which imports SymPy for index and conv forms, is discarded as warm-up).  PDF compilation is timed
apart, once, where pdflatex is installed.

    python benchmarks/bench_report.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

from matcalc.reports import conv_report, example_report, report
from matcalc.reports.pdf import compile_pdf, pdflatex

CASES = {
    "seed (J = ‖Xω − y‖², w.r.t. X, ω, y)": lambda: example_report("seed"),
    "Hessian of logistic regression": lambda: report("-y*log(sigmoid(x'*w)) - (1 - y)*log(1 - sigmoid(x'*w))",
                                                     "w", "x: vector(n); w: vector(n); y: scalar", 2),
    "logdet(X)": lambda: report("logdet(X)", "X"),
    "symmetric S: x'*S*x + tr(A*S)": lambda: report("x'*S*x + tr(A*S)", "S", "S: symmetric(n)"),
    "third order: (x'*x)^2": lambda: report("(x'*x)^2", "x", None, 3),
    "conv 2-D, stride 2, padding 1, dilation 2": lambda: conv_report(stride=2, padding=1, dilation=2),
}


def timed(fn, repeats):
    fn()
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    print("| report | build (s) | HTML (s) | Markdown (s) | LaTeX (s) | HTML KiB (font 207) | MD KiB | TeX KiB | PDF (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, make in CASES.items():
        build, r = timed(make, args.repeats)
        cells = [f"{build:.3f}"]
        sizes = []
        for fmt in ("html", "md", "tex"):
            t, text = timed(lambda: r.text(fmt), args.repeats)
            cells.append(f"{t:.3f}")
            sizes.append(f"{len(text.encode()) / 1024:.0f}")
        pdf = "–"
        if pdflatex():
            t = time.perf_counter()
            compile_pdf(r.text("tex"))
            pdf = f"{time.perf_counter() - t:.2f}"
        print(f"| {name} | " + " | ".join(cells + sizes + [pdf]) + " |", flush=True)


if __name__ == "__main__":
    main()
