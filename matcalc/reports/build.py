"""Build a report's document from what the engine computed: the parse, the derivation record and
its verdicts, the shortcut's work, the finite-difference check.  No sentence here is a template
with a blank for a result: every formula, rule, shape, error and reason comes from the engine.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence

from matcalc.ir.nodes import Node, Var, variables
from matcalc.reports.model import (ARROW, EQ, Alert, Code, CodeBlock, Document, Heading, Math, Para, StepItem,
                                   Steps, Strong, Sym, Table, differential_of, ident, partial, word)
from matcalc.reports.share import shared

STAGE_TITLES = {
    "function": "The function", "differential": "Differentials of the parts", "collect": "df collected",
    "identify": "Adjoint and identification", "simplify": "Simplification", "result": "The result",
    "restate": "Restated", "index": "Index form", "delta": "Delta elimination",
}


@dataclass(frozen=True)
class Problem:
    """What the user asked: the function's text, declarations, variables and order."""
    text: str
    decls: Optional[str]
    wrt: tuple
    order: int = 1


def _decl_text(decls) -> Optional[str]:
    if decls is None or isinstance(decls, str):
        return decls
    return "; ".join(f"{k}: {v}" for k, v in decls.items())


def shape_words(shape: tuple) -> str:
    if tuple(shape) == (1, 1):
        return "scalar"
    if shape[1] == 1:
        return f"{shape[0]}"
    return f"{shape[0]}×{shape[1]}"


# ----------------------------------------------------------------------------- the problem

def problem_section(doc: Document, f: Node, program, text: str) -> None:
    """The function as given and typeset, and its variables: kind, type, and declared or how the
    front end inferred it (its own reason)."""
    from matcalc.front.parser import type_of_var
    doc.add(Heading(2, "The problem"),
            Para(("The function, as given:",)), CodeBlock(text.strip()),
            Math((ident("f"), EQ, f), display=True))
    inferred = getattr(program, "inferred", {}) or {}
    rows = []
    for name, var in variables(f).items():
        how = ("inferred: ", inferred[name]) if name in inferred else ("declared",)
        rows.append(((Math((ident(name),)),), (var.kind,), (Code(str(type_of_var(var))),), how))
    doc.add(Table(("variable", "kind", "type", "declared or inferred"), tuple(rows)))


# ----------------------------------------------------------------------------- one derivation

def _name_of(d, order: int = None, form: str = None) -> Sym:
    """∂f/∂X, ∂²f/∂x², ∂vec(f)/∂vec(X): the name of the derivative a step identifies."""
    order = d.order if order is None else order
    form = d.form if form is None else form
    if form == "vec" and order == 1:
        return partial("f", d.wrt.name, 1, vec=True)
    if form == "vec":
        from matcalc.present import derivative_name
        text = derivative_name(d.wrt.name, order, form)
        return word(text)
    return partial("f", d.wrt.name, order)


def _order(step) -> int:
    """The differentiation a step belongs to (1 where the record holds no int there)."""
    return step.order if isinstance(step.order, int) else 1


def _differential_name(step) -> Sym:
    """df, d(∂f/∂x) at order 2, dᵏf for a multilinear form (as :mod:`matcalc.present` says)."""
    if getattr(step, "directions", ()):
        return differential_of("f", len(step.directions))
    if _order(step) <= 1:
        return differential_of("f")
    inner = partial("f", step.wrt.name if step.wrt is not None else "x", _order(step) - 1)
    return Sym(f"d({inner.text})", rf"\mathrm{{d}}\left({inner.latex}\right)",
               f'<mrow><mi>d</mi><mrow><mo stretchy="true">(</mo>{inner.mathml}<mo stretchy="true">)</mo></mrow></mrow>')


def _expr(value):
    return value if isinstance(value, Node) else Sym(str(value), r"\text{" + str(value) + "}", f"<mtext>{value}</mtext>")


_INSIDE = Sym("within it:", r"\text{within it:}\quad", "<mtext>within it:&#xA0;</mtext>")
_LPAR = Sym("(", r"\left(", '<mo stretchy="false">(</mo>')
_RPAR = Sym(")", r"\right)", '<mo stretchy="false">)</mo>')


