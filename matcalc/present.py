"""The derivation as text: one line per step, shared by the CLI, the REPL and ``Derivative.explain``.

Each line says what the step states and which rule it applied, read from the step's data (stage,
rule, order, before, after); nothing here computes mathematics.  With verdicts from
``Derivative.verify`` each line carries ✓ or ✗ and the measured error.
"""
from __future__ import annotations

from typing import Optional

from matcalc.ir.nodes import Node
from matcalc.printing.share import share_all, share_originals
from matcalc.printing.text import to_text

#: Above this many printed nodes in all, repeated subexpressions are named once (t1 = …).
UNSHARED_BUDGET = 20_000


def _sup(k: int) -> str:
    return "" if k == 1 else "²³⁴⁵⁶⁷⁸⁹"[k - 2] if 2 <= k <= 9 else f"^{k}"


def derivative_name(x: str, order: int, form: str = "") -> str:
    """∂f/∂x, ∂²f/∂x², or ∂vec(f)/∂vec(x) for a Kronecker form."""
    if form == "vec":
        inner = "∂vec(f)" if order == 1 else f"∂vec(∂{_sup(order - 1)}f/∂{x}{_sup(order - 1)})"
        return f"{inner}/∂vec({x})"
    return f"∂{_sup(order)}f/∂{x}{_sup(order)}"


def differential_name(step, x: str) -> str:
    """What a collected differential is the differential of: df, d(∂f/∂x), or dᵏf."""
    if step.directions:
        return f"d{_sup(len(step.directions))}f"
    return "df" if step.order <= 1 else f"d({derivative_name(x, step.order - 1)})"


def _text(node, names: Optional[dict] = None) -> str:
    """A step's expression as text; ``names`` maps a printed root (by identity) to its form in
    terms of the shared names t1, t2, … (from :func:`matcalc.printing.share.share_all`)."""
    if isinstance(node, Node):
        return to_text(names.get(id(node), node) if names else node)
    return str(node)


def step_line(step, x: str, names: Optional[dict] = None) -> str:
    """A step as one line: what it states, and the rule it applied (``names``: subexpressions
    printed by name, from :func:`shared_names`)."""
    rule = step.rule
    tag = ""
    if rule is not None:
        tag = f"    [{rule.name}" + (f": {rule.identity}" if rule.identity else "") + \
              (f", {rule.cite}" if rule.cite else "") + "]"
    after = _text(step.after, names)
    if step.stage == "function":
        return f"f = {after}"
    if step.stage == "differential":
        return f"d({_text(step.before, names)}) = {after}{tag}"
    if step.stage in ("collect", "simplify") and rule is not None and rule.name == "collect":
        return f"{differential_name(step, x)} = {after}    [collected by the rules above]"
    if step.stage in ("collect", "simplify"):
        if step.whole is not None:
            return f"= {_text(step.whole, names)}    [{rule.name}: {_text(step.before, names)} → {after}]"
        if step.within:   # made while the rule of the line above built its result (shown whole there)
            return f"    within it: {_text(step.before, names)} → {after}    [{rule.name}]"
        return f"{_text(step.before, names)} = {after}    [{rule.name}]"
    if step.stage == "identify" and step.check == "identify":
        return f"{derivative_name(x, step.order, step.form)} = {after}    [{rule.title}]"
    if step.stage == "identify":
        return f"{_text(step.before, names)} = {after}{tag}"
    if step.stage == "result":
        return f"{derivative_name(x, step.order, step.form)} = {after}"
    if step.stage == "restate":
        return f"so {differential_name(step, x)} = {after}    [{rule.title}]"
    if step.stage == "index":
        if names is not None and hasattr(step.after, "text"):   # its definitions are printed already
            return step.after.text(where=False)
        return f"{after}".replace("\n", "\n    ")
    return f"{step.stage}: {_text(step.before, names)} → {after}"


def result_definitions(d) -> list:
    """The definitions ``str(d)`` prints with the result: ``[(name, text, node in full)]`` (the
    shared subexpressions t1 = …, or the index form's "where" list)."""
    if d.node is None and d.index is not None:
        return [(name, to_text(node), node) for name, node in d.index.where]
    root = d.node if d.node is not None else d.multilinear
    if root is None:
        return []
    return [(name, to_text(node), whole) for name, node, whole in share_originals(root)]


def derivation_text(d, verdicts: Optional[list] = None, defined: bool = False) -> str:
    """The derivation of ``d``, one step a line; with ``verdicts``, each line begins with ✓ or ✗
    and the measured error.

    Every definition is printed once.  When the lines are long enough to name their repeated
    subexpressions (``where t1 = …``), the result's own definitions (those ``str(d)`` prints) keep
    their names in every line, listed first, and the derivation's further names avoid them;
    ``defined``: the result, with its definitions, was printed just before, so they are not
    listed again.  The index form's definitions are then not repeated under its line either."""
    x = d.wrt.name
    # one sharing pass over every line: a subexpression met in several steps is printed once
    roots = [n for s in d.steps for n in (s.before, s.after, s.whole) if isinstance(n, Node)]
    known = result_definitions(d)
    bindings, rewritten = share_all(roots, 8, ratio=0, budget=UNSHARED_BUDGET, merge_equal=True,
                                    known=[(name, node) for name, _, node in known])
    shared = rewritten is not roots
    names = {id(r): w for r, w in zip(roots, rewritten)} if shared else None
    lines = [] if defined or not shared else [f"where {name} = {text}" for name, text, _ in known]
    lines += [f"where {name} = {to_text(node)}" for name, node in bindings]
    for i, step in enumerate(d.steps):
        line = step_line(step, x, names if names is not None else None)
        if defined and step.stage == "index" and hasattr(step.after, "text"):
            line = step.after.text(where=False)
        if verdicts is not None:
            v = verdicts[i]
            mark = ("✓" if v.ok else "–" if v.undefined else "✗") + (f" {v.error:.0e}" if v.error is not None else "      ")
            line = f"{mark:<8} {line}"
        lines.append(line)
    return "\n".join(lines)


def outline(d) -> list:
    """The derivation in brief, for a side-by-side view: f, df collected, the result, and df
    restated with it."""
    x = d.wrt.name
    keep = [s for s in d.steps if s.stage in ("function", "result", "restate")
            or (s.stage == "collect" and s.rule is not None and s.rule.name == "collect")]
    return [step_line(s, x).split("    [")[0] for s in keep]
