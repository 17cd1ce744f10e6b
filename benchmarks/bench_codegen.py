"""Generated code against hand-written NumPy, torch autograd and JAX: gradients, Hessians, HVPs,
``Derivative.evaluate``, and the symbolic work for the L-layer chain.

    python benchmarks/bench_codegen.py [--threads 1] [--rounds 3] [--repeats 7] [--only gradients,hessians,...]

Every table is a :class:`Table`: its rows are timed by one :func:`measure`, so the timing code
exists once.

Every time is a median: over ``--repeats`` samples in a block (each sample loops a call until it
has run ≥ 20 ms), then over ``--rounds`` blocks per candidate taken in turn; each ratio is the
median of the per-round ratios.  One run, the same inputs, float64.  BLAS and framework threads are
pinned to ``--threads`` before NumPy, torch or JAX load (OPENBLAS/OMP/MKL_NUM_THREADS,
torch.set_num_threads, XLA's intra-op threads); each candidate is timed in its own block, since
alternating NumPy and torch calls distorts both (their worker threads busy-wait).
Ratios are "candidate time / reference time": below 1 means faster than the reference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def pin_threads(n: int) -> None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen={'true' if n > 1 else 'false'}"
                               f" intra_op_parallelism_threads={n}").strip()


ARGS = None


def median_time(fn, repeats: int) -> float:
    """The median over ``repeats`` samples of one call's time (a sample loops ≥ 20 ms)."""
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(0.02 / one))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    samples.sort()
    return samples[len(samples) // 2]


def measure(candidates: dict, ratios: list, rounds: int, repeats: int) -> tuple[dict, dict]:
    """Each candidate timed in its own block, ``rounds`` times in turn (the machines are shared:
    a slow phase then hits every candidate); times are the medians over rounds, and each ratio is
    the median of the ratios within a round."""
    for fn in candidates.values():        # warm up, and compile (JAX)
        fn()
        fn()
    per_round = []
    for _ in range(rounds):
        per_round.append({k: median_time(fn, repeats) for k, fn in candidates.items()})
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    times = {k: med([r[k] for r in per_round]) for k in candidates}
    rs = {(a, b): med([r[a] / r[b] for r in per_round]) for a, b in ratios if a in candidates and b in candidates}
    return times, rs


def block(x):
    """Wait for asynchronous results (JAX) and return them."""
    if hasattr(x, "block_until_ready"):
        return x.block_until_ready()
    if isinstance(x, (tuple, list)):
        for y in x:
            block(y)
    return x


# ------------------------------------------------------------------------------ problems

def problems(rng, np):
    """name -> (f, wrt list, values, sizes note)."""
    X = rng.normal(size=(4000, 1000))
    y = rng.normal(size=4000)
    w = rng.normal(size=1000) / 30
    ylab = rng.choice([-1.0, 1.0], size=4000)
    Xl, yl, wl = X[:2000, :500].copy(), ylab[:2000].copy(), w[:500].copy()
    W1, W2 = rng.normal(size=(512, 512)) / 23, rng.normal(size=(512, 512)) / 23
    Xn, Yn = rng.normal(size=(512, 256)), rng.normal(size=(512, 256))
    T, U, V = rng.normal(size=(500, 400)), rng.normal(size=(500, 20)), rng.normal(size=(400, 20))
    Ts, Us, Vs = T[:100, :80].copy(), U[:100, :10].copy(), V[:80, :10].copy()
    A = rng.normal(size=(1000, 1000))
    x = rng.normal(size=1000)
    return {
        "least squares (X 4000×1000)": ("norm2(X*w - y)^2", ["w"], {"X": X, "w": w, "y": y}),
        "logistic regression (X 4000×1000)": ("sum(log(1 + exp(-y .* (X*w))))", ["w"], {"X": X, "w": w, "y": ylab}),
        "2-layer tanh net (batch 256, width 512)": ("norm2(W2*tanh(W1*X) - Y)^2", ["W1", "W2"],
                                                    {"W1": W1, "W2": W2, "X": Xn, "Y": Yn}),
        "low rank ‖T − UVᵀ‖² (500×400, rank 20)": ("norm2(T - U*V')^2", ["U", "V"], {"T": T, "U": U, "V": V}),
        "logistic regression (X 2000×500)": ("sum(log(1 + exp(-y .* (X*w))))", ["w"], {"X": Xl, "w": wl, "y": yl}),
        "quadratic form xᵀAx (n 1000)": ("x'*A*x", ["x"], {"x": x, "A": A}),
        "low rank w.r.t. U (100×80, rank 10)": ("norm2(T - U*V')^2", ["U"], {"T": Ts, "U": Us, "V": Vs}),
        "low rank w.r.t. U (500×400, rank 20)": ("norm2(T - U*V')^2", ["U"], {"T": T, "U": U, "V": V}),
    }


GRADIENTS = ["least squares (X 4000×1000)", "logistic regression (X 4000×1000)",
             "2-layer tanh net (batch 256, width 512)", "low rank ‖T − UVᵀ‖² (500×400, rank 20)"]
HESSIANS = ["logistic regression (X 2000×500)", "quadratic form xᵀAx (n 1000)", "low rank w.r.t. U (100×80, rank 10)"]
HVPS = ["logistic regression (X 2000×500)", "quadratic form xᵀAx (n 1000)", "low rank w.r.t. U (500×400, rank 20)"]


def hand_numpy(name, np):
    """The best hand-written NumPy for each problem (value and gradient; Hessian; HVP)."""
    def sig(u):
        return 0.5 * (1.0 + np.tanh(0.5 * u))

    def ls(X, w, y):
        r = X @ w - y
        return r @ r, 2.0 * (X.T @ r)

    def logistic(X, w, y):
        u = -y * (X @ w)
        return np.logaddexp(0.0, u).sum(), -(X.T @ (y * sig(u)))

    def net(W1, W2, X, Y):
        H = np.tanh(W1 @ X)
        R = W2 @ H - Y
        G = 2.0 * R
        return np.vdot(R, R), (((W2.T @ G) * (1.0 - H * H)) @ X.T, G @ H.T)

    def lowrank(T, U, V):
        R = U @ V.T - T
        return np.vdot(R, R), (2.0 * (R @ V), 2.0 * (R.T @ U))

    def logistic_hess(X, w, y):
        s = sig(y * (X @ w))
        Xs = np.sqrt(s * (1.0 - s))[:, None] * X
        return Xs.T @ Xs

    def logistic_hvp(X, w, y, v):
        s = sig(y * (X @ w))
        return X.T @ (s * (1.0 - s) * (X @ v))

    def quad_hess(x, A):
        return A + A.T

    def quad_hvp(x, A, v):
        return A @ v + A.T @ v

    def lowrank_hess(T, U, V):
        n, r = U.shape
        return np.einsum("ik,jl->ijkl", np.eye(n), 2.0 * (V.T @ V))

    def lowrank_hvp(T, U, V, v):
        return 2.0 * (v @ (V.T @ V))

    grads = {GRADIENTS[0]: ls, GRADIENTS[1]: logistic, GRADIENTS[2]: net, GRADIENTS[3]: lowrank}
    hess = {HESSIANS[0]: logistic_hess, HESSIANS[1]: quad_hess, HESSIANS[2]: lowrank_hess}
    hvps = {HVPS[0]: logistic_hvp, HVPS[1]: quad_hvp, HVPS[2]: lowrank_hvp}
    return grads.get(name), hess.get(name), hvps.get(name)


def torch_functions(f_name, torch):
    """Autograd versions: value_and_grad via backward(), the Hessian by torch.func.hessian, HVPs by
    torch.func.jvp of torch.func.grad."""
    F = torch.nn.functional

    def loss(name):
        if name.startswith("least"):
            return lambda X, w, y: ((X @ w - y) ** 2).sum()
        if name.startswith("logistic"):
            return lambda X, w, y: F.softplus(-y * (X @ w)).sum()
        if name.startswith("2-layer"):
            return lambda W1, W2, X, Y: ((W2 @ torch.tanh(W1 @ X) - Y) ** 2).sum()
        if name.startswith("quadratic"):
            return lambda x, A: x @ (A @ x)
        return lambda T, U, V: ((T - U @ V.T) ** 2).sum()
    return loss(f_name)


def jax_loss(name, jnp, jax):
    if name.startswith("least"):
        return lambda X, w, y: jnp.sum((X @ w - y) ** 2)
    if name.startswith("logistic"):
        return lambda X, w, y: jnp.sum(jax.nn.softplus(-y * (X @ w)))
    if name.startswith("2-layer"):
        return lambda W1, W2, X, Y: jnp.sum((W2 @ jnp.tanh(W1 @ X) - Y) ** 2)
    if name.startswith("quadratic"):
        return lambda x, A: x @ (A @ x)
    return lambda T, U, V: jnp.sum((T - U @ V.T) ** 2)


ORDER = {"least": ["X", "w", "y"], "logistic": ["X", "w", "y"], "2-layer": ["W1", "W2", "X", "Y"],
         "quadratic": ["x", "A"], "low": ["T", "U", "V"]}


def arg_order(name):
    return next(v for k, v in ORDER.items() if name.startswith(k))


# ------------------------------------------------------------------------------ the runs

class Table:
    """One results table: a row per problem, a column per candidate and per ratio.  ``build(name)``
    returns the candidates (label key -> zero-argument callable) for one problem; every row is
    timed the same way (:func:`measure`)."""

    def __init__(self, out, args, title: str, columns: list, ratios: list, labels: dict, short: dict = None):
        self.out, self.args, self.columns, self.ratios = out, args, columns, ratios
        out(f"\n## {title}\n")
        short = {**SHORT, **(short or {})}
        heads = [labels[c] for c in columns] + [f"{short.get(a, labels[a])} / {short.get(b, labels[b])}"
                                                for a, b in ratios]
        out("| problem | " + " | ".join(heads) + " |")
        out("|---|" + "---:|" * len(heads))

    def row(self, name: str, candidates: dict) -> None:
        times, ratios = measure(candidates, self.ratios, self.args.rounds, self.args.repeats)
        self.out(row(name, times, ratios, self.columns, self.ratios))


def torch_autograd_value_and_grad(loss, tv, order, wrt, torch):
    def autograd():
        params = {k: (v.detach().requires_grad_(True) if k in wrt else v) for k, v in tv.items()}
        value = loss(*(params[k] for k in order))
        return value, torch.autograd.grad(value, [params[k] for k in wrt])
    return autograd


def torch_hvp(loss, tv, i, tdir, torch):
    grad = torch.func.grad(loss, argnums=i)

    def hvp():
        def g(z):
            a = list(tv)
            a[i] = z
            return grad(*a)
        return torch.func.jvp(g, (tv[i],), (tdir,))[1]
    return hvp


def jax_hvp(loss, i, jax):
    jgrad = jax.grad(loss, argnums=i)

    def hvp(*a_and_v):
        *a, v = a_and_v

        def g(z):
            b = list(a)
            b[i] = z
            return jgrad(*b)
        return jax.jvp(g, (a[i],), (v,))[1]
    return jax.jit(hvp)


SHORT = {"hand": "hand", "gen": "gen NumPy", "eval": "evaluate", "eval_one": "one plan", "torch": "torch",
         "gen_torch": "gen torch", "jax": "jax", "gen_jax": "gen JAX"}
LABELS = {"hand": "hand NumPy", "gen": "generated NumPy", "eval": "Derivative.evaluate",
          "eval_one": "evaluate, one plan", "torch": "torch autograd", "gen_torch": "generated torch",
          "jax": "jax.jit(value_and_grad)", "gen_jax": "generated JAX"}


def run(args):
    import numpy as np
    import matcalc
    from matcalc.generate import run as planned

    rng = np.random.default_rng(0)
    probs = problems(rng, np)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except ImportError:
        jax = jnp = None
    lines = []

    def out(text=""):
        print(text, flush=True)
        lines.append(text)

    out(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, "
        f"torch {torch.__version__ if torch else '—'}, jax {jax.__version__ if jax else '—'}, threads {args.threads}")
    out(f"NumPy BLAS: {numpy_blas(np)}; torch BLAS: {torch_blas(torch) if torch else '—'}")
    only = set(args.only.split(",")) if args.only else None

    def wanted(section):
        return not only or section in only

    if wanted("gradients"):
        table = Table(out, args, "Gradients (value and gradient)",
                      ["hand", "gen", "eval", "eval_one", "torch", "gen_torch", "jax", "gen_jax"],
                      [("gen", "hand"), ("gen", "torch"), ("gen_jax", "jax"), ("eval", "gen"), ("eval_one", "gen")],
                      LABELS)
        for name in GRADIENTS:
            f, wrt, vals = probs[name]
            hand, _, _ = hand_numpy(name, np)
            order = arg_order(name)
            gen = matcalc.compile(f, wrt, "numpy")
            ds = [matcalc.diff(f, w) for w in wrt]
            together = planned.for_derivatives(ds)
            for a, b in zip(planned.evaluate_many(ds, vals, together), [d.evaluate(vals) for d in ds]):
                assert np.allclose(a, b), name
            r = {"hand": lambda: hand(*(vals[k] for k in order)),
                 "gen": lambda: gen.value_and_grad(**vals),
                 "eval": lambda: [d.evaluate(vals) for d in ds],
                 "eval_one": lambda: planned.evaluate_many(ds, vals, together)}
            if torch is not None:
                tv = {k: torch.as_tensor(v) for k, v in vals.items()}
                gt = matcalc.compile(f, wrt, "torch")
                r["torch"] = torch_autograd_value_and_grad(torch_functions(name, torch), tv, order, wrt, torch)
                r["gen_torch"] = lambda: gt.value_and_grad(**tv)
            if jax is not None:
                jv = {k: jnp.asarray(v) for k, v in vals.items()}
                argnums = tuple(order.index(w) for w in wrt)
                jg = jax.jit(jax.value_and_grad(jax_loss(name, jnp, jax), argnums=argnums))
                gj = matcalc.compile(f, wrt, "jax")
                r["jax"] = lambda: block(jg(*(jv[k] for k in order)))
                r["gen_jax"] = lambda: block(gj.value_and_grad(**jv))
            table.row(name, r)

    if wanted("hessians"):
        labels = {**LABELS, "torch": "torch.func.hessian", "jax": "jax.jit(jax.hessian)"}
        table = Table(out, args, "Hessians", ["hand", "gen", "eval", "torch", "gen_torch", "jax", "gen_jax"],
                      [("gen", "hand"), ("torch", "gen"), ("jax", "gen"), ("jax", "gen_jax"), ("eval", "gen")], labels)
        for name in HESSIANS:
            f, wrt, vals = probs[name]
            _, hand, _ = hand_numpy(name, np)
            order = arg_order(name)
            x = wrt[0]
            i = order.index(x)
            gen = matcalc.compile(f, wrt, "numpy", hessian=True)
            d2 = matcalc.diff(f, x, order=2)
            want = d2.evaluate(vals)
            assert np.allclose(gen.hessian(**vals), want) and np.allclose(hand(*(vals[k] for k in order)), want), name
            r = {"hand": lambda: hand(*(vals[k] for k in order)), "gen": lambda: gen.hessian(**vals),
                 "eval": lambda: d2.evaluate(vals)}
            if torch is not None:
                tv = [torch.as_tensor(vals[k]) for k in order]
                th = torch.func.hessian(torch_functions(name, torch), argnums=i)
                assert np.allclose(th(*tv).numpy().reshape(want.shape), want), name
                gt = matcalc.compile(f, wrt, "torch", hessian=True)
                tvd = dict(zip(order, tv))
                r["torch"] = lambda: th(*tv)
                r["gen_torch"] = lambda: gt.hessian(**tvd)
            if jax is not None:
                jv = [jnp.asarray(vals[k]) for k in order]
                jh = jax.jit(jax.hessian(jax_loss(name, jnp, jax), argnums=i))
                gj = matcalc.compile(f, wrt, "jax", hessian=True)
                jvd = dict(zip(order, jv))
                r["jax"] = lambda: block(jh(*jv))
                r["gen_jax"] = lambda: block(gj.hessian(**jvd))
            table.row(name, r)

    if wanted("hvps"):
        labels = {**LABELS, "torch": "torch jvp(grad)", "jax": "jax jit jvp(grad)"}
        table = Table(out, args, "Hessian-vector products", ["hand", "gen", "torch", "gen_torch", "jax", "gen_jax"],
                      [("gen", "hand"), ("torch", "gen"), ("torch", "gen_torch"), ("gen", "jax"), ("gen_jax", "jax")],
                      labels)
        for name in HVPS:
            f, wrt, vals = probs[name]
            _, _, hand = hand_numpy(name, np)
            order = arg_order(name)
            x = wrt[0]
            i = order.index(x)
            direction = rng.normal(size=np.shape(vals[x]))
            gen = matcalc.compile(f, wrt, "numpy", hvp=True)
            hv = {**vals, gen.direction: direction}
            ref = hand(*(vals[k] for k in order), direction)
            assert np.allclose(gen.hvp(**hv), ref), name
            r = {"hand": lambda: hand(*(vals[k] for k in order), direction), "gen": lambda: gen.hvp(**hv)}
            if torch is not None:
                tv = [torch.as_tensor(vals[k]) for k in order]
                tdir = torch.as_tensor(direction)
                r["torch"] = torch_hvp(torch_functions(name, torch), tv, i, tdir, torch)
                assert np.allclose(r["torch"]().numpy(), ref), name
                gt = matcalc.compile(f, wrt, "torch", hvp=True)
                thv = {**dict(zip(order, tv)), gt.direction: tdir}
                r["gen_torch"] = lambda: gt.hvp(**thv)
            if jax is not None:
                jv = [jnp.asarray(vals[k]) for k in order]
                jdir = jnp.asarray(direction)
                jh = jax_hvp(jax_loss(name, jnp, jax), i, jax)
                gj = matcalc.compile(f, wrt, "jax", hvp=True)
                jhv = {**dict(zip(order, jv)), gj.direction: jdir}
                r["jax"] = lambda: block(jh(*jv, jdir))
                r["gen_jax"] = lambda: block(gj.hvp(**jhv))
            table.row(name, r)

    if wanted("vec"):
        vec_forms(out, args, np, matcalc, torch, jax, jnp, rng)

    if torch is not None and wanted("conv"):
        conv_tables(out, args, torch, rng)

    if wanted("symbolic"):
        symbolic(out)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


def vec_forms(out, args, np, matcalc, torch, jax, jnp, rng):
    """A vec-form Hessian (the logistic Hessian w.r.t. the matrix X, whose vec form is
    kron(w, eye)·diag(vec(…))·kron(w', eye)): the einsum lowering against the dense Kronecker
    sandwich the planner used to build, and against autodiff."""
    n, m = 150, 30
    f = "sum(log(1 + exp(-y .* (X*w))))"
    vals = {"X": rng.normal(size=(n, m)), "w": rng.normal(size=m) / 5, "y": rng.choice([-1.0, 1.0], n)}

    def dense(X, w, y):            # what the old lowering ran: dense kron(w, I) and kron(w', I), then unvec
        u = y * (X @ w)
        q = y * y * (0.5 * (1 + np.tanh(0.5 * u))) * (0.5 * (1 + np.tanh(-0.5 * u)))
        left = np.kron(w[:, None], np.eye(n))
        J = (left * q[None, :]) @ np.kron(w[None, :], np.eye(n))
        return J.reshape(m, n, m, n).transpose(1, 0, 3, 2)

    gen = matcalc.compile(f, ["X"], "numpy", hessian=True)
    d2 = matcalc.diff(f, "X", order=2)
    want = dense(**vals)
    assert np.allclose(gen.hessian(**vals), want) and np.allclose(d2.evaluate(vals), want)
    labels = {**LABELS, "hand": "dense Kronecker (before)", "torch": "torch.func.hessian", "jax": "jax.jit(jax.hessian)"}
    table = Table(out, args, f"Vec-form Hessian: logistic regression w.r.t. X ({n}×{m}; output {n}·{m}·{n}·{m})",
                  ["hand", "gen", "eval", "torch", "jax", "gen_jax"],
                  [("hand", "gen"), ("eval", "gen"), ("torch", "gen"), ("jax", "gen"), ("jax", "gen_jax")], labels,
                  {"hand": "dense"})
    r = {"hand": lambda: dense(**vals), "gen": lambda: gen.hessian(**vals), "eval": lambda: d2.evaluate(vals)}
    if torch is not None:
        tv = [torch.as_tensor(vals[k]) for k in ("X", "w", "y")]
        th = torch.func.hessian(torch_functions("logistic", torch), argnums=0)
        r["torch"] = lambda: th(*tv)
    if jax is not None:
        jv = [jnp.asarray(vals[k]) for k in ("X", "w", "y")]
        jh = jax.jit(jax.hessian(jax_loss("logistic", jnp, jax), argnums=0))
        gj = matcalc.compile(f, ["X"], "jax", hessian=True)
        jvd = dict(zip(("X", "w", "y"), jv))
        r["jax"] = lambda: block(jh(*jv))
        r["gen_jax"] = lambda: block(gj.hessian(**jvd))
    table.row("logistic Hessian w.r.t. X", r)


def conv_tables(out, args, torch, rng):
    from matcalc.generate.conv import avgpool_compile, conv_compile, conv_transpose_compile
    F = torch.nn.functional
    labels = {"torch": "torch backward (∂L/∂V, ∂L/∂W)", "both": "generated grad_input_and_weight",
              "gen": "generated grad_input + grad_weight"}
    table = Table(out, args, "Conv gradients, torch target (N=8, C=64, 56×56, 3×3, padding 1)",
                  ["torch", "both", "gen"], [("both", "torch"), ("gen", "torch")], labels,
                  {"both": "both", "gen": "separate"})
    layers = [("dense 3×3", 1, 1, False), ("dense 3×3, stride 2", 1, 2, False), ("depthwise 3×3", 64, 1, False),
              ("transposed 3×3, stride 2", 1, 2, True), ("transposed depthwise 3×3", 64, 1, True)]
    for title, groups, stride, transposed in layers:
        size = 28 if transposed and stride > 1 else 56          # a stride-2 transposed layer doubles its input
        V = torch.as_tensor(rng.normal(size=(8, 64, size, size))).requires_grad_(True)
        if transposed:
            W = torch.as_tensor(rng.normal(size=(64, 64 // groups, 3, 3))).requires_grad_(True)
            Z = F.conv_transpose2d(V, W, None, stride, 1, stride - 1, groups)
            gen = conv_transpose_compile(2, stride, 1, stride - 1, 1, groups)
        else:
            W = torch.as_tensor(rng.normal(size=(64, 64 // groups, 3, 3))).requires_grad_(True)
            Z = F.conv2d(V, W, None, stride, 1, 1, groups)
            gen = conv_compile(2, stride, 1, 1, groups)
        delta = torch.as_tensor(rng.normal(size=tuple(Z.shape)))
        Vd, Wd = V.detach(), W.detach()
        table.row(title, {"torch": lambda: torch.autograd.grad(Z, (V, W), delta, retain_graph=True),
                          "both": lambda: gen["grad_input_and_weight"](Vd, Wd, delta),
                          "gen": lambda: (gen["grad_input"](Vd, Wd, delta), gen["grad_weight"](Vd, Wd, delta))})
    labels = {"torch": "torch backward (∂L/∂V)", "gen": "generated grad_input"}
    table = Table(out, args, "Average pooling, torch target (N=8, C=64, 56×56)", ["torch", "gen"],
                  [("gen", "torch")], labels, {"gen": "generated"})
    for k, s in [(2, 2), (3, 1)]:
        V = torch.as_tensor(rng.normal(size=(8, 64, 56, 56))).requires_grad_(True)
        Z = F.avg_pool2d(V, k, s, 1 if k == 3 else 0)
        delta = torch.as_tensor(rng.normal(size=tuple(Z.shape)))
        gen = avgpool_compile(2, k, s, 1 if k == 3 else 0)
        Vd = V.detach()
        table.row(f"avg_pool2d {k}×{k}, stride {s}", {"torch": lambda: torch.autograd.grad(Z, (V,), delta, retain_graph=True),
                                                    "gen": lambda: gen["grad_input"](Vd, delta)})


def symbolic(out):
    import matcalc
    from matcalc.generate.api import codegen
    out("\n## Symbolic work: parse, differentiate and generate for the L-layer chain\n")
    out("`sum(tanh(W_L*tanh(…tanh(W_1*x))))` w.r.t. W_1, NumPy target.\n")
    out("| L | parse (s) | diff (s) | codegen (s) | total / L (ms) | generated lines | lines / L |")
    out("|---:|---:|---:|---:|---:|---:|---:|")
    for depth in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]:
        layers = " ".join(f"h{i} = tanh(W{i}*h{i - 1});" for i in range(1, depth + 1))
        text = (f"x: vector(n); {' '.join(f'W{i}: matrix(n,n);' for i in range(1, depth + 1))} h0 = x; "
                f"{layers} sum(h{depth})")
        t0 = time.perf_counter()
        e = matcalc.parse(text)
        t1 = time.perf_counter()
        matcalc.diff(e, "W1")
        t2 = time.perf_counter()
        src = codegen(e, ["W1"])            # differentiates again inside; timed as codegen − diff
        t3 = time.perf_counter()
        n_lines = src[src.index("def _value_and_grad"):].count("\n")
        gen = (t3 - t2) - (t2 - t1)
        out(f"| {depth} | {t1 - t0:.3f} | {t2 - t1:.3f} | {max(gen, 0):.3f} | {1000 * (t3 - t0 - (t2 - t1)) / depth:.2f} "
            f"| {n_lines} | {n_lines / depth:.1f} |")


def fmt(seconds):
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.3g} ms" if seconds >= 1e-4 else f"{seconds * 1e6:.3g} µs"


def row(name, times, ratios, columns, wanted):
    cells = [fmt(times.get(c)) for c in columns]
    rs = [f"{ratios[k]:.2f}×" if k in ratios else "—" for k in wanted]
    return f"| {name} | " + " | ".join(cells + rs) + " |"


def numpy_blas(np):
    try:
        info = np.show_config(mode="dicts")
        blas = info["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy
        return "unknown"


def torch_blas(torch):
    import re
    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return f"{found.group(1).upper()} (BLAS_INFO={found.group(1)})" if found else "unknown"


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7, help="samples per block")
    p.add_argument("--rounds", type=int, default=3, help="blocks per candidate, in turn")
    p.add_argument("--only", help="comma-separated: gradients, hessians, hvps, vec, conv, symbolic")
    p.add_argument("--markdown", help="also write the tables to this file")
    ARGS = p.parse_args()
    pin_threads(ARGS.threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    run(ARGS)
