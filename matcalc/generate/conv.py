"""Convolution gradients as generated code: ``grad_input``, ``grad_weight`` and ``grad_bias``.

The conv module derives ∂L/∂V, ∂L/∂W and ∂L/∂b of a ``conv{n}d`` layer as index sums and
recognises their closed forms (∂L/∂V a transposed convolution of δ with W, ∂L/∂W the
correlation of the input with δ, ∂L/∂b a sum of δ).  The torch target lowers each *recognised*
closed form to torch's own primitive: the transposed convolution ``torch.nn.grad.conv{n}d_input``
for ∂L/∂V (``F.conv_transpose{n}d`` computes the same, but took 2.5× as long on a depthwise
layer), the batched correlation ``torch.nn.grad.conv{n}d_weight`` for ∂L/∂W, both at once
through ``aten.convolution_backward`` (``grad_input_and_weight``, what autograd calls), and a sum
for ∂L/∂b; a gradient without a recognised closed form is refused.  The NumPy target computes the derived index sums themselves,
as ``Part.evaluate`` does (the module then needs matcalc at run time).

The transposed convolution (``conv_transpose_codegen``) and average pooling
(``avgpool_codegen``) are generated the same way.  For ``conv_transpose{n}d`` the torch target's
∂L/∂V is the ordinary convolution ``F.conv{n}d`` of δ with W (a transposed convolution's
adjoint), and ∂L/∂W (and both at once) ``aten.convolution_backward`` with ``transposed=True``,
which is what autograd calls; for ``avg_pool{n}d`` ∂L/∂V is torch's ``avg_pool{n}d_backward``
(the 1-D layer through the 2-D one with a unit axis, as torch's own ``avg_pool1d`` does).

The module is built through :mod:`ast` from constant templates whose holes take the layer's
numbers as constants: no text from a user is formatted into it.
"""
from __future__ import annotations

import ast

from matcalc.errors import MatcalcError, UnsupportedError

_TORCH = '''
import torch
import torch.nn.functional as F

STRIDE = _stride
PADDING = _padding
DILATION = _dilation
GROUPS = _groups


@torch.no_grad()
def grad_input(V, W, delta):
    """∂L/∂V, the transposed convolution of delta with W (V only gives the shape)."""
    return torch.nn.grad.conv_nd_input(V.shape, W, delta, STRIDE, PADDING, DILATION, GROUPS)


@torch.no_grad()
def grad_weight(V, W, delta):
    """∂L/∂W, the correlation of the (padded) input with delta as the kernel (W only gives the shape)."""
    return torch.nn.grad.conv_nd_weight(V, W.shape, delta, STRIDE, PADDING, DILATION, GROUPS)


@torch.no_grad()
def grad_input_and_weight(V, W, delta):
    """(∂L/∂V, ∂L/∂W) in one call of torch's convolution backward primitive, as autograd does."""
    gv, gw, _ = torch.ops.aten.convolution_backward(delta, V, W, None, STRIDE, PADDING, DILATION, False,
                                                     (0,) * len(STRIDE), GROUPS, (True, True, False))
    return gv, gw


@torch.no_grad()
def grad_bias(delta):
    """∂L/∂b, the sum of delta over the batch and the spatial axes."""
    return delta.sum(dim=(0,) + tuple(range(2, delta.dim())))
'''

_NUMPY = '''
from matcalc.conv import conv_gradients

_LAYER = conv_gradients(_ndim, stride=_stride, padding=_padding, dilation=_dilation, groups=_groups)


def grad_input(V, W, delta):
    """∂L/∂V from the derived index sum."""
    return _LAYER.grad_input.evaluate(V=V, W=W, delta=delta)


def grad_weight(V, W, delta):
    """∂L/∂W from the derived index sum."""
    return _LAYER.grad_weight.evaluate(V=V, W=W, delta=delta)


def grad_bias(delta):
    """∂L/∂b from the derived index sum."""
    return _LAYER.grad_bias.evaluate(delta=delta)
'''


_TORCH_TRANSPOSE = '''
import torch
import torch.nn.functional as F

STRIDE = _stride
PADDING = _padding
OUTPUT_PADDING = _output_padding
DILATION = _dilation
GROUPS = _groups


@torch.no_grad()
def grad_input(V, W, delta):
    """∂L/∂V, the ordinary convolution of delta with W (cut to V's size where the output padding
    is at least the stride)."""
    out = F.conv_nd(delta, W, None, STRIDE, PADDING, DILATION, GROUPS)
    return out[(slice(None), slice(None)) + tuple(slice(0, h) for h in V.shape[2:])]


@torch.no_grad()
def grad_weight(V, W, delta):
    """∂L/∂W, from torch's convolution backward primitive (transposed)."""
    return torch.ops.aten.convolution_backward(delta, V, W, None, STRIDE, PADDING, DILATION, True,
                                               OUTPUT_PADDING, GROUPS, (False, True, False))[1]


@torch.no_grad()
def grad_input_and_weight(V, W, delta):
    """(∂L/∂V, ∂L/∂W) in one call of torch's convolution backward primitive, as autograd does."""
    gv, gw, _ = torch.ops.aten.convolution_backward(delta, V, W, None, STRIDE, PADDING, DILATION, True,
                                                     OUTPUT_PADDING, GROUPS, (True, True, False))
    return gv, gw


@torch.no_grad()
def grad_bias(delta):
    """∂L/∂b, the sum of delta over the batch and the spatial axes."""
    return delta.sum(dim=(0,) + tuple(range(2, delta.dim())))
'''

