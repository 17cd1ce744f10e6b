"""Index forms to ``einsum``: derivatives with no matrix form (third order, Hessians of det and
logdet in a matrix variable, …) as one einsum per term of their index sum.

The index form D[i, j, …] = Σ_terms coeff · Π factors (see :mod:`matcalc.calculus.index_form`)
has tensor references ``t1[k]`` (named subexpressions or variables) and Kronecker deltas
``[i = k]``.  Each term becomes ``coeff * einsum('…->ij…', operands)`` with a delta as an
identity matrix and a free index that no factor carries as a vector of ones; the coefficient
(numbers and named scalars) is lowered like any scalar.
"""
from __future__ import annotations

import string

from matcalc.errors import UnsupportedError
from matcalc.generate.plan import L, Planner
from matcalc.ir.nodes import Node, Var


def _dim(extent):
    text = str(extent).replace(" ", "")
    if text.isdigit():
        return int(text)
    if not all(part.isidentifier() or part.isdigit() for part in text.split("*")):
        raise UnsupportedError(f"an index extent {text} that code generation cannot size")
    return text


def lower_index_form(planner: Planner, index, variables: dict[str, Var], shape4: tuple) -> L:
    """The index form ``index`` (an IndexForm) as lowered nodes of shape ``shape4``."""
    import sympy as sp
    from matcalc.indexsum.ir import Delta, Ref

    where = dict(index.where)
    free = [i.var for i in index.expr.free]
    extents = {i.var: _dim(i.extent) for i in index.expr.free}
    total = None
    for term in index.expr.terms:
        extents_t = dict(extents)
        extents_t.update({i.var: _dim(i.extent) for i in term.bound})
        letters = iter(string.ascii_letters)
        letter = {}

        def of(sym):
            if sym not in letter:
                if not isinstance(sym, sp.Symbol) or sym not in extents_t:
                    raise UnsupportedError(f"the index expression {sym} is not a plain index")
                letter[sym] = next(letters)
            return letter[sym]

        specs, operands = [], []
        for factor in term.factors:
            if isinstance(factor, Ref):
                node = where.get(factor.name)
                if node is None:
                    node = variables.get(factor.name)
                if node is None:
                    raise UnsupportedError(f"the index form refers to {factor.name}, which code generation cannot find")
                value = planner.lower(node)
                if len(factor.indices) == 1:
                    value = planner.mk("flat", (value,), shape=(node.shape[0] if node.shape[1] == 1 else node.shape[1],))
                elif len(factor.indices) == 0:
                    raise UnsupportedError("a scalar reference inside an index sum")
                specs.append("".join(of(i) for i in factor.indices))
                operands.append(value)
            elif isinstance(factor, Delta):
                a, b = factor.lhs, factor.rhs
                n = extents_t.get(a, extents_t.get(b))
                specs.append(of(a) + of(b))
                operands.append(planner.mk("eye", (), n, (n, n)))
            else:
                raise UnsupportedError(f"an index-sum factor {type(factor).__name__} (conv) in a matrix derivative")
        for sym in free:
            if sym not in letter:              # a free index no factor carries: broadcast with ones
                specs.append(of(sym))
                operands.append(planner.mk("flat", (planner.mk("full", (), 1.0, (extents[sym], 1)),),
                                           shape=(extents[sym],)))
        out = "".join(letter[s] for s in free)
        value = planner.mk("einsum", tuple(operands), ",".join(specs) + "->" + out, shape4)
        coeff = _coefficient(planner, sp.sympify(term.coeff), where)
        if not (coeff.op == "lit" and coeff.attr == 1.0):
            value = planner.mk("mul", (coeff, value), shape=shape4)
        total = value if total is None else planner.mk("add", (total, value), shape=shape4)
    if total is None:
        return planner.mk("zeros", (), tuple(shape4), tuple(shape4))
    return total


def _coefficient(planner: Planner, expr, where: dict) -> L:
    """A SymPy coefficient (numbers, named scalars, sums, products, powers) as a lowered scalar."""
    import sympy as sp

    if expr.is_Number:
        return planner.lit(float(expr))
    if isinstance(expr, sp.Symbol):
        node: Node = where.get(str(expr))
        if node is None:
            raise UnsupportedError(f"the coefficient {expr} of an index form is not a named scalar")
        return planner.lower(node)
    args = [_coefficient(planner, a, where) for a in expr.args]
    if isinstance(expr, sp.Add):
        op = "add"
    elif isinstance(expr, sp.Mul):
        op = "mul"
    elif isinstance(expr, sp.Pow):
        return planner.mk("pow", tuple(args))
    else:
        raise UnsupportedError(f"the coefficient {expr} of an index form")
    out = args[0]
    for a in args[1:]:
        out = planner.mk(op, (out, a))
    return out
