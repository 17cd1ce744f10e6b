"""What loads when: `import matcalc` and the command's parser stay light (no SymPy, conv, reports,
code generator or prompt_toolkit until they are used)."""
import json
import subprocess
import sys

HEAVY = ("sympy", "matcalc.conv.api", "matcalc.indexsum", "matcalc.reports", "matcalc.reports.build",
         "matcalc.generate", "matcalc.generate.api", "prompt_toolkit")


def _loaded(code: str) -> list:
    probe = f"import json, sys; {code}; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_import_matcalc_is_light():
    assert _loaded("import matcalc") == []


def test_the_command_parser_is_light():
    """Building every subcommand's options loads only the light front modules of reports and codegen."""
    assert _loaded("import matcalc.shell.cli as c; c.build_parser()") == ["matcalc.generate", "matcalc.reports"]


def test_conv_names_still_load_on_use():
    assert _loaded("from matcalc.conv import conv_gradients") == ["matcalc.conv.api", "matcalc.indexsum", "sympy"]
