"""Entry points: derive a layer's forward sum and gradients and bundle them as ``LayerGradients``.

This is the only module that knows which gradient belongs to which layer; it validates the
configuration, asks ``derive.py`` for each gradient and attaches the recognised closed forms.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from matcalc.conv import config, layers
from matcalc.conv.closed_forms import avgpool_closed_forms, conv_closed_forms, conv_transpose_closed_forms
from matcalc.indexsum.derive import Derivation, derive_gradient
from matcalc.conv.parts import Part

TITLES = {"V": "∂L/∂V", "W": "∂L/∂W", "b": "∂L/∂b"}


@dataclass(frozen=True)
class LayerGradients:
    """The forward sum of a layer and its derived gradients (None where the layer has no such tensor)."""
    layer: layers.Layer
    forward: Part
    grad_input: Part
    grad_weight: Part | None
    grad_bias: Part | None

    @property
    def parts(self) -> tuple[Part, ...]:
        return tuple(p for p in (self.forward, self.grad_bias, self.grad_weight, self.grad_input) if p)

    def header(self) -> str:
        role = lambda sym: ("kspdaG".index(sym.name[0]), sym.name)  # noqa: E731
        params = ", ".join(f"{s} = {v}" for s, v in sorted(self.layer.params.items(), key=lambda kv: role(kv[0])))
        return f"{self.layer.ndim}-D {self.layer.kind.replace('_', ' ')}, {params}\n  " + "\n  ".join(self.layer.where)

    def verify(self, seed: int | None = None) -> dict:
        """The verdicts of every derivation step of every gradient, by part title (see
        :meth:`Part.verify`)."""
        return {part.title: part.verify(seed) for part in self.parts if part is not self.forward}

    def text(self, specialise: bool = False, steps: bool = False, verdicts: dict | None = None) -> str:
        """The header, the forward sum and each gradient; ``steps`` adds each derivation, and
        ``verdicts`` (from :meth:`verify`) marks its steps ✓ or ✗ with the measured error."""
        blocks = [self.header()]
        if verdicts is not None:
            from matcalc.indexsum.verify import layer_sizes
            chosen = layer_sizes(self.layer)
            blocks[0] += "\n  checked at random arrays of sizes " + ", ".join(
                f"{s} = {v}" for s, v in chosen.items() if s not in self.layer.params)
        for part in self.parts:
            block = part.text(specialise)
            if part.closed_form:
                block += f"\n  closed form: {part.closed_form.text}"
            if part is not self.forward and verdicts is not None:
                held = sum(v.ok for v in verdicts[part.title])
                block += f"\n  verified: {held} of {len(verdicts[part.title])} steps hold"
            if steps and part is not self.forward:
                mine = None if verdicts is None else verdicts[part.title]
                block += "\n  derivation:" + ("  (each step checked numerically at random arrays)" if mine else "")
                block += "\n" + "\n".join("    " + line for line in part.steps_text(mine).splitlines())
            blocks.append(block)
        return "\n\n".join(blocks)

    __str__ = text

    def latex(self, specialise: bool = False) -> str:
        return "\n".join(p.latex(specialise) for p in self.parts)


def _forward_eval(V, W, stride, padding, dilation, groups) -> np.ndarray:
    """The engine's own forward convolution (no bias), for the closed forms."""
    return _conv(len(stride), tuple(stride), tuple(padding), tuple(dilation), groups, False).forward.evaluate(V=V, W=W)


def _build(layer: layers.Layer, closed: dict) -> LayerGradients:
    parts = {}
    for name, target in layer.targets.items():
        derivation = derive_gradient(layer.forward, name, target.free, "delta", target.prefer)
        parts[name] = Part(TITLES[name], name, layer, derivation, closed.get(name))
    forward = Part("Z", "Z", layer, Derivation(layer.forward, (("definition (PyTorch conventions)", layer.forward),)))
    return LayerGradients(layer, forward, parts["V"], parts.get("W"), parts.get("b"))


@lru_cache(maxsize=64)
def _conv(ndim, stride, padding, dilation, groups, bias) -> LayerGradients:
    layer = layers.convolution(ndim, stride, padding, dilation, groups, bias)
    return _build(layer, conv_closed_forms(_forward_eval, stride, padding, dilation, groups))


def conv_gradients(ndim: int = 2, stride=1, padding=0, dilation=1, groups: int = 1, bias: bool = True,
                   in_channels: int | None = None, out_channels: int | None = None) -> LayerGradients:
    """Forward sum and derived gradients of ``torch.nn.functional.conv{ndim}d`` (cross-correlation).

    ``stride``, ``padding`` and ``dilation`` are ints or tuples of ``ndim`` ints; ``groups`` must
    divide the channel counts (checked here when given, else when arrays are evaluated).
    """
    ndim = config.check_ndim(ndim)
    stride = config.as_tuple(stride, ndim, "stride", 1)
    padding = config.as_tuple(padding, ndim, "padding", 0)
    dilation = config.as_tuple(dilation, ndim, "dilation", 1)
    groups = config.check_groups(groups)
    config.check_channels(in_channels, out_channels, groups)
    return _conv(ndim, stride, padding, dilation, groups, bool(bias))


@lru_cache(maxsize=32)
def _conv_transpose(ndim, stride, padding, dilation, groups, output_padding, bias) -> LayerGradients:
    layer = layers.conv_transpose(ndim, stride, padding, dilation, groups, output_padding, bias)
    return _build(layer, conv_transpose_closed_forms(_forward_eval, stride, padding, dilation, groups))


def conv_transpose_gradients(ndim: int = 2, stride=1, padding=0, output_padding=0, dilation=1,
                             groups: int = 1, bias: bool = True) -> LayerGradients:
    """Forward sum and derived gradients of ``torch.nn.functional.conv_transpose{ndim}d``."""
    ndim = config.check_ndim(ndim)
    stride = config.as_tuple(stride, ndim, "stride", 1)
    padding = config.as_tuple(padding, ndim, "padding", 0)
    dilation = config.as_tuple(dilation, ndim, "dilation", 1)
    output_padding = config.as_tuple(output_padding, ndim, "output_padding", 0)
    config.check_output_padding(output_padding, stride, dilation)
    groups = config.check_groups(groups)
    return _conv_transpose(ndim, stride, padding, dilation, groups, output_padding, bool(bias))


@lru_cache(maxsize=32)
def _avgpool(ndim, kernel_size, stride, padding) -> LayerGradients:
    layer = layers.avgpool(ndim, kernel_size, stride, padding)
    return _build(layer, avgpool_closed_forms(_forward_eval, kernel_size, stride, padding))


def avgpool_gradients(ndim: int = 2, kernel_size=2, stride=None, padding=0) -> LayerGradients:
    """Forward sum and derived input gradient of ``torch.nn.functional.avg_pool{ndim}d``
    (count_include_pad=True, ceil_mode=False); ``stride`` defaults to ``kernel_size``."""
    ndim = config.check_ndim(ndim)
    kernel_size = config.as_tuple(kernel_size, ndim, "kernel_size", 1)
    stride = kernel_size if stride is None else config.as_tuple(stride, ndim, "stride", 1)
    padding = config.as_tuple(padding, ndim, "padding", 0)
    return _avgpool(ndim, kernel_size, stride, padding)
