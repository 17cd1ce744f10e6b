"""The checkers say "not differentiable here" or look closer, rather than report a false failure.

- ``verify()``: a step undefined at the point drawn is tried at other points; undefined at all of
  them (a rule applied where f is not differentiable) it is reported as undefined, not failed.
- ``verdict()``: a comparison that fails at the standard finite-difference step is re-examined
  with Richardson-extrapolated differences, which keep their digits where f has a huge dynamic
  range; a wrong derivative still fails.
"""
import numpy as np
import pytest

import matcalc
from matcalc.numeric import check as C
from matcalc.shell.cli import main
from matcalc.testing import DECLS


def test_a_step_undefined_everywhere_is_undefined_not_failed():
    d = matcalc.diff("norm2(x - x)", "x", DECLS)
    verdicts = d.verify(seed=1)
    undefined = [v for v in verdicts if v.undefined]
    assert undefined and all(not v.ok for v in undefined)
    assert [v.step.rule.name for v in undefined][0] == "d_norm2"
    assert "undefined at each of" in undefined[0].note and "norm2(x - x) is 0" in undefined[0].note
    assert all(v.ok for v in verdicts if not v.undefined)  # every other step holds
    assert str(undefined[0]).startswith("– ")


def test_a_step_undefined_only_at_the_first_point_is_checked_at_another(monkeypatch):
    """The first point makes d_norm2's step divide by zero; the redrawn points do not."""
    from matcalc.numeric import verify as V
    d = matcalc.diff("norm2(x - y)", "x", DECLS)
    real = V._point
    calls = []

    def first_on_the_kink(d_, variables, rng, values):
        p = real(d_, variables, rng, values)
        if not calls:
            p["y"] = np.array(p["x"], dtype=float)  # x - y = 0: norm2 is not differentiable here
        calls.append(1)
        return p
    monkeypatch.setattr(V, "_point", first_on_the_kink)
    verdicts = d.verify(seed=0)
    assert len(calls) >= 2 and all(v.ok for v in verdicts), [str(v) for v in verdicts]


def test_given_values_are_not_redrawn():
    d = matcalc.diff("norm2(x - y)", "x", DECLS)
    x = np.array([1.0, 2.0, 3.0])
    verdicts = d.verify({"x": x, "y": x.copy()})
    assert any(v.undefined and "norm2(x - y) is 0" in v.note for v in verdicts)


def test_a_wrong_rule_still_fails_verify(monkeypatch):
    from matcalc.calculus import differential
    from matcalc.ir.build import apply, num
    monkeypatch.setitem(differential._ELEMENTWISE_DERIVATIVE, "sin",
                        lambda node, a: apply("mul", num(2), apply("cos", a)))
    verdicts = matcalc.diff("sum(sin(x))", "x", DECLS).verify(seed=0)
    assert any(not v.ok and not v.undefined for v in verdicts)


def test_cli_says_which_steps_could_not_be_checked(capsys):
    code = main(["diff", "norm2(x - x)", "--wrt", "x", "--steps", "--check"])
    out, err = capsys.readouterr()
    assert code == 0 and "could not be checked: undefined at every point drawn" in out and "FAILED" not in err


# ------------------------------------------------------------------------------ extrapolation

def exact_exp3(x):
    import mpmath
    mpmath.mp.dps = 60
    e = [mpmath.exp(mpmath.mpf(float(t))) for t in x]
    return np.diag([float(mpmath.exp(mpmath.exp(a)) * mpmath.exp(a) * a) for a in e])


def test_extrapolation_keeps_the_digits_one_step_loses():
    x = np.array([1.05, 1.78, -2.55])
    fn = lambda v: np.exp(np.exp(np.exp(v)))  # noqa: E731
    exact = exact_exp3(x)
    assert C.relative_error(C.finite_difference(fn, x), exact) > 1e-7
    assert C.relative_error(C.extrapolated_difference(fn, x)[0], exact) < 1e-10


def test_extrapolation_resolves_a_fast_oscillation():
    """sin(exp(exp(b))) at b = 2.2765 has a period of 5e-5: the usual starting steps straddle it."""
    import mpmath
    mpmath.mp.dps = 40
    b = 2.276491303816993
    fn = lambda v: np.sin(np.exp(np.exp(v)))  # noqa: E731
    t = mpmath.exp(mpmath.mpf(b))
    exact = float(mpmath.cos(mpmath.exp(t)) * mpmath.exp(t) * t)
    assert C.relative_error(C.finite_difference(fn, np.asarray(b)), exact) > 1e-3
    assert C.relative_error(C.extrapolated_difference(fn, np.asarray(b))[0], exact) < 1e-8


def test_extrapolation_of_a_linear_map_beside_a_huge_term():
    x = np.array([1.5, 4.9, -3.0])
    fn = lambda v: v[0] * np.array([1.0, 2.0]) + 1e6 * np.sum(v ** 9)  # noqa: E731
    exact = np.zeros((2, 3))
    exact[:, 0] = [1.0, 2.0]
    exact += 9e6 * x ** 8
    assert C.relative_error(C.extrapolated_difference(fn, x)[0], exact) < 1e-12


@pytest.mark.parametrize("f, wrt, seed", [("exp(exp(exp(x)))", "x", 6), ("B - (A.^3).^3", "B", 3)])
def test_the_saved_tolerance_failures_were_the_checker_not_the_derivative(f, wrt, seed):
    v = C.verdict(f, wrt, DECLS, seed=seed)
    assert v.ok and v.error < 1e-8, v


def test_a_wrong_derivative_still_fails_after_extrapolation(monkeypatch):
    from matcalc.calculus import differential
    from matcalc.ir.build import apply, num
    monkeypatch.setitem(differential._ELEMENTWISE_DERIVATIVE, "exp",
                        lambda node, a: apply("mul", num(1.0001), apply("exp", a)))
    v = C.verdict("sum(exp(x))", "x", DECLS, seed=0)
    assert not v.ok and v.error > 1e-5
