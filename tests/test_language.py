"""The grammar and type inference: every construct parses to the intended structure and shape."""
import pytest

import matcalc
from matcalc.ir.nodes import Num, Op, Var
from matcalc.front.parser import parse_program


def structure(text, decls=None):
    """A compact s-expression of the parse, to assert precedence and associativity."""
    from matcalc.ir.nodes import fold, op_of

    def show(node, kids):
        op = op_of(node)
        if op == "var":
            return node.name
        if op == "num":
            return repr(node.value)
        if op in ("eye", "fill"):
            return op if op == "eye" else f"fill({node.value})"
        return f"({op} {' '.join(kids)})"

    return fold(matcalc.parse(text, decls).node, show)


@pytest.mark.parametrize("text, tree", [
    ("a + b*c", "(add a (scale b c))"),
    ("a - b - c", "(sub (sub a b) c)"),
    ("a*b/c", "(div (scale a b) c)"),
    ("-a*b", "(scale (neg a) b)"),
    ("-a^2", "(neg (pow a 2))"),
    ("X^2'", "(transpose (pow X 2))"),
    ("X'^2", "(pow (transpose X) 2)"),
    ("X^-1", "(pow X -1)"),
    ("X^(-1)", "(pow X -1)"),
    ("x.^-a", "(epow x (neg a))"),
    ("A .* B ./ C", "(ediv (hadamard A B) C)"),
    ("A ⊙ B", "(hadamard A B)"),
    ("Aᵀ + A.T + A'", "(add (add (transpose A) (transpose A)) (transpose A))"),
    ("x'*A*x", "(mul (mul (transpose x) A) x)"),
    ("2.5e-1*x", "(scale 0.25 x)"),
    (".5*a", "(scale 0.5 a)"),
    # a product with a 1×1 operand is the scale op, the scalar first; the matrix product is mul
    ("A*2", "(scale 2 A)"),
    ("x*(y'*z)", "(scale (mul (transpose y) z) x)"),
    ("A .* 3", "(scale 3 A)"),
    ("+a", "a"),
    ("--a", "(neg (neg a))"),
    ("tr(A*B)", "(tr (mul A B))"),
    ("A + eye", "(add A eye)"),
    ("x + vector(1)", "(add x fill(1))"),
    ("A - matrix(-2)", "(sub A fill(-2))"),
    ("kron(A, B)", "(kron A B)"),
])
def test_precedence_and_associativity(text, tree):
    assert structure(text) == tree


@pytest.mark.parametrize("fn", ["exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan",
                                "sqrt", "abs", "sign", "relu", "sigmoid", "softplus", "step"])
def test_elementwise_functions_keep_shape(fn):
    assert matcalc.parse(f"{fn}(X)", {"X": "matrix(m,n)"}).shape == ("m", "n")
    assert matcalc.parse(f"{fn}(x)", {"x": "vector(n)"}).shape == ("n",)
    assert matcalc.parse(f"{fn}(a)").shape == ()


@pytest.mark.parametrize("text, decls, shape", [
    ("sum(X)", {"X": "matrix(m,n)"}, ()),
    ("norm1(x)", None, ()),
    ("norm2(X)", None, ()),
    ("tr(A)", None, ()),
    ("det(A)", None, ()),
    ("logdet(Σ)", None, ()),
    ("inv(A)", {"A": "matrix(k,k)"}, ("k", "k")),
    ("diag(x)", {"x": "vector(p)"}, ("p", "p")),
    ("diag(A)", {"A": "matrix(p,p)"}, ("p",)),
    ("softmax(x)", {"x": "vector(p)"}, ("p",)),
    ("logsumexp(x)", None, ()),
    ("vec(X)", {"X": "matrix(m,n)"}, ("m*n",)),
    ("kron(X, Y)", {"X": "matrix(m,n)", "Y": "matrix(p,q)"}, ("m*p", "n*q")),
    ("x'", {"x": "vector(n)"}, (1, "n")),
    ("x*x'", {"x": "vector(n)"}, ("n", "n")),
    ("x'*x", None, ()),
    ("A^3", {"A": "symmetric(n)"}, ("n", "n")),
    ("a^b", None, ()),
    ("log(1 + exp(-y .* (X*w)))", {"w": "vector(n)"}, ("m",)),
    ("1 - tanh(z).^2", {"z": "vector(h)"}, ("h",)),
])
def test_shapes(text, decls, shape):
    assert matcalc.parse(text, decls).shape == shape


def test_seed_example_infers_X():
    e = matcalc.parse("norm2(X*w - y)^2", decls={"w": "vector(n)", "y": "vector(m)"})
    assert e.shape == ()
    assert e.variables == {"X": "matrix(m,n)", "w": "vector(n)", "y": "vector(m)"}


