"""Evaluated ∂L/∂V and ∂L/∂W of matcalc.conv against PyTorch's CPU convolution backward.

Run: ``python benchmarks/bench_conv.py`` (needs torch==2.13.0; prints a Markdown table).
The matcalc side evaluates the *derived* index sums with the generic NumPy evaluator; the torch
side calls ``aten.convolution_backward`` for one gradient at a time. Each time is the best of
REPEATS runs after a warm-up, for both sides alike: the machine is shared, and the minimum is the
estimate least disturbed by other processes.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from matcalc import conv  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover
    sys.exit("bench_conv needs torch: pip install torch==2.13.0")

LAYERS = [  # (label, N, C_in, C_out, H, k, stride, padding)
    ("N=8, C=64→64, 56×56, 3×3, s=1, p=1", 8, 64, 64, 56, 3, 1, 1),
    ("N=8, C=64→128, 56×56, 3×3, s=2, p=1", 8, 64, 128, 56, 3, 2, 1),
]
REPEATS = 7


def best_time(fn, repeats=REPEATS):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench(label, N, Ci, Co, H, k, s, p, dtype):
    rng = np.random.default_rng(0)
    g = conv.conv_gradients(ndim=2, stride=s, padding=p, bias=False)
    V = rng.standard_normal((N, Ci, H, H)).astype(dtype)
    W = rng.standard_normal((Co, Ci, k, k)).astype(dtype)
    Ho = (H + 2 * p - (k - 1) - 1) // s + 1
    delta = rng.standard_normal((N, Co, Ho, Ho)).astype(dtype)
    tV, tW, tD = torch.from_numpy(V), torch.from_numpy(W), torch.from_numpy(delta)

    def torch_backward(mask):
        return torch.ops.aten.convolution_backward(tD, tV, tW, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask)

    rows = []
    for name, part, mask, pos in (("∂L/∂V", g.grad_input, [True, False, False], 0),
                                  ("∂L/∂W", g.grad_weight, [False, True, False], 1)):
        ours = part.evaluate(V=V, W=W, delta=delta)
        ref = torch_backward(mask)[pos].numpy()
        err = float(np.abs(ours - ref).max() / np.abs(ref).max())
        t_ours = best_time(lambda: part.evaluate(V=V, W=W, delta=delta))
        t_torch = best_time(lambda: torch_backward(mask))
        rows.append(f"| {label} | {np.dtype(dtype).name} | {name} | {t_ours * 1e3:.0f} | {t_torch * 1e3:.0f} "
                    f"| {t_ours / t_torch:.1f}× | {err:.1e} |")
    return rows


def main() -> None:
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}\n")
    print("| layer | dtype | gradient | matcalc (ms) | torch (ms) | ratio matcalc/torch | max rel. diff |")
    print("|---|---|---|---:|---:|---:|---:|")
    for layer in LAYERS:
        for dtype in (np.float32, np.float64):
            for row in bench(*layer, dtype):
                print(row, flush=True)


if __name__ == "__main__":
    main()
