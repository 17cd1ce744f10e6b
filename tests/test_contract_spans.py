"""Evaluation errors point into the text with a caret (line, column, span): in the Python API,
the CLI (text and JSON) and the REPL's rendering; inside a derivative, at the source
subexpression the failing node came from, or saying it has none, without a fake caret."""
import io
import json

import numpy as np
import pytest

import matcalc
from matcalc.errors import EvaluationError
from matcalc.front.spans import SourceMap
from matcalc.ir.nodes import Num
from matcalc.ir.shapes import make
from matcalc.shell.cli import JSON_SCHEMA, main
from matcalc.shell.explorer import Explorer


def error_of(text, values, decls=None):
    with pytest.raises(EvaluationError) as e:
        matcalc.parse(text, decls).evaluate(values)
    return e.value


def marked(err):
    return err.source[err.span[0]:err.span[1]]


# ------------------------------------------------------------------------------ the API

def test_a_domain_error_points_at_its_subexpression():
    err = error_of("x'*x + log(x'*x - 10)", {"x": [1.0, 2.0]})
    assert marked(err) == "log(x'*x - 10)" and (err.line, err.column) == (1, 8)
    assert "log needs positive values, but x'*x - 10 is -5" in err.message
    assert err.caret() == "x'*x + log(x'*x - 10)\n       " + "^" * len("log(x'*x - 10)")


def test_the_occurrence_that_fails_is_marked_not_an_equal_one():
    err = error_of("log(a - b) + log(b - a)", {"a": 2.0, "b": 1.0})
    assert marked(err) == "log(b - a)" and err.column == 14


def test_a_multiline_program_gives_the_line_and_a_definition_its_body():
    err = error_of("A: matrix(n,n)\nh = A - A\ntr(inv(h)) + 1", {"A": np.eye(2)})
    assert (err.line, err.column, marked(err)) == (3, 4, "inv(h)")
    assert "the matrix A - A is exactly singular" in err.message
    err = error_of("u = log(a)\nu*u", {"a": -1.0})
    assert (err.line, marked(err)) == (1, "log(a)")


def test_each_kind_of_evaluation_error_is_located():
    cases = [("sum(sqrt(x)) + 1", {"x": [-1.0, 2.0]}, "sqrt(x)"),
             ("a/(b - b) + a", {"a": 1.0, "b": 2.0}, "a/(b - b)"),
             ("x'*inv(x*x')*x", {"x": [1.0, 2.0]}, "inv(x*x')"),
             ("logdet(A - A) + 1", {"A": np.eye(2)}, "logdet(A - A)"),
             ("a^(-1) + 1", {"a": 0.0}, "a^(-1)")]
    for text, values, piece in cases:
        assert marked(error_of(text, values)) == piece, text


def test_an_expression_built_from_ir_keeps_its_message_without_a_caret():
    a = matcalc.parse("a").node
    e = matcalc.Expr(make("log", a))
    with pytest.raises(EvaluationError) as err:
        e.evaluate({"a": -1.0})
    assert err.value.span is None and err.value.caret() == "" and "log needs positive values" in str(err.value)


def test_a_value_error_about_the_inputs_has_no_caret():
    err = error_of("x'*x", {"x": [[1.0]]})
    assert err.span is None and "must be a 1-D array" in err.message


def test_a_deep_expression_locates_without_recursion():
    text = "sin(" * 1000 + "log(a - 3)" + ")" * 1000
    err = error_of(text, {"a": 1.0})
    assert marked(err) == "log(a - 3)" and err.column == 4001


# ------------------------------------------------------------------------------ derivatives

def test_a_derivative_node_equal_to_a_source_node_is_marked_there():
    d = matcalc.diff("x'*inv(A)*x", "x")
    with pytest.raises(EvaluationError) as e:
        d.evaluate({"x": np.ones(2), "A": np.ones((2, 2))})
    assert marked(e.value) == "inv(A)" and "exactly singular" in e.value.message
    assert "in the derivative" not in e.value.message


