"""The suite's property tests draw from the package's one generator, :mod:`matcalc.testing`
(the fuzz campaign's too), in its "smooth" profile: functions smooth and defined at any real
values, so a fixed draw of ``random_values`` is a valid point for evaluation and finite
differences.  This module only fixes that profile; it has no generator of its own."""
from functools import partial

from matcalc import testing
from matcalc.testing import (DECLS, LEAVES, MM, MN, N, NM, NN, NUMBERS, RM, RN, S, SHAPES, SIZES, SMOOTH,  # noqa: F401
                             M, leaf, random_values)

exprs = partial(testing.exprs, profile="smooth")
