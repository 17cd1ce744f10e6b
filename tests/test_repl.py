"""The REPL's application logic, in process: the Explorer on text, and piped mode.

Results are read back from the printed text (``--ascii``) and checked against central finite
differences at random inputs with every dimension a different size, never against stored text.
"""
import importlib.util
import io
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matcalc
from matcalc.front.parser import parse_program
from matcalc.numeric.check import dimension_sizes, finite_difference, random_values, relative_error
from matcalc.numeric.evaluate import evaluate
from matcalc.shell import cli
from matcalc.shell.explorer import FAILED, OK, QUIT, Explorer
from matcalc.shell.repl import inputs, run_piped
from matcalc.shell.style import ascii_text, pretty

from strategies import DECLS, exprs

SEED = ["X: matrix(m,n)", "w: vector(n)", "y: vector(m)", "J = norm2(X*w - y)^2"]
J = "norm2(X*w - y)^2"


def explorer(*lines, **kw):
    kw.setdefault("unicode", False)
    ex = Explorer(out=io.StringIO(), err=io.StringIO(), **kw)
    for line in lines:
        assert ex.handle(line) == OK, ex.err.getvalue()
    return ex


def output(ex, text):
    """Run ``text`` and return (status, stdout, stderr) of just that input."""
    ex.out.seek(0), ex.out.truncate(), ex.err.seek(0), ex.err.truncate()
    status = ex.handle(text)
    return status, ex.out.getvalue(), ex.err.getvalue()


def printed_result(out: str) -> str:
    """The right-hand side of the first ``label = result`` line."""
    return out.splitlines()[0].split(" = ")[-1]


def numeric_gradient(f_text, wrt, decls, result_text, order=1, seed=1):
    """Relative error of a printed derivative against finite differences of f (order 1) or of
    matcalc's gradient (order 2), at a random point."""
    f = parse_program(f"{decls}\n{f_text}").expressions[0]
    g = parse_program(f"{decls}\n{result_text}").expressions[0]
    rng = np.random.default_rng(seed)
    values = random_values(f, rng, sizes=dimension_sizes(f))
    lower = matcalc.diff(f, wrt, decls) if order == 2 else None

    def at(x):
        v = dict(values, **{wrt: x})
        return lower.evaluate(v) if lower else evaluate(f, v)

    want = finite_difference(at, np.asarray(values[wrt], dtype=float))
    return relative_error(evaluate(g, values), want)


DECL_TEXT = "\n".join(SEED[:3])


@pytest.mark.parametrize("form", ["d J / d {x}", "diff(J, {x})", "grad(J, {x})", "d(J)/d({x})",
                                  "d ({f}) / d {x}", "grad({f}, {x})"])
@pytest.mark.parametrize("x", ["X", "w", "y"])
def test_seed_derivatives_in_every_form_match_finite_differences(form, x):
    ex = explorer(*SEED)
    status, out, err = output(ex, form.format(x=x, f=J))
    assert status == OK, err
    assert out.splitlines()[0].startswith(("dJ/d", "df/d"))
    assert numeric_gradient(J, x, DECL_TEXT, printed_result(out)) < 1e-6


def test_hessian_and_hvp():
    ex = explorer(*SEED, "v: vector(n)")
    status, out, _ = output(ex, "hessian(J, w)")
    assert status == OK and out.startswith("d^2J/dw^2 = ")
    assert numeric_gradient(J, "w", DECL_TEXT, printed_result(out), order=2) < 1e-6
    h = parse_program(f"{DECL_TEXT}\n{printed_result(out)}").expressions[0]
    status, out, _ = output(ex, "hvp(J, w, v)")
    assert status == OK and out.startswith("d^2J/dw^2 * v = ")
    hv = parse_program(f"{DECL_TEXT}\nv: vector(n)\n{printed_result(out)}").expressions[0]
    values = random_values(hv, np.random.default_rng(3), sizes=dimension_sizes(hv))
    np.testing.assert_allclose(evaluate(hv, values), evaluate(h, values) @ values["v"], rtol=1e-10)


