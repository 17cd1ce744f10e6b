"""The one sharing pass: share(root) -> (bindings, root), used by the text and LaTeX printers."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, strategies as st

import matcalc
from matcalc.ir.nodes import Num, Var, dag_size, fold, postorder, size, variables
from matcalc.ir.shapes import make
from matcalc.numeric.check import random_values as check_values
from matcalc.printing.share import share, share_all
from matcalc.printing.text import to_text, to_text_shared
from strategies import N, S, exprs

X = Var("x", ("n", 1), "vector")
Y = Var("y", ("n", 1), "vector")


def network(L: int) -> str:
    layers = " ".join(f"h{i} = tanh(W{i}*h{i - 1});" for i in range(1, L + 1))
    return f"x: vector(n); {' '.join(f'W{i}: matrix(n,n);' for i in range(1, L + 1))} h0 = x; {layers} sum(h{L})"


def inline(bindings, root):
    """Substitute the bindings back (iteratively), to compare with the original expression."""
    env = {}

    def back(node):
        def visit(n, kids):
            if isinstance(n, Var) and n.name in env:
                return env[n.name]
            return dataclasses.replace(n, args=kids) if kids else n
        return fold(node, visit)

    for name, node in bindings:
        env[name] = back(node)
    return back(root)


def repeated(e, k):
    """A DAG that uses e and k several times: tree size far above its DAG size."""
    r = make("mul", make("mul", make("transpose", k), k), k)
    return make("add", r, make("mul", e, make("mul", make("mul", make("transpose", r), r), r)))


def test_names_repeated_subexpressions_in_reading_order():
    h1 = make("tanh", make("mul", Var("W", ("n", "n"), "matrix"), X))
    h2 = make("tanh", make("hadamard", h1, make("exp", h1)))
    root = make("add", make("hadamard", h2, h1), make("hadamard", h2, h2))
    bindings, body = share(root)
    assert [n for n, _ in bindings] == ["t1", "t2"]
    assert bindings[0][1] == h1                                  # t1 = tanh(W*x), in terms of no name
    assert to_text(bindings[1][1]) == "tanh(t1 .* exp(t1))"      # t2 uses t1, the name before it
    assert to_text(body) == "t2 .* t1 + t2 .* t2"
    assert inline(bindings, body) == root


def test_names_avoid_the_expressions_variables_and_the_caller_s():
    t1, t2 = Var("t1", ("n", 1), "vector"), Var("t2", ("n", 1), "vector")
    s = make("sin", make("add", make("add", t1, t2), X))
    root = make("add", make("hadamard", s, s), make("hadamard", s, s))
    assert [n for n, _ in share(root)[0]] == ["t3"]
    assert [n for n, _ in share(root, avoid={"t3", "t4"})[0]] == ["t5"]


def test_nothing_to_share_returns_the_root_itself():
    root = make("add", make("sin", X), make("cos", Y))
    assert share(root) == ([], root) and share(root)[1] is root
    tiny = make("sin", X)                                          # repeated, but below min_size
    assert share(make("hadamard", tiny, tiny)) == ([], make("hadamard", tiny, tiny))
    s = make("sin", make("tanh", make("exp", X)))                  # repeated, but sharing saves too little
    root = make("add", s, make("cos", s))                          # (a tree of 10 nodes, a DAG of 6)
    assert share(root) == ([], root)
    assert [n for n, _ in share(root, ratio=0)[0]] == ["t1"]       # as code generation will ask


def test_a_named_inner_product_prints_as_a_plain_name():
    s = make("mul", make("transpose", make("sin", X)), make("sin", Y))
    r = make("add", make("mul", s, X), make("mul", s, Y))
    assert to_text_shared(make("add", r, r)) == "t1 = sin(x)'*sin(y)\nt2 = t1*x + t1*y\nt2 + t2"


@given(st.data())
def test_bindings_inline_back_to_the_expression_and_the_text_to_its_value(data):
    root = repeated(data.draw(exprs(shape=S, depth=3)), data.draw(exprs(shape=N, depth=3)))
    bindings, body = share(root)
    assert inline(bindings, body) == root
    names = [n for n, _ in bindings]
    assert len(set(names)) == len(names) and not set(names) & set(variables(root))
    for k, (_, node) in enumerate(bindings):                       # each binding uses only earlier names
        assert set(variables(node)) - set(variables(root)) <= set(names[:k])
    assert bindings or size(root) <= 2 * dag_size(root)
    text = to_text_shared(root)
    from strategies import DECLS, random_values
    again = matcalc.parse(text, DECLS)
    values = random_values(np.random.default_rng(0))
    np.testing.assert_allclose(again.evaluate(values), matcalc.Expr(root).evaluate(values), rtol=1e-9, atol=1e-12)


def _depths(root):
    depth = {}
    for n in postorder(root):
        depth[id(n)] = 1 + max((depth[id(c)] for c in n.children()), default=-1)
    return depth[id(root)]


def test_deep_expressions_are_cut_to_bounded_depth_without_recursion():
    node = X
    for k in range(3000):
        node = make("sin" if k % 2 else "tanh", node)
    assert share(node) == ([], node)                                # no repetition: nothing named
    bindings, body = share(node, max_depth=50)
    assert 3000 // 51 <= len(bindings) <= 3000 // 50
    assert all(_depths(n) <= 50 for _, n in bindings) and _depths(body) <= 50
    assert inline(bindings, body) == node


def test_the_chain_s_printed_size_grows_linearly():
    printed = {}
    for L in (16, 32, 64, 128):
        d = matcalc.diff(network(L), "W1")
        bindings, body = share(d.node)
        printed[L] = sum(size(n) for _, n in bindings) + size(body)   # nodes as printed
        assert len(bindings) == L - 1                                 # one name per shared activation
    for L in (16, 32, 64):
        assert printed[2 * L] <= 2.05 * printed[L], printed
    assert size(matcalc.diff(network(128), "W1").node) > 10 * printed[128]   # the unshared tree is quadratic


def test_text_of_the_chain_is_unchanged_by_the_pass():
    d = matcalc.diff(network(9), "W1")
    lines = str(d).splitlines()
    assert lines[:2] == ["t1 = tanh(W1*x)", "t2 = tanh(W2*t1)"] and len(lines) == 9
    assert lines[-1].startswith("(1 - t1.^2) .* (W2'*((1 - t2.^2) .* (W3'*(")
    assert lines[-1].endswith("(W9'*(1 - tanh(W9*t8).^2))))))))))))))))*x'")
    vals = check_values(d.f.node, np.random.default_rng(1))
    np.testing.assert_allclose(matcalc.parse(str(d), d.f.variables).evaluate(vals), d.evaluate(vals), rtol=1e-10)


@pytest.mark.parametrize("min_size", [1, 4, 10])
def test_min_size_bounds_what_is_named(min_size):
    d = matcalc.diff(network(6), "W1")
    bindings, _ = share(d.node, min_size, ratio=0)
    assert bindings and all(not isinstance(n, (Var, Num)) for _, n in bindings)
    assert all(size(inline(bindings[:k], n)) >= min_size for k, (_, n) in enumerate(bindings))


def test_several_roots_share_one_set_of_bindings():
    h = make("tanh", make("mul", Var("W", ("n", "n"), "matrix"), make("sin", X)))
    first, second = make("hadamard", h, h), make("add", h, make("exp", h))
    bindings, (r1, r2) = share_all([first, second], ratio=0)
    assert [(n, to_text(v)) for n, v in bindings] == [("t1", "tanh(W*sin(x))")]
    assert (to_text(r1), to_text(r2)) == ("t1 .* t1", "t1 + exp(t1)")
    inner = make("add", first, X)                                  # a root inside another is named too
    bindings, (r1, r2) = share_all([first, make("hadamard", inner, inner)], ratio=0)
    assert to_text(r1) == "t2" and dict(bindings)["t2"] == make("hadamard", Var("t1", h.shape, "vector"), Var("t1", h.shape, "vector"))
    assert to_text(r2) == "t3 .* t3" and to_text(dict(bindings)["t3"]) == "t2 + x"


def test_equal_subexpressions_built_apart_merge_on_request():
    def h():
        return make("tanh", make("mul", Var("W", ("n", "n"), "matrix"), make("sin", X)))
    root = make("add", make("hadamard", h(), h()), make("hadamard", h(), h()))
    assert share(root) == ([], root)                               # by identity: nothing repeats
    bindings, body = share(root, merge_equal=True)
    assert [to_text(v) for _, v in bindings] == ["tanh(W*sin(x))", "t1 .* t1"] and to_text(body) == "t2 + t2"
    assert inline(bindings, body) == root


def test_a_budget_keeps_small_results_unshared():
    d = matcalc.diff(network(8), "W1")
    assert share(d.node, budget=10 ** 6) == ([], d.node)
    assert share(d.node, budget=10)[0]


# ------------------------------------------------------------------------------ definitions printed once

def test_known_definitions_are_used_by_name_and_not_defined_again():
    h = make("tanh", make("mul", Var("W", ("n", "n"), "matrix"), make("sin", X)))
    root = make("add", make("hadamard", h, make("exp", make("sin", h))), make("exp", make("sin", h)))
    rebuilt_h = make("tanh", make("mul", Var("W", ("n", "n"), "matrix"), make("sin", X)))   # equal, built apart
    bindings, (body,) = share_all([root], 4, ratio=0, merge_equal=True, known=[("t1", rebuilt_h)])
    assert [n for n, _ in bindings] == ["t2"] and to_text(dict(bindings)["t2"]) == "exp(sin(t1))"
    assert to_text(body) == "t1 .* t2 + t2"
    assert inline([("t1", h)] + bindings, body) == root
    assert share_all([root], 4, ratio=100, known=[("t1", h)]) == ([], [root])   # no sharing: nothing named


def _definitions(text: str) -> list:
    """(name, body) of every line t1 = … or where t1 = … (a step's line ends with its rule, [ … ])."""
    import re
    return [(n, b) for n, b in re.findall(r"^\s*(?:where )?(t\d+) = (.*)$", text, flags=re.M) if "    [" not in b]


def _defined_once(text: str) -> None:
    defs = _definitions(text)
    names = [n for n, _ in defs]
    assert len(names) == len(set(names)), f"a name defined twice: {sorted(n for n in names if names.count(n) > 1)}"
    bodies = [b for _, b in defs]
    assert len(bodies) == len(set(bodies)), "one subexpression defined under two names"


@pytest.fixture
def always_shared(monkeypatch):
    import matcalc.present as present
    monkeypatch.setattr(present, "UNSHARED_BUDGET", 0)


def test_cli_prints_each_definition_once_in_the_result_and_its_derivation(always_shared, capsys):
    from matcalc.shell.cli import main
    main(["diff", network(12), "--wrt", "x", "--steps"])
    out = capsys.readouterr().out
    result, derivation = out.split("derivation:")
    assert _definitions(result)                      # the result names its layers t1, t2, …
    _defined_once(out)
    for name, body in _definitions(result):          # the derivation uses them, by the same names
        assert f" = {body}" not in derivation
    assert any(name in derivation for name, _ in _definitions(result))


def test_derivation_alone_lists_the_results_definitions_first(always_shared):
    d = matcalc.diff(network(12), "x")
    text = d.explain()
    _defined_once(text)
    assert _definitions(text)[:len(_definitions(str(d)))] == _definitions(str(d))


def test_index_form_definitions_are_printed_once(always_shared, capsys):
    d = matcalc.diff("logsumexp(W*x)", "x", order=3)
    text = d.explain()
    _defined_once(text)
    assert text.count("softmax(W*x)'*W") == 1 and "t1 = softmax(W*x)" in text
    from matcalc.shell.cli import main
    main(["diff", "logsumexp(W*x)", "--wrt", "x", "--order", "3", "--steps"])
    out = capsys.readouterr().out
    _defined_once(out)
    assert out.count("t1 = softmax(W*x)") == 1      # under the result, not again under the derivation's index line
