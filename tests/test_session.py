"""The incremental Session: each statement parsed alone, against the session's types and definitions."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from matcalc.errors import MatcalcError, ParseError, ShapeError
from matcalc.front.parser import Type, parse_program
from matcalc.front.session import Session, substitute, type_of_shape
from matcalc.ir.nodes import Var, postorder
from matcalc.numeric.evaluate import evaluate
from matcalc.numeric.check import dimension_sizes, random_values

SEED = ["X: matrix(m,n)", "w: vector(n)", "y: vector(m)", "J = norm2(X*w - y)^2"]


def session(*lines):
    s = Session()
    for line in lines:
        s.run(line)
    return s


def test_a_definition_is_used_by_the_next_line_without_reparsing():
    s = session(*SEED)
    (o,) = s.run("K = 2*J + w'*w")
    # the definition's IR object itself is inside the new one: nothing was parsed again
    assert any(n is s.definitions["J"] for n in postorder(o.node))
    # and it is the program the whole text would give
    whole = parse_program("\n".join(SEED + ["K = 2*J + w'*w"]))
    assert o.node == whole.definitions["K"]


def test_line_by_line_equals_the_whole_program_on_a_longer_session():
    lines = ["A: matrix(n,n)", "x: vector(n)", "h1 = tanh(A*x)", "h2 = tanh(A*h1) + h1", "L = sum(h2 .* h2)",
             "M = L*x'*A*x + norm2(h1)"]
    s = session(*lines)
    whole = parse_program("\n".join(lines))
    for name in ("h1", "h2", "L", "M"):
        assert s.definitions[name] == whole.definitions[name]
    assert s.types == whole.declarations


def test_inferred_types_join_the_session_and_stay_fixed():
    s = session("J = norm2(X*w - y)^2")
    assert s.types == parse_program("J = norm2(X*w - y)^2").declarations
    assert "X" not in s.declared
    with pytest.raises(ShapeError):  # w is a vector of X's column count now, not a free name
        s.run("K = w'*y")
    # z is new: it takes the size that use gives it, next to the fixed X
    (o,) = s.run("K = X*z")
    assert o.inferred == {"z": Type("vector", (s.types["X"].dims[1],))}


def test_the_caret_points_into_the_line_just_typed():
    s = session(*SEED)
    line = "K = J + X*y"
    with pytest.raises(ShapeError) as e:
        s.run(line)
    err = e.value
    assert err.source == line and err.line == 1
    assert line[err.span[0]:err.span[1]] == "*"
    assert err.caret().splitlines() == [line, " " * line.index("*") + "^"]


def test_a_line_is_applied_whole_or_not_at_all():
    s = session(*SEED)
    before = (dict(s.types), dict(s.definitions), list(s.log))
    with pytest.raises(MatcalcError) as e:
        s.run("a: scalar; K = a*J; L = X*y")
    assert e.value.span[0] == "a: scalar; K = a*J; L = X*y".index("*y")
    assert (s.types, s.definitions, s.log) == before


def test_names_the_session_refuses():
    for line, fragment in [("X = w'*w", "already a variable"), ("J: scalar", "defined by '='"),
                           ("tr = w'*w", "function name"), ("_ = w", "last result"), ("diff: scalar", "function")]:
        s2 = Session(reserved={"diff"})
        for l in SEED:
            s2.run(l)
        with pytest.raises(ParseError, match=fragment):
            s2.run(line)


def test_redefinition_replaces_and_earlier_definitions_keep_their_value():
    s = session(*SEED, "K = J + 1")
    k = s.definitions["K"]
    s.run("J = w'*w")
    assert s.definitions["K"] is k
    assert s.definitions["J"] == parse_program("w: vector(n); w'*w").expressions[0]


def test_redeclaring_a_variable_replays_the_session_under_the_new_type():
    s = session("J = norm2(X*w - y)^2", "K = X*w")
    s.run("X: matrix(p,q)")
    assert s.types["X"] == Type("matrix", ("p", "q"))
    assert s.types["w"] == Type("vector", ("q",)) and s.types["y"] == Type("vector", ("p",))
    assert s.definitions["K"].shape == ("p", 1)


def test_a_redeclaration_that_breaks_an_earlier_line_changes_nothing():
    s = session("x: vector(n)", "A: matrix(n,n)", "J = x'*A*x")
    before = (dict(s.types), dict(s.definitions))
    with pytest.raises(ShapeError, match="breaks 'J = x'\\*A\\*x'") as e:
        s.run("A: matrix(n,m)")
    assert e.value.source == "A: matrix(n,m)" and e.value.span == (0, 1)
    assert (s.types, s.definitions) == before


def test_save_writes_plain_statements_that_load_back_to_the_same_session():
    s = session("J = norm2(X*w - y)^2", "λ: scalar", "R = J + λ*w'*w")
    s.bind("G", s.expression("2*X'*(X*w - y)")[0], note="G = grad(R, w)")
    text = s.save_text()
    program = parse_program(text)  # plain matcalc: the language's own parser reads it
    assert set(program.definitions) == {"J", "R", "G"}
    t = Session()
    t.run(text)
    assert t.types == s.types and t.definitions == s.definitions
    assert "# G = grad(R, w)" in text and f"w: {s.types['w']}    # inferred" in text


def test_a_bad_file_reports_its_line_and_column_and_loads_nothing():
    s = session(*SEED)
    before = (dict(s.types), dict(s.definitions))
    text = "z: vector(n)\nK = X*z\nL = X*y + K\n"
    with pytest.raises(ShapeError) as e:
        s.run(text)
    assert (e.value.line, e.value.column) == (3, 6)
    assert (s.types, s.definitions) == before


def test_last_result_is_underscore_and_saved_by_value():
    s = session(*SEED)
    s.last, _ = s.expression("X*w - y")
    (o,) = s.run("r = _'*_")
    assert o.node == s.expression("(X*w - y)'*(X*w - y)")[0]
    assert "r = (X*w - y)'*(X*w - y)" in s.save_text()


def test_a_thousand_line_session_builds_without_recursion():
    s = session("W: matrix(n,n)", "x: vector(n)", "h0 = x")
    for i in range(1, 1001):
        s.run(f"h{i} = tanh(W*h{i - 1})")
    assert s.definitions["h1000"].shape == ("n", 1)
    with pytest.raises(ShapeError) as e:
        s.run("bad = h1000 + W")
    assert e.value.source == "bad = h1000 + W"


@given(st.lists(st.sampled_from(["A*u", "A'*u", "tanh(u)", "u .* v", "2*u - v", "A*A*u"]), min_size=1, max_size=6))
def test_a_chain_of_definitions_has_the_value_of_its_inlined_expression(steps):
    """Each line refers to the previous definition; the session's IR evaluates to the textual chain."""
    s = session("A: matrix(n,n)", "v: vector(n)", "u0 = v")
    text = "v"
    for i, template in enumerate(steps, 1):
        s.run(f"u{i} = " + template.replace("u", f"u{i - 1}"))
        text = template.replace("u", f"({text})")
    node = s.definitions[f"u{len(steps)}"]
    direct = parse_program("A: matrix(n,n); v: vector(n)\n" + text).expressions[0]
    values = random_values(direct, np.random.default_rng(0), sizes=dimension_sizes(direct))
    np.testing.assert_allclose(evaluate(node, values), evaluate(direct, values), rtol=1e-12)


def test_type_of_shape_round_trips_through_the_declaration():
    for shape in [(1, 1), ("n", 1), (1, "n"), ("m", "n"), ("m*n", 1)]:
        assert type_of_shape(shape).shape() == shape


def test_substitute_replaces_named_variables_only():
    x, y = Var("x", ("n", 1), "vector"), Var("y", ("n", 1), "vector")
    s = Session()
    s.run("x: vector(n); y: vector(n)")
    node, _ = s.expression("x'*y + y'*y")
    out = substitute(node, {"y": x})
    assert out == s.expression("x'*x + x'*x")[0]
    assert substitute(node, {}) is node and y not in list(postorder(out))


def test_expression_rejects_statements():
    for text in ("x = 1", "x: vector(n)", "x; y"):
        with pytest.raises(ParseError, match="one expression"):
            Session().expression(text)


def test_the_parsers_reasons_for_inferred_types_are_kept_where_it_gives_them():
    s = session("K = A*x - b")
    program = parse_program("K = A*x - b")
    assert s.reasons == {n: r for n, r in (getattr(program, "inferred", None) or {}).items() if r}
