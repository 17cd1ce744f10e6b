"""Every error is a MatcalcError subclass with a message, a location and a caret."""
import subprocess
import sys

import pytest

import matcalc
from matcalc import EvaluationError, MatcalcError, ParseError, ShapeError, UnsupportedError


def error_of(text, decls=None, cls=MatcalcError):
    with pytest.raises(cls) as info:
        matcalc.parse(text, decls)
    return info.value


def test_hierarchy():
    for cls in (ParseError, ShapeError, UnsupportedError, EvaluationError):
        assert issubclass(cls, MatcalcError)


@pytest.mark.parametrize("text, message, line, column, caret", [
    ("x +", "an operand is missing after the operator: unexpected end of input; expected '(', '+', '-', a name or a number", 1, 4, "x +\n   ^"),
    ("(x + y", "a ')' is missing", 1, 7, "(x + y\n      ^"),
    ("x y", "two operands stand side by side: write '*' for a product: unexpected name 'y'", 1, 3, "x y\n  ^"),
    ("f(x,)", "an argument is missing", 1, 5, "f(x,)\n    ^"),
    ("a\n* b", None, 2, 1, "* b\n^"),
    ("x $ y", "unexpected character '$'", 1, 3, "x $ y\n  ^"),
    ("x)", "there is an extra ')'", 1, 2, "x)\n ^"),
    ("foo(x)", "unknown function 'foo'; expected one of exp, log", 1, 1, "foo(x)\n^^^"),
    ("det(A, B)", "det takes 1 argument, not 2", 1, 1, "det(A, B)\n^^^^^^^^^"),
    ("2 + exp", "exp is a function: write exp(...)", 1, 5, "2 + exp\n    ^^^"),
    ("vector(x)", "vector(c) takes one number, the value of every entry, e.g. vector(1)", 1, 1, None),
    ("eye(3, 4)", "eye takes at most one argument, its size: eye or eye(n)", 1, 1, None),
    ("X: tensor(n)", "unknown type 'tensor'; expected scalar, vector(n), matrix(m,n) or symmetric(n)", 1, 4, None),
    ("X: matrix(n)", "matrix takes two dimensions, e.g. matrix(m,n)", 1, 4, None),
    ("x: vector(0)", "a dimension must be a positive integer or a name, not 0", 1, 11, None),
    ("X: matrix(m,n)", "expected an expression", 1, 15, None),
    ("x = 2*a; x: scalar; x", "x is already defined by '='", 1, 10, None),
    ("y + 1; y = 2*a; y", "y is already a variable", 1, 8, None),
])
def test_parse_errors(text, message, line, column, caret):
    e = error_of(text, cls=ParseError)
    if message:
        assert message in e.message
    assert (e.line, e.column) == (line, column)
    if caret:
        assert e.caret() == caret
        assert str(e).endswith(caret)
    assert f"(line {line}, column {column})" in str(e)


@pytest.mark.parametrize("text, decls, message, caret", [
    ("norm2(X*w - y)^2", {"X": "matrix(m,n)", "w": "vector(n)", "y": "vector(n)"},
     "cannot subtract y (n) from X*w (m): the shapes differ", "norm2(X*w - y)^2\n          ^"),
    ("X*y", {"X": "matrix(m,n)", "y": "vector(m)"},
     "cannot multiply X (m×n) by y (m): inner dimensions n and m differ", "X*y\n ^"),
    ("A + B", {"A": "matrix(m,n)", "B": "matrix(n,m)"}, "cannot add A (m×n) and B (n×m): the shapes differ", "A + B\n  ^"),
    ("tr(X)", {"X": "matrix(m,n)"}, "needs a square matrix, but X is m×n", None),
    ("x^2", {"x": "vector(n)"}, "cannot raise the vector x (n) to a power: use '.^'", "x^2\n ^"),
    ("A^0.5", {"A": "matrix(n,n)"}, "a matrix power needs an integer exponent, not 0.5", None),
    ("A/B", {"A": "matrix(n,n)", "B": "matrix(n,n)"}, "cannot divide by B (n×n): '/' divides by a scalar", None),
    ("x .* z", {"x": "vector(n)", "z": "vector(m)"}, "cannot multiply x (n) elementwise by z (m)", None),
    ("softmax(A)", {"A": "matrix(n,n)"}, "softmax takes a column vector, but A is n×n", None),
    ("x: vector(n)\nz: vector(m)\nx'*z", None, "cannot multiply x' (1×n) by z (m)", "x'*z\n  ^"),
])
def test_shape_errors_name_operands_and_point_at_operator(text, decls, message, caret):
    e = error_of(text, decls, ShapeError)
    assert message in e.message
    if caret:
        assert e.caret() == caret


def test_bad_decls_and_arguments():
    with pytest.raises(ParseError, match="unknown type"):
        matcalc.parse("x", {"x": "vectr(n)"})
    with pytest.raises(ParseError, match="decls may only hold declarations"):
        matcalc.parse("x", "y = 2*x")
    with pytest.raises(ParseError, match="expected the text of an expression"):
        matcalc.parse(42)


def test_no_bare_exceptions_on_garbage():
    """Random junk gives a MatcalcError, never another exception."""
    from hypothesis import given, strategies as st

    alphabet = st.sampled_from(list("xyAB12.+-*/^'()[],;:= \n⊙ᵀ#") + ["tr(", "exp(", ".*", "./", ".^", ".T", "eye"])

    @given(st.lists(alphabet, max_size=12).map("".join))
    def check(text):
        try:
            matcalc.parse(text)
        except MatcalcError as e:
            assert e.message
    check()


