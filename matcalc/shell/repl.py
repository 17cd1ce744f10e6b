"""``matcalc repl`` (and ``matcalc`` alone on a terminal): the interactive explorer.

On a terminal it is a prompt_toolkit prompt, ``matcalc> ``, with a persistent history (in the XDG
data directory, or ``--history FILE``), Tab completion of the session's names, the functions, the
commands and file paths, highlighting from matcalc's own lexer, and multi-line input while a
bracket is open.  Ctrl-C discards the line, Ctrl-D leaves with status 0.

Without a terminal (``matcalc repl < session.mc``) it reads the inputs and prints the results with
no prompts, colours or escape codes, and exits 1 when any input failed.  Either way each input goes
to :class:`matcalc.shell.explorer.Explorer`.  prompt_toolkit is imported only for the terminal.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterable, Iterator, Optional, TextIO

from matcalc.shell.explorer import QUIT, Explorer
from matcalc.shell.style import can_encode, open_brackets

PROMPT = "matcalc> "
CONTINUATION = "...      "


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ascii", action="store_true", help="plain ASCII output (x' instead of xᵀ, .* instead of ⊙)")
    p.add_argument("--history", metavar="FILE", default=None,
                   help="the history file (default: $XDG_DATA_HOME/matcalc/history, "
                        "i.e. ~/.local/share/matcalc/history)")


def history_path(explicit: Optional[str] = None) -> Path:
    """Where the history lives: ``--history``, else the XDG data directory."""
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "matcalc" / "history"


def run(args) -> int:
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    unicode = not args.ascii and can_encode(getattr(sys.stdout, "encoding", None))
    if not interactive:
        return run_piped(sys.stdin, Explorer(unicode=unicode, width=lambda: None))
    return run_interactive(Explorer(unicode=unicode, interactive=True, prompt_width=len(PROMPT),
                                    color=True), history_path(args.history))


# ------------------------------------------------------------------------------ piped

def inputs(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """``(first line number, text)`` per input: a line, joined with the next ones while a bracket
    is open (as the prompt does)."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(lines, 1):
        if not pending:
            first = number
        pending.append(line.rstrip("\r\n"))
        text = "\n".join(pending)
        if open_brackets(text) == 0:
            yield first, text
            pending = []
    if pending:
        yield first, "\n".join(pending)


def run_piped(stream: TextIO, explorer: Explorer) -> int:
    """Every input of ``stream``; 1 if any failed, else 0 (``:quit`` stops early; Ctrl-C: 130)."""
    try:
        for line, text in inputs(stream):
            if explorer.handle(text, line) == QUIT:
                break
    except KeyboardInterrupt:
        explorer.fail("interrupted")
        return 130
    return 1 if explorer.failures else 0


# ------------------------------------------------------------------------------ interactive

def _completer(explorer: Explorer):
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    from matcalc.ir.nodes import FUNCTIONS
    from matcalc.shell.commands import COMMANDS
    from matcalc.shell.explorer import DERIVATIVE_FUNCTIONS

    paths = PathCompleter(expanduser=True)
    words = sorted(set(FUNCTIONS) | set(DERIVATIVE_FUNCTIONS) | {"eye", "vector", "matrix"})
    types = ("scalar", "vector", "matrix", "symmetric")

    class MatcalcCompleter(Completer):
        def get_completions(self, document, complete_event):
            text = document.text_before_cursor
            stripped = text.lstrip()
            if stripped.startswith(":"):
                head, space, rest = stripped.partition(" ")
                if not space:
                    for name in COMMANDS:
                        if name.startswith(head[1:]):
                            yield Completion(":" + name, start_position=-len(head))
                    return
                cmd = COMMANDS.get(head[1:])
                if cmd is not None and cmd.name == "help":
                    from matcalc.shell.commands import HELP_TOPICS
                    word = rest.strip()
                    for topic in list(HELP_TOPICS) + list(COMMANDS):
                        if topic.startswith(word) and topic != word:
                            yield Completion(topic, start_position=-len(word))
                    return
                if cmd is not None and cmd.paths:
                    yield from paths.get_completions(Document(rest.lstrip(), len(rest.lstrip())), complete_event)
                    return
            word = document.get_word_before_cursor(WORD=False)
            if not word or not (word[0].isalpha() or word[0] == "_"):
                return
            before = text[: len(text) - len(word)].rstrip()
            pool = types if before.endswith(":") else list(explorer.session.names()) + words
            for name in dict.fromkeys(pool):
                if name.startswith(word) and name != word:
                    yield Completion(name, start_position=-len(word))

    return MatcalcCompleter()


def _lexer():
    from prompt_toolkit.lexers import Lexer

    from matcalc.ir.nodes import FUNCTIONS
    from matcalc.shell.explorer import DERIVATIVE_FUNCTIONS
    from matcalc.shell.style import highlight

    functions = frozenset(FUNCTIONS) | frozenset(DERIVATIVE_FUNCTIONS)

    class MatcalcLexer(Lexer):
        def lex_document(self, document):
            lines = document.lines

            def get_line(i):
                try:
                    return [(f"class:{cls}" if cls else "", text) for cls, text in highlight(lines[i], functions)]
                except Exception:  # highlighting must never break typing
                    return [("", lines[i])]
            return get_line

    return MatcalcLexer()


def prompt_session(explorer: Explorer, history: Optional[Path], input=None, output=None):
    """The prompt_toolkit session: history, completion, highlighting, multi-line while '(' is open."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.application.current import get_app
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.styles import Style

    from matcalc.shell.style import STYLE

    store = InMemoryHistory()
    if history is not None:
        try:
            history.parent.mkdir(parents=True, exist_ok=True)
            history.touch(exist_ok=True)
            store = FileHistory(str(history))
        except OSError as e:
            explorer.fail(f"history is not kept: cannot use {history}: {e.strerror}")

    @Condition
    def bracket_open() -> bool:
        return open_brackets(get_app().current_buffer.text) > 0

    return PromptSession(
        PROMPT, history=store, completer=_completer(explorer), lexer=_lexer(),
        style=Style.from_dict({k: v for k, v in STYLE.items() if v}), multiline=bracket_open,
        prompt_continuation=lambda width, line, wrap: CONTINUATION, complete_while_typing=False,
        input=input, output=output, enable_open_in_editor=False)


def run_interactive(explorer: Explorer, history: Optional[Path], input=None, output=None) -> int:
    """Read inputs at the prompt until Ctrl-D or :quit; returns 0."""
    session = prompt_session(explorer, history, input, output)
    if input is None:
        explorer.write("matcalc: type a statement, d J / d X, or :help.  Ctrl-D leaves.")
    while True:
        try:
            text = session.prompt()
        except KeyboardInterrupt:  # Ctrl-C: the half-typed line is discarded
            continue
        except EOFError:            # Ctrl-D
            return 0
        try:
            if explorer.handle(text) == QUIT:
                return 0
        except KeyboardInterrupt:
            explorer.fail("interrupted")
