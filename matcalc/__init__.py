"""matcalc: symbolic matrix calculus in compact matrix notation, with the derivation shown."""
from matcalc.numeric.check import check
from matcalc.consistency.explain import ShortcutResult, shortcut
from matcalc.calculus.derivative import Derivative, diff, gradient, hessian, jacobian
from matcalc.errors import EvaluationError, MatcalcError, ParseError, ShapeError, UnsupportedError
from matcalc.expr import Expr, parse
from matcalc.front.parser import parse_program

__all__ = ["Expr", "parse", "parse_program", "diff", "gradient", "jacobian", "hessian", "check", "Derivative", "shortcut", "ShortcutResult",
           "MatcalcError", "ParseError", "ShapeError", "UnsupportedError", "EvaluationError",
           "codegen", "report"]  # matcalc.compile too, but not in a star import: it would shadow the builtin compile
__version__ = "0.1.0"


def __getattr__(name: str):
    """``matcalc.codegen``, ``matcalc.compile`` and ``matcalc.report`` load their packages on first use."""
    if name in ("codegen", "compile"):
        from matcalc.generate import api
        return getattr(api, name)
    if name == "report":
        from matcalc.reports import report
        return report
    raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
