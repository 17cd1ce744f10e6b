"""matcalc: symbolic matrix calculus in compact matrix notation, with the derivation shown."""
from matcalc.numeric.check import check
from matcalc.consistency.explain import ShortcutResult, shortcut
from matcalc.calculus.derivative import Derivative, diff, gradient, hessian, jacobian
from matcalc.errors import EvaluationError, MatcalcError, ParseError, ShapeError, UnsupportedError
from matcalc.expr import Expr, parse
from matcalc.front.parser import parse_program

__all__ = ["Expr", "parse", "parse_program", "diff", "gradient", "jacobian", "hessian", "check", "Derivative", "shortcut", "ShortcutResult",
           "MatcalcError", "ParseError", "ShapeError", "UnsupportedError", "EvaluationError"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "report":  # reports load only when asked for
        from matcalc.reports import report
        return report
    raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