def test_issue_api_example():
    e = matcalc.parse("norm2(X*w - y)^2", decls={"X": "matrix(m,n)", "w": "vector(n)", "y": "vector(m)"})
    assert e.shape == ()
    assert e.variables == {"X": "matrix(m,n)", "w": "vector(n)", "y": "vector(m)"}


@pytest.mark.parametrize("text, expected", [
    # the naming convention: a–g scalar, h–z vector, A–Z matrix
    ("a*x + b", {"a": "scalar", "x": "vector(n)", "b": "vector(n)"}),  # b meets a*x in '+'
    ("a*x + b*x", {"a": "scalar", "x": "vector(n)", "b": "scalar"}),
    ("x'*A*x", {"x": "vector(n)", "A": "matrix(n,n)"}),
    ("tr(A*X*B*X)", {"A": "matrix(n,m)", "X": "matrix(m,n)", "B": "matrix(n,m)"}),
    # use wins over the convention where it decides
    ("X*ω - y", {"X": "matrix(n,m)", "ω": "vector(m)", "y": "vector(n)"}),
    ("tr(x)", {"x": "matrix(n,n)"}),
    ("x^2 + 1", {"x": "scalar"}),
])
def test_kinds_inferred(text, expected):
    assert matcalc.parse(text).variables == expected


def test_declarations_win_over_convention():
    e = matcalc.parse("a'*B*c", decls={"a": "vector(n)", "c": "vector(n)", "B": "symmetric(n)"})
    assert e.shape == ()
    assert e.variables["B"] == "symmetric(n)"


def test_decls_as_text_and_integer_dimensions():
    e = matcalc.parse("X*w", decls="X: matrix(3, n)\nw: vector(n)")
    assert e.shape == (3,)
    assert e.variables == {"X": "matrix(3,n)", "w": "vector(n)"}


def test_unicode_and_underscore_names():
    e = matcalc.parse("λ*W_1*x_0 + μ*Σ*x_0")
    assert set(e.variables) == {"λ", "W_1", "x_0", "μ", "Σ"}
    assert e.variables["λ"] == "scalar" and e.variables["Σ"].startswith("matrix")


def test_statements_definitions_comments():
    prog = parse_program("""
        # the seed example, written out
        X: matrix(m, n); ω: vector(n)
        y: vector(m)
        r = X*ω - y   # the residual
        J = r'*r
        J
        2*J
    """)
    assert [str(t) for t in prog.declarations.values()] == ["matrix(m,n)", "vector(n)", "vector(m)"]
    assert list(prog.definitions) == ["r", "J"]
    assert [str(matcalc.Expr(e)) for e in prog.expressions] == ["(X*ω - y)'*(X*ω - y)", "2*((X*ω - y)'*(X*ω - y))"]
    # definitions are shared, not copied: the residual node appears once in the DAG
    from matcalc.ir.nodes import dag_size, size
    expr = prog.expressions[0]
    assert dag_size(expr) < size(expr)


def test_parse_returns_last_expression():
    assert str(matcalc.parse("r = 2*a; r + 1")) == "2*a + 1"


def test_equality_is_structural():
    assert matcalc.parse("x'*A*x") == matcalc.parse("x' * A * x")
    assert matcalc.parse("x'*A*x") != matcalc.parse("x'*(A*x)")
    assert hash(matcalc.parse("a + b")) == hash(matcalc.parse("a+b"))
    e = matcalc.parse("A*B", {"A": "matrix(n,n)", "B": "matrix(n,n)"})
    assert e != matcalc.parse("A*B", {"A": "matrix(m,m)", "B": "matrix(m,m)"})  # shapes are part of it


def test_deep_nesting_has_no_recursion_limit():
    depth = 3000
    text = "tanh(" * depth + "x" + ")" * depth
    e = matcalc.parse(text)
    assert e.shape == ("n",)
    import numpy as np
    expected = np.array([0.5, -1.0])
    for _ in range(depth):
        expected = np.tanh(expected)
    assert np.allclose(e.evaluate({"x": np.array([0.5, -1.0])}), expected)
    assert str(e) == text
    assert e == matcalc.parse(text)
    layers = " ".join(f"h{i} = tanh(W{i}*h{i-1});" for i in range(1, 1025))
    net = matcalc.parse(f"h0 = x; {layers} sum(h1024)")
    assert net.shape == ()
    assert len(net.variables) == 1025


def test_ir_nodes_are_immutable():
    e = matcalc.parse("a + b").node
    with pytest.raises(AttributeError):
        e.op = "sub"
    assert isinstance(e, Op) and isinstance(e.args[0], Var)
    assert Num(2) == Num(2.0) and hash(Num(2)) == hash(Num(2.0))
