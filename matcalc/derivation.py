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
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

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


def named(name: str, title: str, equation: str = "", where: str = "", cite: str = "") -> Rule:
    """A rule that is a pass of the engine rather than one table entry (identification, collecting df)."""
    return Rule(name, title, equation, where, cite)


@dataclass(frozen=True)
class Step:
    """One step the engine took.

    ``stage`` is one of :data:`STAGES`; ``rule`` what it applied; ``order`` which differentiation
    it belongs to (0 for the function itself); ``before`` and ``after`` the expressions (IR nodes,
    or index sums for index stages); ``whole`` the whole expression after a rewrite deep inside
    it; ``check`` how :func:`verify` checks the step:

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

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")


@dataclass(frozen=True)
class Verdict:
    """The numerical verification of one step: ``ok``, the measured ``error`` (relative), and why
    a step could not be checked (``note``)."""

    step: Step
    ok: bool
    error: Optional[float]
    note: str = ""

    def __str__(self) -> str:
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
