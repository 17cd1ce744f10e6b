"""No user text is ever executed: the package's AST holds no eval/exec, and compile() only ever
receives an AST that matcalc built itself."""
import ast
from pathlib import Path

import pytest

import matcalc
from matcalc.errors import MatcalcError

PACKAGE = Path(matcalc.__file__).resolve().parent
FORBIDDEN = {"eval", "exec", "execfile", "__import__"}


def _sources():
    return sorted(PACKAGE.rglob("*.py"))


def _called_name(call: ast.Call):
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def _violations(tree: ast.AST, path: str) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _called_name(node)
            if name in FORBIDDEN:
                found.append(f"{path}:{node.lineno}: {name}(…)")
            if name == "compile" and isinstance(node.func, ast.Name):
                source = node.args[0] if node.args else None
                if source is None or isinstance(source, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                    found.append(f"{path}:{node.lineno}: compile() of text (only matcalc's own ast may be compiled)")
            if name == "getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                    and node.args[1].value in FORBIDDEN:
                found.append(f"{path}:{node.lineno}: getattr(…, {node.args[1].value!r})")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN and isinstance(node.ctx, ast.Load):
            found.append(f"{path}:{node.lineno}: reference to {node.id}")  # passing eval around is as bad
    return found


def test_the_scanner_finds_what_it_looks_for():
    bad = "eval(text)\nexec(code)\nf = builtins.eval\ncompile('x + 1', '<s>', 'eval')\ngetattr(b, 'exec')(s)\n"
    found = _violations(ast.parse(bad), "bad.py")
    assert any("eval(" in v for v in found) and any("exec(" in v for v in found)
    assert any("compile() of text" in v for v in found) and any("getattr" in v for v in found)
    ok = "tree = ast.Module(body=[], type_ignores=[])\ncode = compile(tree, '<matcalc>', 'exec')\n"
    assert _violations(ast.parse(ok), "ok.py") == []


#: The only places that run code, each running code matcalc built itself (never user text): the
#: module a code generator built from the IR through ast, and the NumPy templates (library
#: constants) that Derivative.evaluate's interpreter runs.  Each entry: (file, what, how many).
ALLOWED = {
    ("generate/api.py", "exec"): (2, "matcalc.compile runs the module codegen built from the validated IR through ast"),
    ("generate/conv.py", "exec"): (2, "conv_compile runs the module built from the layer's parameters through ast"),
    ("generate/run.py", "exec"): (2, "the NumPy prelude, a library constant, parsed to ast and compiled"),
    ("generate/run.py", "eval"): (2, "the NumPy op templates, library constants, parsed to ast and compiled"),
}


def test_no_eval_or_exec_in_the_package():
    assert len(_sources()) > 20
    found: dict = {}
    for path in _sources():
        for v in _violations(ast.parse(path.read_text(encoding="utf-8")), str(path.relative_to(PACKAGE))):
            name = next((n for n in FORBIDDEN if n in v.split(": ", 1)[1]), v)
            found.setdefault((v.split(":")[0], name), []).append(v)
    unexpected = {k: v for k, v in found.items() if k not in ALLOWED or len(v) > ALLOWED[k][0]}
    assert unexpected == {}


def test_the_allowed_sites_compile_only_ast():
    """Each allowed exec/eval runs compile() of an AST or of text unparsed from one (ast.unparse)."""
    for (path, _), _why in ALLOWED.items():
        source = (PACKAGE / path).read_text(encoding="utf-8")
        assert "ast." in source and "compile(" in source, path


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "exec('1')", "eval('1')",
                                  "open('/etc/passwd')", "x.__class__", "lambda: 1", "[x for x in y]"])
def test_python_in_an_expression_is_a_parse_error(text):
    with pytest.raises(MatcalcError):
        matcalc.parse(text)
