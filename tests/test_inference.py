"""Inference follows what people mean and says what it did (issue 9 §2), paper notation X^T,
the incremental statement API, and inference local to the culprit (issue 8 §8)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matcalc
from matcalc import ParseError, ShapeError
from matcalc.front import infer
from matcalc.front.parser import default_kind, parse_program, parse_statement, parse_statements
from matcalc.ir.nodes import Var, op_of, postorder


def kinds(text, decls=None):
    return {n: str(t) for n, t in parse_program(text, decls).declarations.items()}


# ---------------------------------------------------------------------------------- sums

@pytest.mark.parametrize("text, name, want", [
    ("A*x - b", "b", "vector(n)"),
    ("W*x + b", "b", "vector(n)"),
    ("b + W*x", "b", "vector(n)"),
    ("A*x - 2*b", "b", "vector(n)"),          # a numeric multiple of a name counts as met
    ("A*x - -b", "b", "vector(n)"),
    ("lambda*x + b", "b", "vector(n)"),
    ("A + c", "c", "matrix(n,m)"),             # meeting a matrix gives a matrix of its shape
    ("(x - μ)'*inv(S)*(x - μ)", "μ", "vector(n)"),
])
def test_an_undeclared_name_takes_the_shape_it_meets_in_a_sum(text, name, want):
    types = kinds(text)
    assert types[name] == want
    e = matcalc.parse(text)
    other = {"A*x - b": "A*x", "W*x + b": "W*x", "b + W*x": "W*x", "A*x - 2*b": "A*x", "A*x - -b": "A*x",
             "lambda*x + b": "lambda*x", "A + c": "A", "(x - μ)'*inv(S)*(x - μ)": "x"}[text]
    assert e.inferred[name] == f"{want.split('(')[0]}: meets {other} in '{'+' if '+' in text else '-'}'"


@pytest.mark.parametrize("text, decls, name", [
    ("A*x - 1", None, None),                     # a number broadcasts
    ("A*x - c", {"c": "scalar"}, "c"),           # so does a declared scalar
    ("x' - b", None, "b"),                       # a row: no undeclared kind fits, b broadcasts
    ("b*x + b", None, "b"),                      # b is a scalar by its use as a factor
    ("x'*A*x + b", None, "b"),                   # a scalar sum
])
def test_a_scalar_broadcasts_only_where_declared_a_number_or_nothing_else_fits(text, decls, name):
    types = kinds(text, decls)
    if name:
        assert types[name] == "scalar"
    e = matcalc.parse(text, decls)
    vals = {"A": np.arange(6.0).reshape(2, 3) if text.startswith("A") else np.eye(3), "x": np.array([1.0, 2, 3])}
    if name and not decls:
        vals[name] = 2.0
        assert "scalar" in e.inferred[name]
    if decls:
        vals.update({"c": 2.0})
    got = e.evaluate({k: v for k, v in vals.items() if k in e.variables})
    assert np.all(np.isfinite(got))


def test_broadcast_reason_says_nothing_else_fits():
    e = matcalc.parse("b*x + b")
    assert e.inferred["b"] == "scalar: broadcasts after it meets b*x in '+' (no vector or matrix fits)"


# ---------------------------------------------------------------------------------- words, Greek

@pytest.mark.parametrize("name", ["lambda", "alpha", "beta", "gamma", "eta", "sigma", "rho", "tau", "mu",
                                  "theta", "lambda_1", "alpha2", "eps", "lr"])
def test_scalar_words_are_scalars_when_nothing_decides(name):
    e = matcalc.parse(f"{name}*x'*x")
    assert e.variables[name] == "scalar"
    word = name.rstrip("0123456789").split("_")[0]
    assert e.inferred[name] == f"scalar: the word {word}"


def test_scalar_words_yield_to_use():
    e = matcalc.parse("norm2(X*theta - y)^2 + lambda*norm2(theta)^2")
    assert e.variables["theta"].startswith("vector") and e.variables["lambda"] == "scalar"
    assert e.inferred["theta"] == "vector: as a scalar it breaks X*theta - y"


@pytest.mark.parametrize("letter", list("αβγδεζηθικλμνξπρστυφχψω"))
def test_lowercase_greek_is_a_scalar_unless_use_decides(letter):
    assert default_kind(letter)[0] == "scalar"
    assert matcalc.parse(f"{letter}*x").variables[letter] == "scalar"
    assert matcalc.parse(f"x - {letter}").variables[letter] == "vector(n)"      # rule 2
    assert matcalc.parse(f"A*{letter} - y").variables[letter].startswith("vector")  # use decides
    assert matcalc.parse(f"tr({letter})").variables[letter] == "matrix(n,n)"


@pytest.mark.parametrize("letter", list("ΓΔΘΛΞΠΣΦΨΩ"))
def test_uppercase_greek_is_a_matrix(letter):
    assert matcalc.parse(f"x'*{letter}*x").variables[letter] == "matrix(n,n)"


@pytest.mark.parametrize("name, kind", [("a", "scalar"), ("g", "scalar"), ("h", "vector"), ("z", "vector"),
                                        ("A", "matrix"), ("ℓ", "scalar"), ("x_0", "vector"), ("W_1", "matrix")])
def test_latin_convention(name, kind):
    assert default_kind(name)[0] == kind


# ---------------------------------------------------------------------------------- inv, det, logdet

@pytest.mark.parametrize("text, expect", [
    ("inv(x'*A*x)*x", {"x": "vector(n)", "A": "matrix(n,n)"}),
    ("det(x'*A*x)*x", {"x": "vector(n)", "A": "matrix(n,n)"}),
    ("logdet(x'*A*x)*x", {"x": "vector(n)", "A": "matrix(n,n)"}),
    ("inv(x)", {"x": "matrix(n,n)"}),      # a bare name inside inv is decided by that use
    ("det(a)", {"a": "matrix(n,n)"}),
])
def test_a_kind_decided_inside_inv_det_logdet_does_not_contradict_the_rest(text, expect):
    assert kinds(text) == expect


def test_inv_det_logdet_of_a_scalar_are_its_reciprocal_itself_and_its_log():
    rng = np.random.default_rng(0)
    x, a = rng.normal(size=3), rng.normal(size=(3, 3))
    a = a @ a.T + np.eye(3)
    s = x @ a @ x
    vals = {"x": x, "A": a}
    assert np.allclose(matcalc.parse("inv(x'*A*x)*x").evaluate(vals), x / s)
    assert np.isclose(matcalc.parse("det(x'*A*x)").evaluate(vals), s)
    assert np.isclose(matcalc.parse("logdet(x'*A*x)").evaluate(vals), np.log(s))
    d = matcalc.diff("logdet(x'*A*x)", "x")
    assert matcalc.check("logdet(x'*A*x)", "x") < 1e-6
    assert d.shape == (3,) or d.shape == ("n",)


# ---------------------------------------------------------------------------------- reasons

def test_every_inferred_variable_has_a_reason_and_declared_ones_none():
    prog = parse_program("r = X*w - y; J = r'*r + lambda*w'*w; J", {"y": "vector(m)"})
    assert set(prog.inferred) == {"X", "w", "lambda"}
    assert prog.inferred["X"] == "matrix: the capital X (A–Z are matrices)"
    assert prog.inferred["w"] == "vector: the letter w (h–z are vectors)"
    assert prog.inferred["lambda"] == "scalar: the word lambda"
    e = matcalc.parse("r = X*w - y; J = r'*r + lambda*w'*w; J", {"y": "vector(m)"})
    assert e.inferred == prog.inferred
    assert matcalc.parse("tr(x)").inferred == {"x": "matrix: as a vector it breaks tr(x)"}
    assert matcalc.Expr(e.node).inferred == {}  # built from IR: nothing was inferred


# ---------------------------------------------------------------------------------- X^T

@pytest.mark.parametrize("text", ["tr(X^T*A*X)", "tr(X^{T}*A*X)", "tr(X^⊤*A*X)", "tr(X^{⊤}*A*X)", "tr(X ^ T*A*X)"])
def test_paper_transpose(text):
    assert matcalc.parse(text) == matcalc.parse("tr(X'*A*X)")
    assert "T" not in matcalc.parse(text).variables


def test_paper_transpose_of_a_product_and_twice():
    assert matcalc.parse("(A*B)^T") == matcalc.parse("(A*B)'")
    assert matcalc.parse("X^T^T") == matcalc.parse("X''")
    assert matcalc.parse("x^T*x").shape == ()


@pytest.mark.parametrize("text, decls, col", [
    ("tr(X^T*A*X)", {"T": "scalar"}, 5),
    ("T: scalar; X^T", None, 13),
    ("T = 2*a; X^T", None, 11),
    ("X^T + T", None, 2),
])
def test_x_to_the_t_when_t_is_a_variable_asks_which_is_meant(text, decls, col):
    with pytest.raises(ParseError) as info:
        matcalc.parse(text, decls)
    e = info.value
    assert "T is a variable here, so X^T is ambiguous: write X' for the transpose or X^(T) for the power" in e.message
    assert e.column == col and e.caret().endswith("^^")


def test_the_power_is_written_with_parentheses_and_prints_so():
    e = matcalc.parse("X^(T)", {"T": "scalar", "X": "scalar"})
    assert op_of(e.node) == "pow"
    assert str(e) == "X^(T)"
    assert matcalc.parse(str(e), {"T": "scalar", "X": "scalar"}) == e
    assert matcalc.parse("A^{-1}") == matcalc.parse("A^-1")


# ---------------------------------------------------------------------------------- incremental

def test_parse_statement_on_known_names():
    first = parse_statements("X: matrix(m,n); r = X*w - y")
    assert [s.kind for s in first] == ["declaration", "definition"]
    known = {**first[0].variables, **first[1].variables, "r": first[1].node}
    assert set(first[1].variables) == {"w", "y"} and first[1].inferred["w"].startswith("vector")
    st_ = parse_statement("r'*r + lambda*w'*w", known)
    assert st_.kind == "expression" and st_.node.shape == (1, 1)
    assert set(st_.variables) == {"lambda"} and st_.inferred == {"lambda": "scalar: the word lambda"}
    whole = matcalc.parse("X: matrix(m,n); r = X*w - y; r'*r + lambda*w'*w")
    assert matcalc.Expr(st_.node) == whole
    # a definition is not parsed again: its node is used as it is
    assert st_.node.args[0].args[0] is known["r"] or any(n is known["r"] for n in postorder(st_.node))


def test_parse_statement_carets_point_into_the_new_line():
    known = {"x": Var("x", ("n", 1), "vector"), "z": Var("z", ("m", 1), "vector")}
    with pytest.raises(ShapeError) as info:
        parse_statement("x'*z", known)
    assert info.value.caret() == "x'*z\n  ^"
    with pytest.raises(ParseError, match="already vector"):
        parse_statement("x: matrix(n,n)", known)
    with pytest.raises(ParseError, match="expected one statement"):
        parse_statement("a; b", known)


def test_incremental_definitions_are_cheap():
    """Each line of a session costs its own size, not the size of what came before."""
    known = {"x": Var("x", ("n", 1), "vector")}
    import matcalc.front.program as program
    seen = []
    real = program.walk_new

    def counting(roots, done):
        for node in real(roots, done):
            seen.append(node)
            yield node
    program.walk_new = counting
    try:
        h = "x"
        for i in range(1, 200):
            s = parse_statement(f"h{i} = tanh(W{i}*{h})", known)
            known.update(s.variables)
            known[f"h{i}"] = s.node
            h = f"h{i}"
            if i == 10:
                early = len(seen)
                seen.clear()
        late = len(seen) / 189
    finally:
        program.walk_new = real
    assert late < 2 * early / 10 + 50


# ---------------------------------------------------------------------------------- locality

def _layers(n):
    return " ".join(f"h{i} = tanh(W{i}*h{i - 1});" for i in range(1, n + 1))


def test_a_shape_error_in_the_last_line_is_found_without_reinferring_the_layers(monkeypatch):
    work = []
    real = infer.shapes_of

    def counting(nodes, *args):
        work.append(len(nodes))
        return real(nodes, *args)
    monkeypatch.setattr(infer, "shapes_of", counting)
    L = 256
    text = f"h0 = x; {_layers(L)}\nsum(h{L}) + sum(h{L} .* vector(1)')"
    with pytest.raises(ShapeError) as info:
        matcalc.parse(text)
    e = info.value
    assert e.line == 2 and "elementwise" in e.message and e.caret().endswith("^^")
    size = 6 * L  # syntax nodes per layer, roughly
    assert sum(work) < 3 * size, sum(work)


def test_a_later_line_can_still_decide_an_earlier_name():
    """Joint inference remains as the fallback when a line contradicts an earlier guess about a
    name it uses itself."""
    prog = parse_program("g = x'*A; tr(x)")
    assert str(prog.declarations["x"]) == "matrix(n,n)"


# ---------------------------------------------------------------------------------- types

def test_type_lives_outside_the_parser():
    from matcalc.ir.types import Type, parse_type, type_of_var
    assert parse_type("matrix(m, n)") == Type("matrix", ("m", "n"))
    assert parse_type("vector(3)") == Type("vector", (3,))
    assert str(type_of_var(Var("S", ("n", "n"), "symmetric"))) == "symmetric(n)"
    with pytest.raises(ParseError, match="unknown type 'tensor'"):
        parse_type("tensor(n)")
    with pytest.raises(ParseError, match="a dimension must be a positive integer or a name, not 0"):
        parse_type("vector(0)")
    with pytest.raises(ParseError, match="matrix takes two dimensions"):
        parse_type("matrix(n)")
    import ast
    import pathlib
    src = pathlib.Path(matcalc.__file__).parent / "ir" / "types.py"
    imported = {n.module for n in ast.walk(ast.parse(src.read_text())) if isinstance(n, ast.ImportFrom)}
    assert not any(m and ("front" in m or "lark" in m) for m in imported)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["scalar", "vector", "matrix", "symmetric"]),
       st.lists(st.sampled_from(["n", "m", "k", "3", "12"]), min_size=2, max_size=2))
def test_parse_type_agrees_with_the_declaration_grammar(kind, dims):
    from matcalc.ir.types import ARITY, parse_type
    text = kind if ARITY[kind] == 0 else f"{kind}({', '.join(dims[:ARITY[kind]])})"
    assert parse_type(text) == parse_program(f"v: {text}").declarations["v"]


def test_in_a_long_statement_the_names_nearest_the_culprit_vary_first():
    """x meets tr(...) at the end of a 200-deep expression: of the 201 names, x is the one
    reconsidered first (before, the budget ran out on W200 … W1 and this was an error)."""
    e = "x"
    for i in range(1, 201):
        e = f"tanh(W{i}*{e})"
    parsed = matcalc.parse(f"sum({e}) + tr(x)")
    assert parsed.variables["x"].startswith("matrix")
    assert parsed.inferred["x"] == "matrix: as a vector it breaks tr(x)"


@pytest.mark.parametrize("a, b, var, want", [("?1*m", "m*n", "?1", "n"), ("m*?1", "n*m", "?1", "n"),
                                             ("?1*m", "m", "?1", None), ("2*?1", "2*n", "?1", "n")])
def test_product_dimensions_cancel_common_factors_before_matching(a, b, var, want):
    """kron(eye, z) is (?1*m)×?1; meeting an m*n it must make ?1 = n (pairing the sorted factors
    gave ?1 = m, and the printed kron(eye, z)' read back as the wrong size)."""
    from matcalc.front.infer import TrailUnifier
    from matcalc.ir.shapes import Unifier
    for u in (Unifier(), TrailUnifier()):
        ok = u.unify(a, b)
        assert ok == (want is not None)
        if want is not None:
            assert u.resolve_dim(var) == want


def test_kron_with_an_unsized_identity_reads_back():
    e = matcalc.parse("3*x.^2 .* (kron(eye, z)'*vector(1, m*n))", "x: vector(n); z: vector(m)")
    assert e.shape == ("n",)
