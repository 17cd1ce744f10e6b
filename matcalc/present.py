"""The derivation as text: one line per step, shared by the CLI, the REPL and ``Derivative.explain``.

Each line says what the step states and which rule it applied, read from the step's data (stage,
rule, order, before, after); nothing here computes mathematics.  With verdicts from
``Derivative.verify`` each line carries ✓ or ✗ and the measured error.
"""
from __future__ import annotations

from itertools import count
from typing import Optional

from matcalc.ir.nodes import Node, Var
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
    if isinstance(node, Node):
        return to_text(_named(node, names) if names else node)
    return str(node)


def _named(root: Node, names: dict, define: bool = False) -> Node:
    """``root`` with each named subexpression replaced by a variable of that name (all but the
    root itself when ``define``); the traversal stops at named nodes, so the cost is the size of
    what is printed."""
    if not define and id(root) in names:
        return names[id(root)]
    done: dict[int, Node] = {}
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if node is not root and id(node) in names:
            done[id(node)] = names[id(node)]
            continue
        kids = node.children()
        if not kids:
            done[id(node)] = node
        elif expanded:
            new = tuple(done[id(k)] for k in kids)
            done[id(node)] = node if all(a is b for a, b in zip(new, kids)) else _rebuild(node, new)
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in done)
    return done[id(root)]


def _rebuild(node, kids):
    from matcalc.ir.nodes import Op
    return Op(node.op, kids, node.shape)


class Names(dict):
    """Shared subexpressions by name: ``id(node) → Var`` for every node (of any identity) equal to
    a named one, and ``definitions``, the (name, node) pairs in an order where each definition
    only uses names defined before it."""

    def __init__(self):
        super().__init__()
        self.definitions: list = []


def shared_names(roots: list, min_size: int = 8) -> Names:
    """Names t1, t2, … for the subexpressions that occur under more than one parent among
    ``roots`` (or as a root and inside another), are at least ``min_size`` nodes large, when the
    unshared text would exceed :data:`UNSHARED_BUDGET` nodes; empty when it is small enough to
    print as it is.  Equal subexpressions are merged by hash-consing (each node keyed by its own
    data and its children's representatives), so the cost is one visit per distinct node."""
    rep: dict[int, Node] = {}          # id(node) -> the representative of its class
    table: dict = {}
    sizes: dict[int, int] = {}         # by representative id
    parents: dict[int, int] = {}
    order: list = []
    taken: set = set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in rep:
                continue
            kids = node.children()
            if not expanded:
                stack.append((node, True))
                stack.extend((k, False) for k in kids if id(k) not in rep)
                continue
            key = (type(node), node._key(), tuple(id(rep[id(k)]) for k in kids))
            r = table.setdefault(key, node)
            rep[id(node)] = r
            if r is node:
                sizes[id(r)] = 1 + sum(sizes[id(rep[id(k)])] for k in kids)
                order.append(r)
                for k in kids:
                    parents[id(rep[id(k)])] = parents.get(id(rep[id(k)]), 0) + 1
                if isinstance(node, Var):
                    taken.add(node.name)
        r = rep[id(root)]
        parents[id(r)] = parents.get(id(r), 0) + 1
    names = Names()
    if sum(sizes[id(rep[id(r)])] for r in roots) <= UNSHARED_BUDGET:
        return names
    fresh = (f"t{i}" for i in count(1) if f"t{i}" not in taken)
    chosen: dict[int, Var] = {}
    for r in order:  # a postorder: definitions come before their uses
        if sizes[id(r)] >= min_size and parents.get(id(r), 0) > 1 and r.children():
            kind = "scalar" if r.shape == (1, 1) else "vector" if r.shape[1] == 1 else "matrix"
            chosen[id(r)] = Var(next(fresh), r.shape, kind)
            names.definitions.append((chosen[id(r)], r))
    for i, r in rep.items():
        if id(r) in chosen:
            names[i] = chosen[id(r)]
    return names


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
        return f"{_text(step.before, names)} → {after}    [{rule.name}]"
    if step.stage == "identify" and step.check == "identify":
        return f"{derivative_name(x, step.order, step.form)} = {after}    [{rule.title}]"
    if step.stage == "identify":
        return f"{_text(step.before, names)} = {after}{tag}"
    if step.stage == "result":
        return f"{derivative_name(x, step.order, step.form)} = {after}"
    if step.stage == "restate":
        return f"so {differential_name(step, x)} = {after}    [{rule.title}]"
    if step.stage == "index":
        return f"{after}".replace("\n", "\n    ")
    return f"{step.stage}: {_text(step.before, names)} → {after}"


def derivation_text(d, verdicts: Optional[list] = None, full: bool = True) -> str:
    """The derivation of ``d``, one step a line, numbered; with ``verdicts``, each line begins with
    ✓ or ✗ and the measured error.  ``full=False`` leaves out the adjoint sweep's rule-by-rule
    lines and the rewrites of subterms, keeping what a student reads first."""
    x = d.wrt.name
    shown = [(i, s) for i, s in enumerate(d.steps) if full or not _detail(s)]
    names = shared_names([n for _, s in shown for n in (s.before, s.after, s.whole) if isinstance(n, Node)])
    lines = [f"where {v.name} = {to_text(_named(node, names, define=True))}" for v, node in names.definitions]
    for i, step in shown:
        line = step_line(step, x, names)
        if verdicts is not None:
            v = verdicts[i]
            mark = ("✓" if v.ok else "✗") + (f" {v.error:.0e}" if v.error is not None else "      ")
            line = f"{mark:<8} {line}"
        lines.append(line)
    return "\n".join(lines)


def _detail(step) -> bool:
    """A line of detail: one adjoint rule of the sweep, or one rewrite of a subterm."""
    if step.stage == "identify" and step.check != "identify":
        return True
    return step.stage in ("collect", "simplify") and (step.rule is None or step.rule.name != "collect")


def outline(d) -> list:
    """The derivation in brief, for a side-by-side view: f, df collected, the result, and df
    restated with it."""
    x = d.wrt.name
    keep = [s for s in d.steps if s.stage in ("function", "result", "restate")
            or (s.stage == "collect" and s.rule is not None and s.rule.name == "collect")]
    return [step_line(s, x).split("    [")[0] for s in keep]