_NUMPY_TRANSPOSE = '''
from matcalc.conv import conv_transpose_gradients

_LAYER = conv_transpose_gradients(_ndim, stride=_stride, padding=_padding, output_padding=_output_padding,
                                  dilation=_dilation, groups=_groups)


def grad_input(V, W, delta):
    """∂L/∂V from the derived index sum."""
    return _LAYER.grad_input.evaluate(V=V, W=W, delta=delta)


def grad_weight(V, W, delta):
    """∂L/∂W from the derived index sum."""
    return _LAYER.grad_weight.evaluate(V=V, W=W, delta=delta)


def grad_bias(delta):
    """∂L/∂b from the derived index sum."""
    return _LAYER.grad_bias.evaluate(delta=delta)
'''

_TORCH_POOL = '''
import torch

KERNEL = _kernel
STRIDE = _stride
PADDING = _padding


@torch.no_grad()
def grad_input(V, delta):
    """∂L/∂V, torch's average-pooling backward: each delta value spread evenly over its window
    (count_include_pad=True, ceil_mode=False)."""
    return torch.ops.aten.avg_pool_nd_backward(delta, V, KERNEL, STRIDE, PADDING, False, True, None)
'''

_TORCH_POOL_1D = '''
import torch

KERNEL = _kernel
STRIDE = _stride
PADDING = _padding


@torch.no_grad()
def grad_input(V, delta):
    """∂L/∂V, torch's average-pooling backward (the 1-D layer as a 2-D one with a unit axis, as
    torch's avg_pool1d is computed): each delta value spread evenly over its window."""
    out = torch.ops.aten.avg_pool2d_backward(delta.unsqueeze(-2), V.unsqueeze(-2), (1,) + KERNEL, (1,) + STRIDE,
                                             (0,) + PADDING, False, True, None)
    return out.squeeze(-2)
'''

_NUMPY_POOL = '''
from matcalc.conv import avgpool_gradients

_LAYER = avgpool_gradients(_ndim, kernel_size=_kernel, stride=_stride, padding=_padding)


def grad_input(V, delta):
    """∂L/∂V from the derived index sum."""
    return _LAYER.grad_input.evaluate(V=V, delta=delta)
'''


class _Holes(ast.NodeTransformer):
    def __init__(self, holes: dict, ndim: int):
        self.holes, self.ndim = holes, ndim

    def visit_Name(self, node):
        if node.id in self.holes:
            return ast.Constant(self.holes[node.id]) if not isinstance(self.holes[node.id], tuple) else \
                ast.Tuple([ast.Constant(v) for v in self.holes[node.id]], ast.Load())
        return node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr in ("conv_nd_input", "conv_nd_weight", "conv_nd", "avg_pool_nd_backward"):
            node.attr = node.attr.replace("_nd", f"{self.ndim}d")
        return node


def _module(layer, holes: dict, template: str, target: str, what: str) -> str:
    if target == "torch":
        for part in (layer.grad_input, layer.grad_weight, layer.grad_bias):
            if part is not None and part.closed_form is None:
                raise UnsupportedError(f"{part.title} has no recognised closed form, so the torch target has no "
                                       "primitive for it; use target='numpy'")
    settings = ", ".join(f"{k.strip('_').replace('_', ' ')} {v}" for k, v in holes.items() if k != "_ndim")
    doc = (f"Generated by matcalc: the gradients of {what} ({settings}) for the {target} target; delta is "
           "∂L/∂Z.\n\n" + "\n".join(
               f"{p.title}: {p.closed_form.text}" for p in (layer.grad_input, layer.grad_weight, layer.grad_bias)
               if p is not None and p.closed_form is not None) + "\n")
    tree = _Holes(holes, holes["_ndim"]).visit(ast.parse(template))
    tree.body.insert(0, ast.Expr(ast.Constant(doc)))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _check_target(target: str) -> None:
    if target not in ("torch", "numpy"):
        raise MatcalcError(f"conv code generation has the targets torch and numpy, not {target!r}")


