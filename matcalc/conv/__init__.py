"""Convolution layers and their gradients, derived by a small index-sum engine.

``conv_gradients`` (and ``conv_transpose_gradients``, ``avgpool_gradients``) write the forward
pass of a PyTorch layer as an index sum and *derive* ∂L/∂V, ∂L/∂W and ∂L/∂b from it: Kronecker
deltas from differentiation are summed out by solving their affine index equations, leaving
explicit divisibility and range indicators where the stride demands them. Every result prints
(text, LaTeX, SymPy), lists its derivation steps, and evaluates with vectorised NumPy.

The engine is usable on its own: build an ``IndexSum`` from ``Index``/``Ref``/``Term`` and call
``derive_gradient`` and ``evaluate`` (see the matrix-product tests).
"""
import importlib

#: Where each public name lives; they load on first use, so ``import matcalc.conv.cli`` (the
#: ``matcalc`` command's parser) does not pull in SymPy.
_HOMES = {
    "LayerGradients": "matcalc.conv.api", "avgpool_gradients": "matcalc.conv.api",
    "conv_gradients": "matcalc.conv.api", "conv_transpose_gradients": "matcalc.conv.api",
    "Derivation": "matcalc.indexsum.derive", "derive_gradient": "matcalc.indexsum.derive",
    "evaluate": "matcalc.indexsum.evaluate",
    "Delta": "matcalc.indexsum.ir", "Divides": "matcalc.indexsum.ir", "Index": "matcalc.indexsum.ir",
    "IndexSum": "matcalc.indexsum.ir", "InRange": "matcalc.indexsum.ir", "Ref": "matcalc.indexsum.ir",
    "Term": "matcalc.indexsum.ir", "symbol": "matcalc.indexsum.ir",
    "ClosedForm": "matcalc.conv.parts", "Part": "matcalc.conv.parts",
    "sum_text": "matcalc.indexsum.printing", "to_sympy": "matcalc.indexsum.printing",
}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'matcalc.conv' has no attribute {name!r}")


__all__ = [
    "ClosedForm", "Delta", "Derivation", "Divides", "Index", "IndexSum", "InRange", "LayerGradients", "Part",
    "Ref", "Term", "avgpool_gradients", "conv_gradients", "conv_transpose_gradients", "derive_gradient",
    "evaluate", "sum_text", "symbol", "to_sympy",
]