def _formula(step, d) -> tuple:
    """What a step says, as an equation of the engine's expressions, and the subterm rewrite it
    made (for a deep rewrite, ``before → after`` inside the ``whole``)."""
    after = step.after
    rule_name = getattr(step.rule, "name", "")
    if step.stage == "function":
        return Math((ident("f"), EQ, after)), None
    if step.stage == "differential":
        return Math((word("d"), _LPAR, step.before, _RPAR, EQ, after)), None
    if step.stage in ("collect", "simplify") and rule_name == "collect":
        return Math((_differential_name(step), EQ, after)), None
    if step.stage in ("collect", "simplify"):
        if step.whole is not None:
            return Math((EQ, step.whole)), Math((step.before, ARROW, after))
        if step.within:   # made while the rule of the step above built its result (shown whole there)
            return Math((_INSIDE, step.before, ARROW, after)), None
        return Math((step.before, EQ, after)), None
    if step.stage == "identify" and step.check == "identify":
        return Math((_name_of(d, _order(step), step.form), EQ, after)), None
    if step.stage == "identify":
        return Math((step.before, EQ, after)), None
    if step.stage == "result":
        return Math((_name_of(d, _order(step), step.form or None), EQ, after)), None
    if step.stage == "restate":
        return Math((Sym("so", r"\text{so}\quad", "<mtext>so&#xA0;</mtext>"), _differential_name(step), EQ, after)), None
    if step.stage == "index":
        if isinstance(after, Node):
            return Math((_differential_name(step), EQ, after)), None
        return Math((Sym(str(after), after.latex() if hasattr(after, "latex") else str(after), ""),)), None
    return Math((_expr(after),)), None


def directions_of(steps) -> frozenset:
    """The names of the direction variables (dX, dx1, …) the steps use."""
    names = set()
    for s in steps:
        for v in (getattr(s, "direction", None), *getattr(s, "directions", ())):
            if isinstance(v, Var):
                names.add(v.name)
    return frozenset(names)


def shared_math(m: Math) -> tuple:
    """``m`` with repeated subexpressions named (``t1``, …), and the definitions as formulas."""
    parts, where, taken = [], [], set()
    for p in m.parts:
        if isinstance(p, Node):
            defs, p = shared(p, taken=taken)
            taken |= {v.name for v, _ in defs}
            where += [Math((ident(v.name), EQ, n)) for v, n in defs]
        parts.append(p)
    where = [replace(w, differentials=m.differentials) for w in where]
    return (Math(tuple(parts), m.display, m.differentials) if where else m), tuple(where)


def identity_math(rule) -> Optional[Math]:
    """A rule's identity, parsed from the matcalc text and typeset; None where it has none (or
    where its text does not parse: then the writers show it as code)."""
    if rule is None or not getattr(rule, "identity", ""):
        return None
    from matcalc.errors import MatcalcError
    from matcalc.front.parser import parse_node
    from matcalc.front.parser import type_of_var
    try:
        lhs, rhs = rule.identity.split(" = ", 1)
        where = getattr(rule, "where", "") or None
        if lhs.startswith("d(") and lhs.endswith(")"):
            inner, _ = parse_node(lhs[2:-1], where)
            dirs = "; ".join(f"d{n}: {type_of_var(v)}" for n, v in variables(inner).items())
            full = "; ".join(p for p in (where, dirs) if p)
            right, _ = parse_node(rhs, full or None)
            return Math((word("d"), Sym("(", r"\left(", '<mo stretchy="false">(</mo>'), inner,
                         Sym(")", r"\right)", '<mo stretchy="false">)</mo>'), EQ, right),
                        differentials=frozenset(f"d{n}" for n in variables(inner)))
        left, _ = parse_node(lhs, where)
        right, _ = parse_node(rhs, where)
        names = set(variables(left)) | set(variables(right))
        dnames = {n for n in names if len(n) > 1 and n[0] == "d"}      # identities name directions dA, ds
        return Math((left, EQ, right), differentials=frozenset(dnames))
    except (MatcalcError, ValueError):
        return None


