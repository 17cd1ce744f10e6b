"""A symmetric variable obeys one convention in every slot and at every order: the symmetric-space
derivative, the projection of the unconstrained one onto symmetric directions."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc

S = {"S": "symmetric(n)"}
CASES = [
    ("logdet(S)", 1), ("logdet(S)", 2), ("det(S)", 2), ("tr(A*S)", 1), ("tr(A*S*B*S)", 2),
    ("x'*S*x", 1), ("x'*inv(S)*x", 2), ("S*x", 1), ("inv(S)", 1), ("A*S*B", 1), ("logdet(S)", 3),
]


@pytest.mark.parametrize("f, order", CASES)
def test_symmetric_derivatives_match_symmetric_finite_differences(f, order):
    """check() moves S along (E_ij + E_ji)/2: it measures the projected derivative."""
    assert matcalc.check(f, "S", S, order) < 1e-6
    d = matcalc.diff(f, "S", S, order)
    assert all(v.ok for v in d.verify(seed=order)), d.explain(d.verify(seed=order))


def _point(rng, n=3):
    a = rng.normal(size=(n, n))
    return {"S": (a + a.T) / 2 + 3 * np.eye(n), "x": rng.normal(size=n), "a": rng.normal(size=n),
            "A": rng.normal(size=(n, n)), "B": rng.normal(size=(n, n))}


def test_every_slot_is_symmetric():
    rng = np.random.default_rng(1)
    vals = _point(rng)
    h = matcalc.diff("logdet(S)", "S", S, 2).evaluate(vals)
    np.testing.assert_allclose(h, h.transpose(1, 0, 2, 3))
    np.testing.assert_allclose(h, h.transpose(0, 1, 3, 2))
    np.testing.assert_allclose(h, h.transpose(2, 3, 0, 1))


def test_contracting_the_jacobian_gives_the_gradient_of_the_contraction():
    """The chain rule holds across forms: a·∂(Sx)/∂S = ∂(aᵀSx)/∂S."""
    decls = {**S, "a": "vector(n)", "x": "vector(n)"}
    rng = np.random.default_rng(2)
    vals = _point(rng)
    jac = matcalc.diff("S*x", "S", decls).evaluate(vals)
    grad = matcalc.diff("a'*S*x", "S", decls).evaluate(vals)
    np.testing.assert_allclose(np.tensordot(vals["a"], jac, axes=1), grad, rtol=1e-10)
    # and the Hessian is the Jacobian of the gradient
    hess = matcalc.diff("x'*inv(S)*x", "S", decls, 2).evaluate(vals)
    jac_of_grad = matcalc.diff(str(matcalc.diff("x'*inv(S)*x", "S", decls)), "S", decls)
    np.testing.assert_allclose(hess, jac_of_grad.evaluate(vals), rtol=1e-9)
