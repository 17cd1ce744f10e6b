"""The README tells the truth: every `$ matcalc …` example block is run and its output compared."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
FLOAT = re.compile(r"\d\.\d+e-\d+")  # finite-difference errors vary with the BLAS in the last digits


def examples():
    if not README.exists():
        return []
    blocks = re.findall(r"```text\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    found = []
    for block in blocks:
        chunks = re.split(r"^\$ ", block, flags=re.M)
        for chunk in chunks[1:]:
            command, _, output = chunk.partition("\n")
            found.append((command, output.rstrip("\n")))
    return found


@pytest.mark.parametrize("command, expected", examples(), ids=[c for c, _ in examples()])
def test_readme_example(command, expected):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if command.split()[0] != "echo" and not command.startswith("matcalc"):
        pytest.skip("not a matcalc example")
    run = subprocess.run(["bash", "-c", command.replace("matcalc ", f"{sys.executable} -m matcalc ")],
                         capture_output=True, text=True, env=env)
    got = (run.stdout + run.stderr).rstrip("\n")
    assert FLOAT.sub("ε", got) == FLOAT.sub("ε", expected)


def test_readme_has_examples():
    assert len(examples()) >= 10