def derivation_section(doc: Document, d, seed: int = 0) -> None:
    """The numbered steps of one derivative, grouped by stage, each with its verdict."""
    steps = list(d.steps)
    verdicts = d.verify(seed=seed)
    dnames = directions_of(steps)
    mark = lambda m: m if m is None else replace(m, differentials=dnames)  # noqa: E731
    groups: list = []
    number = 0
    for step, verdict in zip(steps, verdicts):
        number += 1
        rule = step.rule
        formula, detail = _formula(step, d)
        formula, where = shared_math(mark(formula))
        detail, where = mark(detail), tuple(mark(w) for w in where)
        title = getattr(rule, "title", "") or ""
        identity = identity_math(rule)
        if identity is not None or title == getattr(rule, "name", None):
            title = ""                  # the typeset identity says what the words said
        item = StepItem(number, step.stage, formula, getattr(rule, "name", "") or "",
                        title, identity, getattr(rule, "cite", "") or "",
                        bool(verdict.ok), verdict.error, verdict.note if not verdict.ok or verdict.error is None else "",
                        detail, getattr(rule, "identity", "") or "", where)
        if not verdict.ok:
            doc.failures.append(f"∂f/∂{d.wrt.name}, step {number} ({step.stage}, {item.rule_name}): "
                                f"{verdict.note or f'error {verdict.error:.1e}'}")
        title = STAGE_TITLES.get(step.stage, step.stage)
        if _order(step) > 1 and step.stage != "index":
            title += f" (order {_order(step)})"
        if not groups or groups[-1][0] != title:
            groups.append((title, []))
        groups[-1][1].append(item)
    for title, items in groups:
        doc.add(Steps(title, tuple(items)))


def result_section(doc: Document, d) -> None:
    doc.add(Heading(3, "Result"))
    if d.node is not None:
        formula, where = shared_math(Math((_name_of(d), EQ, d.node), display=True))
        doc.add(formula)
        if where:
            doc.add(Para(("where",)), *(Math(w.parts, display=True) for w in where))
    elif d.index is not None:
        doc.add(Para((Code(str(d.index)),)), Math((Sym(str(d.index), d.index.latex(), ""),), display=True))
    else:
        doc.add(Math((differential_of("f", d.order), EQ, d.multilinear), display=True))
    doc.add(Para(("Shape and layout: ", Code(d.layout), ".")))
    if d.form == "vec":
        doc.add(Para(("The vec (Kronecker) form: ", Code(f"vec(dF) = J·vec(d{d.wrt.name})"),
                      f", J of shape {_vec_shape(d)}, vec stacking columns.")))
    if d.form == "index":
        why = next((s.form for s in d.steps if s.stage == "index"), "")
        doc.add(Para(("No matrix form: ", why or "the engine gives this derivative as an index form", ".")))
    if d.convention:
        doc.add(Para((f"{d.wrt.name} is symmetric: ", d.convention, ".")))
    if d.order == 2:
        hvp_section(doc, d)
    doc.add(Para(("As matcalc text: ",)), CodeBlock(str(d)))


def hvp_section(doc: Document, d) -> None:
    """The Hessian-vector product: the engine's collected differential of the gradient in a
    direction v is H·v without forming H; shown where it prints shorter than H·v itself."""
    from matcalc.printing.text import to_text_shared
    collected = [s for s in d.steps if s.stage == "collect" and getattr(s.rule, "name", "") == "collect"
                 and _order(s) == 2 and isinstance(s.after, Node)]
    restated = [s for s in d.steps if s.stage == "restate" and _order(s) == 2 and isinstance(s.after, Node)]
    if not collected or not restated:
        return
    hvp, full = collected[-1], restated[-1]
    v = hvp.direction.name if hvp.direction is not None else "v"
    short, long = len(to_text_shared(hvp.after)), len(to_text_shared(full.after))
    if short < long:
        formula, where = shared_math(Math((ident("H"), hvp.direction, EQ, hvp.after), display=True,
                                          differentials=frozenset({v})))
        doc.add(Para((Strong("Hessian-vector product: "), f"the collected differential of the gradient in the "
                      f"direction {v} (step {d.steps.index(hvp) + 1}, verified above) gives H·{v} without "
                      f"forming H, in {short} characters against {long} for H·{v} with H written out:",)),
                formula, *(Math(w.parts, display=True) for w in where))
    else:
        doc.add(Para((f"Hessian-vector product: the collected differential of the gradient (step "
                      f"{d.steps.index(hvp) + 1}) is no shorter than H·{v} here ({short} against {long} "
                      f"characters), so the Hessian above is the compact form.",)))


