"""matcalc: symbolic matrix calculus in compact matrix notation, with the derivation shown."""
from .check import check
from .consistency import ShortcutResult, shortcut
from .derivative import Derivative, diff, gradient, hessian, jacobian
from .errors import EvaluationError, MatcalcError, ParseError, ShapeError, UnsupportedError
from .expr import Expr, parse
from .parser import parse_program

__all__ = ["Expr", "parse", "parse_program", "diff", "gradient", "jacobian", "hessian", "check", "Derivative", "shortcut", "ShortcutResult",
           "MatcalcError", "ParseError", "ShapeError", "UnsupportedError", "EvaluationError"]
__version__ = "0.1.0"
