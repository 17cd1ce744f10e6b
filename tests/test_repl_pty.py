"""End to end on a real pseudo-terminal, with pexpect: the few things only a terminal shows.

TERM=xterm-256color and PROMPT_TOOLKIT_NO_CPR=1 (no cursor-position request to stall on); the
prompt is expected without its trailing space, and every control key waits for the prompt.
"""
import os
import sys
import time
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")
pytest.importorskip("prompt_toolkit")

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "matcalc>"
SEED = ["X: matrix(m,n)", "w: vector(n)", "y: vector(m)", "J = norm2(X*w - y)^2"]


def spawn(tmp_path, *args):
    env = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", XDG_DATA_HOME=str(tmp_path),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = pexpect.spawn(sys.executable, ["-m", "matcalc", *args], env=env, dimensions=(40, 160),
                          encoding="utf-8", timeout=60)
    child.expect(PROMPT)
    return child


def send(child, line, *expect):
    child.send(line + "\r")
    for pattern in expect:
        child.expect(pattern)
    child.expect(PROMPT)


def leave(child) -> int:
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_error_then_correct_statement_and_explain_with_its_verdict(tmp_path):
    child = spawn(tmp_path)   # `matcalc` alone on a terminal
    for line in SEED:
        send(child, line)
    send(child, "K = J + X*y", r"\^", "ShapeError: cannot multiply X")
    send(child, "K = J + w'*w", "K: scalar")
    send(child, "d K / d w", "∂K/∂w = ")
    send(child, ":explain J w", "DIMENSION-CONSISTENCY SHORTCUT", "VERDICT: the shortcut is right")
    assert leave(child) == 0


def test_completion_and_ctrl_c_on_a_half_typed_line(tmp_path):
    child = spawn(tmp_path, "repl", "--ascii")
    for line in SEED:
        send(child, line)
    child.send("hessi")
    child.send("\t")
    child.expect("hessian")
    send(child, "(J, w)", r"d\^2J/dw\^2 = 2\*X'\*X")
    child.send("norm2(X*w")
    time.sleep(0.5)  # the keys are drawn (with highlighting escapes between the tokens)
    child.sendcontrol("c")
    child.expect(PROMPT)
    # had the half-typed line survived, this would read norm2(X*ww'*w and fail
    send(child, "w'*w", "shape: scalar")
    assert leave(child) == 0


def test_history_across_two_runs(tmp_path):
    child = spawn(tmp_path, "repl", "--history", str(tmp_path / "h"))
    send(child, "q: vector(n)")
    send(child, "q'*q + 41", "shape: scalar")
    assert leave(child) == 0
    child = spawn(tmp_path, "repl", "--history", str(tmp_path / "h"))
    child.send("\x1b[A")
    child.expect("41")  # the recalled line, drawn with highlighting escapes between its tokens
    send(child, "", "shape: scalar")
    assert leave(child) == 0


def test_piped_session_file_end_to_end(tmp_path):
    import subprocess
    session = tmp_path / "seed.mc"
    session.write_text("\n".join(SEED + ["d J / d w", "K = J + X*y", ":explain J y"]) + "\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path))
    with session.open() as stdin:
        done = subprocess.run([sys.executable, "-m", "matcalc", "repl"], stdin=stdin, capture_output=True,
                              text=True, env=env, timeout=120)
    assert done.returncode == 1  # one statement failed; the rest ran
    assert "\x1b" not in done.stdout + done.stderr and PROMPT not in done.stdout
    assert "∂J/∂w = " in done.stdout and "VERDICT: the shortcut is right" in done.stdout
    assert done.stderr.startswith("line 6, column 10: ShapeError")