def test_jacobian_of_a_named_gradient_is_the_hessian():
    ex = explorer(*SEED)
    status, out, _ = output(ex, "G = grad(J, w)")
    assert status == OK and out.startswith("G = dJ/dw = ")
    _, jac, _ = output(ex, "jacobian(G, w)")
    _, hess, _ = output(ex, "hessian(J, w)")
    values = random_values(ex.session.definitions["G"], np.random.default_rng(0),
                           sizes=dimension_sizes(ex.session.definitions["G"]))
    a = parse_program(f"{DECL_TEXT}\n{printed_result(jac)}").expressions[0]
    b = parse_program(f"{DECL_TEXT}\n{printed_result(hess)}").expressions[0]
    np.testing.assert_allclose(evaluate(a, values), evaluate(b, values), rtol=1e-10)
    status, again, _ = output(ex, "d G / d X")  # a vector by a matrix: no matrix form, an index form
    assert status == OK and again.startswith("dG/dX in index notation:")


def test_the_last_result_is_underscore_and_can_be_named():
    ex = explorer(*SEED)
    output(ex, "X*w - y")
    status, out, _ = output(ex, "r = _'*_")
    assert status == OK and out.startswith("r: scalar")
    _, d1, _ = output(ex, "d r / d w")
    _, d2, _ = output(ex, "d J / d w")
    assert printed_result(d1) == printed_result(d2)
    status, out, _ = output(ex, "grad(_, w)")  # _ is now the gradient: a vector, no gradient
    assert status == FAILED and "scalar" in out + ex.err.getvalue()


def test_a_bare_expression_prints_its_form_shape_and_inferred_types():
    ex = explorer()
    status, out, _ = output(ex, "A*x - b")
    lines = out.splitlines()
    assert status == OK and lines[0] == "A*x - b"
    program = parse_program("A*x - b")
    assert lines[1] == "  shape: vector(n)" or lines[1].startswith("  shape: ")
    for name, t in program.declarations.items():
        assert f"{name}: {t} (inferred)" in lines[2]


def test_an_error_never_ends_the_session_and_the_caret_is_under_the_typed_line():
    ex = explorer(*SEED, interactive=True, prompt_width=9)
    line = "K = J + X*y"
    status, out, err = output(ex, line)
    assert status == FAILED
    assert out.rstrip("\n") == " " * (9 + line.index("*")) + "^"
    assert err.startswith("ShapeError: ") and "\x1b" not in err
    status, out, _ = output(ex, "K = J + X*w")   # the correct statement, with all the state kept
    assert status == OK and "J" in ex.session.definitions and "K" in ex.session.definitions


def test_piped_errors_repeat_the_line_with_its_number():
    ex = explorer(*SEED)
    status = ex.handle("L = X*y", line=7)
    lines = ex.err.getvalue().splitlines()
    assert status == FAILED
    assert lines[0].startswith("line 7, column 6: ShapeError: ")
    assert lines[1:] == ["  L = X*y", "       ^"]


@pytest.mark.parametrize("text, fragment", [
    ("d J / d z", "not a variable of this session"),
    ("d J / d J", "definition, not a variable"),
    ("grad(J)", "takes 2 arguments"),
    ("2*grad(J, w)", "must be a whole input"),
    ("diff(J, w, 9)", "order is a whole number"),
    ("hvp(J, w, q)", "declare the direction"),
    ("hvp(J, w, y)", "shape"),
    (":nonsense", "unknown command"),
    (":latex now", "takes no argument"),
    ("J = ", "end of input"),
])
def test_mistakes_are_answered_with_a_located_error(text, fragment):
    ex = explorer(*SEED)
    before = (dict(ex.session.types), dict(ex.session.definitions))
    status, out, err = output(ex, text)
    assert status == FAILED and fragment in err
    assert "^" in out + err
    assert (ex.session.types, ex.session.definitions) == before


def test_check_gives_a_verdict_and_the_error():
    ex = explorer(*SEED, "hessian(J, w)")
    status, out, _ = output(ex, ":check")
    m = re.match(r"check: OK \(max relative error ([0-9.e+-]+)", out)
    assert status == OK and m and float(m.group(1)) < 1e-6
    assert float(m.group(1)) == pytest.approx(matcalc.check(J, "w", "\n".join(SEED[:3]), order=2), rel=0.1)
    ex2 = explorer(*SEED, "X*w")
    status, _, err = output(ex2, ":check")
    assert status == FAILED and "needs a derivative" in err