def test_cli_reports_errors_without_traceback():
    out = subprocess.run([sys.executable, "-m", "matcalc", "parse", "X*y", "--decl", "X: matrix(m,n)", "--decl", "y: vector(m)"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "ShapeError: cannot multiply X (m×n) by y (m)" in out.stderr
    assert "X*y\n ^" in out.stderr


# issue 13 §2: the mistakes people make, answered with a caret and the corrected spelling
@pytest.mark.parametrize("text, decls, message, caret", [
    ("trace(X)", None, "unknown function 'trace': did you mean tr(X)?", "trace(X)\n^^^^^"),
    ("norm(x - y)", None, "unknown function 'norm': did you mean norm2(x - y)?", "norm(x - y)\n^^^^"),
    ("transpose(X)", None, "unknown function 'transpose': did you mean X'?", "transpose(X)\n^^^^^^^^^"),
    ("transpose(A*B)", None, "did you mean (A*B)'?", None),
    ("inverse(A)", None, "did you mean inv(A)?", None),
    ("sigmod(x)", None, "did you mean sigmoid(x)?", None),
    ("x**2", None, "'**' is not a power in matcalc: write '^' (or '.^' elementwise), e.g. x^2", "x**2\n ^^"),
    ("a + x**2*b", None, "e.g. a + x^2*b", "a + x**2*b\n     ^^"),
    ("2x", None, "a number and a name stand side by side: write 2*x for a product", "2x\n^^"),
    ("0.5x'*A*x", None, "write 0.5*x for a product", None),
    ("X w", None, "did you mean X*w?", "X w\n  ^"),
    ("Xw", {"X": "matrix(m,n)", "w": "vector(n)"}, "Xw is not declared, but X and w are: did you mean X*w?", "Xw\n^^"),
    ("X matrix(m,n)", None, "a declaration is `name: type`: write X: matrix(m,n)", "X matrix(m,n)\n^^^^^^^^^^^^^"),
    ("w: vector(n)\nX matrix(m, n)\nX*w", None, "write X: matrix(m, n)", "X matrix(m, n)\n^^^^^^^^^^^^^^"),
    ("tr(X^T*A*X)", {"T": "scalar"}, "T is a variable here, so X^T is ambiguous", "tr(X^T*A*X)\n    ^^"),
    ("eye(0)", None, "a size must be a positive integer or a name, not 0", "eye(0)\n    ^"),
    ("vector(1, x + y)", None, "a size must be a positive integer, a dimension name or a product", None),
])
def test_mistakes_are_answered_with_the_fix(text, decls, message, caret):
    e = error_of(text, decls, ParseError)
    assert message in e.message
    assert e.line is not None and e.column is not None
    if caret:
        assert e.caret() == caret


def test_juxtaposed_names_are_fine_when_they_are_not_two_declared_names():
    assert matcalc.parse("Xw + 1").variables == {"Xw": "matrix(n,m)"}          # nothing declared: a name
    assert matcalc.parse("Xw", {"Xw": "matrix(m,n)", "X": "matrix(m,n)", "w": "vector(n)"}).shape == ("m", "n")
    assert matcalc.parse("Xw*w", {"X": "matrix(m,n)"}).variables["Xw"].startswith("matrix")  # w not declared


def test_shape_errors_in_inference_have_a_location():
    """The undeclared vector that unification would shrink to length 1 is reported where it happens."""
    e = error_of("sum(x .* vector(1)')", {"x": "vector(n)"}, ShapeError)
    assert e.line == 1 and e.caret() == "sum(x .* vector(1)')\n      ^^"
    assert "cannot multiply x (n) elementwise by vector(1)' (1×m)" in e.message  # open sizes named, not '?'
    # undeclared, use decides: x is the scalar that makes it fit, and says so
    assert matcalc.parse("sum(x .* vector(1)')").inferred == {"x": "scalar: as a vector it breaks x .* vector(1)'"}


def test_no_bare_exceptions_on_garbage_with_paper_notation_and_sizes():
    """The new syntax (X^T, X^{T}, X^⊤, sized constants) and the mistake detectors only ever
    answer with a located MatcalcError."""
    from hypothesis import given, settings, strategies as st

    alphabet = st.sampled_from(list("xyATn12.+-*/^'(){},;:= \n⊤ᵀ") + [
        "^T", "^{T}", "**", "eye(", "eye(n)", "vector(1, ", "matrix(0, m, n)", "vector(2)", "X matrix(m,n)",
        "2x", "trace(", "norm(", "transpose(", "T: scalar\n", "Xw", "x: vector(n)\n", "inv(", "det("])

    @settings(max_examples=400, deadline=None)
    @given(st.lists(alphabet, max_size=10).map("".join))
    def check(text):
        try:
            matcalc.parse(text, {"X": "matrix(m,n)", "w": "vector(n)"})
        except MatcalcError as e:
            assert e.message
            if isinstance(e, (ParseError, ShapeError)) and e.source is not None:
                assert e.line is not None and e.caret()
    check()


def test_shape_errors_name_a_definition_as_written():
    """An operand substituted from a definition is named as the user wrote it at the culprit."""
    e = error_of("x: vector(n); z: vector(m); r = 2*x; r'*z", None, ShapeError)
    assert "cannot multiply r' (1×n) by z (m)" in e.message
    e = error_of("h = tanh(W*x); sum(h .* vector(1)')", None, ShapeError)
    assert e.message.startswith("cannot multiply h (n) elementwise by vector(1)' (1×m)")
