"""The dimension-consistency shortcut: the seed notes reproduced exactly, and honest verdicts."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import matcalc
from matcalc.numeric.check import random_values
from matcalc.numeric.evaluate import evaluate
from matcalc.printing.text import to_text
from matcalc.consistency.explain import shortcut
from matcalc.consistency.table import CASES, render

SEED = {"X": "matrix(m,n)", "ω": "vector(n)", "y": "vector(m)"}
J = "norm2(X*ω - y)^2"


@pytest.mark.parametrize("wrt, guess, consistent, problem, adjusted", [
    ("X", "2(X*ω - y)ω", False, "(X*ω - y) is m×1 and ω is n×1: the product is undefined", "2*(X*ω - y)*ω'"),
    ("ω", "2(X*ω - y)X", False, "(X*ω - y) is m×1 and X is m×n: the product is undefined", "2*X'*(X*ω - y)"),
    ("y", "-2(X*ω - y)", True, None, "-2*(X*ω - y)"),
])
def test_seed_notes_exactly(wrt, guess, consistent, problem, adjusted):
    r = shortcut(J, wrt, SEED)
    assert r.guess_text() == guess
    assert r.consistent is consistent
    assert r.guess[0].problem == problem
    assert [to_text(c) for c in r.candidates[0]] == [adjusted]
    assert to_text(r.adjusted) == adjusted
    assert r.agrees is True and r.verdict == "right"
    assert str(r.truth) == adjusted
    # the guess carries each factor with its shape
    factors = r.to_dict()["guess"][0]["factors"]
    assert factors[0] == ["X*ω - y", "m×1"]


def test_order_lost_is_wrong_and_says_why():
    r = shortcut("x'*A*x", "x")
    assert r.agrees is False and r.verdict == "wrong"
    assert r.guess_text() == "2Ax" and r.consistent
    assert "loses the order" in r.explanation
    r = shortcut("tr(A*X*B*X)", "X")
    assert r.agrees is False and "loses the order of the factors" in r.explanation


def test_symmetric_makes_it_right():
    r = shortcut("x'*A*x", "x", {"A": "symmetric(n)"})
    assert r.agrees is True and to_text(r.adjusted) == "2*A*x"


def test_square_matrices_are_ambiguous():
    r = shortcut("tr(X*X)", "X")
    assert r.agrees is None and r.verdict == "ambiguous"
    assert [to_text(c) for c in r.candidates[0]] == ["2*X", "2*X'"]
    assert "only 2*X' is right" in r.explanation


@pytest.mark.parametrize("f, wrt, reason", [
    ("det(X)", "X", "the determinant has no scalar analogue"),
    ("logdet(X)", "X", "log det has no scalar analogue"),
    ("tr(inv(X)*A)", "X", "the inverse has no scalar analogue"),
    ("norm2(A .* X)^2", "X", "the Hadamard product has no scalar analogue"),
    ("sum(exp(x))", "x", "sum() has no scalar analogue"),
    ("A*x", "x", "for a scalar f only"),
])
def test_not_applicable(f, wrt, reason):
    r = shortcut(f, wrt)
    assert r.agrees is None and r.verdict == "not applicable"
    assert reason in r.explanation


EXPECTED = {
    "right": 18, "wrong": 4, "ambiguous": 2, "not applicable": 7,
}


def test_verdict_table_is_current_and_verified():
    assert len(CASES) >= 25
    doc = Path(__file__).resolve().parent.parent / "docs" / "shortcut-table.md"
    assert doc.read_text(encoding="utf-8") == render(), "regenerate: python -m matcalc.consistency.table > docs/shortcut-table.md"
    counts = {}
    rng = np.random.default_rng(11)
    for f, wrt, decls, _ in CASES:
        r = shortcut(f, wrt, decls)
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
        # every verdict re-checked here, independently of shortcut()'s own comparison
        assert matcalc.check(f, wrt, decls) < 1e-6
        if r.adjusted is None:
            continue
        vals = random_values(r.f, rng)  # general (non-symmetric) square matrices
        truth = r.truth.evaluate(vals)
        fits = [np.allclose(evaluate(c, vals), truth, rtol=1e-8, atol=1e-10) for c in r.candidates[0]]
        if r.verdict == "ambiguous":  # several fit, and some but not all of them are right
            assert any(fits) and not all(fits), (f, wrt)
        else:
            same = np.allclose(evaluate(r.adjusted, vals), truth, rtol=1e-8, atol=1e-10)
            assert same == (r.verdict == "right"), (f, wrt, r.verdict)
    assert counts == EXPECTED


def test_printing_and_data():
    r = shortcut(J, "X", SEED)
    text = str(r)
    assert "step 2, check 2(X*ω - y)ω: inconsistent: (X*ω - y) is m×1 and ω is n×1" in text
    assert "verdict: right" in text
    assert r.latex().startswith(r"\text{guess: }")
    assert json.loads(json.dumps(r.to_dict()))["agrees"] is True


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True)


def test_cli_explain_side_by_side():
    out = run_cli("explain", J, "--wrt", "ω", "--decl", "X: matrix(m,n)", "--decl", "ω: vector(n)", "--decl", "y: vector(m)")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("TRUE DERIVATION") and first.endswith("DIMENSION-CONSISTENCY SHORTCUT")
    assert "∂f/∂ω = 2*X'*(X*ω - y)" in out.stdout
    assert "(X*ω - y) is m×1 and X is m×n: the product is undefined" in out.stdout
    assert out.stdout.splitlines()[-1].startswith("VERDICT: the shortcut is right")
    out = run_cli("explain", "x'*A*x", "--wrt", "x", "--format", "json")
    assert json.loads(out.stdout)["verdict"] == "wrong"
