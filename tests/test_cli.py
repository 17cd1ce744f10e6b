"""The command-line contract: exit codes, stderr, the JSON schema, argument conflicts, stdin and pipes.

In-process through ``matcalc.shell.cli.main(argv)``; a few end-to-end runs use a subprocess where
the behaviour lives in the process itself (SIGPIPE, the console entry).
"""
import io
import json
import shlex
import subprocess
import sys

import jsonschema
import numpy as np
import pytest

from matcalc.shell.cli import COMMANDS, JSON_SCHEMA, ORDER_MAX, main


def run(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", stdin)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--format", "json")
    data = json.loads(out)
    jsonschema.validate(data, JSON_SCHEMA)
    return code, data, err


class TTY(io.StringIO):
    def isatty(self):
        return True


# ------------------------------------------------------------------------------ exit codes

def test_ok_is_0_and_output_on_stdout(capsys):
    code, out, err = run(capsys, "diff", "x'*A*x", "--wrt", "x")
    assert (code, err) == (0, "")
    assert out.startswith("∂f/∂x = (A + A')*x")


def test_bad_input_is_2_with_a_caret_on_stderr(capsys):
    code, out, err = run(capsys, "diff", "x'*A*", "--wrt", "x")
    assert code == 2 and out == ""
    assert "ParseError" in err and "x'*A*\n     ^" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: COMMAND"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["diff", "x'*x"], "the following arguments are required: --wrt"),
    (["diff", "x'*x", "--wrt", "x", "--bogus"], "unrecognized arguments: --bogus"),
    (["diff", "x'*x", "--wrt", "x", "--format", "pdf"], "invalid choice: 'pdf'"),
])
def test_usage_errors_are_2_with_usage_on_stderr(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and "usage: matcalc" in err


def test_a_failed_check_is_1(capsys, monkeypatch):
    """A wrong derivative must make --check fail: plant one by perturbing the derivative's value."""
    from matcalc.calculus.derivative import Derivative
    right = Derivative.evaluate
    monkeypatch.setattr(Derivative, "evaluate", lambda self, values: right(self, values) * 1.01)
    code, out, err = run(capsys, "diff", "x'*A*x", "--wrt", "x", "--check")
    assert code == 1
    line = next(line for line in out.splitlines() if "check:" in line)
    assert line.startswith("  check: FAILED (max relative error 1.0e-02 > tolerance 1e-06 at 2 random points")


def test_a_passed_check_says_ok(capsys):
    code, out, _ = run(capsys, "diff", "sum(log(1 + exp(-y .* (X*w))))", "--wrt", "w", "--order", "2", "--check")
    assert code == 0
    line = next(line for line in out.splitlines() if "check:" in line)
    assert line.startswith("  check: OK (max relative error ") and float(line.split()[-1][:-1]) < 1e-6


def test_no_valid_point_is_a_failed_check_that_says_why(capsys):
    code, out, _ = run(capsys, "diff", "logdet(X - X)", "--wrt", "X", "--check")
    assert code == 1
    assert "check: FAILED (no valid point found in" in out and "X - X is exactly singular" in out


def test_ctrl_c_is_130(capsys, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr("matcalc.calculus.derivative.diff", interrupted)
    code, out, err = run(capsys, "diff", "x'*x", "--wrt", "x")
    assert code == 130 and "interrupted" in err and "Traceback" not in err


def test_version_and_help_with_examples(capsys):
    import matcalc
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"matcalc {matcalc.__version__}"
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "exit status:" in out and "130  interrupted" in out
    for name in COMMANDS:
        assert f"  matcalc {name} " in out, name  # one example per subcommand
        code, sub, _ = run(capsys, name, "--help")
        assert code == 0 and f"example:\n  matcalc {name} " in sub and "exit status:" in sub


# ------------------------------------------------------------------------------ expressions and stdin

@pytest.mark.parametrize("argv", [
    ["diff", "-y'*log(p)", "--wrt", "p"],
    ["diff", "--wrt", "p", "-y'*log(p)"],
    ["diff", "--wrt=p", "-y'*log(p)"],
    ["diff", "--wrt", "p", "--", "-y'*log(p)"],
])
def test_an_expression_may_start_with_minus(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert out.startswith("∂f/∂p = -y ./ p")


def test_negative_order_is_an_order_not_an_expression(capsys):
    code, _, err = run(capsys, "diff", "x'*x", "--wrt", "x", "--order", "-1")
    assert code == 2 and f"order must be 1 … {ORDER_MAX}" in err and "not -1" in err


def test_stdin(capsys, monkeypatch):
    code, out, _ = run(capsys, "diff", "--wrt", "W", stdin=io.StringIO("-y'*log(softmax(W*x))\n"),
                       monkeypatch=monkeypatch)
    assert code == 0 and out.startswith("∂f/∂W = ")
    code, out, _ = run(capsys, "parse", "-", stdin=io.StringIO("x'*x"), monkeypatch=monkeypatch)
    assert code == 0 and out.startswith("x'*x\n  shape: scalar")


def test_a_terminal_on_stdin_and_no_expression_is_2(capsys, monkeypatch):
    code, out, err = run(capsys, "diff", "--wrt", "x", stdin=TTY(), monkeypatch=monkeypatch)
    assert code == 2 and out == "" and "no expression given" in err
    code, _, err = run(capsys, "parse", stdin=io.StringIO("  \n"), monkeypatch=monkeypatch)
    assert code == 2 and "stdin was empty" in err


# ------------------------------------------------------------------------------ conflicts

@pytest.mark.parametrize("argv, message", [
    (["diff", "x'*A*x", "--wrt", "x", "--wrt", "A"], "--wrt given twice ('x' and 'A')"),
    (["diff", "x'*A*x", "--wrt", "x", "--order", "1", "--order", "2"], "--order given twice"),
    (["diff", "x'*A*x", "--wrt", "x", "--decl", "x: vector(n)", "--decl", "x: vector(m)"],
     "conflicting declarations of x: vector(n)"),
    (["diff", "x'*A*x", "--wrt", "x", "--format", "latex", "--steps"], "--steps would be dropped"),
    (["diff", "x'*A*x", "--wrt", "x", "--format", "latex", "--check"], "--check would be dropped"),
    (["diff", "x'*A*x", "--wrt", "x", "--format", "latex", "--steps", "--check"], "--steps and --check"),
    (["diff", "x'*A*x", "--wrt", "x", "--decl", "y = 2*x"], "--decl takes declarations"),
    (["conv", "--layer", "avgpool", "--groups", "2"], "--groups does not apply to --layer avgpool"),
    (["conv", "--layer", "avgpool", "--dilation", "2"], "--dilation does not apply to --layer avgpool"),
    (["conv", "--output-padding", "1"], "--output-padding does not apply to --layer conv"),
    (["conv", "--kernel-size", "3"], "--kernel-size does not apply to --layer conv"),
    (["conv", "--format", "latex", "--steps"], "--steps would be dropped"),
])
def test_conflicting_input_is_refused(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and message in err, err


def test_the_same_declaration_twice_is_no_conflict(capsys):
    code, out, _ = run(capsys, "parse", "x'*x", "--decl", "x: vector(n)", "--decl", "x: vector(n)")
    assert code == 0 and "x: vector(n)" in out


def test_layer_options_still_work_where_they_apply(capsys):
    code, out, _ = run(capsys, "conv", "--layer", "conv_transpose", "--ndim", "1", "--stride", "2",
                       "--output-padding", "1", "--specialise", "--no-bias")
    assert code == 0 and "∂L/∂b" not in out
    code, out, _ = run(capsys, "conv", "--layer", "avgpool", "--ndim", "1", "--kernel-size", "3", "--specialise")
    assert code == 0 and "(1/3)" in out


@pytest.mark.parametrize("order", ["0", "-1", "50", "two"])
def test_order_bound(capsys, order):
    code, _, err = run(capsys, "diff", "x'*x", "--wrt", "x", "--order", order)
    assert code == 2 and "order must be" in err and f"1 … {ORDER_MAX}" in err


# ------------------------------------------------------------------------------ --values

@pytest.mark.parametrize("values, message", [
    ('{"x": [1, 2,]}', "--values is not valid JSON"),
    ('{"x": [1, NaN]}', "NaN is not a number"),
    ('{"x": [1, Infinity]}', "Infinity is not a number"),
    ('{"x": [1, 1e999]}', "x[1] is not finite"),
    ('{"x": [1, "a"]}', 'x[1] is "a", not a number'),
    ('{"x": [1, true]}', "x[1] is true, not a number"),
    ('[1, 2]', "--values must be a JSON object"),
    ('{"x": [1, 2], "A": [[1, 2], [3]]}', "A[1] has 1 entries but A[0] has 2 entries: every row of A"),
    ('{"x": [1, 2], "A": [[1, 2], [3, 4], [5, 6]]}', "dimension n is 2 from x (axis 0) but 3 from A (axis 0)"),
    ('{"x": [1, 2], "A": [[1, 2, 3], [3, 4, 5]]}', "dimension n is 2 from x (axis 0) but 3 from A (axis 1)"),
    ('{"x": [[1, 2]], "A": [[1, 0], [0, 1]]}', "x is vector(n), so its value must be a 1-D array"),
])
def test_bad_values_say_what_and_where(capsys, values, message):
    code, out, err = run(capsys, "eval", "x'*A*x", "--values", values)
    assert code == 2 and out == "" and message in err, err


def test_bad_json_points_at_the_position(capsys):
    code, data, _ = run_json(capsys, "eval", "x'*x", "--values", '{"x": [1, 2,]}')
    assert code == 2 and data["error"]["column"] == 13 and data["error"]["span"] == [12, 13]
    assert data["error"]["caret"] == '{"x": [1, 2,]}\n            ^'


def test_eval(capsys):
    code, out, _ = run(capsys, "eval", "x'*A*x", "--values", '{"x": [1, 2], "A": [[2, 0], [0, 3]]}')
    assert code == 0 and json.loads(out) == 14.0
    code, out, _ = run(capsys, "eval", "A*x", "--values", '{"x": [1, 2], "A": [[2, 0], [0, 3]]}')
    assert json.loads(out) == [2.0, 6.0]


def test_eval_domain_errors_name_the_subexpression(capsys):
    code, _, err = run(capsys, "eval", "log(x'*x - 10)", "--values", '{"x": [1, 2]}')
    assert code == 2 and "log(x'*x - 10) is undefined: log needs positive values, but x'*x - 10 is -5" in err
    code, _, err = run(capsys, "eval", "inv(x*x')", "--values", '{"x": [1, 2]}')
    assert code == 2 and "inv(x*x') is undefined: the matrix x*x' is" in err and "singular" in err


# ------------------------------------------------------------------------------ JSON schema

SUBCOMMAND_RUNS = {
    "parse": ["parse", "norm2(X*w - y)^2"],
    "eval": ["eval", "x'*A*x", "--values", '{"x": [1, 2], "A": [[2, 0], [0, 3]]}'],
    "diff": ["diff", "x'*A*x", "--wrt", "x", "--steps", "--check"],
    "explain": ["explain", "x'*A*x", "--wrt", "x"],
    "conv": ["conv", "--ndim", "1", "--stride", "2", "--steps"],
}


def test_every_subcommand_is_covered_here():
    assert set(COMMANDS) <= set(SUBCOMMAND_RUNS) | {"report", "repl", "codegen"}, set(COMMANDS) - set(SUBCOMMAND_RUNS)


@pytest.mark.parametrize("name", sorted(SUBCOMMAND_RUNS))
def test_json_schema_on_success(capsys, name):
    code, data, err = run_json(capsys, *SUBCOMMAND_RUNS[name])
    assert code == 0 and data["ok"] is True and err == ""
    assert data["result"] is not None


@pytest.mark.parametrize("name", sorted(SUBCOMMAND_RUNS))
def test_json_schema_on_error(capsys, name):
    bad = {"parse": ["parse", "x'*"], "eval": ["eval", "x'*x", "--values", "{"],
           "diff": ["diff", "x'*", "--wrt", "x"], "explain": ["explain", "x'*x", "--wrt", "q"],
           "conv": ["conv", "--stride", "0"]}[name]
    code, data, err = run_json(capsys, *bad)
    assert code == 2 and data["ok"] is False and data["error"]["message"] and err


def test_json_usage_error_is_json_too(capsys):
    code, data, _ = run_json(capsys, "diff", "x'*x")
    assert code == 2 and data["error"]["type"] == "UsageError" and "--wrt" in data["error"]["message"]


def test_json_diff_contents(capsys):
    code, data, _ = run_json(capsys, *SUBCOMMAND_RUNS["diff"])
    assert data["result"] == "(A + A')*x" and data["shape"] == ["n"] and data["form"] == "gradient"
    assert data["variables"] == {"x": "vector(n)", "A": "matrix(n,n)"}
    assert data["check"]["ok"] is True and data["check"]["error"] < 1e-6 and data["check"]["points"] == 2
    assert any(s.startswith("df = ") for s in data["steps"])


def test_json_failed_check_is_ok_true_with_check_false_and_exit_1(capsys, monkeypatch):
    from matcalc.calculus.derivative import Derivative
    right = Derivative.evaluate
    monkeypatch.setattr(Derivative, "evaluate", lambda self, values: right(self, values) + 1)
    code, data, _ = run_json(capsys, "diff", "x'*A*x", "--wrt", "x", "--check")
    assert code == 1 and data["ok"] is True and data["check"]["ok"] is False


def test_json_eval_shape_is_numeric(capsys):
    code, data, _ = run_json(capsys, "eval", "A*x", "--values", '{"x": [1, 2, 3], "A": [[1, 0, 0], [0, 1, 0]]}')
    assert data["result"] == [1.0, 2.0] and data["shape"] == [2]


# ------------------------------------------------------------------------------ zero derivatives

def test_derivative_wrt_a_declared_variable_f_does_not_use_is_zero_of_its_shape(capsys):
    code, out, _ = run(capsys, "diff", "x'*x", "--wrt", "z", "--decl", "z: vector(k)")
    assert code == 0 and "note: f does not depend on z: the derivative is zero" in out
    code, data, _ = run_json(capsys, "diff", "x'*x", "--wrt", "Z", "--decl", "Z: matrix(p,q)")
    assert data["shape"] == ["p", "q"] and data["notes"] == ["f does not depend on Z: the derivative is zero"]
    import matcalc
    d = matcalc.diff("x'*x", "z", "z: vector(k)")
    assert np.array_equal(d.evaluate({"x": np.ones(3), "z": np.ones(4)}), np.zeros(4))


def test_derivative_wrt_an_undeclared_absent_variable_gives_advice_that_works(capsys):
    code, _, err = run(capsys, "diff", "x'*x", "--wrt", "z")
    assert code == 2 and "--decl 'z: vector(k)'" in err
    code, out, _ = run(capsys, "diff", "x'*x", "--wrt", "z", "--decl", "z: vector(k)")
    assert code == 0


# ------------------------------------------------------------------------------ end to end

NETWORK = "h0 = x; " + "; ".join(f"h{i + 1} = tanh(W{i + 1}*h{i})" for i in range(30)) + "; sum(h30)"


@pytest.mark.parametrize("args", [["diff", NETWORK, "--wrt", "W1", "--steps"],
                                  ["conv", "--ndim", "3", "--steps", "--specialise"]])
def test_a_closed_pipe_ends_quietly(args):
    """`matcalc … | head`: far more output than the pipe holds, and head leaves after one line."""
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "matcalc", *args])
    out = subprocess.run(f"{command} | head -n 1", shell=True, capture_output=True, text=True)
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr, out.stderr
    assert out.stderr == "" and len(out.stdout.splitlines()) == 1


def test_console_entry_exit_status_and_stderr():
    out = subprocess.run([sys.executable, "-m", "matcalc", "diff", "--wrt", "x", "--format", "json", "x'*"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and json.loads(out.stdout)["ok"] is False and "ParseError" in out.stderr
