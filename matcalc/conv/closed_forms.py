"""The recognised textbook forms of the derived gradients, each with its own way to compute it.

The derived sums are what matcalc evaluates; these closed forms say what they *are* (a
transposed convolution, a correlation of the input with δ, a sum of δ) and compute that
independently, by array surgery (zero insertion, 180° rotation, channel swap) around a plain
forward convolution, so tests can check that derivation and textbook agree.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from matcalc.conv.parts import ClosedForm

Forward = Callable[..., np.ndarray]  # forward(V, W, stride, padding, dilation, groups) -> Z


def _zero_insert(delta: np.ndarray, stride: tuple, extra: tuple) -> np.ndarray:
    """δ with s − 1 zeros between neighbours along each spatial axis, plus ``extra`` trailing zeros."""
    spatial = tuple((n - 1) * s + 1 + r for n, s, r in zip(delta.shape[2:], stride, extra))
    out = np.zeros(delta.shape[:2] + spatial, dtype=delta.dtype)
    out[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)][
        (slice(None), slice(None)) + tuple(slice(0, n) for n in delta.shape[2:])] = delta
    return out


def _rot180_swap(W: np.ndarray, groups: int) -> np.ndarray:
    """W (C_out, C_in/G, *k) → (C_in, C_out/G, *k): kernel rotated by 180°, channels swapped per group."""
    co, cig, *k = W.shape
    flipped = W.reshape(groups, co // groups, cig, *k)[(Ellipsis,) + (slice(None, None, -1),) * len(k)]
    return np.ascontiguousarray(flipped.swapaxes(1, 2)).reshape(groups * cig, co // groups, *k)


def conv_input_grad(forward: Forward, stride, padding, dilation, groups) -> Callable:
    """∂L/∂V = corr(δ̂ padded by d·(k−1) − p, rot180(W)ᵀ, dilation d), δ̂ = δ with s − 1 zeros inserted."""
    def compute(V, W, delta, **_):
        k, H = W.shape[2:], V.shape[2:]
        extra = tuple(h + 2 * p - d * (kk - 1) - 1 - (ho - 1) * s
                      for h, p, d, kk, ho, s in zip(H, padding, dilation, k, delta.shape[2:], stride))
        hat = _zero_insert(delta, stride, extra)
        pads = tuple(d * (kk - 1) - p for d, kk, p in zip(dilation, k, padding))
        crop = tuple(slice(max(0, -q), n - max(0, -q)) for q, n in zip(pads, hat.shape[2:]))
        hat = hat[(slice(None), slice(None)) + crop]
        return forward(hat, _rot180_swap(W, groups), (1,) * len(k), tuple(max(q, 0) for q in pads), dilation, groups)
    return compute


def _per_group(a: np.ndarray, groups: int) -> list[np.ndarray]:
    """Channel blocks of ``a`` with batch and channel axes swapped: (C/G, N, *spatial) each."""
    return [np.ascontiguousarray(block.swapaxes(0, 1)) for block in np.split(a, groups, axis=1)]


def correlate_with_delta(forward: Forward, stride, padding, dilation, groups, transpose: bool) -> Callable:
    """∂L/∂W = Σ_n V ⋆ δ per group (stride d, dilation s), cropped to the kernel size.

    For a transposed convolution the roles of V and δ are exchanged."""
    def compute(V, W, delta, **_):
        k = W.shape[2:]
        blocks = []
        for v, e in zip(_per_group(V, groups), _per_group(delta, groups)):
            x, kern = (e, v) if transpose else (v, e)
            out = forward(x, kern, dilation, padding, stride, 1)
            out = out[(slice(None), slice(None)) + tuple(slice(0, kk) for kk in k)]
            blocks.append(out.swapaxes(0, 1))
        return np.concatenate(blocks, axis=0)
    return compute


def bias_sum(delta, **_) -> np.ndarray:
    """∂L/∂b = Σ over the batch and spatial axes of δ."""
    return delta.sum(axis=(0,) + tuple(range(2, delta.ndim)))


def conv_closed_forms(forward: Forward, stride, padding, dilation, groups) -> dict[str, ClosedForm]:
    textbook = all(s == 1 for s in stride) and all(d == 1 for d in dilation) and all(p == 0 for p in padding)
    if textbook:
        v_text = ("∂L/∂V = the full convolution of δ with W — i.e. the full correlation of δ with rot180(W), "
                  "in- and output channels swapped (per group)")
        v_latex = r"\frac{\partial L}{\partial V} = \delta \ast_{\mathrm{full}} W = \delta \star_{\mathrm{full}} \mathrm{rot}_{180}(W)^{\top}"
    else:
        v_text = ("∂L/∂V = the full correlation of δ̂ (δ with s − 1 zeros inserted between neighbours) against "
                  "rot180(W)ᵀ (kernel rotated by 180°, channel axes transposed per group), padding d·(k − 1) − p, "
                  "dilation d, stride 1: the transposed convolution conv_transpose(δ, W; stride s, padding p, "
                  "dilation d, output_padding (H + 2p − d·(k − 1) − 1) mod s)")
        v_latex = (r"\frac{\partial L}{\partial V} = \hat\delta \star_{\mathrm{full}} \mathrm{rot}_{180}(W)^{\top}"
                   r" = \mathrm{conv\_transpose}(\delta, W)")
    return {
        "V": ClosedForm(v_text, v_latex, conv_input_grad(forward, stride, padding, dilation, groups)),
        "W": ClosedForm("∂L/∂W = V ⋆ δ: the input (zero-padded by p) correlated with δ as the kernel, summed over "
                        "the batch, per group; stride d and dilation s (stride and dilation swap roles)",
                        r"\frac{\partial L}{\partial W} = \sum_n V \star_{s \leftrightarrow d} \delta",
                        correlate_with_delta(forward, stride, padding, dilation, groups, transpose=False)),
        "b": ClosedForm("∂L/∂b = Σ_{n, x} δ: the sum of δ over the batch and the spatial axes",
                        r"\frac{\partial L}{\partial b} = \sum_{n, x} \delta", bias_sum),
    }


def conv_transpose_closed_forms(forward: Forward, stride, padding, dilation, groups) -> dict[str, ClosedForm]:
    def input_grad(V, W, delta, **_):
        out = forward(delta, W, stride, padding, dilation, groups)
        return out[(slice(None), slice(None)) + tuple(slice(0, h) for h in V.shape[2:])]
    return {
        "V": ClosedForm("∂L/∂V = δ ⋆ W: the ordinary (strided, padded, dilated) convolution of δ with W — "
                        "a transposed convolution's adjoint is the convolution",
                        r"\frac{\partial L}{\partial V} = \delta \star W", input_grad),
        "W": ClosedForm("∂L/∂W = δ ⋆ V: δ (zero-padded by p) correlated with the input as the kernel, summed over "
                        "the batch, per group; stride d and dilation s",
                        r"\frac{\partial L}{\partial W} = \sum_n \delta \star_{s \leftrightarrow d} V",
                        correlate_with_delta(forward, stride, padding, dilation, groups, transpose=True)),
        "b": ClosedForm("∂L/∂b = Σ_{n, x} δ: the sum of δ over the batch and the spatial axes",
                        r"\frac{\partial L}{\partial b} = \sum_{n, x} \delta", bias_sum),
    }


def avgpool_closed_forms(forward: Forward, kernel_size, stride, padding) -> dict[str, ClosedForm]:
    def input_grad(V, delta, **_):
        c = V.shape[1]
        W = np.full((c, 1) + tuple(kernel_size), 1.0 / np.prod(kernel_size), dtype=delta.dtype)
        return conv_input_grad(forward, stride, padding, (1,) * len(stride), c)(V=V, W=W, delta=delta)
    return {"V": ClosedForm("∂L/∂V = the transposed depthwise convolution of δ with the constant kernel 1/k: "
                            "each δ value spread evenly over its window",
                            r"\frac{\partial L}{\partial V} = \mathrm{conv\_transpose}(\delta, \tfrac{1}{k}\mathbf{1})",
                            input_grad)}
