"""Simplification of results by named rewrite rules."""
from matcalc.simplify.engine import SIMPLIFY_RULES, is_zero, simplify  # noqa: F401