def conv_codegen(ndim: int = 2, stride=1, padding=0, dilation=1, groups: int = 1, target: str = "torch") -> str:
    """The source of a module with ``grad_input(V, W, delta)``, ``grad_weight(V, W, delta)``,
    ``grad_input_and_weight(V, W, delta)`` (torch) and ``grad_bias(delta)`` for
    ``torch.nn.functional.conv{ndim}d`` with these settings (δ = ∂L/∂Z)."""
    from matcalc.conv import config, conv_gradients

    _check_target(target)
    ndim = config.check_ndim(ndim)
    holes = {"_ndim": ndim, "_stride": config.as_tuple(stride, ndim, "stride", 1),
             "_padding": config.as_tuple(padding, ndim, "padding", 0),
             "_dilation": config.as_tuple(dilation, ndim, "dilation", 1), "_groups": config.check_groups(groups)}
    layer = conv_gradients(ndim, stride, padding, dilation, groups)
    return _module(layer, holes, _TORCH if target == "torch" else _NUMPY, target, f"conv{ndim}d")


def conv_transpose_codegen(ndim: int = 2, stride=1, padding=0, output_padding=0, dilation=1, groups: int = 1,
                           target: str = "torch") -> str:
    """The source of a module with ``grad_input(V, W, delta)``, ``grad_weight(V, W, delta)``,
    ``grad_input_and_weight(V, W, delta)`` (torch) and ``grad_bias(delta)`` for
    ``torch.nn.functional.conv_transpose{ndim}d`` with these settings (δ = ∂L/∂Z)."""
    from matcalc.conv import config, conv_transpose_gradients

    _check_target(target)
    ndim = config.check_ndim(ndim)
    stride_, padding_ = config.as_tuple(stride, ndim, "stride", 1), config.as_tuple(padding, ndim, "padding", 0)
    dilation_ = config.as_tuple(dilation, ndim, "dilation", 1)
    output_padding_ = config.as_tuple(output_padding, ndim, "output_padding", 0)
    layer = conv_transpose_gradients(ndim, stride, padding, output_padding, dilation, groups)
    holes = {"_ndim": ndim, "_stride": stride_, "_padding": padding_, "_output_padding": output_padding_,
             "_dilation": dilation_, "_groups": config.check_groups(groups)}
    return _module(layer, holes, _TORCH_TRANSPOSE if target == "torch" else _NUMPY_TRANSPOSE, target,
                   f"conv_transpose{ndim}d")


def avgpool_codegen(ndim: int = 2, kernel_size=2, stride=None, padding=0, target: str = "torch") -> str:
    """The source of a module with ``grad_input(V, delta)`` for ``torch.nn.functional.avg_pool{ndim}d``
    (count_include_pad=True, ceil_mode=False; ``stride`` defaults to ``kernel_size``)."""
    from matcalc.conv import avgpool_gradients, config

    _check_target(target)
    ndim = config.check_ndim(ndim)
    kernel = config.as_tuple(kernel_size, ndim, "kernel_size", 1)
    stride_ = kernel if stride is None else config.as_tuple(stride, ndim, "stride", 1)
    holes = {"_ndim": ndim, "_kernel": kernel, "_stride": stride_,
             "_padding": config.as_tuple(padding, ndim, "padding", 0)}
    layer = avgpool_gradients(ndim, kernel, stride_, holes["_padding"])
    template = _NUMPY_POOL if target == "numpy" else _TORCH_POOL_1D if ndim == 1 else _TORCH_POOL
    return _module(layer, holes, template, target, f"avg_pool{ndim}d")


def _run(source: str) -> dict:
    namespace: dict = {"__name__": "matcalc_conv_generated"}
    exec(compile(source, "<matcalc conv codegen>", "exec"), namespace)  # built from the layer through ast
    namespace["source"] = source
    return namespace


def conv_compile(ndim: int = 2, stride=1, padding=0, dilation=1, groups: int = 1, target: str = "torch") -> dict:
    """The generated conv module's namespace (``grad_input``, ``grad_weight``, ``grad_bias``, ``source``)."""
    return _run(conv_codegen(ndim, stride, padding, dilation, groups, target))


def conv_transpose_compile(ndim: int = 2, stride=1, padding=0, output_padding=0, dilation=1, groups: int = 1,
                           target: str = "torch") -> dict:
    """The generated transposed-convolution module's namespace (as :func:`conv_compile`)."""
    return _run(conv_transpose_codegen(ndim, stride, padding, output_padding, dilation, groups, target))


def avgpool_compile(ndim: int = 2, kernel_size=2, stride=None, padding=0, target: str = "torch") -> dict:
    """The generated average-pooling module's namespace (``grad_input``, ``source``)."""
    return _run(avgpool_codegen(ndim, kernel_size, stride, padding, target))
