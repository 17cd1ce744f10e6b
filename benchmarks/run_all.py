"""Run every benchmark of the project, one after the other: ``python benchmarks/run_all.py``.

Each script prints its own tables (see benchmarks/README.md for what they measure); options
after ``--`` go to every script that accepts them, e.g. ``-- --threads 1``.  The conv and
codegen benchmarks need torch (and JAX, where installed, for codegen's JAX columns).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [("bench_diff.py", []), ("bench_derivation.py", []), ("bench_latex.py", []), ("bench_front.py", []),
           ("bench_wide.py", []), ("bench_report.py", []), ("bench_repl_startup.py", []), ("bench_conv.py", []),
           ("bench_codegen.py", [])]


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    status = 0
    for script, args in SCRIPTS:
        print(f"\n# {script}\n", flush=True)
        accepted = extra if script == "bench_codegen.py" else []
        status |= subprocess.call([sys.executable, str(HERE / script), *args, *accepted])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
