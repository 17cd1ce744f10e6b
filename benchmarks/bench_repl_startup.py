"""REPL startup: time to the first prompt on a real pseudo-terminal, and what it is made of.

Each number is the median over fresh processes (nothing cached in the interpreter):
  * python itself (``python -c pass``);
  * ``import matcalc``;
  * ``import matcalc.shell.cli`` plus building its argument parser (every subcommand registers its
    options, and conv's registration imports the conv package);
  * ``import prompt_toolkit`` (only the terminal REPL loads it);
  * ``matcalc`` started on a pty until ``matcalc>`` is drawn (pexpect, TERM=xterm-256color,
    PROMPT_TOOLKIT_NO_CPR=1).

    python benchmarks/bench_repl_startup.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def in_process(code: str) -> float:
    probe = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def process(args: list) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, *args], env=ENV, capture_output=True, check=True)
    return time.perf_counter() - t


def first_prompt() -> float:
    import pexpect
    with tempfile.TemporaryDirectory() as home:
        env = dict(ENV, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", XDG_DATA_HOME=home)
        t = time.perf_counter()
        child = pexpect.spawn(sys.executable, ["-m", "matcalc"], env=env, dimensions=(40, 160),
                              encoding="utf-8", timeout=60)
        child.expect("matcalc>")
        elapsed = time.perf_counter() - t
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=7)
    n = p.parse_args().repeats
    rows = [
        ("python -c pass (process)", lambda: process(["-c", "pass"])),
        ("import matcalc", lambda: in_process("import matcalc")),
        ("import matcalc.shell.cli + build_parser()",
         lambda: in_process("import matcalc.shell.cli as c; c.build_parser()")),
        ("import prompt_toolkit (after matcalc)",
         lambda: in_process("import matcalc; t = time.perf_counter(); import prompt_toolkit.shortcuts")),
        ("matcalc on a pty, to the first prompt", first_prompt),
    ]
    print(f"| what | median of {n} (s) | min (s) |")
    print("|---|---|---|")
    for name, fn in rows:
        times = [fn() for _ in range(n)]
        print(f"| {name} | {statistics.median(times):.3f} | {min(times):.3f} |")


if __name__ == "__main__":
    main()
