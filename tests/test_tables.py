"""Every op appears in every interpretation table, and every rule is a named, documented function."""
import pytest

from matcalc.numeric.evaluate import EVAL_RULES
from matcalc.ir.nodes import ALL_OPS
from matcalc.printing.latex import LATEX_RULES
from matcalc.printing.text import TEXT_RULES
from matcalc.ir.shapes import SHAPE_RULES

TABLES = {"shape": SHAPE_RULES, "text": TEXT_RULES, "latex": LATEX_RULES, "evaluate": EVAL_RULES}


@pytest.mark.parametrize("name", TABLES)
def test_table_is_complete(name):
    assert set(TABLES[name]) == set(ALL_OPS)


def test_shape_rules_state_their_identity():
    for op, fn in SHAPE_RULES.items():
        assert fn.__doc__, f"shape rule for {op} has no docstring"
