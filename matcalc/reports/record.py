"""The derivation record as reports read it: :class:`matcalc.derivation.Step` s and their verdicts.

The engine is moving from its first step type (``kind``, ``rule`` as a name, ``subject``,
``result``, ``note``) to the record of :mod:`matcalc.derivation` (``stage``, ``rule`` a
:class:`Rule`, ``order``, ``before``, ``after``, ``whole``, ``form``, and ``d.verify()``).  Reports
are written against the record; :func:`steps_of` passes it through where the engine gives it, and
otherwise translates the first step type into it, and :func:`verdicts_of` checks each step
numerically when the engine has no ``verify`` of its own yet.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from matcalc.derivation import Rule, Step, Verdict, named, rule_of
from matcalc.errors import MatcalcError
from matcalc.ir.nodes import Node, Var, postorder, variables

TOLERANCE = 1e-5

_STAGE = {"function": "function", "differential": "differential", "collected": "collect",
          "canonical": "identify", "identified": "identify", "simplified": "simplify", "result": "result"}


def _form_of(df: Node, x: Var) -> str:
    """How a derivative is identified from df: as ∂f/∂s, a gradient, a Jacobian, or vec(df) = J·vec(dX)."""
    from matcalc.ir.shapes import is_scalar, is_vector
    if is_scalar(x.shape):
        return "derivative"
    if is_scalar(df.shape):
        return "gradient"
    return "jacobian" if is_vector(df.shape) and is_vector(x.shape) else "vec"


def _rule(kind: str, name: str, note: str) -> Optional[Rule]:
    if not name:
        return None
    if kind == "differential":
        from matcalc.calculus.differential import DIFF_RULES
        fn = next((f for f in DIFF_RULES.values() if f.__name__ == name), None)
        if fn is not None:
            return rule_of(fn)
    if kind == "simplified":
        from matcalc.simplify import engine
        fn = getattr(engine, name, None)
        if callable(fn):
            return rule_of(fn)
    return named(name.replace(" ", "_"), name)


def _direction(node: Node, taken: set) -> Optional[Var]:
    return next((n for n in postorder(node) if isinstance(n, Var) and n.name not in taken
                 and n.name.startswith("d")), None)


def steps_of(d) -> list:
    """The steps of the derivative ``d`` as :class:`matcalc.derivation.Step` s."""
    steps = list(d.steps)
    if not steps or hasattr(steps[0], "stage"):
        return steps
    taken = set(variables(d.f.node)) | {d.wrt.name}
    out: list = []
    current, order, df = d.f.node, 1, None
    for s in steps:
        stage, rule = _STAGE[s.kind], _rule(s.kind, s.rule, s.note)
        if s.kind == "function":
            out.append(Step("function", None, 0, None, s.result, check="none"))
        elif s.kind == "differential":
            out.append(Step("differential", rule, 1, s.subject, s.result, check="differential", wrt=d.wrt,
                            direction=_direction(s.result, taken)))
        elif s.kind == "collected":
            df = s.result
            out.append(Step("collect", rule, order, current, s.result, check="differential", wrt=d.wrt,
                            direction=_direction(s.result, taken)))
        elif s.kind == "canonical":
            out.append(Step("identify", rule, order, df, s.result, check="equal",
                            direction=_direction(s.result, taken)))
        elif s.kind == "identified" and s.rule == "index form":
            out.append(Step("index", named("index_form", "the multilinear form, entry by entry at unit directions"),
                            d.order, None, s.result, check="none", form="index"))
        elif s.kind == "identified":
            out.append(Step("identify", rule, order, df, s.result, check="identify", wrt=d.wrt,
                            direction=_direction(df, taken), form=_form_of(df, d.wrt)))
            current = s.result
        elif s.kind == "simplified":
            out.append(Step("simplify", rule, order, s.subject, s.result, check="equal"))
        elif s.kind == "result":
            out.append(Step("result", rule, order, current, s.result, check="equal"))
            current, order = s.result, order + 1
        else:
            out.append(Step(stage, rule, order, s.subject, s.result, check="none"))
    return out


# ----------------------------------------------------------------------------------- verdicts

def verdicts_of(d, steps: list, seed: int = 0) -> list:
    """One :class:`Verdict` per step: the engine's ``verify`` where it has one, else checked here."""
    if hasattr(d, "verify") and steps and steps == list(d.steps):
        return list(d.verify(seed=seed))
    from matcalc.numeric.check import dimension_sizes, random_values
    rng = np.random.default_rng(seed)
    roots = [d.f.node, d.wrt] + [s.direction for s in steps if isinstance(getattr(s, "direction", None), Var)]
    sizes = dimension_sizes(*roots)
    values = _point(d.f.node, rng, sizes)
    values.update({k: v for k, v in random_values(d.wrt, rng, sizes=sizes).items() if k not in values})
    for s in steps:
        if isinstance(s.direction, Var) and s.direction.name not in values:
            values.update(random_values(s.direction, rng, sizes=sizes))
    return [_verdict(s, values, sizes) for s in steps]