def _vec_shape(d) -> str:
    return shape_words(d.node.shape) if d.node is not None else "?"


# ----------------------------------------------------------------------------- the shortcut

def shortcut_section(doc: Document, results: Sequence) -> None:
    from matcalc.consistency.explain import _coef_latex, _num_text, _shape
    doc.add(Heading(2, "The dimension-consistency shortcut, side by side"),
            Para(("Treat every matrix as a number, differentiate with scalar rules, check each product's "
                  "dimensions, then reorder and transpose until the shape fits; compared with the true "
                  "derivative above.",)))
    rows = []
    for r in results:
        x = r.wrt.name
        if r.verdict == "not applicable":
            rows.append(((Math((partial("f", x),)),), ("—",), ("—",), ("—",), ("—",),
                         (Strong(r.verdict), ": ", r.explanation)))
            continue
        guess, checks, cands = [], [], []
        for k, t in enumerate(r.guess):
            c = _num_text(t.coefficient)
            parts = [Sym(c, _coef_latex(t.coefficient), f"<mn>{c}</mn>" if not c.startswith("-")
                         else f'<mrow><mo form="prefix">−</mo><mn>{c[1:]}</mn></mrow>')] if c not in ("", "1") else []
            parts = [Sym("-", "-", '<mo form="prefix">−</mo>')] if c == "-" else parts
            for fct in t.factors:
                compound = fct.children() and getattr(fct, "op", "") in ("add", "sub", "neg")
                parts += ([_OPEN, fct, _CLOSE] if compound else [fct])
            if k:
                guess.append(" + ")
            guess.append(Math(tuple(parts)))
            shapes = ", ".join(f"{to_text_f(f)}: {_shape(f.shape)}" for f in t.factors)
            checks.append("consistent" if t.consistent else f"inconsistent ({t.problem}; {shapes})")
            cands += [Math((cand,)) for cand in t.candidates] or ["none"]
        adjusted = (Math((r.adjusted,)),) if r.adjusted is not None else ("—",)
        rows.append(((Math((partial("f", x),)), f" ({_shape(r.target)})"), tuple(guess), ("; ".join(checks),),
                     tuple(_join(cands)), adjusted, (Strong(r.verdict), ": ", r.explanation)))
    doc.add(Table(("derivative", "scalar guess", "dimension check", "arrangements of the right shape",
                   "shortcut's answer", "verdict"), tuple(rows)))


def to_text_f(node: Node) -> str:
    from matcalc.printing.text import to_text
    return to_text(node)


def _join(items: list) -> list:
    out = []
    for k, it in enumerate(items):
        if k:
            out.append(", ")
        out.append(it)
    return out


_OPEN = Sym("(", "(", '<mo stretchy="false">(</mo>')
_CLOSE = Sym(")", ")", '<mo stretchy="false">)</mo>')


# ----------------------------------------------------------------------------- numeric check

def numeric_section(doc: Document, problem: Problem, derivatives: Sequence) -> None:
    from matcalc.numeric.check import check, dimension_sizes
    doc.add(Heading(2, "Numeric verification of the whole result"),
            Para(("Each derivative evaluated at random inputs against central finite differences "
                  "(every dimension a different size; maximum relative error over two draws).",)))
    rows = []
    for d in derivatives:
        sizes = dimension_sizes(d.f.node, d.wrt)
        error = check(problem.text, d.wrt.name, problem.decls, d.order)
        ok = error <= 1e-5
        if not ok:
            doc.failures.append(f"the whole derivative w.r.t. {d.wrt.name}: finite-difference error {error:.1e}")
        sizes_text = ", ".join(f"{k} = {v}" for k, v in sizes.items()) or "all fixed"
        rows.append(((Math((_name_of(d),)),), (sizes_text,), (f"{error:.1e}",), ("✓" if ok else "✗",)))
    doc.add(Table(("derivative", "sizes", "max relative error", "verdict"), tuple(rows)))


# ----------------------------------------------------------------------------- generated code

