"""Generated code (matcalc.codegen / matcalc.compile) against evaluate and finite differences.

Every row of the derivative table (tests/test_diff_table.py) of order 1 or 2 with a matrix or
vec form is generated and run for NumPy, torch and JAX (when installed).  JAX runs every row
generated with ``jit=False`` (op by op: jitting each row's functions would compile for about half
a second a row), and a representative subset (:data:`JAX_SUBSET`) jitted as users get it.  Rows
that have only an index form must be refused with a clear UnsupportedError.  A property test
does the same over random expressions, and the hostile names (Python keywords, builtins, ``np``,
``x_1`` next to ``x1``, ``ω``, a variable named ``v`` next to the hvp direction) must all work.
"""
from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import matcalc
from matcalc.errors import EvaluationError, UnsupportedError
from matcalc.numeric.check import finite_difference, relative_error
from matcalc.shell.cli import main

import strategies
from test_diff_table import CASES, values_for

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_JAX = importlib.util.find_spec("jax") is not None
TOL = 1e-6
RTOL = 1e-8

#: One row per kind of lowering: chains, scaling, diag, syrk, solve, slogdet, stable logs,
#: softmax, powers, vec forms, Hessians, symmetric and scalar variables, zero derivatives.
JAX_SUBSET = ("ls_w", "logistic_w", "hess_logistic_w", "inv_ainvXb", "logdet_X", "softmax_ce_W", "net3_W1",
              "vec_AXB", "hess_ls_X", "sym_trSB_S", "scal_inv_sA", "quad_aX3b", "tr_AXBXtC", "zero_matrix",
              "hess_lse", "jac_softmax", "norm1_x", "net2_relu_W1", "hess_det_X")

ROWS = [c for c in CASES if c[4] <= 2]


