"""Conflicting declarations and the order bound, in the Python API, the CLI and the session.

Two declarations of one name with different types are an error at the second, naming the first
(never silently the later one); the same declaration twice is accepted.  ``diff``'s order has the
CLI's bound, 1 … ORDER_MAX, in the API too.
"""
import io
import json

import numpy as np
import pytest

import matcalc
from matcalc.errors import ORDER_MAX, MatcalcError, ParseError
from matcalc.front.session import Session
from matcalc.shell.cli import main
from matcalc.shell.explorer import Explorer

CONFLICT = "X: matrix(m,n); X: vector(n)"


# ------------------------------------------------------------------------------ the order bound

@pytest.mark.parametrize("order", [0, -1, 50, ORDER_MAX + 1, 2.0, "2", True, None])
def test_api_diff_refuses_an_order_out_of_bounds(order):
    with pytest.raises(MatcalcError, match=f"order must be .*1 … {ORDER_MAX}") as e:
        matcalc.diff("x'*x", "x", order=order)
    assert repr(order) in e.value.message or str(order) in e.value.message


@pytest.mark.parametrize("order", [1, 3, np.int64(2)])
def test_api_diff_accepts_orders_in_bounds(order):
    d = matcalc.diff("(x'*x)^2", "x", order=order)
    assert d.order == int(order) and type(d.order) is int


def test_the_cli_and_the_api_say_the_same_bound(capsys):
    with pytest.raises(MatcalcError) as api:
        matcalc.diff("x'*x", "x", order=50)
    assert main(["diff", "x'*x", "--wrt", "x", "--order", "50"]) == 2
    assert api.value.message in capsys.readouterr().err


# ------------------------------------------------------------------------------ the API

def test_two_declarations_of_one_name_in_a_decls_text_conflict():
    with pytest.raises(ParseError) as e:
        matcalc.parse("X*w", CONFLICT)
    err = e.value
    assert "X is declared twice" in err.message and "matrix(m,n) at line 1, column 1" in err.message
    assert err.source == CONFLICT and CONFLICT[err.span[0]:err.span[1]] == "X: vector(n)"
    assert err.caret().endswith(" " * 16 + "^" * len("X: vector(n)"))


def test_two_declarations_in_a_program_conflict_on_their_lines():
    text = "X: matrix(m,n)\nw: vector(n)\nX: matrix(n,n)\ntr(X)"
    with pytest.raises(ParseError, match="matrix\\(m,n\\) at line 1, column 1, and matrix\\(n,n\\) here") as e:
        matcalc.parse(text)
    assert (e.value.line, e.value.column) == (3, 1)


def test_a_declaration_that_contradicts_decls_is_an_error():
    with pytest.raises(ParseError, match="declared matrix\\(m,n\\) in decls but vector\\(n\\) here") as e:
        matcalc.parse("X: vector(n); X'*X", {"X": "matrix(m,n)"})
    assert e.value.span == (0, len("X: vector(n)"))
    with pytest.raises(ParseError, match="in decls but"):
        matcalc.diff("X: vector(n); X'*X", "X", "X: matrix(m,n)")


@pytest.mark.parametrize("text, decls", [
    ("X: matrix(m,n); X: matrix(m,n); tr(X'*X)", None),
    ("X: matrix(m,n); tr(X'*X)", "X: matrix(m,n)"),
    ("X: matrix(m,n); tr(X'*X)", {"X": "matrix(m,n)"}),
])
def test_the_same_declaration_twice_is_accepted(text, decls):
    assert matcalc.parse(text, decls).variables == {"X": "matrix(m,n)"}


# ------------------------------------------------------------------------------ the CLI

def test_cli_conflict_inside_one_decl_has_a_caret(capsys):
    code = main(["diff", "X*w", "--wrt", "w", "--decl", CONFLICT])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "X is declared twice" in err and "Traceback" not in err
    assert CONFLICT + "\n" + " " * 16 + "^" in err


def test_cli_conflict_between_decl_and_text_in_json(capsys):
    code = main(["parse", "X: vector(n); X'*X", "--decl", "X: matrix(m,n)", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2 and data["ok"] is False
    assert data["error"]["type"] == "ParseError" and "in decls but" in data["error"]["message"]
    assert (data["error"]["line"], data["error"]["column"], data["error"]["span"]) == (1, 1, [0, 12])


# ------------------------------------------------------------------------------ the session / REPL

def test_a_session_text_with_a_conflict_is_refused_whole():
    s = Session()
    s.run("w: vector(n)")
    before = dict(s.types)
    with pytest.raises(ParseError, match="Y is declared twice with different types: vector\\(n\\) at line 1") as e:
        s.run("Y: vector(n)\nK = w'*w\nY: matrix(n,n)")
    assert (e.value.line, e.value.column) == (3, 1)
    assert s.types == before and "K" not in s.definitions


def test_a_repl_redeclaration_on_a_later_line_is_explicit_and_announced():
    """Across inputs a declaration is a deliberate redeclaration: the session is replayed under the
    new type, and the REPL says what changed (nothing is silent)."""
    out, err = io.StringIO(), io.StringIO()
    ex = Explorer(out=out, err=err, unicode=False)
    for line in ["X: matrix(m,n)", "J = tr(X'*X)", "X: matrix(p,q)", "X: matrix(p,q)"]:
        ex.handle(line)
    assert out.getvalue().count("was matrix(m,n); the session was replayed") == 1  # the same type again: quiet
    assert str(ex.session.types["X"]) == "matrix(p,q)" and err.getvalue() == ""


def test_a_repl_line_with_two_conflicting_declarations_fails_with_a_caret():
    out, err = io.StringIO(), io.StringIO()
    ex = Explorer(out=out, err=err, unicode=False)
    ex.handle("Y: vector(n); Y: matrix(n,n)")
    assert "Y is declared twice" in err.getvalue() and "\n  " + " " * 14 + "^" in err.getvalue()
    assert "Y" not in ex.session.types
