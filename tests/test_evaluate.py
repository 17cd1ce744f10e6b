"""Evaluation: every construct against a NumPy expression written independently here."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import matcalc
from matcalc import EvaluationError

DECLS = "a: scalar; b: scalar; x: vector(n); y: vector(n); z: vector(m); w: vector(n); u: vector(m); " \
        "A: matrix(n,n); B: matrix(n,n); X: matrix(m,n); P: symmetric(n)"
rng = np.random.default_rng(7)
n, m = 3, 4
_s = rng.normal(size=(n, n))
V = {
    "a": 0.7, "b": -1.3, "x": rng.normal(size=n), "y": rng.normal(size=n), "z": rng.normal(size=m),
    "w": rng.normal(size=n), "u": rng.normal(size=m),
    "A": rng.normal(size=(n, n)) + 3 * np.eye(n), "B": rng.normal(size=(n, n)), "X": rng.normal(size=(m, n)),
    "P": _s @ _s.T + np.eye(n),
}
a, b, x, y, z, w, u, A, B, X, P = (V[k] for k in "a b x y z w u A B X P".split())
sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731

CASES = [
    ("a + b", a + b), ("a - b", a - b), ("a*b", a * b), ("a/b", a / b), ("-a", -a),
    ("x + y", x + y), ("x - y", x - y), ("2*x", 2 * x), ("x*a", x * a), ("x/2", x / 2),
    ("A*x", A @ x), ("X*x", X @ x), ("x'*y", x @ y), ("x'*A*y", x @ A @ y), ("x*y'", np.outer(x, y)),
    ("x'", x.reshape(1, -1)), ("X'", X.T), ("Xᵀ*z", X.T @ z), ("X.T*z", X.T @ z),
    ("A*B", A @ B), ("X*A", X @ A), ("x .* y", x * y), ("x ⊙ y", x * y), ("x ./ y", x / y),
    ("A .* B", A * B), ("x.^2", x ** 2), ("abs(x).^0.5", np.abs(x) ** 0.5), ("abs(x).^a", np.abs(x) ** a),
    ("a^2", a ** 2), ("a^-1", 1 / a), ("A^2", A @ A), ("A^3", A @ A @ A), ("A^-1", np.linalg.inv(A)),
    ("A^(-2)", np.linalg.inv(A @ A)), ("A^0", np.eye(n)), ("A^2'", (A @ A).T),
    ("1 + x", 1 + x), ("x - 1", x - 1), ("1 - tanh(x).^2", 1 - np.tanh(x) ** 2), ("A + 2", A + 2),
    ("log(1 + exp(-z .* (X*w)))", np.log(1 + np.exp(-z * (X @ w)))),
    ("exp(x)", np.exp(x)), ("log(abs(x))", np.log(np.abs(x))), ("sin(x)", np.sin(x)), ("cos(x)", np.cos(x)),
    ("tan(x)", np.tan(x)), ("tanh(X)", np.tanh(X)), ("arcsin(sin(x))", np.arcsin(np.sin(x))),
    ("arccos(cos(x))", np.arccos(np.cos(x))), ("arctan(x)", np.arctan(x)), ("sqrt(abs(x))", np.sqrt(np.abs(x))),
    ("abs(x)", np.abs(x)), ("sign(x)", np.sign(x)), ("relu(x)", np.maximum(x, 0)), ("sigmoid(x)", sig(x)),
    ("softplus(x)", np.log1p(np.exp(x))), ("step(x)", (x > 0).astype(float)),
    ("sum(x)", x.sum()), ("sum(X)", X.sum()), ("norm1(x)", np.abs(x).sum()), ("norm1(X)", np.abs(X).sum()),
    ("norm2(x)", np.linalg.norm(x)), ("norm2(X)", np.linalg.norm(X, "fro")),
    ("norm2(X*w - z)^2", np.sum((X @ w - z) ** 2)),
    ("tr(A)", np.trace(A)), ("tr(A*B)", np.trace(A @ B)), ("det(A)", np.linalg.det(A)),
    ("logdet(P)", np.log(np.linalg.det(P))), ("inv(A)", np.linalg.inv(A)), ("inv(P)*x", np.linalg.solve(P, x)),
    ("diag(x)", np.diag(x)), ("diag(A)", np.diag(A)), ("softmax(x)", np.exp(x) / np.exp(x).sum()),
    ("logsumexp(x)", np.log(np.exp(x).sum())), ("-z'*log(softmax(X*w))", -z @ np.log(np.exp(X @ w) / np.exp(X @ w).sum())),
    ("A + eye", A + np.eye(n)), ("x + vector(2)", x + 2), ("X - matrix(-1.5)", X + 1.5),
    ("eye*x", x), ("vec(X)", X.flatten(order="F")), ("kron(A, X)", np.kron(A, X)),
    ("vec(A*X')", (A @ X.T).flatten(order="F")),
]
CASES = [c for c in CASES if c[1] is not None]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0] for c in CASES])
def test_matches_numpy(text, expected):
    e = matcalc.parse(text, DECLS)
    got = e.evaluate(V)
    expected = np.asarray(expected, dtype=float)
    assert np.shape(got) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("t", [-35.3, -35.4, -100.0, -700.0, 35.0])
def test_sigmoid_keeps_relative_precision_on_the_negative_tail(t):
    """log(sigmoid(t)) = t − log1p(e^t); the tanh form gave 4.4e-16 for all t below −35 (a fuzz find)."""
    got = matcalc.parse("log(sigmoid(a))", DECLS).evaluate({"a": t})
    assert abs(got - (t - np.log1p(np.exp(t)))) <= 1e-12 * max(1.0, abs(t))


def test_scalar_result_is_a_python_float():
    assert type(matcalc.parse("x'*y", DECLS).evaluate(V)) is float


def test_result_layout_follows_the_shape():
    assert matcalc.parse("A*x", DECLS).evaluate(V).shape == (n,)
    assert matcalc.parse("x'*A", DECLS).evaluate(V).shape == (1, n)  # a row stays a 1×n row
    assert matcalc.parse("X", DECLS).evaluate(V).shape == (m, n)


def test_integer_arrays_and_lists_are_accepted():
    e = matcalc.parse("A*x", {"A": "matrix(2,2)", "x": "vector(2)"})
    np.testing.assert_allclose(e.evaluate({"A": [[1, 2], [3, 4]], "x": [1, 1]}), [3, 7])


def test_dimension_given_by_name_sizes_constants():
    e = matcalc.parse("sum(eye)")
    assert e.evaluate({"n": 4}) == 4.0


@pytest.mark.parametrize("values, message", [
    ({"x": np.ones(3)}, "no value given for A (matrix(n,n))"),
    ({"A": np.ones(3), "x": np.ones(3)}, "A is matrix(n,n), so its value must be a 2-D array, but an array of shape (3,) was given"),
    ({"A": np.ones((3, 3)), "x": np.ones((3, 1))}, "x is vector(n), so its value must be a 1-D array"),
    ({"A": np.ones((3, 3)), "x": np.ones(4)}, "dimension n is 3 from A (axis 0) but 4 from x (axis 0)"),
    ({"A": np.ones((3, 4)), "x": np.ones(3)}, "dimension n is 3 from A (axis 0) but 4 from A (axis 1)"),
    ({"A": np.ones((3, 3)), "x": ["p", "q", "r"]}, "the value of x is not numeric"),
])
def test_bad_values_raise_evaluation_error(values, message):
    e = matcalc.parse("A*x", {"A": "matrix(n,n)", "x": "vector(n)"})
    with pytest.raises(EvaluationError) as info:
        e.evaluate(values)
    assert message in str(info.value)


def test_unknown_dimension_and_asymmetric_value():
    with pytest.raises(EvaluationError, match="size of dimension 'n'"):
        matcalc.parse("sum(eye)").evaluate({})
    with pytest.raises(EvaluationError, match="declared symmetric"):
        matcalc.parse("tr(S)", {"S": "symmetric(n)"}).evaluate({"S": np.arange(4.0).reshape(2, 2)})
    with pytest.raises(EvaluationError, match="singular"):
        matcalc.parse("inv(A)").evaluate({"A": np.ones((2, 2))})
    with pytest.raises(EvaluationError, match="must be a dict"):
        matcalc.parse("a").evaluate([1.0])
    with pytest.raises(EvaluationError, match="size 2 along axis 0"):
        matcalc.parse("x", {"x": "vector(2)"}).evaluate({"x": np.ones(3)})


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_random_sizes_bind(nn, mm, seed):
    r = np.random.default_rng(seed)
    Xv, wv, zv = r.normal(size=(mm, nn)), r.normal(size=nn), r.normal(size=mm)
    e = matcalc.parse("norm2(X*w - z)^2 + sum(X'*z)", {"w": "vector(n)", "z": "vector(m)"})
    got = e.evaluate({"X": Xv, "w": wv, "z": zv})
    assert np.isclose(got, np.sum((Xv @ wv - zv) ** 2) + np.sum(Xv.T @ zv))
