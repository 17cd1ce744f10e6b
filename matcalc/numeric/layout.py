"""The layouts of results as arrays: unit directions, the vec (Kronecker) form unstacked, and the
entries of a multilinear form.  Plain NumPy on evaluated IR: no engine, so ``check``, ``verify``
and ``Derivative`` can all use it without importing each other."""
from __future__ import annotations

import itertools
from typing import Mapping

import numpy as np

from matcalc.ir.nodes import Node, Var
from matcalc.numeric.evaluate import dim_value, evaluate_node, to_user
from matcalc.simplify.engine import is_zero


def unit_directions(shape: tuple, symmetric: bool = False):
    """(index, E) for every entry of an array of ``shape``, E the unit array at that index; for a
    symmetric matrix (i, j) and (j, i) move together, E = (E_ij + E_ji)/2."""
    for idx in np.ndindex(*shape) if shape else [()]:
        e = np.zeros(shape)
        e[idx] = 1.0
        yield idx, (e + e.T) / 2 if symmetric else e



def user_sizes(shape: tuple, sizes: tuple) -> tuple:
    """The NumPy sizes of a (rows, cols) shape in the user's layout."""
    if shape[0] == 1 and shape[1] == 1:
        return ()
    if shape[1] == 1:
        return (sizes[0],)
    return sizes


def unvec(m: np.ndarray, f_shape: tuple, x_shape: tuple, dims: Mapping) -> np.ndarray:
    """J with vec(dF) = J·vec(dX), as the array D[f…, x…] = ∂F[f…]/∂X[x…] (vec stacks columns)."""
    q, s = dim_value(f_shape[1], dims, "f"), dim_value(x_shape[1], dims, "x")
    p, r = m.shape[0] // q, m.shape[1] // s
    full = m.reshape(q, p, s, r).transpose(1, 0, 3, 2)
    return full.reshape(user_sizes(f_shape, (p, q)) + user_sizes(x_shape, (r, s)))


def multilinear_entries(multilinear: Node, directions: tuple, f_shape: tuple, x: Var, order: int,
                        values: Mapping[str, object]):
    """D[f…, x…] = dᵏf(E₁, …, Eₖ) over all unit directions E (``values`` carry the dimension sizes)."""
    x_user = np.asarray(values[x.name], dtype=float)
    f_sizes = tuple(dim_value(s, values, "f") for s in f_shape)
    out = np.zeros(user_sizes(f_shape, f_sizes) + x_user.shape * order)
    if is_zero(multilinear):
        return out if out.shape else 0.0
    units = list(unit_directions(x_user.shape, x.kind == "symmetric"))
    for combo in itertools.product(units, repeat=order):
        vals = dict(values)
        for dv, (_, e) in zip(directions, combo):
            vals[dv.name] = e if e.ndim else float(e)
        index = tuple(i for idx, _ in combo for i in idx)
        out[(Ellipsis,) + index] = to_user(multilinear, evaluate_node(multilinear, vals))
    return out if out.shape else float(out)
