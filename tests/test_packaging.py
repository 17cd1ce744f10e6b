"""The grammar ships in the wheel and is found both from a wheel and from the source tree."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import matcalc
from matcalc.front.parser import grammar_path

ROOT = Path(__file__).resolve().parent.parent


def test_source_tree_uses_top_level_grammar():
    if Path(matcalc.__file__).resolve().parent != ROOT / "matcalc":
        pytest.skip("matcalc is not imported from this source tree")
    assert grammar_path() == ROOT / "grammar" / "matcalc.lark"


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs the source tree")
def test_installed_wheel_carries_and_finds_the_grammar(tmp_path):
    pytest.importorskip("hatchling")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("matcalc-*.whl")
    assert "matcalc/_grammar/matcalc.lark" in zipfile.ZipFile(wheel).namelist()
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    probe = ("import matcalc, matcalc.front.parser as p; print(matcalc.__file__); print(p.grammar_path()); "
             "print(matcalc.parse('norm2(X*w - y)^2').variables)")
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    module_file, grammar, variables = out.stdout.splitlines()
    assert module_file.startswith(str(site))
    assert grammar == str(site / "matcalc" / "_grammar" / "matcalc.lark")
    assert variables == "{'X': 'matrix(n,m)', 'w': 'vector(m)', 'y': 'vector(n)'}"
