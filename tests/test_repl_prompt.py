"""The prompt itself, in process: prompt_toolkit's pipe input and DummyOutput.

Keys are fed in timed chunks from a thread: a single write is read as a paste, and a paste does
not trigger completion.
"""
import io
import threading
import time

import pytest

pytest.importorskip("prompt_toolkit")
from prompt_toolkit.input import create_pipe_input  # noqa: E402
from prompt_toolkit.output import DummyOutput  # noqa: E402

from matcalc.shell.explorer import Explorer  # noqa: E402
from matcalc.shell.repl import history_path, run_interactive  # noqa: E402

SEED = ["X: matrix(m,n)\r", "w: vector(n)\r", "y: vector(m)\r", "J = norm2(X*w - y)^2\r"]
CTRL_C, CTRL_D, UP, TAB = "\x03", "\x04", "\x1b[A", "\t"


def drive(chunks, history=None, pause=0.12):
    ex = Explorer(out=io.StringIO(), err=io.StringIO(), unicode=False, interactive=True, prompt_width=9)
    with create_pipe_input() as pipe:
        def feed():
            for chunk in chunks:
                time.sleep(pause if chunk != TAB else 0.5)  # a Tab read with other keys is not a completion
                pipe.send_text(chunk)
                if chunk == TAB:  # completion runs as a task of the event loop: let it finish
                    time.sleep(0.6)
        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        status = run_interactive(ex, history, input=pipe, output=DummyOutput())
        thread.join(5)
    return status, ex


def test_tab_completes_functions_names_and_commands(tmp_path):
    history = tmp_path / "history"
    status, ex = drive(SEED + ["Jloss = J + w'*w\r", "hessi", TAB, "(Jl", TAB, ", w)\r", ":expl", TAB, " J y\r",
                               CTRL_D], history=history)
    out = ex.out.getvalue()
    assert status == 0 and ex.failures == 0, ex.err.getvalue()
    typed = history.read_text()  # what was accepted, completions included
    assert "+hessian(Jloss, w)\n" in typed and "+:explain J y\n" in typed
    assert "d^2Jloss/dw^2 = " in out
    assert "VERDICT: the shortcut is right" in out


def test_tab_completes_file_paths_after_load(tmp_path):
    (tmp_path / "seed-session.mc").write_text("".join(s.replace("\r", "\n") for s in SEED))
    status, ex = drive([f":load {tmp_path}/seed-s", TAB, "\r", "d J / d w\r", CTRL_D])
    assert ex.failures == 0, ex.err.getvalue()
    assert "loaded" in ex.out.getvalue() and "dJ/dw = " in ex.out.getvalue()


def test_ctrl_c_discards_the_half_typed_line():
    status, ex = drive(SEED + ["K = norm2(X*w", CTRL_C, "d J / d w\r", CTRL_D])
    assert status == 0 and ex.failures == 0
    assert "K" not in ex.session.definitions
    assert ex.out.getvalue().count("dJ/dw = ") == 1


def test_an_open_bracket_continues_the_input_on_the_next_line():
    status, ex = drive(SEED[:3] + ["J = norm2(X*w\r", " - y)^2\r", "d J / d y\r", CTRL_D])
    assert ex.failures == 0, ex.err.getvalue()
    assert "dJ/dy = -2*(X*w - y)" in ex.out.getvalue()


def test_an_error_then_a_correct_statement():
    status, ex = drive(SEED + ["K = J + X*y\r", "K = J + w'*w\r", CTRL_D])
    assert status == 0 and ex.failures == 1
    assert "ShapeError" in ex.err.getvalue() and "K" in ex.session.definitions


def test_history_is_kept_across_two_runs(tmp_path):
    path = tmp_path / "history"
    drive(["q: vector(n)\r", "q'*q\r", CTRL_D], history=path)
    assert "q'*q" in path.read_text()
    status, ex = drive([UP, "\r", CTRL_D], history=path)
    assert ex.out.getvalue().startswith("q'*q\n  shape: scalar")


def test_history_lives_in_the_xdg_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert history_path() == tmp_path / "matcalc" / "history"
    assert history_path("~/h") != history_path()
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_path() == tmp_path / ".local" / "share" / "matcalc" / "history"


def test_tab_completes_help_topics_and_declaration_types(tmp_path):
    history = tmp_path / "history"
    status, ex = drive([":help deriv", TAB, "\r", "v: vec", TAB, "(n)\r", CTRL_D], history=history)
    assert ex.failures == 0, ex.err.getvalue()
    typed = history.read_text()
    assert "+:help derivatives\n" in typed and "+v: vector(n)\n" in typed
    assert ex.session.types["v"].kind == "vector"