def test_latex_steps_and_code():
    ex = explorer(*SEED, "d J / d X")
    d = matcalc.diff(J, "X", "\n".join(SEED[:3]))
    assert output(ex, ":latex")[1].strip() == d.latex()
    status, out, _ = output(ex, ":steps")
    assert status == OK
    shown = out.splitlines()
    assert len(shown) == len(d.explain().splitlines())
    for line, step in zip(shown, d.explain().splitlines()):  # each step, with its verdict before it
        assert line.startswith("ok ") and line.endswith(ascii_text(step))
    status, out, err = output(ex, ":code torch")
    if importlib.util.find_spec("matcalc.generate") is None:
        assert status == FAILED and "does not exist" in err
    else:
        assert status == OK and "def value_and_grad" in out


def test_explain_has_both_columns_and_the_shortcuts_verdict_and_fits_the_width():
    for x in ("X", "w", "y"):
        ex = explorer(*SEED, width=lambda: 72)
        status, out, _ = output(ex, f":explain J {x}")
        r = matcalc.shortcut(J, x, "\n".join(SEED[:3]))
        assert status == OK
        assert "TRUE DERIVATION" in out and "DIMENSION-CONSISTENCY SHORTCUT" in out
        assert f"VERDICT: the shortcut is {r.verdict}" in out
        assert r.verdict == "right"  # the seed notes: all three adjusted guesses are right
        assert all(len(line) <= 72 for line in out.splitlines())
        wide = explorer(*SEED, width=lambda: 250)
        _, out, _ = output(wide, f":explain J {x}")
        assert re.search(r"TRUE DERIVATION.*DIMENSION-CONSISTENCY SHORTCUT", out)


def test_explain_of_an_expression_and_its_errors():
    ex = explorer(*SEED)
    status, out, _ = output(ex, ":explain w'*X'*X*w w")
    assert status == OK and "VERDICT" in out
    status, _, err = output(ex, ":explain J")
    assert status == FAILED and "usage" in err
    output(ex, "d J / d y")
    status, alone, _ = output(ex, ":explain")  # the last derivative
    _, explicit, _ = output(ex, ":explain J y")
    assert status == OK and alone == explicit


def test_cli_explain_shows_the_same_view(capsys):
    decls = [a for d in SEED[:3] for a in ("--decl", d)]
    assert cli.main(["explain", J, "--wrt", "w", *decls]) == 0
    cli_out = capsys.readouterr().out
    ex = explorer(*SEED, width=lambda: None)
    _, out, _ = output(ex, ":explain J w")
    assert out == ascii_text(cli_out)  # the REPL was asked for ASCII here


def test_vars_save_load_reset(tmp_path):
    ex = explorer(*SEED, "G = d J / d w", "z: vector(n)", "K = X*z")
    status, out, _ = output(ex, ":vars")
    assert status == OK
    for line, words in [("X", "declared"), ("G", "result"), ("K", "defined")]:
        assert any(l.split()[0] == line and l.split()[-1] == words for l in out.splitlines())
    path = tmp_path / "s.mc"
    assert output(ex, f":save {path}")[0] == OK
    parse_program(path.read_text())  # plain statements
    fresh = explorer()
    status, out, _ = output(fresh, f":load {path}")
    assert status == OK and "G" in out
    assert fresh.session.types == ex.session.types and fresh.session.definitions == ex.session.definitions
    assert output(fresh, ":reset")[0] == OK and not fresh.session.types


def test_load_of_a_bad_file_reports_line_and_column_and_keeps_the_session(tmp_path):
    ex = explorer(*SEED)
    before = (dict(ex.session.types), dict(ex.session.definitions))
    bad = tmp_path / "bad.mc"
    bad.write_text("q: vector(n)\nK = X*q\nL = K + y'\n")
    status, _, err = output(ex, f":load {bad}")
    assert status == FAILED and "line 3, column 7" in err and "nothing was loaded" in err
    assert (ex.session.types, ex.session.definitions) == before
    status, _, err = output(ex, f":load {tmp_path / 'missing.mc'}")
    assert status == FAILED and "cannot read" in err