def test_a_node_the_engine_built_points_at_what_it_was_built_from_and_says_so():
    d = matcalc.diff("logdet(A + B) + 1", "A")
    with pytest.raises(EvaluationError) as e:
        d.evaluate({"A": np.zeros((2, 2)), "B": np.zeros((2, 2))})
    err = e.value
    assert marked(err) == "A + B" and err.column == 8
    assert "in the derivative: inv(A + B) was built from A + B, marked" in err.message


def test_a_node_with_no_source_is_said_so_without_a_caret():
    source = "a + 1"
    e = matcalc.parse(source)
    engine_built = make("div", Num(1), make("sub", Num(2), Num(2)))  # nothing of it was parsed
    err = EvaluationError("1/(2 - 2) divides by zero")
    err.node = engine_built
    located = e.spans.locate(err, built=True)
    assert located.span is None and located.caret() == ""
    assert "in the derivative: 1/(2 - 2) has no place in the source text" in located.message


def test_the_source_map_matches_by_identity_first_then_by_value():
    text = "log(a - b) + log(a - b)"
    e = matcalc.parse(text)
    first, second = e.node.args
    assert e.spans.span_of(first) == (0, 10) and e.spans.span_of(second) == (13, 23)
    assert e.spans.span_of(make("log", make("sub", *first.args[0].args))) == (0, 10)  # equal, not parsed: the first
    assert isinstance(e.spans, SourceMap) and len(e.spans) >= 5


# ------------------------------------------------------------------------------ the CLI

VALUES = '{"x": [1, 2]}'


def test_cli_eval_error_has_a_caret_on_stderr(capsys):
    code = main(["eval", "x'*x + log(x'*x - 10)", "--values", VALUES])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "Traceback" not in err
    assert "EvaluationError: log(x'*x - 10) is undefined" in err and "(line 1, column 8)" in err
    assert "x'*x + log(x'*x - 10)\n       ^^^^^^^^^^^^^^" in err


def test_cli_eval_error_in_json_has_line_column_span_and_caret(capsys):
    import jsonschema
    code = main(["eval", "x'*x + log(x'*x - 10)", "--values", VALUES, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, JSON_SCHEMA)
    error = data["error"]
    assert code == 2 and error["type"] == "EvaluationError"
    assert (error["line"], error["column"], error["span"]) == (1, 8, [7, 21])
    assert error["caret"].endswith("^" * 14)


# ------------------------------------------------------------------------------ the REPL's rendering

def test_the_repl_renders_a_located_evaluation_error_under_the_line():
    text = "x'*x + log(x'*x - 10)"
    err = error_of(text, {"x": [1.0, 2.0]})
    out, errs = io.StringIO(), io.StringIO()
    Explorer(out=out, err=errs, unicode=False).error(err, text)
    shown = errs.getvalue()
    assert "line 1, column 8: EvaluationError: log(x'*x - 10) is undefined" in shown
    assert shown.endswith(f"  {text}\n  " + " " * 7 + "^" * 14 + "\n")
    out, errs = io.StringIO(), io.StringIO()
    Explorer(out=out, err=errs, unicode=False, interactive=True, prompt_width=4).error(err, text)
    assert out.getvalue() == " " * 11 + "^" * 14 + "\n"


def test_a_derivative_that_needs_f_s_dimensions_is_diagnosed_with_them():
    """The planner's evaluator only knows a solve failed; the diagnosis re-evaluates with the
    dimension sizes f gives (eye's n here), so it names the singular matrix, not a missing size."""
    d = matcalc.diff("logdet(A + eye)", "A")
    with pytest.raises(EvaluationError) as e:
        d.evaluate({"A": -np.eye(2)})
    assert marked(e.value) == "A + eye" and "the matrix A + eye is exactly singular" in e.value.message
