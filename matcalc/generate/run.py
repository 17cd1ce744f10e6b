"""``Derivative.evaluate`` through the planner: the lowered program interpreted with NumPy.

The interpreter runs the NumPy templates of :mod:`matcalc.generate.targets` (compiled once into
functions), so evaluation does the same arithmetic as the generated NumPy code; the planner sees
the real dimension sizes, so a matrix chain is ordered for the sizes at hand.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from typing import Mapping

import numpy as np

from matcalc.errors import EvaluationError
from matcalc.generate.plan import Planner, lpostorder
from matcalc.generate.targets import NUMPY, PRELUDES
from matcalc.ir.nodes import Node
from matcalc.numeric.evaluate import bind, dim_value


def _functions() -> dict:
    """Each NumPy template as a function of (_0, _1, _a, _r, _c), in the NumPy prelude's namespace."""
    namespace: dict = {}
    exec(compile(ast.parse(PRELUDES["numpy"]), "<matcalc numpy prelude>", "exec"), namespace)  # library code
    lambdas = "\n".join(f"{op!r}: lambda _0, _1, _a, _r, _c: {text}," for op, text in NUMPY.items())
    return eval(compile(ast.parse("{" + lambdas + "}", mode="eval"), "<matcalc numpy ops>", "eval"), namespace)


FUNCTIONS = _functions()


@lru_cache(maxsize=256)
def plan(root: Node, sizes: tuple) -> tuple:
    """The planned program of ``root`` for the dimension sizes ``sizes`` ((name, size) pairs),
    children first.  A pure function of immutable arguments, memoised so that evaluating one
    derivative again and again (an optimiser's loop) plans it once: planning costs about as much
    as a 100×100 matrix product."""
    out = Planner(dict(sizes)).lower(root)
    return tuple(lpostorder([out]))


def evaluate_planned(root: Node, values: Mapping[str, object]) -> np.ndarray:
    """The value of ``root`` as a 2-D array (n×1 for a vector, 1×1 for a scalar), computed from
    the planned program."""
    arrays, dims = bind(root, values)
    program = plan(root, tuple(sorted(dims.items())))
    out = program[-1]

    def size(d):
        return dim_value(d, dims, "the result")

    results: dict = {}
    try:
        with np.errstate(all="ignore"):
            for n in program:
                if n.op == "arg":
                    results[id(n)] = arrays[n.attr]
                    continue
                if n.op == "lit":
                    results[id(n)] = n.attr
                    continue
                if n.op == "einsum":
                    results[id(n)] = np.einsum(n.attr, *(results[id(x)] for x in n.args))
                    continue
                a = [results[id(x)] for x in n.args] + [None, None]
                attr = n.attr
                if n.op == "eye":
                    attr = size(attr)
                elif n.op in ("unvec", "zeros"):
                    attr = tuple(size(d) for d in attr)
                results[id(n)] = FUNCTIONS[n.op](a[0], a[1], attr, size(n.shape[0]), size(n.shape[1]))
    except np.linalg.LinAlgError as e:
        raise EvaluationError(f"linear algebra failed: {e} (is a matrix singular?)") from None
    value = results[id(out)]
    return np.reshape(np.asarray(value, dtype=float), (size(root.shape[0]), size(root.shape[1])))
