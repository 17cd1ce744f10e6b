"""``Derivative.evaluate`` through the planner: the lowered program interpreted with NumPy.

The interpreter runs the NumPy templates of :mod:`matcalc.generate.targets` (compiled once into
functions), so evaluation does the same arithmetic as the generated NumPy code; the planner sees
the real dimension sizes, so a matrix chain is ordered for the sizes at hand.

An :class:`Evaluator` owns the plans of one expression (one per set of dimension sizes, a few
kept), so a ``Derivative`` evaluated again and again (an optimiser's loop) plans once, and the
plans go away with the derivative: there is no module-level cache.  :class:`Evaluator` also
takes several roots at once, planned into one program, so derivatives that share a forward
pass (the gradients of a network w.r.t. each weight) compute it once (:func:`evaluate_many`).
"""
from __future__ import annotations

import ast
from typing import Mapping, Optional, Sequence

import numpy as np

from matcalc.errors import EvaluationError
from matcalc.generate.plan import Planner
from matcalc.generate.targets import NUMPY, PRELUDES
from matcalc.ir.nodes import Node, Var, postorder_all
from matcalc.numeric.evaluate import bind, dim_value, to_user
from matcalc.numeric.layout import user_sizes


def _functions() -> dict:
    """Each NumPy template as a function of (_0, _1, _a, _r, _c), in the NumPy prelude's namespace."""
    namespace: dict = {}
    exec(compile(ast.parse(PRELUDES["numpy"]), "<matcalc numpy prelude>", "exec"), namespace)  # library code
    lambdas = "\n".join(f"{op!r}: lambda _0, _1, _a, _r, _c: {text}," for op, text in NUMPY.items())
    return eval(compile(ast.parse("{" + lambdas + "}", mode="eval"), "<matcalc numpy ops>", "eval"), namespace)


FUNCTIONS = _functions()


class Evaluator:
    """Evaluates IR roots through one planned program.

    ``roots`` are IR nodes; ``vec`` gives, per root, None or the vec-form layout
    ``(p, q, r, s)`` (vec(F) of a p×q F against vec(X) of an r×s X), which is lowered to
    einsums (:meth:`~matcalc.generate.plan.Planner.vec_form`) and returned in the user's
    layout f.shape + x.shape.  The plans are kept per dimension sizes (at most
    :attr:`MAX_PLANS`, the oldest dropped first); planning costs about as much as a 100×100
    matrix product."""

    MAX_PLANS = 8

    def __init__(self, roots: Sequence[Node], vec: Optional[Sequence[Optional[tuple]]] = None,
                 also: Sequence[Node] = ()):
        self.roots = tuple(roots)
        self.vec = tuple(vec) if vec is not None else (None,) * len(self.roots)
        self.plans: dict = {}
        # the variables to bind (of the roots, and of ``also``: a function whose arrays give
        # sizes its derivative needs without using them), found once
        seen: dict = {}
        for n in postorder_all(self.roots + tuple(also)):
            if isinstance(n, Var) and n.name not in seen:
                seen[n.name] = n
        self.variables = tuple(seen.values())

    def plan(self, sizes: Mapping[str, int]) -> tuple:
        """(the program, children first; the output nodes; its schedule, see :func:`_schedule`)
        for these dimension sizes."""
        key = tuple(sorted(sizes.items()))
        found = self.plans.get(key)
        if found is None:
            planner = Planner(dict(sizes))
            outs = [planner.lower(r) if v is None else planner.vec_form(r, v) for r, v in zip(self.roots, self.vec)]
            program = tuple(postorder_all(outs))
            found = (program, tuple(outs), _schedule(program, outs))
            if len(self.plans) >= self.MAX_PLANS:
                del self.plans[next(iter(self.plans))]
            self.plans[key] = found
        return found

    def raw(self, values: Mapping[str, object]) -> tuple:
        """The planned values of the roots as arrays (2-D for a matrix form), and the sizes."""
        arrays, dims = {}, {k: int(v) for k, v in values.items()
                            if isinstance(v, (int, np.integer)) and not isinstance(v, bool)}
        for var in self.variables:        # one variable at a time, with the sizes found so far
            a, d = bind(var, {**dims, var.name: values[var.name]} if var.name in values else values)
            arrays.update(a)
            for k, v in d.items():
                if dims.setdefault(k, v) != v:
                    raise EvaluationError(f"dimension {k} is {dims[k]} from {', '.join(arrays)} but {v} from "
                                          f"{var.name}")
        program, outs, (frees, reusable) = self.plan(dims)

        def size(d):
            return dim_value(d, dims, "the result")

        results: dict = {}
        try:
            with np.errstate(all="ignore"):
                for k, n in enumerate(program):
                    if n.op == "arg":
                        results[id(n)] = arrays[n.attr]
                        continue
                    if n.op == "lit":
                        results[id(n)] = n.attr
                        continue
                    if n.op == "einsum":
                        results[id(n)] = np.einsum(n.attr, *(results[id(x)] for x in n.args),
                                                   optimize=len(n.args) > 2)
                        continue
                    a = [results[id(x)] for x in n.args] + [None, None]
                    if k in reusable:
                        value = _in_place(n.op, a, reusable[k])
                        if value is not None:
                            results[id(n)] = value
                            for x in frees[k]:
                                del results[x]
                            continue
                    attr = n.attr
                    if n.op == "eye":
                        attr = size(attr)
                    elif n.op in ("unvec", "zeros", "reshape"):
                        attr = tuple(size(d) for d in attr)
                    rows, cols = (size(n.shape[0]), size(n.shape[1])) if len(n.shape) == 2 else (None, None)
                    results[id(n)] = FUNCTIONS[n.op](a[0], a[1], attr, rows, cols)
                    for x in frees[k]:
                        del results[x]
        except np.linalg.LinAlgError as e:
            raise EvaluationError(f"linear algebra failed: {e} (is a matrix singular?)") from None
        return tuple(results[id(o)] for o in outs), size

    def __call__(self, values: Mapping[str, object]) -> list:
        """The roots' values in the user's layout (float, 1-D, 2-D, or f.shape + x.shape for a
        vec form)."""
        raw, size = self.raw(values)
        out = []
        for root, v, value in zip(self.roots, self.vec, raw):
            value = np.asarray(value, dtype=float)
            if v is None:
                out.append(to_user(root, np.reshape(value, (size(root.shape[0]), size(root.shape[1])))))
            else:
                p, q, r, s = (size(d) for d in v)
                out.append(np.reshape(value, user_sizes(v[:2], (p, q)) + user_sizes(v[2:], (r, s))))
        return out