def test_a_loaded_file_is_parsed_never_executed(tmp_path):
    evil = tmp_path / "evil.mc"
    evil.write_text("__import__('os').system('touch " + str(tmp_path / "pwned") + "')\n")
    ex = explorer()
    assert output(ex, f":load {evil}")[0] == FAILED
    assert not (tmp_path / "pwned").exists()


def test_conv_command_is_the_conv_cli(capsys):
    ex = explorer()
    status, out, _ = output(ex, ":conv --ndim 1 --stride 2 --no-bias")
    assert status == OK
    assert cli.main(["conv", "--ndim", "1", "--stride", "2", "--no-bias"]) == 0
    assert out == ascii_text(capsys.readouterr().out)
    status, _, err = output(ex, ":conv --ndim")
    assert status == FAILED and ":conv" in err


def test_report_writes_a_file_or_says_why_not(tmp_path):
    ex = explorer(*SEED, "d J / d w")
    path = tmp_path / "r.html"
    status, out, err = output(ex, f":report {path}")
    if importlib.util.find_spec("matcalc.reports") is None:
        assert status == FAILED and "not part of this build" in err and not path.exists()
    else:
        assert status == OK and path.exists() and path.stat().st_size > 0
        status, _, err = output(ex, f":report {tmp_path / 'r.txt'}")
        assert status == FAILED and "format" in err and "^" in err


def test_help_and_quit():
    ex = explorer()
    status, out, _ = output(ex, ":help")
    from matcalc.shell.commands import COMMANDS
    assert status == OK and all(f":{name}" in out for name in COMMANDS)
    for topic in ("language", "derivatives", "keys", "explain", ":check"):
        assert output(ex, f":help {topic}")[0] == OK
    assert output(ex, ":help nothing")[0] == FAILED
    assert output(ex, ":q")[0] == QUIT and output(ex, ":quit")[0] == QUIT


def test_unicode_output():
    ex = explorer(*SEED, unicode=True)
    _, out, _ = output(ex, "d J / d X")
    assert out.startswith("∂J/∂X = 2*(X*w - y)*wᵀ")
    _, out, _ = output(ex, "hessian(J, w)")
    assert out.startswith("∂²J/∂w² = 2*Xᵀ*X")
    _, out, _ = output(ex, "J")
    assert out.startswith("‖X*w - y‖²")


@given(exprs())
def test_unicode_transposes_and_hadamards_parse_back_to_the_same_expression(node):
    from matcalc.printing.text import to_text
    text = to_text(node)
    shown = pretty(text)
    assert "'" not in shown and ".*" not in shown
    if "‖" not in shown and not re.search("[⁰¹²³⁴⁵⁶⁷⁸⁹]", shown):
        assert parse_program(f"{DECLS}\n{shown}").expressions[0] == parse_program(f"{DECLS}\n{text}").expressions[0]


def test_inputs_join_lines_while_a_bracket_is_open():
    assert list(inputs(["J = norm2(X*w\n", "   - y)^2\n", "d J / d w\n"])) == \
        [(1, "J = norm2(X*w\n   - y)^2"), (3, "d J / d w")]
    ex = explorer(*SEED[:3])
    assert ex.handle("J = norm2(X*w\n   - y)^2") == OK and "J" in ex.session.definitions


SEED_SESSION = """\
# the seed example: J = ‖Xω − y‖², with X m×n, ω n×1, y m×1
X: matrix(m,n)
ω: vector(n)
y: vector(m)
J = norm2(X*ω - y)^2
d J / d X
d J / d ω
d J / d y
:explain J X
:explain J ω
:explain J y
"""


