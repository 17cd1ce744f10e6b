"""Derived sums against independent naive loops, finite differences and the recognised closed forms."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcalc import conv

SETTINGS = settings(max_examples=25, deadline=None)


# ----- independent direct implementations (naive loops, scatter form) --------------------------

def out_size(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def naive_conv(V, W, b, delta, s, p, d, G):
    """Forward and all three gradients of conv{n}d by loops over outputs and kernel offsets."""
    N, Ci, *H = V.shape
    Co, Cig, *k = W.shape
    Cog = Co // G
    Ho = [out_size(*t) for t in zip(H, k, s, p, d)]
    Z, gV, gW = np.zeros((N, Co, *Ho)), np.zeros_like(V), np.zeros_like(W)
    for n, o in itertools.product(range(N), range(Co)):
        cs = slice(o // Cog * Cig, o // Cog * Cig + Cig)
        for x in itertools.product(*map(range, Ho)):
            Z[(n, o) + x] += b[o]
            for i in itertools.product(*map(range, k)):
                pos = tuple(ss * xx + dd * ii - pp for ss, xx, dd, ii, pp in zip(s, x, d, i, p))
                if all(0 <= q < h for q, h in zip(pos, H)):
                    Z[(n, o) + x] += W[(o, slice(None)) + i] @ V[(n, cs) + pos]
                    gV[(n, cs) + pos] += delta[(n, o) + x] * W[(o, slice(None)) + i]
                    gW[(o, slice(None)) + i] += delta[(n, o) + x] * V[(n, cs) + pos]
    return Z, gV, gW, delta.sum(axis=(0,) + tuple(range(2, delta.ndim)))


def naive_conv_transpose(V, W, b, s, p, d, G, a):
    """conv_transpose{n}d by scattering every input element through the kernel."""
    N, Ci, *H = V.shape
    _, Cog, *k = W.shape
    Cig = Ci // G
    Ho = [(h - 1) * ss - 2 * pp + dd * (kk - 1) + aa + 1 for h, ss, pp, dd, kk, aa in zip(H, s, p, d, k, a)]
    Z = np.zeros((N, Cog * G, *Ho)) + b.reshape((1, -1) + (1,) * len(H))
    for n, c in itertools.product(range(N), range(Ci)):
        os_ = slice(c // Cig * Cog, c // Cig * Cog + Cog)
        for h in itertools.product(*map(range, H)):
            for i in itertools.product(*map(range, k)):
                pos = tuple(ss * hh + dd * ii - pp for ss, hh, dd, ii, pp in zip(s, h, d, i, p))
                if all(0 <= q < m for q, m in zip(pos, Ho)):
                    Z[(n, os_) + pos] += V[(n, c) + h] * W[(c, slice(None)) + i]
    return Z


def naive_avgpool(V, k, s, p):
    N, C, *H = V.shape
    Ho = [(h + 2 * pp - kk) // ss + 1 for h, kk, ss, pp in zip(H, k, s, p)]
    Z = np.zeros((N, C, *Ho))
    for x in itertools.product(*map(range, Ho)):
        for i in itertools.product(*map(range, k)):
            pos = tuple(ss * xx + ii - pp for ss, xx, ii, pp in zip(s, x, i, p))
            if all(0 <= q < h for q, h in zip(pos, H)):
                Z[(slice(None), slice(None)) + x] += V[(slice(None), slice(None)) + pos] / np.prod(k)
    return Z


# ----- configurations ---------------------------------------------------------------------------

@st.composite
def conv_configs(draw, ndim=None):
    ndim = ndim or draw(st.sampled_from([1, 1, 2, 2, 3]))
    G = draw(st.sampled_from([1, 1, 2, 3]))
    depthwise = draw(st.booleans())
    Cig = 1 if depthwise else draw(st.integers(1, 2))
    Cog = draw(st.integers(1, 2))
    cap = {1: (5, 4, 4, 10), 2: (3, 3, 3, 6), 3: (2, 2, 2, 4)}[ndim]
    s, p, d, k, H = [], [], [], [], []
    for _ in range(ndim):
        kk, dd, ss = draw(st.integers(1, cap[0])), draw(st.integers(1, cap[1])), draw(st.integers(1, cap[2]))
        pp = draw(st.integers(0, kk + 1))
        low = max(1, dd * (kk - 1) + 1 - 2 * pp)
        H.append(draw(st.integers(low, low + cap[3])))
        s.append(ss), p.append(pp), d.append(dd), k.append(kk)
    N = draw(st.integers(1, 2))
    return dict(ndim=ndim, N=N, Ci=G * Cig, Co=G * Cog, G=G, s=tuple(s), p=tuple(p), d=tuple(d), k=tuple(k),
                H=tuple(H))


def arrays(cfg, seed=0):
    rng = np.random.default_rng(seed)
    Ho = tuple(out_size(*t) for t in zip(cfg["H"], cfg["k"], cfg["s"], cfg["p"], cfg["d"]))
    return dict(V=rng.standard_normal((cfg["N"], cfg["Ci"]) + cfg["H"]),
                W=rng.standard_normal((cfg["Co"], cfg["Ci"] // cfg["G"]) + cfg["k"]),
                b=rng.standard_normal(cfg["Co"]),
                delta=rng.standard_normal((cfg["N"], cfg["Co"]) + Ho))


def gradients(cfg):
    return conv.conv_gradients(cfg["ndim"], cfg["s"], cfg["p"], cfg["d"], cfg["G"])


def check_against_naive(cfg):
    g, A = gradients(cfg), arrays(cfg)
    Z, gV, gW, gb = naive_conv(A["V"], A["W"], A["b"], A["delta"], cfg["s"], cfg["p"], cfg["d"], cfg["G"])
    np.testing.assert_allclose(g.forward.evaluate(**A), Z, atol=1e-10)
    np.testing.assert_allclose(g.grad_input.evaluate(**A), gV, atol=1e-10)
    np.testing.assert_allclose(g.grad_weight.evaluate(**A), gW, atol=1e-10)
    np.testing.assert_allclose(g.grad_bias.evaluate(**A), gb, atol=1e-10)
    return g, A


@SETTINGS
@given(conv_configs())
def test_random_configurations_match_naive_loops(cfg):
    check_against_naive(cfg)


EDGE = {
    "stride not dividing the size": dict(ndim=2, N=2, Ci=2, Co=3, G=1, s=(3, 2), p=(0, 1), d=(1, 1), k=(2, 3), H=(8, 7)),
    "padding larger than half the kernel": dict(ndim=1, N=1, Ci=2, Co=2, G=1, s=(2,), p=(4,), d=(1,), k=(3,), H=(5,)),
    "dilation > 1": dict(ndim=2, N=1, Ci=2, Co=2, G=1, s=(1, 2), p=(2, 0), d=(3, 2), k=(3, 2), H=(9, 6)),
    "groups": dict(ndim=2, N=2, Ci=6, Co=4, G=2, s=(1, 1), p=(1, 1), d=(1, 1), k=(3, 3), H=(5, 4)),
    "depthwise": dict(ndim=2, N=1, Ci=4, Co=8, G=4, s=(2, 2), p=(1, 1), d=(1, 1), k=(3, 3), H=(6, 5)),
    "1x1 kernel": dict(ndim=2, N=2, Ci=3, Co=2, G=1, s=(2, 1), p=(0, 0), d=(1, 1), k=(1, 1), H=(5, 3)),
    "kernel as large as the input": dict(ndim=2, N=1, Ci=2, Co=3, G=1, s=(1, 1), p=(0, 0), d=(1, 1), k=(4, 3), H=(4, 3)),
    "N = 1, 1-D": dict(ndim=1, N=1, Ci=1, Co=1, G=1, s=(1,), p=(0,), d=(1,), k=(2,), H=(3,)),
    "3-D": dict(ndim=3, N=1, Ci=2, Co=2, G=2, s=(2, 1, 2), p=(1, 0, 1), d=(1, 2, 1), k=(2, 2, 3), H=(4, 5, 3)),
}


@pytest.mark.parametrize("name", EDGE)
def test_edge_configurations_match_naive_loops(name):
    check_against_naive(EDGE[name])


@SETTINGS
@given(conv_configs())
def test_gradients_match_central_finite_differences(cfg):
    """L = Σ δ ⊙ Z, with Z from the naive loops; L is linear per argument, so the
    central difference along a random direction is exact up to rounding."""
    g, A = gradients(cfg), arrays(cfg, seed=1)
    rng = np.random.default_rng(2)

    def loss(V, W, b):
        return float((naive_conv(V, W, b, A["delta"], cfg["s"], cfg["p"], cfg["d"], cfg["G"])[0] * A["delta"]).sum())

    eps = 1e-3
    for name, grad in (("V", g.grad_input), ("W", g.grad_weight), ("b", g.grad_bias)):
        U = rng.standard_normal(A[name].shape)
        plus = {**A, name: A[name] + eps * U}
        minus = {**A, name: A[name] - eps * U}
        fd = (loss(plus["V"], plus["W"], plus["b"]) - loss(minus["V"], minus["W"], minus["b"])) / (2 * eps)
        assert (grad.evaluate(**A) * U).sum() == pytest.approx(fd, rel=1e-6, abs=1e-8)


@SETTINGS
@given(conv_configs())
def test_closed_forms_agree_with_the_derived_sums(cfg):
    g, A = gradients(cfg), arrays(cfg, seed=3)
    for part in (g.grad_input, g.grad_weight, g.grad_bias):
        np.testing.assert_allclose(part.evaluate_closed_form(**A), part.evaluate(**A), atol=1e-10)


@st.composite
def transpose_configs(draw):
    ndim = draw(st.sampled_from([1, 2]))
    G = draw(st.sampled_from([1, 2]))
    s = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    d = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    k = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    a = tuple(draw(st.integers(0, max(ss, dd) - 1)) for ss, dd in zip(s, d))
    p = tuple(draw(st.integers(0, (dd * (kk - 1) + aa) // 2)) for dd, kk, aa in zip(d, k, a))
    H = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    return dict(ndim=ndim, G=G, s=s, d=d, k=k, a=a, p=p, H=H, Ci=G * draw(st.integers(1, 2)),
                Cog=draw(st.integers(1, 2)), N=draw(st.integers(1, 2)))


@SETTINGS
@given(transpose_configs())
def test_conv_transpose_matches_naive_scatter_and_finite_differences(cfg):
    g = conv.conv_transpose_gradients(cfg["ndim"], cfg["s"], cfg["p"], cfg["a"], cfg["d"], cfg["G"])
    rng = np.random.default_rng(4)
    V = rng.standard_normal((cfg["N"], cfg["Ci"]) + cfg["H"])
    W = rng.standard_normal((cfg["Ci"], cfg["Cog"]) + cfg["k"])
    b = rng.standard_normal(cfg["Cog"] * cfg["G"])

    def forward(V, W, b):
        return naive_conv_transpose(V, W, b, cfg["s"], cfg["p"], cfg["d"], cfg["G"], cfg["a"])

    Z = forward(V, W, b)
    delta = rng.standard_normal(Z.shape)
    A = dict(V=V, W=W, b=b, delta=delta)
    np.testing.assert_allclose(g.forward.evaluate(**A), Z, atol=1e-10)
    eps = 1e-3
    for name, part in (("V", g.grad_input), ("W", g.grad_weight), ("b", g.grad_bias)):
        U = rng.standard_normal(A[name].shape)
        plus, minus = {**A, name: A[name] + eps * U}, {**A, name: A[name] - eps * U}
        fd = ((forward(plus["V"], plus["W"], plus["b"]) - forward(minus["V"], minus["W"], minus["b"])) * delta).sum()
        assert (part.evaluate(**A) * U).sum() == pytest.approx(fd / (2 * eps), rel=1e-6, abs=1e-8)
        np.testing.assert_allclose(part.evaluate_closed_form(**A), part.evaluate(**A), atol=1e-10)


@SETTINGS
@given(st.sampled_from([1, 2, 3]), st.data())
def test_avgpool_matches_naive_loops_and_finite_differences(ndim, data):
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    s = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    p = tuple(data.draw(st.integers(0, kk // 2)) for kk in k)
    H = tuple(data.draw(st.integers(max(1, kk - 2 * pp), 5)) for kk, pp in zip(k, p))
    g = conv.avgpool_gradients(ndim, k, s, p)
    rng = np.random.default_rng(5)
    V = rng.standard_normal((2, 3) + H)
    Z = naive_avgpool(V, k, s, p)
    delta = rng.standard_normal(Z.shape)
    np.testing.assert_allclose(g.forward.evaluate(V=V), Z, atol=1e-12)
    U = rng.standard_normal(V.shape)
    fd = ((naive_avgpool(V + 1e-3 * U, k, s, p) - naive_avgpool(V - 1e-3 * U, k, s, p)) * delta).sum() / 2e-3
    grad = g.grad_input.evaluate(V=V, delta=delta)
    assert (grad * U).sum() == pytest.approx(fd, rel=1e-6, abs=1e-8)
    np.testing.assert_allclose(g.grad_input.evaluate_closed_form(V=V, delta=delta), grad, atol=1e-12)