#: Ops whose NumPy value is a new array (never a view of an argument), so that an argument used
#: nowhere else can be overwritten by a later elementwise op.
FRESH = frozenset({"matmul", "add", "sub", "mul", "div", "neg", "square", "exp", "log", "sin", "cos", "tan",
                   "tanh", "sqrt", "abs", "sigmoid", "softplus", "relu", "step", "log1p", "pow", "solve", "inv"})
_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "neg": np.negative}


def _schedule(program: tuple, outs) -> tuple:
    """When each intermediate value can be let go (the ids to drop after step k), and which
    elementwise steps may write into an argument's array: one produced by a :data:`FRESH` op,
    used by this step alone and not an output.  This is what NumPy's own temporary elision
    does for the generated code (``U @ V.T - T`` subtracts in place); without it the
    interpreter holds every intermediate to the end and allocates afresh for each."""
    keep = {id(o) for o in outs}
    last: dict = {}
    uses: dict = {}
    for k, n in enumerate(program):
        for x in n.args:
            last[id(x)] = k
            uses[id(x)] = uses.get(id(x), 0) + 1
    frees: list = [[] for _ in program]
    for k, n in enumerate(program):
        for x in {id(x): x for x in n.args}.values():
            if last[id(x)] == k and id(x) not in keep:
                frees[k].append(id(x))
    reusable: dict = {}
    for k, n in enumerate(program):
        if n.op in _UFUNCS:
            ok = tuple(i for i, x in enumerate(n.args) if x.op in FRESH and uses[id(x)] == 1
                       and id(x) not in keep and tuple(x.shape) == tuple(n.shape))
            if ok:
                reusable[k] = ok
    return frees, reusable


def _in_place(op: str, a: list, candidates: tuple):
    """The elementwise ``op`` written into one of its arguments' arrays, or None when none fits
    (a number, another dtype, or a shape the result broadcasts beyond)."""
    args = a[:1] if op == "neg" else a[:2]
    shape = np.broadcast_shapes(*(np.shape(x) for x in args))
    for i in candidates:
        x = args[i]
        if isinstance(x, np.ndarray) and x.dtype == np.float64 and x.shape == shape and x.flags.writeable:
            return _UFUNCS[op](*args, out=x)
    return None


def for_derivatives(derivatives: Sequence) -> "Evaluator":
    """One :class:`Evaluator` for several derivatives with matrix or vec forms, planned into
    one program, so the subexpressions they share (a network's forward pass) are computed
    once; call it with the values (after :func:`with_dimensions`)."""
    for d in derivatives:
        if d.node is None:
            raise EvaluationError(f"the derivative w.r.t. {d.wrt.name} has only an index form; evaluate it alone")
    return Evaluator([d.node for d in derivatives],
                     [tuple(d.of_shape) + tuple(d.wrt.shape) if d.form == "vec" else None for d in derivatives],
                     also=[d.f.node for d in derivatives] + [d.wrt for d in derivatives])


def evaluate_many(derivatives: Sequence, values: Mapping[str, object], evaluator: Optional[Evaluator] = None) -> list:
    """``[d.evaluate(values) for d in derivatives]``, computed as one planned program (pass
    the ``evaluator`` of :func:`for_derivatives` to reuse its plans across calls)."""
    return (evaluator or for_derivatives(derivatives))(values)