def test_piped_session_reproduces_the_seed_example(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(SEED_SESSION))
    assert cli.main(["repl", "--ascii"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "\x1b" not in out and "matcalc>" not in out
    decls = "X: matrix(m,n)\nω: vector(n)\ny: vector(m)"
    f = "norm2(X*ω - y)^2"
    results = re.findall(r"^dJ/d(\S+) = (.+)$", out, re.M)
    assert [x for x, _ in results] == ["X", "ω", "y"]
    for x, text in results:
        assert numeric_gradient(f, x, decls, text) < 1e-6
    # the seed's adjusted answers, 2(Xω − y)ωᵀ, 2Xᵀ(Xω − y) and −2(Xω − y), each judged right
    verdicts = re.findall(r"^VERDICT: the shortcut is (\w+)", out, re.M)
    assert verdicts == [matcalc.shortcut(f, x, decls).verdict for x in ("X", "ω", "y")] == ["right"] * 3
    answers = re.findall(r"shortcut's answer:\s+(.+)$", out, re.M)
    for (x, truth), answer in zip(results, answers):
        assert numeric_gradient(f, x, decls, answer) < 1e-6


def test_piped_mode_exits_1_when_a_statement_failed_and_goes_on(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("x: vector(n)\nx + \nx'*x\n"))
    assert cli.main(["repl"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("x'*x") or out.startswith("xᵀ*x")
    assert err.startswith("line 2, column ")


def test_main_without_arguments_starts_the_repl_on_a_terminal_only(monkeypatch):
    started = []
    monkeypatch.setattr("matcalc.shell.repl.run", lambda args: started.append(args) or 0)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    try:  # not a terminal: a usage error, as before (argparse's exit, or the CLI contract's status)
        status = cli.main([])
    except SystemExit as e:
        status = e.code
    assert status == 2 and not started

    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr("sys.stdin", Tty(""))
    assert cli.main([]) == 0 and len(started) == 1


def test_run_piped_stops_at_quit():
    ex = explorer()
    assert run_piped(io.StringIO("x: vector(n)\n:quit\nx +\n"), ex) == 0


def test_the_repl_modules_load_prompt_toolkit_only_for_the_terminal():
    import subprocess
    import sys
    from pathlib import Path
    probe = ("import sys, matcalc, matcalc.shell.cli, matcalc.shell.repl, matcalc.shell.commands; "
             "print(sorted(m for m in ('prompt_toolkit', 'sympy') if m in sys.modules))")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=root,
                         env={"PYTHONPATH": str(root), "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert "prompt_toolkit" not in out.stdout and "sympy" not in out.stdout


def test_a_new_declaration_recomputes_named_results():
    ex = explorer("J = norm2(X*w - y)^2", "G = d J / d X", "x: vector(n)", "x", "s = _'*x")
    assert output(ex, "X: matrix(p,q)")[0] == OK
    g = ex.session.definitions["G"]
    assert g.shape == ("p", "q")
    _, out, _ = output(ex, "d J / d X")
    assert g == ex.session.last  # recomputed under the new type, not kept from the old one
    assert "s" in ex.session.definitions


def test_underscore_before_any_result_is_an_error_not_a_new_variable():
    ex = explorer()
    status, _, err = output(ex, "_ + 1")
    assert status == FAILED and "no" in err and "_" not in ex.session.types


def test_piped_mode_interrupted_exits_130():
    class Interrupting(io.StringIO):
        def __iter__(self):
            yield "x: vector(n)\n"
            raise KeyboardInterrupt
    ex = explorer()
    assert run_piped(Interrupting(), ex) == 130 and "interrupted" in ex.err.getvalue()


def test_ascii_output_is_ascii(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(SEED_SESSION + "hessian(J, ω)\n:steps\n:check\n"))
    assert cli.main(["repl", "--ascii"]) == 0
    out = capsys.readouterr().out
    symbols = set(re.sub(r"[ω]", "", out)) - set(map(chr, range(128)))
    assert not symbols, symbols


PIECES = ["J", "X", "w", "y", "_", "G", "d", " ", "(", ")", "*", "+", "-", "'", "^2", ",", "=", ":", ";", "/",
          "d J / d X", "grad(", "hessian(", "hvp(", "diff(", "jacobian(", "norm2(", "tr(", "vector(n)", "2", "0",
          ":explain ", ":steps", ":check", ":latex", ":vars", ":help ", ":code ", "\n", "ω",
          "x", "inv(", "matrix(", "scalar", ".*", "#", "?", "é"]


@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
@settings(max_examples=150, deadline=None)
def test_no_input_ends_the_session_or_escapes_as_an_internal_error(text):
    ex = explorer(*SEED)
    status = ex.handle(text)
    assert status in (OK, FAILED, QUIT)
    assert "internal error" not in ex.err.getvalue(), (text, ex.err.getvalue())
    assert ex.handle("d J / d w") == OK  # and the session still works
