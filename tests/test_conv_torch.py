"""Derived sums against PyTorch autograd in float64 (skipped where torch is not installed)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcalc import conv

torch = pytest.importorskip("torch")
F = torch.nn.functional
SETTINGS = settings(max_examples=20, deadline=None)


def autograd(fn, V, W, b, **kwargs):
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (V, W, b)]
    Z = fn(*tensors, **kwargs)
    delta = np.random.default_rng(7).standard_normal(tuple(Z.shape))
    (Z * torch.tensor(delta)).sum().backward()
    return Z.detach().numpy(), delta, [t.grad.numpy() for t in tensors]


def assert_parts(g, V, W, b, Z, delta, grads):
    A = dict(V=V, W=W, b=b, delta=delta)
    np.testing.assert_allclose(g.forward.evaluate(**A), Z, atol=1e-10)
    for part, expected in zip((g.grad_input, g.grad_weight, g.grad_bias), grads):
        np.testing.assert_allclose(part.evaluate(**A), expected, atol=1e-10)


@st.composite
def configs(draw):
    ndim = draw(st.sampled_from([1, 2, 3]))
    G = draw(st.sampled_from([1, 2, 4]))
    s = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    d = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    k = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    p = tuple(draw(st.integers(0, 3)) for _ in range(ndim))
    low = [max(1, dd * (kk - 1) + 1 - 2 * pp) for dd, kk, pp in zip(d, k, p)]
    H = tuple(draw(st.integers(lo, lo + (5 if ndim < 3 else 2))) for lo in low)
    return ndim, G, s, d, k, p, H, draw(st.integers(1, 2))


@SETTINGS
@given(configs())
def test_conv_matches_torch_autograd(cfg):
    ndim, G, s, d, k, p, H, N = cfg
    rng = np.random.default_rng(0)
    V, W, b = rng.standard_normal((N, 2 * G) + H), rng.standard_normal((G, 2) + k), rng.standard_normal(G)
    fn = getattr(F, f"conv{ndim}d")
    Z, delta, grads = autograd(fn, V, W, b, stride=s, padding=p, dilation=d, groups=G)
    assert_parts(conv.conv_gradients(ndim, s, p, d, G), V, W, b, Z, delta, grads)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_depthwise_conv_matches_torch(ndim):
    rng = np.random.default_rng(ndim)
    H = (7, 6, 5)[:ndim]
    V, W, b = rng.standard_normal((2, 3) + H), rng.standard_normal((6, 1) + (3,) * ndim), rng.standard_normal(6)
    Z, delta, grads = autograd(getattr(F, f"conv{ndim}d"), V, W, b, stride=2, padding=2, dilation=1, groups=3)
    assert_parts(conv.conv_gradients(ndim, 2, 2, 1, 3), V, W, b, Z, delta, grads)


@SETTINGS
@given(st.sampled_from([1, 2, 3]), st.data())
def test_conv_transpose_matches_torch_autograd(ndim, data):
    G = data.draw(st.sampled_from([1, 2]))
    s = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    d = tuple(data.draw(st.integers(1, 2)) for _ in range(ndim))
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    a = tuple(data.draw(st.integers(0, max(ss, dd) - 1)) for ss, dd in zip(s, d))
    p = tuple(data.draw(st.integers(0, (dd * (kk - 1) + aa) // 2)) for dd, kk, aa in zip(d, k, a))
    H = tuple(data.draw(st.integers(1, 4)) for _ in range(ndim))
    rng = np.random.default_rng(1)
    V, W, b = rng.standard_normal((2, 2 * G) + H), rng.standard_normal((2 * G, 3) + k), rng.standard_normal(3 * G)
    fn = getattr(F, f"conv_transpose{ndim}d")
    Z, delta, grads = autograd(fn, V, W, b, stride=s, padding=p, output_padding=a, dilation=d, groups=G)
    assert_parts(conv.conv_transpose_gradients(ndim, s, p, a, d, G), V, W, b, Z, delta, grads)


@SETTINGS
@given(st.sampled_from([1, 2, 3]), st.data())
def test_avgpool_matches_torch_autograd(ndim, data):
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    s = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    p = tuple(data.draw(st.integers(0, kk // 2)) for kk in k)
    H = tuple(data.draw(st.integers(kk, 6)) for kk in k)  # torch's avg_pool3d wants H ≥ k
    V = np.random.default_rng(2).standard_normal((2, 3) + H)
    tV = torch.tensor(V, requires_grad=True)
    Z = getattr(F, f"avg_pool{ndim}d")(tV, k, s, p)
    delta = np.random.default_rng(3).standard_normal(tuple(Z.shape))
    (Z * torch.tensor(delta)).sum().backward()
    g = conv.avgpool_gradients(ndim, k, s, p)
    np.testing.assert_allclose(g.forward.evaluate(V=V), Z.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(g.grad_input.evaluate(V=V, delta=delta), tV.grad.numpy(), atol=1e-12)


def test_float32_inputs_give_float32_results_close_to_torch():
    rng = np.random.default_rng(3)
    V, W, b = (rng.standard_normal(shape).astype(np.float32) for shape in ((2, 4, 9, 9), (8, 4, 3, 3), (8,)))
    Z, delta, grads = autograd(F.conv2d, V, W, b, stride=2, padding=1)
    out = conv.conv_gradients(2, 2, 1).grad_input.evaluate(V=V, W=W, b=b, delta=delta.astype(np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, grads[0], rtol=1e-4, atol=1e-4)
