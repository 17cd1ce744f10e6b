"""The differentiation pass: differential → collected df → canonical form → identification → simplify.

``diff`` returns a :class:`Derivative` holding the result, the layout, and the steps it really
performed.  The result is a gradient, Jacobian or Hessian in matrix form where one exists; for
matrix-valued functions and Hessians in a matrix variable, the vec (Kronecker) form J with
vec(dF) = J·vec(dX); otherwise (third and higher orders, or a differential that would need the
commutation matrix) the multilinear form dᵏf(dX₁, …, dXₖ), evaluated entry by entry at unit
directions: the index form D[i…, j…] = dᵏf(E_j₁, …).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Mapping, Optional, Union

import numpy as np

from matcalc.ir.build import T, eye, times
from matcalc.calculus.differential import Step, differential, direction
from matcalc.errors import MatcalcError, UnsupportedError
from matcalc.numeric.evaluate import dim_value, bind, evaluate_node, to_user
from matcalc.expr import Expr, user_shape
from matcalc.calculus.identify import NotMatrixForm, cotangent, substitute, vec_jacobian
from matcalc.ir.nodes import Const, Node, Num, Var, postorder, variables
from matcalc.front.parser import Decls, parse_node, parse_program, parse_type
from matcalc.printing.latex import to_latex
from matcalc.printing.text import to_text, to_text_shared
from matcalc.ir.shapes import is_scalar, is_vector, make
from matcalc.simplify.engine import is_zero, simplify

SYMMETRIC_CONVENTION = ("symmetric-space gradient (G + Gᵀ)/2, G the unconstrained gradient; "
                        "the Matrix Cookbook's G + Gᵀ − diag(G) counts each off-diagonal pair twice")


@dataclass
class Derivative:
    """The derivative of ``f`` with respect to ``wrt``, ``order`` times."""

    f: Expr
    wrt: Var
    order: int
    form: str                      # gradient, jacobian, hessian, derivative, vec, index or zero
    node: Optional[Node]           # the matrix form (None for the index form)
    steps: list = field(default_factory=list)
    multilinear: Optional[Node] = None   # dᵏf in the directions below (index form)
    of_shape: tuple = ()                 # vec form: the shape of what was differentiated last
    directions: tuple = ()
    convention: Optional[str] = None
    index: Optional[object] = None       # index form: D[i…] = Σ … (an IndexForm), where one is printable

    @property
    def expr(self) -> Optional[Expr]:
        """The result as an expression (``None`` where only the index form exists)."""
        return Expr(self.node) if self.node is not None else None

    @property
    def shape(self) -> tuple:
        """f.shape + wrt.shape per order (matrixcalculus.org's layout)."""
        return tuple(self.f.shape) + user_shape(self.wrt.shape) * self.order

    @property
    def layout(self) -> str:
        """How to read the result: its shape, f.shape + x.shape (per order), and an entry."""
        f, x = self.f.shape, user_shape(self.wrt.shape)
        shape = "(" + ", ".join(map(str, self.shape)) + ("," if len(self.shape) == 1 else "") + ")"
        text = f"layout f.shape + {self.wrt.name}.shape{' per order' if self.order > 1 else ''}: {shape}"
        if self.shape:
            ij = _index_names(f, x, self.order)
            fi, rest = ij[:len(f)], ij[len(f):]
            xs = [rest[k * len(x):(k + 1) * len(x)] for k in range(self.order)]
            entry = "".join(f"∂{self.wrt.name}[{', '.join(i)}]" for i in xs)
            num = f"f[{', '.join(fi)}]" if fi else "f"
            text += f", entry [{', '.join(ij)}] = ∂{'^' + str(self.order) if self.order > 1 else ''}{num}/{entry}"
        return text

    def evaluate(self, values: Mapping[str, object]):
        """The derivative's value, a NumPy array of shape :attr:`shape` (a float for a scalar)."""
        values = _with_dimensions(self.f.node, values, self.wrt)
        if self.node is None:
            return _evaluate_multilinear(self, values)
        value = evaluate_node(self.node, values)
        if self.form == "vec":
            return _unvec(value, self.of_shape, self.wrt.shape, values)
        return to_user(self.node, value)

    def __str__(self) -> str:
        if self.node is not None:
            return to_text_shared(self.node)
        if self.index is not None:
            return str(self.index)
        dirs = ", ".join(d.name for d in self.directions)
        return f"{to_text_shared(self.multilinear)}  # d^{self.order} f({dirs}); entry = this at unit directions"

    def latex(self) -> str:
        if self.node is not None:
            return to_latex(self.node)
        if self.index is not None:
            return self.index.latex()
        return rf"d^{{{self.order}}}f = {to_latex(self.multilinear)}"

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def __repr__(self) -> str:
        return f"<Derivative {self.form} of {self.f} w.r.t. {self.wrt.name}: {self}>"

    def explain(self) -> str:
        """The recorded derivation, one step a line."""
        return "\n".join(format_step(s) for s in self.steps)


def _with_dimensions(f: Node, values: Mapping[str, object], wrt: Optional[Var] = None) -> dict:
    """The values plus the sizes of f's dimensions, which a result may need without f's arrays
    (the gradient of sum(X) is a constant array of X's shape)."""
    _, dims = bind(f, values)
    if wrt is not None and wrt.name in values and not any(isinstance(n, Var) and n.name == wrt.name
                                                         for n in postorder(f)):
        dims.update(bind(wrt, values)[1])
    return {**dims, **values}


def _index_names(f_shape, x_shape, order):
    letters = iter("ijklpqrsuvabcdefgh")
    return [next(letters) for _ in range(len(f_shape) + len(x_shape) * order)]


def format_step(step: Step) -> str:
    """A step as one line of text: what it says, and the rule by name."""
    result = to_text(step.result)
    if step.kind == "function":
        return f"f = {result}"
    if step.kind == "differential":
        return f"d({to_text(step.subject)}) = {result}    [{step.rule}: {step.note}]"
    if step.kind == "simplified":
        return f"{to_text(step.subject)}  →  {result}    [{step.rule}]"
    lhs = {"collected": "df", "canonical": "df", "identified": step.note, "result": step.note}.get(step.kind, step.kind)
    tag = f"    [{step.rule}]" if step.rule else ""
    return f"{lhs} = {result}{tag}"


# ------------------------------------------------------------------------------ entry points

def _resolve(f: Union[str, Expr, Node], wrt: Union[str, Var], decls: Decls) -> tuple[Node, Var]:
    program = None
    if isinstance(f, Expr):
        node = f.node
    elif isinstance(f, Node):
        node = f
    elif isinstance(f, str):
        node, program = parse_node(f, decls)
    else:
        raise MatcalcError(f"f must be an expression text or an Expr, not {type(f).__name__}")
    if isinstance(wrt, Var):
        return node, wrt
    if not isinstance(wrt, str):
        raise MatcalcError(f"wrt must be a variable name, not {type(wrt).__name__}")
    found = variables(node).get(wrt)
    if found is None:
        declared = None
        if isinstance(decls, Mapping) and wrt in decls:
            declared = parse_type(decls[wrt]) if isinstance(decls[wrt], str) else decls[wrt]
        elif program is not None:  # declared in decls text or in f's own text ("z: vector(k); ...")
            declared = program.declarations.get(wrt)
        elif isinstance(decls, str):
            declared = parse_program(decls).declarations.get(wrt)
        if declared is None:
            names = ", ".join(variables(node)) or "none"
            raise MatcalcError(f"{wrt!r} is not a variable of {to_text(node)} (its variables: {names}); "
                               f"declare it (e.g. decls={{{wrt!r}: 'vector(k)'}}, or --decl '{wrt}: vector(k)') "
                               "to get a zero derivative of its shape")
        found = Var(wrt, declared.shape(), declared.kind)
    return node, found


def diff(f, wrt, decls: Decls = None, order: int = 1) -> Derivative:
    """The derivative of ``f`` with respect to the variable ``wrt``, ``order`` times.

    The result's layout is f.shape + wrt.shape (per order): a gradient has the shape of its
    variable, the Jacobian of a vector f w.r.t. a vector x is (len f, len x), a Hessian w.r.t.
    x has shape x.shape + x.shape.
    """
    if not isinstance(order, int) or order < 1:
        raise MatcalcError(f"order must be a positive integer, not {order!r}")
    node, x = _resolve(f, wrt, decls)
    steps = [Step("function", "", None, node)]
    taken = set(variables(node)) | {x.name}
    current, form, previous = node, None, node.shape
    try:
        for k in range(1, order + 1):
            previous = current.shape
            current, form = _first_derivative(current, x, steps, taken, k, last=k == order,
                                              symmetric=k == 2 and form == "gradient")
    except NotMatrixForm as why:
        return _index_form(node, x, order, steps, taken, str(why))
    if order == 2 and form == "jacobian" and is_scalar(node.shape):
        form = "hessian"
    convention = SYMMETRIC_CONVENTION if x.kind == "symmetric" else None
    return Derivative(Expr(node), x, order, form, current, steps, convention=convention, of_shape=previous)


def _first_derivative(fn: Node, x: Var, steps: list, taken: set, k: int, last: bool = True,
                      symmetric: bool = False) -> tuple[Node, str]:
    dx = direction(x, taken)
    dsteps: list = []
    df = differential(fn, x, dx, dsteps)
    if k == 1:
        steps.extend(dsteps)
    if df is not None:
        df = simplify(df)
    if df is None or is_zero(df):
        return _zero(fn.shape, x.shape), "zero"
    steps.append(Step("collected", "differential rules", None, df, "df"))
    if is_scalar(x.shape):
        return _identified(substitute(df, dx, Num(1)), steps, f"∂f/∂{x.name}", "derivative",
                           lambda final: Step("canonical", "df = g·ds", None, times(final, dx)))
    if is_scalar(fn.shape):
        g = cotangent(df, dx, Num(1))
        if g is None:
            return _zero(fn.shape, x.shape), "zero"
        if x.kind == "symmetric":
            g = make("div", make("add", g, T(g)), Num(2))
        return _identified(g, steps, f"∂f/∂{x.name}", "gradient",
                           lambda final: Step("canonical", "trace cyclicity and transposition", None,
                                              _trace_form(final, dx)))
    if is_vector(fn.shape) and is_vector(x.shape):
        jt = cotangent(df, dx, eye(fn.shape[0]), batched=True)
        if jt is None:
            return _zero(fn.shape, x.shape), "zero"
        # the Jacobian of a gradient is a Hessian, symmetric: Jᵀ is J, no transpose needed
        return _identified(jt if symmetric else T(jt), steps, f"∂f/∂{x.name}", "jacobian",
                           lambda final: Step("canonical", "df = J·dx", None, times(final, dx)))
    if not last or k > 2:
        raise NotMatrixForm(f"the derivative of a {_kind(fn.shape)} with respect to a {_kind(x.shape)}, "
                            "differentiated again")
    return _identified(vec_jacobian(df, dx), steps, f"∂vec(f)/∂vec({x.name})", "vec",
                       lambda final: Step("canonical", "vec and Kronecker products: vec(AdXB) = (Bᵀ ⊗ A)vec(dX)",
                                          None, times(final, make("vec", dx))))


def _kind(shape) -> str:
    if is_scalar(shape):
        return "scalar"
    return "vector" if is_vector(shape) else ("row vector" if shape[0] == 1 else "matrix")


def _trace_form(g: Node, dx: Var) -> Node:
    """⟨G, dX⟩ written as textbooks do: gᵀdx for vectors, tr(GᵀdX) for matrices."""
    if is_vector(dx.shape):
        return times(simplify(T(g)), dx)
    return make("tr", times(simplify(T(g)), dx))


def _identified(raw: Node, steps: list, name: str, form: str, canonical) -> tuple[Node, str]:
    """Simplify the identified derivative, recording: the canonical form of df (with the final
    result in it), the identification, and each simplification rule that fired, by name."""
    trace: list = []
    final = simplify(raw, trace)
    if is_zero(final):
        form = "zero"
    steps.append(canonical(final))
    steps.append(Step("identified", "identification", None, raw if trace else final, name))
    if trace:
        for rule, before, after in trace:
            steps.append(Step("simplified", rule, before, after))
        steps.append(Step("result", "simplification", None, final, name))
    return final, form


def _zero(f_shape, x_shape) -> Node:
    """The zero derivative, in the layout f.shape + x.shape (where that is a matrix)."""
    if is_scalar(f_shape):
        shape = x_shape
    elif is_scalar(x_shape):
        shape = f_shape
    elif is_vector(f_shape) and is_vector(x_shape):
        shape = (f_shape[0], x_shape[0])
    else:
        raise NotMatrixForm("a zero derivative of this layout")
    return Num(0) if is_scalar(shape) else Const("fill", tuple(shape), 0)


def _index_form(node: Node, x: Var, order: int, steps: list, taken: set, why: str) -> Derivative:
    dirs = []
    current = node
    for k in range(1, order + 1):
        dx = direction(x, taken | {d.name for d in dirs}, k)
        d = differential(current, x, dx)
        dirs.append(dx)
        current = simplify(d) if d is not None else None
        if current is None:
            break
    steps.append(Step("identified", "index form", None, current if current is not None else Num(0),
                      f"d^{order}f ({why}; entries come from unit directions)"))
    multilinear = current if current is not None else Num(0)
    from matcalc.calculus.index_form import index_form  # loads SymPy: only when an index form is needed
    try:
        index = index_form(multilinear, tuple(dirs), node.shape, x.shape)
    except UnsupportedError:
        index = None
    return Derivative(Expr(node), x, order, "index", None, steps, multilinear=multilinear, directions=tuple(dirs),
                      convention=SYMMETRIC_CONVENTION if x.kind == "symmetric" else None, index=index)


def _evaluate_multilinear(d: Derivative, values: Mapping[str, object]):
    """D[f…, x…] = dᵏf(E₁, …, Eₖ) over all unit directions E (``values`` carry the dimension sizes)."""
    from matcalc.numeric.check import unit_directions
    x_user = np.asarray(values[d.wrt.name], dtype=float)
    f_sizes = tuple(dim_value(s, values, "f") for s in d.f.node.shape)
    out = np.zeros(_user_sizes(d.f.node.shape, f_sizes) + x_user.shape * d.order)
    if is_zero(d.multilinear):
        return out if out.shape else 0.0
    units = list(unit_directions(x_user.shape, d.wrt.kind == "symmetric"))
    for combo in itertools.product(units, repeat=d.order):
        vals = dict(values)
        for dv, (_, e) in zip(d.directions, combo):
            vals[dv.name] = e if e.ndim else float(e)
        index = tuple(i for idx, _ in combo for i in idx)
        out[(Ellipsis,) + index] = to_user(d.multilinear, evaluate_node(d.multilinear, vals))
    return out if out.shape else float(out)


def _unvec(m: np.ndarray, f_shape: tuple, x_shape: tuple, dims: Mapping) -> np.ndarray:
    """J with vec(dF) = J·vec(dX), as the array D[f…, x…] = ∂F[f…]/∂X[x…] (vec stacks columns)."""
    q, s = dim_value(f_shape[1], dims, "f"), dim_value(x_shape[1], dims, "x")
    p, r = m.shape[0] // q, m.shape[1] // s
    full = m.reshape(q, p, s, r).transpose(1, 0, 3, 2)
    return full.reshape(_user_sizes(f_shape, (p, q)) + _user_sizes(x_shape, (r, s)))


def _user_sizes(shape: tuple, sizes: tuple) -> tuple:
    """The NumPy sizes of a (rows, cols) shape in the user's layout."""
    if shape[0] == 1 and shape[1] == 1:
        return ()
    if shape[1] == 1:
        return (sizes[0],)
    return sizes


def gradient(f, wrt, decls: Decls = None) -> Derivative:
    """∂f/∂wrt for a scalar f (shape of wrt)."""
    d = diff(f, wrt, decls)
    if d.f.shape != ():
        raise MatcalcError(f"the gradient needs a scalar function, but {d.f} has shape {d.f.shape}; use jacobian")
    return d


def jacobian(f, wrt, decls: Decls = None) -> Derivative:
    """∂f/∂wrt: (len f, len x) for vectors."""
    return diff(f, wrt, decls)


def hessian(f, wrt, decls: Decls = None) -> Derivative:
    """∂²f/∂wrt² for a scalar f (shape wrt.shape + wrt.shape)."""
    d = diff(f, wrt, decls, order=2)
    if d.f.shape != ():
        raise MatcalcError(f"the Hessian needs a scalar function, but {d.f} has shape {d.f.shape}")
    return d