def code_section(doc: Document, problem: Problem, derivatives: Sequence) -> None:
    """The NumPy module ``matcalc.codegen`` generates for the value and gradient (and Hessian), run
    once at a random point against ``Derivative.evaluate``."""
    import numpy as np

    from matcalc.errors import MatcalcError
    from matcalc.generate.api import codegen, compile as compile_module
    from matcalc.numeric.check import finite_point
    hessian = problem.order == 2
    doc.add(Heading(2, "Generated code"))
    try:
        source = codegen(problem.text, list(problem.wrt), "numpy", problem.decls, hessian=hessian)
        compiled = compile_module(problem.text, list(problem.wrt), "numpy", problem.decls, hessian=hessian)
    except MatcalcError as e:
        doc.add(Para(("No code is generated for this function: ", str(e).splitlines()[0])))
        return
    values = finite_point(derivatives[0].f.node, np.random.default_rng(0))
    for d in derivatives:
        values.setdefault(d.wrt.name, finite_point(d.wrt, np.random.default_rng(1))[d.wrt.name])
    if hessian:
        got = [compiled.hessian(**values)]
    else:
        _, grads = compiled.value_and_grad(**values)
        got = list(grads) if len(derivatives) > 1 else [grads]
    errors = [float(np.max(np.abs(np.asarray(g) - np.asarray(d.evaluate(values))), initial=0.0)) for g, d in
              zip(got, derivatives)]
    worst = max(errors)
    ok = worst <= 1e-8 * max(1.0, max(float(np.max(np.abs(np.asarray(d.evaluate(values))), initial=0.0))
                                      for d in derivatives))
    if not ok:
        doc.failures.append(f"generated code differs from the derivative by {worst:.1e}")
    what = "hessian" if hessian else "value_and_grad"
    doc.add(Para((Code(f"matcalc.codegen(f, wrt={list(problem.wrt)!r}, target='numpy'"
                       + (", hessian=True" if hessian else "") + ")"),
                  f" gives this module (the JAX and torch targets are the same call with target='jax' or 'torch'). "
                  f"Its {what}, run at the random point of the check, differs from the derivative by at most "
                  f"{worst:.1e} {'✓' if ok else '✗'}.")),
            CodeBlock(source))


# ----------------------------------------------------------------------------- the whole report

def derivative_document(text: str, wrt: Sequence[str], decls=None, order: int = 1, seed: int = 0,
                        title: Optional[str] = None) -> Document:
    import matcalc
    from matcalc.front.parser import parse_node
    decls = _decl_text(decls)
    f, program = parse_node(text, decls)
    doc = Document(title or f"Derivation report: f = {to_text_f(f)}", source=text)
    problem = Problem(text, decls, tuple(wrt), order)
    problem_section(doc, f, program, text)
    derivatives = []
    for name in wrt:
        d = matcalc.diff(text, name, decls, order)
        derivatives.append(d)
        label = "∂f/∂" + name if order == 1 else f"∂^{order}f/∂{name}^{order}"
        doc.add(Heading(2, f"The derivation of {label}"))
        derivation_section(doc, d, seed)
        result_section(doc, d)
    if order == 1 and f.shape == (1, 1):
        shortcut_section(doc, [matcalc.shortcut(text, name, decls) for name in wrt])
    numeric_section(doc, problem, derivatives)
    if f.shape == (1, 1) and order <= 2 and (order == 1 or len(wrt) == 1):
        code_section(doc, problem, derivatives)
    summarise(doc)
    return doc


def summarise(doc: Document) -> None:
    """The verification summary, put first: a failed step is said at the top."""
    steps = [it for b in doc.blocks if isinstance(b, Steps) for it in b.items]
    errors = [it.error for it in steps if it.error is not None]
    if doc.failures:
        head = Alert(("Verification FAILED for ", str(len(doc.failures)), " item(s): ", "; ".join(doc.failures), "."))
    else:
        worst = f"{max(errors):.1e}" if errors else "—"
        statements = sum(1 for it in steps if it.error is None and it.note == "a statement")
        unchecked = sorted({it.note for it in steps if it.error is None and it.note != "a statement"})
        rest = f"; {statements} {'is a statement' if statements == 1 else 'are statements'}" if statements else ""
        rest += f"; {len(steps) - len(errors) - statements} not checked ({', '.join(unchecked)})" if unchecked else ""
        head = Para((Strong("Verified: "), f"{len(errors)} of {len(steps)} steps checked numerically, all ✓ "
                     f"(largest relative error {worst}){rest}; the whole result agrees with finite differences.",))
    doc.blocks.insert(0, head)