def _targets(case_id):
    out = [pytest.param("numpy", id="numpy")]
    out.append(pytest.param("torch", id="torch", marks=pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")))
    skip = pytest.mark.skipif(not HAVE_JAX, reason="jax not installed")
    out.append(pytest.param("jax-nojit", id="jax-nojit", marks=skip))
    if case_id in JAX_SUBSET:
        out.append(pytest.param("jax", id="jax", marks=skip))
    return out


PARAMS = [pytest.param(c[0], t.values[0], id=f"{c[0]}-{t.values[0]}", marks=t.marks) for c in ROWS
          for t in _targets(c[0])]
BY_ID = {c[0]: c for c in CASES}


@functools.lru_cache(maxsize=None)
def derivative(case_id):
    _, f, wrt, decls, order, _ = BY_ID[case_id]
    return matcalc.diff(f, wrt, decls, order)


def inputs(values: dict, target: str) -> dict:
    """The values as the target's arrays (torch tensors; jax takes NumPy arrays as they are)."""
    if target == "torch":
        import torch
        return {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in values.items()}
    return values


def as_numpy(a):
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=float)


@pytest.fixture(scope="module", autouse=True)
def jax_float64():
    if not HAVE_JAX:
        yield
        return
    import jax
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


def _compile(case_id, target, **kw):
    _, f, wrt, decls, order, _ = BY_ID[case_id]
    if target == "jax-nojit":
        target, kw = "jax", {**kw, "jit": False}
    return matcalc.compile(f, [wrt], target, decls, hessian=order == 2, **kw)


def _close(got, want) -> bool:
    got, want = as_numpy(got), as_numpy(want)
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    return got.shape == want.shape and np.allclose(got, want, rtol=RTOL, atol=RTOL * scale)


@pytest.mark.parametrize("case_id,target", PARAMS)
def test_generated_matches_evaluate(case_id, target):
    _, f, wrt, decls, order, _ = BY_ID[case_id]
    d = derivative(case_id)
    if d.form == "index" and (d.index is None or d.wrt.kind == "symmetric"):
        with pytest.raises(UnsupportedError, match="multilinear form"):
            _compile(case_id, target)
        return
    c = _compile(case_id, target)
    vals = values_for(case_id)
    want = d.evaluate(vals)
    if order == 1:
        value, got = c.value_and_grad(**inputs(vals, target))
        assert _close(value, matcalc.parse(f, decls).evaluate(vals))
    else:
        got = c.hessian(**inputs(vals, target))
    assert _close(got, want), (as_numpy(got), want)


@pytest.mark.parametrize("case_id", [c[0] for c in ROWS])
def test_generated_numpy_matches_finite_differences(case_id):
    """The generated derivative against central differences of the value (order 1) or of the
    generated gradient (order 2), both from generated code."""
    _, f, wrt, decls, order, _ = BY_ID[case_id]
    if derivative(case_id).form == "index" and derivative(case_id).index is None:
        return
    vals = values_for(case_id)
    first = matcalc.compile(f, [wrt], "numpy", decls)
    symmetric = derivative(case_id).wrt.kind == "symmetric"

    def at(x):
        v = {**vals, wrt: x if x.shape else float(x)}
        value, g = first.value_and_grad(**v)
        return value if order == 1 else g

    numeric = finite_difference(at, np.asarray(vals[wrt], dtype=float), symmetric=symmetric)
    got = first.value_and_grad(**vals)[1] if order == 1 else _compile(case_id, "numpy").hessian(**vals)
    assert relative_error(got, numeric) < TOL


HVP_ROWS = [c[0] for c in ROWS if not BY_ID[c[0]][0].startswith("zero_") and
            matcalc.parse(c[1], c[3]).shape == () and c[0] not in ("logdet_S_sym", "det_S_sym")]


@pytest.mark.parametrize("case_id", HVP_ROWS)
def test_hvp_is_the_directional_derivative_of_the_gradient(case_id):
    """hvp(x, v) against central differences of the generated gradient along v, and against
    the Hessian contracted with v where the Hessian has a matrix form."""
    _, f, wrt, decls, order, _ = BY_ID[case_id]
    if matcalc.diff(f, wrt, decls).node is None:
        with pytest.raises(UnsupportedError, match="matrix form|multilinear"):
            matcalc.compile(f, [wrt], "numpy", decls, hvp=True)
        return
    try:
        c = matcalc.compile(f, [wrt], "numpy", decls, hvp=True)
    except UnsupportedError as e:
        pytest.fail(f"hvp refused: {e}")
    vals = values_for(case_id)
    x = np.asarray(vals[wrt], dtype=float)
    rng = np.random.default_rng(1)
    v = rng.normal(size=x.shape)
    if derivative(case_id).wrt.kind == "symmetric":
        v = (v + v.T) / 2
    h = 1e-6

    def grad(xv):
        return c.value_and_grad(**{**vals, wrt: xv if xv.shape else float(xv)})[1]

    numeric = (np.asarray(grad(x + h * v)) - np.asarray(grad(x - h * v))) / (2 * h)
    got = c.hvp(**{**vals, c.direction: v if v.shape else float(v)})
    assert relative_error(got, numeric) < 1e-5


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_hvp_other_targets(target):
    if not (HAVE_TORCH if target == "torch" else HAVE_JAX):
        pytest.skip(f"{target} not installed")
    f = "sum(log(1 + exp(-y .* (X*w)))) + c*norm2(w)^2"
    ref = matcalc.compile(f, ["w"], "numpy", hvp=True, hessian=True)
    gen = matcalc.compile(f, ["w"], target, hvp=True, hessian=True)
    rng = np.random.default_rng(0)
    vals = {"X": rng.normal(size=(7, 4)), "y": rng.choice([-1.0, 1.0], 7), "w": rng.normal(size=4), "c": 0.3,
            "v": rng.normal(size=4)}
    assert _close(gen.hvp(**inputs(vals, target)), ref.hvp(**vals))
    without_v = {k: x for k, x in vals.items() if k != "v"}
    assert _close(gen.hvp(**inputs(vals, target)), ref.hessian(**without_v) @ vals["v"])


# ------------------------------------------------------------------------------ random expressions

@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(strategies.exprs(depth=3), st.sampled_from(["x", "A", "a", "C"]), st.integers(0, 2**16))
def test_random_expressions(node, wrt, seed):
    from hypothesis import assume
    from matcalc.ir.nodes import variables
    assume(wrt in variables(node))
    d = matcalc.diff(node, wrt)
    assume(d.node is not None)
    vals = strategies.random_values(np.random.default_rng(seed))
    vals = {k: v for k, v in vals.items() if k in variables(node)}
    value = matcalc.Expr(node).evaluate(vals)
    assume(np.all(np.isfinite(value)) and np.max(np.abs(value), initial=0) < 1e6)
    want = d.evaluate(vals)
    assume(np.all(np.isfinite(want)))
    c = matcalc.compile(node, [wrt], "numpy")
    got_value, got = c.value_and_grad(**vals)
    assert _close(got_value, value)
    assert _close(got, want)


# ------------------------------------------------------------------------------ hostile names

HOSTILE = ("lambda*(np'*x_1) + x1'*x_1*ω + sum(len .* max) + values'*t1 + class*norm2(v)^2",
           {"lambda": "scalar", "np": "vector(n)", "x_1": "vector(n)", "x1": "vector(n)", "ω": "scalar",
            "len": "vector(n)", "max": "vector(n)", "values": "vector(n)", "t1": "vector(n)", "class": "scalar",
            "v": "vector(n)"})


@pytest.mark.parametrize("target", ["numpy", "torch", "jax"])
def test_hostile_names(target):
    if target != "numpy" and not (HAVE_TORCH if target == "torch" else HAVE_JAX):
        pytest.skip(f"{target} not installed")
    f, decls = HOSTILE
    wrt = ["x_1", "x1", "lambda", "ω", "np", "v"]
    c = matcalc.compile(f, wrt, target, decls)
    rng = np.random.default_rng(3)
    vals = {name: (float(rng.normal()) if kind == "scalar" else rng.normal(size=4)) for name, kind in decls.items()}
    value, grads = c.value_and_grad(**inputs(vals, target))
    assert _close(value, matcalc.parse(f, decls).evaluate(vals))
    for w, g in zip(wrt, grads):
        assert _close(g, matcalc.diff(f, w, decls).evaluate(vals)), w


def test_hostile_names_get_safe_identifiers_and_the_direction_its_own_keyword():
    f, decls = HOSTILE
    c = matcalc.compile(f, ["x_1"], "numpy", decls, hvp=True)
    import ast
    tree = ast.parse(c.source)
    core = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_hvp")
    params = [a.arg for a in core.args.args]
    assert {"x_1", "x1", "u_lambda", "u_np", "u_x03c9", "u_len", "u_max", "u_values", "u_t1", "u_class"} <= set(params)
    assert c.direction == "direction" and "keyword `direction`" in c.source
    rng = np.random.default_rng(4)
    vals = {name: (float(rng.normal()) if kind == "scalar" else rng.normal(size=4)) for name, kind in decls.items()}
    dv = rng.normal(size=4)
    h = matcalc.diff(f, "x_1", decls, 2).evaluate(vals)
    assert _close(c.hvp(**vals, direction=dv), h @ dv)


# ------------------------------------------------------------------------------ structure of the code

def source_of(f, wrt, **kw):
    return matcalc.codegen(f, [wrt], "numpy", **kw)


def test_scalar_goes_on_the_small_operand_and_the_chain_is_ordered():
    src = source_of("norm2(X*w - y)^2", "w", hvp=True)
    assert "2.0 * (X.T @ t1)" in src
    assert "X.T @ (X @ v)" in src


def test_diag_is_broadcasting_and_the_logistic_hessian_is_syrk():
    src = source_of("sum(log(1 + exp(-y .* (X*w))))", "w", hessian=True)
    assert "np.diag(" not in src and "np.logaddexp(0.0" in src
    assert "t2 = np.sqrt(" in src and "t2.T @ t2" in src


def test_inverse_times_vector_is_a_solve_and_logdet_uses_slogdet():
    assert "np.linalg.solve(" in source_of("a'*inv(X)*b", "b", decls={"a": "vector(n)", "b": "vector(n)"})
    assert "np.linalg.slogdet(" in source_of("logdet(X) + tr(X)", "X")


def test_log_softmax_is_stable():
    c = matcalc.compile("-y'*log(softmax(W*x))", ["W"])
    vals = {"y": np.array([0.0, 1.0]), "W": np.array([[800.0, 0.0], [0.0, 1.0]]), "x": np.array([1.0, 0.0])}
    value, g = c.value_and_grad(**vals)
    assert np.isfinite(value) and np.all(np.isfinite(g)) and abs(value - 800.0) < 1e-9


def test_sigmoid_keeps_relative_precision_on_the_negative_tail():
    c = matcalc.compile("log(sigmoid(a))", ["a"])
    value, g = c.value_and_grad(a=-40.0)
    assert abs(value + 40.0) < 1e-12 and abs(g - 1.0) < 1e-12


def test_shared_residual_is_one_temporary():
    src = source_of("norm2(X*w - y)^2", "w")
    assert src.count("X @ w") == 1


def test_thousand_layer_chain_generates():
    depth = 1000
    layers = " ".join(f"h{i} = tanh(W{i}*h{i - 1});" for i in range(1, depth + 1))
    text = f"x: vector(n); {' '.join(f'W{i}: matrix(n,n);' for i in range(1, depth + 1))} h0 = x; {layers} sum(h{depth})"
    c = matcalc.compile(text, ["W1"])
    rng = np.random.default_rng(0)
    vals = {"x": rng.normal(size=3), **{f"W{i}": rng.normal(size=(3, 3)) / 3 for i in range(1, depth + 1)}}
    value, g = c.value_and_grad(**vals)
    assert g.shape == (3, 3) and np.isfinite(value)


# ------------------------------------------------------------------------------ bad input

def test_entry_points_check_names_ranks_and_dimensions():
    c = matcalc.compile("norm2(X*w - y)^2", ["w"])
    rng = np.random.default_rng(0)
    X, w, y = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
    with pytest.raises(EvaluationError, match="needs a value for y"):
        c.value_and_grad(X=X, w=w)
    with pytest.raises(EvaluationError, match="unexpected values for z"):
        c.value_and_grad(X=X, w=w, y=y, z=1.0)
    with pytest.raises(EvaluationError, match="w is a vector, so its value must be a 1-D array"):
        c.value_and_grad(X=X, w=X, y=y)
    with pytest.raises(EvaluationError, match="dimension n is 5 from X .axis 0. but 4 from y"):
        c.value_and_grad(X=X, w=w, y=y[:4])
    with pytest.raises(EvaluationError, match="declared symmetric"):
        matcalc.compile("x'*S*x", ["x"], decls={"S": "symmetric(n)"}).value_and_grad(x=w, S=rng.normal(size=(3, 3)))


def test_api_errors():
    with pytest.raises(matcalc.MatcalcError, match="unknown target"):
        matcalc.codegen("x'*x", ["x"], target="fortran")
    with pytest.raises(matcalc.MatcalcError, match="wrt must be"):
        matcalc.codegen("x'*x", [3])
    with pytest.raises(UnsupportedError, match="one variable"):
        matcalc.codegen("x'*y", ["x", "y"], hessian=True)


# ------------------------------------------------------------------------------ CLI and packaging

def test_cli_writes_a_module_that_runs(tmp_path, capsys):
    out = tmp_path / "lr.py"
    assert main(["codegen", "sum(log(1 + exp(-y .* (X*w))))", "--wrt", "w", "--hessian", "--hvp", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    spec = importlib.util.spec_from_file_location("lr_generated", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    vals = {"X": rng.normal(size=(6, 3)), "y": rng.choice([-1.0, 1.0], 6), "w": rng.normal(size=3)}
    d = matcalc.diff("sum(log(1 + exp(-y .* (X*w))))", "w", order=2)
    assert _close(module.hessian(**vals), d.evaluate(vals))
    assert _close(module.hvp(**vals, v=vals["w"]), d.evaluate(vals) @ vals["w"])


def test_cli_stdout_and_errors(capsys):
    assert main(["codegen", "x'*A*x", "--wrt", "x", "--target", "torch"]) == 0
    assert "import torch" in capsys.readouterr().out
    assert main(["codegen", "x'*A*x", "--wrt", "z"]) == 2
    assert "not a variable" in capsys.readouterr().err


def test_import_matcalc_does_not_load_the_code_generator():
    probe = "import sys, matcalc; assert 'matcalc.generate' not in sys.modules; print(matcalc.codegen.__module__)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "matcalc.generate.api"


# ------------------------------------------------------------------------------ conv

CONV_LAYERS = [(2, 2, 1, 1, 2), (2, 1, 1, 2, 1), (1, 3, 2, 1, 1), (2, 1, 1, 1, 8), (3, 2, 1, 1, 1)]


@pytest.mark.parametrize("ndim,stride,padding,dilation,groups", CONV_LAYERS)
def test_conv_gradients_generated_for_torch_and_numpy(ndim, stride, padding, dilation, groups):
    """The torch target (torch's conv_transpose / weight-gradient primitives) against torch's own
    autograd, and the NumPy target (the derived index sums) against the same numbers."""
    if not HAVE_TORCH:
        pytest.skip("torch not installed")
    import torch
    from matcalc.generate import conv_compile
    rng = np.random.default_rng(ndim + stride + groups)
    channels, out_channels = 8, (8 if groups == 8 else 4)
    V = torch.as_tensor(rng.normal(size=(2, channels) + (7,) * ndim)).requires_grad_(True)
    W = torch.as_tensor(rng.normal(size=(out_channels, channels // groups) + (3,) * ndim)).requires_grad_(True)
    b = torch.zeros(out_channels, dtype=torch.float64, requires_grad=True)
    conv = getattr(torch.nn.functional, f"conv{ndim}d")
    Z = conv(V, W, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    delta = torch.as_tensor(rng.normal(size=tuple(Z.shape)))
    (Z * delta).sum().backward()
    gen = conv_compile(ndim, stride, padding, dilation, groups, "torch")
    assert f"conv{ndim}d_input" in gen["source"] and f"conv{ndim}d_weight" in gen["source"]
    Vd, Wd = V.detach(), W.detach()
    assert torch.allclose(gen["grad_input"](Vd, Wd, delta), V.grad)
    assert torch.allclose(gen["grad_weight"](Vd, Wd, delta), W.grad)
    assert torch.allclose(gen["grad_bias"](delta), b.grad)
    both = gen["grad_input_and_weight"](Vd, Wd, delta)
    assert torch.allclose(both[0], V.grad) and torch.allclose(both[1], W.grad)
    ref = conv_compile(ndim, stride, padding, dilation, groups, "numpy")
    assert np.allclose(ref["grad_input"](Vd.numpy(), Wd.numpy(), delta.numpy()), V.grad.numpy())
    assert np.allclose(ref["grad_weight"](Vd.numpy(), Wd.numpy(), delta.numpy()), W.grad.numpy())


def test_conv_codegen_errors():
    from matcalc.generate import conv_codegen
    with pytest.raises(matcalc.MatcalcError, match="targets torch and numpy"):
        conv_codegen(2, target="jax")


def test_jax_jit_flag():
    """jit=False (what the table test uses for JAX) leaves the functions unjitted and says so."""
    jitted = matcalc.codegen("norm2(X*w - y)^2", ["w"], "jax")
    plain = matcalc.codegen("norm2(X*w - y)^2", ["w"], "jax", jit=False)
    assert "jax.jit(_value_and_grad)" in jitted and "first call" in jitted
    assert "jax.jit(" not in plain and "jit=False" in plain
