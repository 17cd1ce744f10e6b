"""Text to IR, the front end's public face (kept for its importers).

The work is split by job: :mod:`matcalc.front.syntax` (grammar, syntax errors that suggest the
fix), :mod:`matcalc.front.infer` (kinds, shapes and the reason for each inferred name),
:mod:`matcalc.front.program` (statements, definitions, paper notation, building the IR) and
:mod:`matcalc.ir.types` (``Type``, which evaluation and printing use without loading lark).
"""
from matcalc.ir.types import Type, parse_type, type_of_var
from matcalc.front.syntax import Syn, grammar_path, parse_syntax
from matcalc.front.infer import convention_kind, default_kind
from matcalc.front.program import (Decls, Program, Statement, parse_node, parse_program, parse_statement,
                                   parse_statements)

__all__ = ["Type", "parse_type", "type_of_var", "Syn", "grammar_path", "parse_syntax", "convention_kind",
           "default_kind", "Decls", "Program", "Statement", "parse_node", "parse_program", "parse_statement",
           "parse_statements"]