def _point(f: Node, rng, sizes) -> dict:
    from matcalc.numeric.check import random_values
    from matcalc.numeric.evaluate import evaluate
    vals = {}
    for positive in (False, True):
        vals = random_values(f, rng, positive, sizes=sizes)
        try:
            if np.all(np.isfinite(evaluate(f, {**sizes, **vals}))):
                return vals
        except MatcalcError:
            continue
    return vals


def _value(node: Node, values: dict, sizes: dict):
    from matcalc.numeric.evaluate import evaluate_node
    return evaluate_node(node, {**sizes, **values})


def _verdict(s: Step, values: dict, sizes: dict) -> Verdict:
    from matcalc.numeric.check import relative_error
    try:
        if s.check == "none" or s.before is None or not isinstance(s.after, Node):
            return Verdict(s, True, None, "a statement")
        if s.check == "equal":
            got, want = _value(s.after, values, sizes), _value(s.before, values, sizes)
            if got.shape != want.shape and got.size == want.size:   # vec(dF) = J·vec(dX)
                want = want.reshape(got.shape, order="F")
            err = relative_error(got, want)
        elif s.check == "differential":
            err = _differential_error(s, values, sizes)
        elif s.check == "identify":
            err = _identify_error(s, values, sizes)
        else:
            return Verdict(s, True, None, "not checked numerically")
    except (MatcalcError, KeyError, ValueError) as why:
        return Verdict(s, False, None, f"could not be evaluated: {why}")
    return Verdict(s, bool(err <= TOLERANCE), err)


def _differential_error(s: Step, values: dict, sizes: dict) -> float:
    """d(before) in the direction: a central difference of ``before`` against ``after``."""
    from matcalc.numeric.check import relative_error
    x, dx = s.wrt.name, s.direction.name
    base = np.asarray(values[x], dtype=float)
    step = np.asarray(values[dx], dtype=float)
    h = 1e-6 * max(1.0, float(np.max(np.abs(base), initial=0.0)))
    plus = _value(s.before, {**values, x: _user(base + h * step)}, sizes)
    minus = _value(s.before, {**values, x: _user(base - h * step)}, sizes)
    return relative_error(_value(s.after, values, sizes), (plus - minus) / (2 * h))


def _identify_error(s: Step, values: dict, sizes: dict) -> float:
    """The derivative ``after`` contracted with the direction gives the differential ``before``."""
    from matcalc.numeric.check import relative_error
    g = _value(s.after, values, sizes)
    dx = _value(s.direction, values, sizes)
    df = _value(s.before, values, sizes)
    if s.form == "gradient":
        got = np.array([[float(np.sum(g * dx))]])
    elif s.form == "derivative":
        got = g * float(dx[0, 0])
    elif s.form == "vec":
        got = (g @ dx.reshape(-1, order="F")).reshape(df.shape, order="F")
    else:
        got = g @ dx
    return relative_error(got, df)


def _user(a: np.ndarray):
    return float(a) if a.ndim == 0 else a
