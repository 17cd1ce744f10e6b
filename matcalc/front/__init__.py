"""The front end: text to typed IR.

``syntax`` (grammar, syntax errors with the fix), ``infer`` (kinds, shapes, and why),
``program`` (statements, definitions, paper notation, building the IR).  The public entry
points are :func:`parse_program`, :func:`parse_node`, and for an incremental session
:func:`parse_statement` / :func:`parse_statements` over already typed names.
"""
from matcalc.front.program import Program, Statement, parse_node, parse_program, parse_statement, parse_statements

__all__ = ["Program", "Statement", "parse_node", "parse_program", "parse_statement", "parse_statements"]
