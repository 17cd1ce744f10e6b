"""Phase 4, structured: identities of structured operands and special functions ([N9])."""
from __future__ import annotations

from typing import Optional

from matcalc.ir.nodes import Const, Node, Num, op_of
from matcalc.ir.shapes import is_scalar, make
from matcalc.simplify.normal_form import rewrites
from matcalc.simplify.terms import (SIGNED_PRODUCTS, is_num, is_ones, is_zero, matrix_product, number, power_parts,
                                    pull_sign, scaled, zero)


@rewrites("structured", "mul")
def ones_inner_product(node, rb):
    """1ᵀx → sum(x) and xᵀ1 → sum(x) (1 the all-ones vector)."""
    a, b = node.args
    if not is_scalar(node.shape) or is_scalar(a.shape):
        return None
    if is_ones(a):
        return rb("sum", b)
    if is_ones(b):
        return rb("sum", a)
    return None


@rewrites("structured", "mul")
def kron_mixed_product(node, rb):
    """(A ⊗ B)(C ⊗ D) → AC ⊗ BD when the products exist (MC 511)."""
    a, b = node.args
    if op_of(a) == "neg" and op_of(a.args[0]) == "kron":
        out = kron_mixed_product(make("mul", a.args[0], b), rb)
        return rb("neg", out) if out is not None else None
    if op_of(a) == "kron" and op_of(b) == "kron":
        (p, q), (r, t) = a.args, b.args
        if p.shape[1] == r.shape[0] and q.shape[1] == t.shape[0]:
            return rb("kron", rb("mul", p, r), rb("mul", q, t))
    if op_of(a) == "mul" and op_of(a.args[1]) == "kron" and op_of(b) == "kron":  # c·(A ⊗ B) · (C ⊗ D)
        inner = kron_mixed_product(make("mul", a.args[1], b), rb)
        return rb("mul", a.args[0], inner) if inner is not None else None
    return None


@rewrites("structured", "mul")
def diag_product(node, rb):
    """diag(a)·diag(b) → diag(a ⊙ b), and diag(a)·(diag(b)·C) → diag(a ⊙ b)·C, for vectors a, b."""
    a, b = node.args
    if op_of(a) != "diag" or a.args[0].shape[1] != 1:
        return None
    if op_of(b) == "diag" and b.args[0].shape[1] == 1:
        return rb("diag", rb("hadamard", a.args[0], b.args[0]))
    if op_of(b) == "mul" and op_of(b.args[0]) == "diag" and b.args[0].args[0].shape[1] == 1:
        return rb("mul", rb("diag", rb("hadamard", a.args[0], b.args[0].args[0])), b.args[1])
    return None


@rewrites("structured", "mul")
def diag_times_vector(node, rb):
    """diag(a)·v → a ⊙ v for column vectors a, v."""
    a, b = node.args
    if op_of(a) == "diag" and a.args[0].shape[1] == 1 and b.shape[1] == 1 and not is_scalar(b.shape):
        return rb("hadamard", a.args[0], b)
    return None


@rewrites("structured", "mul")
def inverse_product(node, rb):
    """A·A⁻¹ → I and A⁻¹·A → I."""
    a, b = node.args
    if (op_of(b) == "inv" and b.args[0] == a) or (op_of(a) == "inv" and a.args[0] == b):
        from matcalc.ir.build import eye
        return eye(a.shape[0])
    return None
