"""Generated gradients of the transposed convolution and of average pooling.

The torch target (``F.conv{n}d`` and ``aten.convolution_backward(transposed=True)`` for
conv_transpose, ``aten.avg_pool{n}d_backward`` for pooling) and the NumPy target (the derived
index sums) against the naive loop references of tests/test_conv_reference.py (central
differences of ⟨Z, δ⟩ with Z from the loops), against the conv module's own ``evaluate`` and,
where torch is installed, against torch's autograd.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import matcalc
from matcalc import conv
from matcalc.generate import avgpool_codegen, avgpool_compile, conv_transpose_codegen, conv_transpose_compile

from test_conv_reference import naive_avgpool, naive_conv_transpose

HAVE_TORCH = importlib.util.find_spec("torch") is not None
TARGETS = ["numpy", pytest.param("torch", marks=pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed"))]

#: (ndim, stride, padding, output_padding, dilation, groups); the last has output padding ≥ stride
TRANSPOSE = [(2, 2, 1, 1, 1, 2), (1, 3, 1, 2, 1, 1), (2, 1, 0, 0, 2, 1), (3, 2, 1, 1, 1, 1), (1, 1, 0, 1, 2, 1)]


def _np(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def _as(target, *arrays):
    if target == "torch":
        import torch
        return [torch.as_tensor(a) for a in arrays]
    return list(arrays)


def _directional(forward, A, name, delta, rng, eps=1e-3):
    """Central difference of ⟨forward(…), δ⟩ along a random direction U of A[name], and U."""
    U = rng.standard_normal(A[name].shape)
    plus, minus = {**A, name: A[name] + eps * U}, {**A, name: A[name] - eps * U}
    return ((forward(**plus) - forward(**minus)) * delta).sum() / (2 * eps), U


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("ndim,s,p,a,d,G", TRANSPOSE)
def test_conv_transpose_gradients_match_naive_loops(target, ndim, s, p, a, d, G):
    rng = np.random.default_rng(ndim + s + p + a + d + G)
    Ci, Cog = 4, 3
    V = rng.standard_normal((2, Ci) + (4,) * ndim)
    W = rng.standard_normal((Ci, Cog) + (3,) * ndim)
    b = rng.standard_normal(Cog * G)
    tup = lambda x: (x,) * ndim  # noqa: E731

    def forward(V, W, b):
        return naive_conv_transpose(V, W, b, tup(s), tup(p), tup(d), G, tup(a))

    delta = rng.standard_normal(forward(V, W, b).shape)
    gen = conv_transpose_compile(ndim, s, p, a, d, G, target)
    layer = conv.conv_transpose_gradients(ndim, s, p, a, d, G)
    args = _as(target, V, W, delta)
    got = {"V": _np(gen["grad_input"](*args)), "W": _np(gen["grad_weight"](*args)),
           "b": _np(gen["grad_bias"](args[2]))}
    A = {"V": V, "W": W, "b": b}
    for name, part in (("V", layer.grad_input), ("W", layer.grad_weight), ("b", layer.grad_bias)):
        fd, U = _directional(forward, A, name, delta, rng)
        assert got[name].shape == A[name].shape
        assert (got[name] * U).sum() == pytest.approx(fd, rel=1e-6, abs=1e-8), name
        np.testing.assert_allclose(got[name], part.evaluate(V=V, W=W, b=b, delta=delta), atol=1e-10)
    if target == "torch":
        both = gen["grad_input_and_weight"](*args)
        np.testing.assert_allclose(_np(both[0]), got["V"], atol=1e-12)
        np.testing.assert_allclose(_np(both[1]), got["W"], atol=1e-12)
        assert f"F.conv{ndim}d(" in gen["source"] and "convolution_backward" in gen["source"]


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("ndim,s,p,a,d,G", TRANSPOSE)
def test_conv_transpose_torch_target_matches_autograd(ndim, s, p, a, d, G):
    import torch
    rng = np.random.default_rng(7)
    V = torch.as_tensor(rng.standard_normal((2, 4) + (5,) * ndim)).requires_grad_(True)
    W = torch.as_tensor(rng.standard_normal((4, 3) + (3,) * ndim)).requires_grad_(True)
    bias = torch.zeros(3 * G, dtype=torch.float64, requires_grad=True)
    Z = getattr(torch.nn.functional, f"conv_transpose{ndim}d")(V, W, bias, stride=s, padding=p, output_padding=a,
                                                               groups=G, dilation=d)
    delta = torch.as_tensor(rng.standard_normal(tuple(Z.shape)))
    (Z * delta).sum().backward()
    gen = conv_transpose_compile(ndim, s, p, a, d, G, "torch")
    assert torch.allclose(gen["grad_input"](V.detach(), W.detach(), delta), V.grad)
    assert torch.allclose(gen["grad_weight"](V.detach(), W.detach(), delta), W.grad)
    assert torch.allclose(gen["grad_bias"](delta), bias.grad)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([1, 2, 3]), st.sampled_from(["numpy", "torch"] if HAVE_TORCH else ["numpy"]), st.data())
def test_avgpool_gradient_matches_naive_loops(ndim, target, data):
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    s = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    p = tuple(data.draw(st.integers(0, kk // 2)) for kk in k)
    H = tuple(data.draw(st.integers(max(1, kk - 2 * pp), 5)) for kk, pp in zip(k, p))
    if target == "torch" and ndim == 3:     # torch's avg_pool3d itself refuses an input smaller than the kernel
        assume(all(h >= kk for h, kk in zip(H, k)))
    rng = np.random.default_rng(5)
    V = rng.standard_normal((2, 3) + H)
    delta = rng.standard_normal(naive_avgpool(V, k, s, p).shape)
    gen = avgpool_compile(ndim, k, s, p, target)
    got = _np(gen["grad_input"](*_as(target, V, delta)))
    fd, U = _directional(lambda V: naive_avgpool(V, k, s, p), {"V": V}, "V", delta, rng)
    assert got.shape == V.shape
    assert (got * U).sum() == pytest.approx(fd, rel=1e-6, abs=1e-8)
    np.testing.assert_allclose(got, conv.avgpool_gradients(ndim, k, s, p).grad_input.evaluate(V=V, delta=delta),
                               atol=1e-12)
    if target == "torch":
        assert ("avg_pool2d_backward" if ndim == 1 else f"avg_pool{ndim}d_backward") in gen["source"]


def test_generated_sources_hold_the_settings_and_no_user_text():
    src = conv_transpose_codegen(2, stride=2, padding=1, output_padding=1, target="torch")
    assert "OUTPUT_PADDING = (1, 1)" in src and "conv_transpose2d" in src
    assert "kernel (2, 2)" in avgpool_codegen(2, 2, target="numpy")
    with pytest.raises(matcalc.MatcalcError, match="targets torch and numpy"):
        avgpool_codegen(2, target="jax")
    with pytest.raises(matcalc.MatcalcError):
        conv_transpose_codegen(2, stride=1, output_padding=1, dilation=1)      # output padding ≥ stride and dilation
