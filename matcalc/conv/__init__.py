"""Convolution layers and their gradients, derived by a small index-sum engine.

``conv_gradients`` (and ``conv_transpose_gradients``, ``avgpool_gradients``) write the forward
pass of a PyTorch layer as an index sum and *derive* ∂L/∂V, ∂L/∂W and ∂L/∂b from it: Kronecker
deltas from differentiation are summed out by solving their affine index equations, leaving
explicit divisibility and range indicators where the stride demands them. Every result prints
(text, LaTeX, SymPy), lists its derivation steps, and evaluates with vectorised NumPy.

The engine is usable on its own: build an ``IndexSum`` from ``Index``/``Ref``/``Term`` and call
``derive_gradient`` and ``evaluate`` (see the matrix-product tests).
"""
from matcalc.conv.api import LayerGradients, avgpool_gradients, conv_gradients, conv_transpose_gradients
from matcalc.indexsum.derive import Derivation, derive_gradient
from matcalc.indexsum.evaluate import evaluate
from matcalc.indexsum.ir import Delta, Divides, Index, IndexSum, InRange, Ref, Term, symbol
from matcalc.conv.parts import ClosedForm, Part
from matcalc.indexsum.printing import sum_text, to_sympy

__all__ = [
    "ClosedForm", "Delta", "Derivation", "Divides", "Index", "IndexSum", "InRange", "LayerGradients", "Part",
    "Ref", "Term", "avgpool_gradients", "conv_gradients", "conv_transpose_gradients", "derive_gradient",
    "evaluate", "sum_text", "symbol", "to_sympy",
]
