"""The record of a derivation: plain data that knows no engine.

Every pass of the engine (the differential rules, the simplification of df, the adjoint and vec
sweeps, identification, the simplification of the result, the index form, the conv module's delta
elimination) returns its result *and* the :class:`Step` s it really took.  A :class:`Derivation` is
the ordered list of them.  Printers turn steps into text, LaTeX or MathML; ``verify`` (in
:mod:`matcalc.numeric.verify`) checks each step numerically.

A :class:`Rule` is what a step applied: a name, plain words, and its identity written in the
matcalc language, e.g. ``d(A*B) = dA*B + A*dB`` with ``A: matrix(m,n); B: matrix(n,p)`` and the
Matrix Cookbook citation ``MC 37``.  An identity whose left side is ``d(…)`` is a differential
identity: its right side is the differential in the directions ``dA``, ``dB``, … of the
variables; any other identity is an equality that holds for every value of its variables.
Rules are attached to the engine's pure functions with :func:`identity`, and read back with
:func:`rule_of`; one test checks every identity numerically.

Conventions of an identity:

- It is ``left = right`` with spaces around the one ``=``; ``d(f) = df`` for a differential.
- ``where`` declares the variables (``A: matrix(m,n); s: scalar``); names it leaves out are typed
  by inference and the naming convention, as in any matcalc text.  Both sides are read as one
  expression, so they share their dimensions (``0*A = matrix(0)`` gives ``matrix(0)`` A's shape).
- In a differential identity the direction of a variable ``X`` is named ``dX`` and takes ``X``'s
  type: ``where`` declares only ``X`` (declaring ``dX`` too is allowed if the types agree).
  ``df`` is linear in the directions and all variables move at once:
  ``f(X + h·dX, Y + h·dY) = f(X, Y) + h·df + O(h²)``.
- A rule function that serves several ops with one formula each (``d_elementwise``) carries one
  representative :func:`identity` and, with :func:`identities`, a table of one rule per op, read
  back with :func:`rule_for`.

:func:`parse_identity` reads an identity into IR (the parser is imported when it is called, so
this module imports no engine module).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple, Optional

#: The stages of a derivation, in the order they happen.
STAGES = ("function", "differential", "collect", "identify", "simplify", "result", "restate", "index", "delta")


@dataclass(frozen=True)
class Rule:
    """A rule of the engine: ``name`` (the function's name), ``title`` (plain words), ``identity``
    (an equation in the matcalc language, or "" where none can be written), ``where`` (the
    declarations its names need) and ``cite`` (e.g. ``MC 37``)."""

    name: str
    title: str = ""
    identity: str = ""
    where: str = ""
    cite: str = ""

    @property
    def is_differential(self) -> bool:
        return self.identity.startswith("d(")

    def sides(self) -> tuple[str, str]:
        """The identity's two sides as text (``f`` and ``df`` for a differential identity)."""
        lhs, rhs = self.identity.split(" = ", 1)
        if self.is_differential:
            lhs = lhs[2:-1]
        return lhs.strip(), rhs.strip()

    def __str__(self) -> str:
        cite = f", {self.cite}" if self.cite else ""
        return f"{self.name}: {self.identity}{cite}" if self.identity else self.name


def identity(equation: str = "", where: str = "", cite: str = "", title: str = "") -> Callable:
    """Attach a :class:`Rule` to a rule function: ``@identity("d(A*B) = dA*B + A*dB", "A: matrix(m,n); B: matrix(n,p)", "MC 37")``."""
    def attach(fn):
        words = title or " ".join((fn.__doc__ or "").split()).split(". ")[0].rstrip(".")
        fn.rule = Rule(fn.__name__, words, equation, where, cite)
        return fn
    return attach


def rule_of(fn: Callable) -> Rule:
    """The rule a function states (a bare :class:`Rule` named after it where it states none)."""
    found = getattr(fn, "rule", None)
    if isinstance(found, Rule):
        return found
    return Rule(fn.__name__, " ".join((fn.__doc__ or "").split()).split(". ")[0].rstrip("."))


def identities(table: Mapping[str, tuple]) -> Callable:
    """Attach one :class:`Rule` per op to a rule function that serves several ops:
    ``@identities({"exp": ("d(exp(A)) = exp(A) .* dA", "A: matrix(m,n)"), ...})``, each value
    ``(equation, where[, cite[, title]])``.  Read back with :func:`rule_for`."""
    def attach(fn):
        rules = {}
        for op, entry in table.items():
            equation, where, cite, title = (tuple(entry) + ("", "", "", ""))[:4]
            rules[op] = Rule(fn.__name__, title or f"the differential of {op}", equation, where, cite)
        fn.rules = rules
        return fn
    return attach


def rule_for(fn: Callable, op: str) -> Rule:
    """The rule ``fn`` states for ``op`` (from its :func:`identities` table), else :func:`rule_of`."""
    found = getattr(fn, "rules", {}).get(op)
    return found if isinstance(found, Rule) else rule_of(fn)


class ParsedIdentity(NamedTuple):
    """An identity read into IR: ``left`` and ``right`` (f and df for a differential identity)
    and ``directions``, the pairs ``(X, dX)`` of variables and their directions (empty for an
    equality)."""

    left: Any
    right: Any
    directions: tuple


def parse_identity(rule: Rule) -> ParsedIdentity:
    """Both sides of ``rule.identity`` as IR, typed by ``rule.where`` (see the module's
    conventions); a ``ParseError`` if the identity is not valid matcalc text."""
    from matcalc.front.parser import parse_node, parse_program
    from matcalc.ir.nodes import Var, variables

    if not rule.identity:
        raise ValueError(f"{rule.name} states no identity")
    left, right = rule.sides()
    program = parse_program(left, rule.where)
    types = dict(program.declarations)
    pairs = []
    if rule.is_differential:
        for name in variables(program.expressions[-1]):
            dname = "d" + name
            if dname in types and types[dname] != types[name]:
                raise ValueError(f"{rule.name}: {dname} is declared {types[dname]}, but {name} is {types[name]}")
            types[dname] = types[name]
            pairs.append((name, dname))
    both, _ = parse_node(f"({left}) - ({right})", types)
    found = variables(both)
    directions = tuple((found[x], found.get(dx) or Var(dx, found[x].shape, found[x].kind)) for x, dx in pairs)
    return ParsedIdentity(both.args[0], both.args[1], directions)


def named(name: str, title: str, equation: str = "", where: str = "", cite: str = "") -> Rule:
    """A rule that is a pass of the engine rather than one table entry (identification, collecting df)."""
    return Rule(name, title, equation, where, cite)


@dataclass(frozen=True)
class Step:
    """One step the engine took.

    ``stage`` is one of :data:`STAGES`; ``rule`` what it applied; ``order`` which differentiation
    it belongs to (0 for the function itself); ``before`` and ``after`` the expressions (IR nodes,
    or index sums for index stages); ``whole`` the whole expression after a rewrite deep inside
    it; ``within``: a rewrite made inside the rule of the step before it, while that rule built its
    result (it is listed after that step, whose whole expression shows the part it rewrote);
    ``check`` how :func:`verify` checks the step:

    - ``"none"``: a statement (the function itself);
    - ``"differential"``: ``after`` is d(``before``) in the direction ``direction`` of ``wrt``;
    - ``"equal"``: ``before`` and ``after`` have the same value (``direction`` may occur in both);
    - ``"identify"``: ``after`` is the derivative whose contraction with the direction gives the
      differential ``before`` (``form``: gradient, derivative, jacobian, hessian or vec);
    - ``"index"``: ``after`` (an index form) has the entries of the multilinear form ``before``.
    - ``"sum"``: index sums ``before`` and ``after`` have the same value (the conv module's steps).
    """

    stage: str
    rule: Optional[Rule]
    order: int
    before: Any
    after: Any
    whole: Any = None
    check: str = "equal"
    wrt: Any = None
    direction: Any = None
    form: str = ""
    directions: tuple = ()
    detail: Any = None   # what a rule decided, as data (a delta summed out: which, over what, the solution, …)
    within: bool = False

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")
        if not isinstance(self.order, int) or isinstance(self.order, bool):
            raise TypeError(f"a step's order is an int, not {self.order!r}")


@dataclass(frozen=True)
class Verdict:
    """The numerical verification of one step: ``ok``, the measured ``error`` (relative), and why
    a step could not be checked (``note``).  ``undefined``: the step could not be evaluated at any
    point drawn (a rule applied where f is not differentiable, e.g. d‖u‖ = uᵀdu/‖u‖ with u ≡ 0);
    it is then neither verified (``ok`` is False) nor a failure."""

    step: Step
    ok: bool
    error: Optional[float]
    note: str = ""
    undefined: bool = False

    def __str__(self) -> str:
        if self.undefined:
            return f"– {self.note}"
        if self.error is None:
            return "✓" if self.ok else f"✗ {self.note}"
        return f"{'✓' if self.ok else '✗'} {self.error:.0e}"


@dataclass
class Derivation:
    """The steps of a derivation, in the order they were taken, with the function and variable."""

    f: Any
    wrt: Any
    steps: list = field(default_factory=list)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def extend(self, steps) -> None:
        self.steps.extend(steps)

    def stage(self, name: str) -> list:
        return [s for s in self.steps if s.stage == name]

    def __iter__(self):
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)
