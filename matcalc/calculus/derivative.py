"""The differentiation pass: differential → collected df → identification → simplify → result.

``diff`` returns a :class:`Derivative` holding the result, the layout, and the steps it really
performed, as a :class:`~matcalc.derivation.Derivation`: every differential rule, every
simplification rule that collected df, every adjoint (or vec) rule of the identification sweep,
the identification itself, every rule that simplified the result, and last, stated as such, df
rewritten with the result (tr(GᵀdX), J·dx, …).  No step is rebuilt from the answer.  The result is a gradient, Jacobian or Hessian in matrix form where one exists; for
matrix-valued functions and Hessians in a matrix variable, the vec (Kronecker) form J with
vec(dF) = J·vec(dX); otherwise (third and higher orders, or a differential that would need the
commutation matrix) the multilinear form dᵏf(dX₁, …, dXₖ), evaluated entry by entry at unit
directions: the index form D[i…, j…] = dᵏf(E_j₁, …).
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Mapping, Optional, Union


from matcalc.ir.build import T, eye, replace, times
from matcalc.calculus.differential import differential, direction
from matcalc.derivation import Derivation, Step, named, rule_of
from matcalc.errors import EvaluationError, MatcalcError, UnsupportedError, checked_order
from matcalc.numeric.evaluate import bind, diagnose
from matcalc.numeric.layout import multilinear_entries
from matcalc.expr import Expr, user_shape
from matcalc.calculus.identify import NotMatrixForm, columns_first, cotangent, substitute, vec_jacobian
from matcalc.ir.nodes import Const, Node, Num, Var, postorder, variables
from matcalc.front.parser import Decls, parse_node, parse_program, parse_type
from matcalc.printing.latex import to_latex
from matcalc.printing.text import to_text, to_text_shared
from matcalc.ir.shapes import is_scalar, is_vector, make
from matcalc.simplify.engine import Fixpoints, is_zero, simplify, simplify_traced

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
    record: Optional[Derivation] = None   # the steps the engine took
    multilinear: Optional[Node] = None   # dᵏf in the directions below (index form)
    of_shape: tuple = ()                 # vec form: the shape of what was differentiated last
    directions: tuple = ()
    convention: Optional[str] = None
    index: Optional[object] = None       # index form: D[i…] = Σ … (an IndexForm), where one is printable
    _evaluator: Optional[object] = field(default=None, repr=False, compare=False)  # plans of evaluate()

    @property
    def inferred(self) -> dict:
        """How each undeclared variable's type was inferred, e.g. ``{"b": "vector: meets A*x in '-'"}``."""
        return self.f.inferred

    @property
    def steps(self) -> list:
        """The steps of the derivation, in the order the engine took them."""
        return self.record.steps

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
        """The derivative's value, a NumPy array of shape :attr:`shape` (a float for a scalar).
        An EvaluationError points at the subexpression of f's text it comes from, where known."""
        full = values
        try:
            full = _with_dimensions(self.f.node, values, self.wrt)
            return self._evaluate(full)
        except EvaluationError as e:
            raise self.f.locate(diagnose(self.node, full, e), built=True) from None

    def _evaluate(self, values: Mapping[str, object]):
        if self.node is None:
            return multilinear_entries(self.multilinear, self.directions, self.f.node.shape, self.wrt, self.order, values)
        if self._evaluator is None:   # the planner shared with codegen; its plans live on this derivative
            from matcalc.generate.run import Evaluator
            vec = tuple(self.of_shape) + tuple(self.wrt.shape) if self.form == "vec" else None
            self._evaluator = Evaluator([self.node], [vec])
        return self._evaluator(values)[0]

    def __str__(self) -> str:
        if self.node is not None:
            return to_text_shared(self.node)
        if self.index is not None:
            return str(self.index)
        dirs = ", ".join(d.name for d in self.directions)
        return f"{to_text_shared(self.multilinear)}  # d^{self.order} f({dirs}); entry = this at unit directions"

    def latex(self) -> str:
        if self.node is not None:
            return to_latex(self.node, shared=True)
        if self.index is not None:
            return self.index.latex()
        return rf"d^{{{self.order}}}f = {to_latex(self.multilinear)}"

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """What Jupyter shows: text/plain, text/latex and text/markdown (see matcalc.reports.jupyter)."""
        from matcalc.reports.jupyter import derivative_bundle
        return derivative_bundle(self)

    def __repr__(self) -> str:
        return f"<Derivative {self.form} of {self.f} w.r.t. {self.wrt.name}: {self}>"

    def verify(self, values: Optional[Mapping[str, object]] = None, seed: Optional[int] = None) -> list:
        """Check every step numerically (see :func:`matcalc.numeric.verify.verify`): one
        :class:`~matcalc.derivation.Verdict` per step, each with ``.step``, ``.ok`` and ``.error``."""
        from matcalc.numeric.verify import verify
        return verify(self, values, seed)

    def explain(self, verdicts: Optional[list] = None) -> str:
        """The recorded derivation, one step a line (with each step's verification, if given)."""
        from matcalc.present import derivation_text
        return derivation_text(self, verdicts)


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


# ------------------------------------------------------------------------------ entry points

def _resolve(f: Union[str, Expr, Node], wrt: Union[str, Var], decls: Decls) -> tuple[Expr, Var]:
    """The function as an :class:`Expr` (which keeps how undeclared types were inferred) and the variable."""
    expr, program = _as_expr(f, decls)
    return expr, _variable(expr.node, wrt, decls, program)


def _as_expr(f, decls: Decls) -> tuple:
    if isinstance(f, Expr):
        return f, None
    if isinstance(f, Node):
        return Expr(f), None
    if isinstance(f, str):
        node, program = parse_node(f, decls)
        return Expr(node, program.inferred, program.spans), program
    raise MatcalcError(f"f must be an expression text or an Expr, not {type(f).__name__}")


def _variable(node: Node, wrt, decls: Decls, program=None) -> Var:
    """The variable named ``wrt``: from f, else declared (in ``decls`` or f's own text), giving a zero derivative."""
    if isinstance(wrt, Var):
        return wrt
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
    return found


def diff(f, wrt, decls: Decls = None, order: int = 1) -> Derivative:
    """The derivative of ``f`` with respect to the variable ``wrt``, ``order`` times.

    The result's layout is f.shape + wrt.shape (per order): a gradient has the shape of its
    variable, the Jacobian of a vector f w.r.t. a vector x is (len f, len x), a Hessian w.r.t.
    x has shape x.shape + x.shape.
    """
    order = checked_order(order)
    with _collector_paused():
        return _diff(f, wrt, decls, order)


@contextmanager
def _collector_paused():
    """Python's cycle collector paused while the engine runs.  The IR is acyclic (an immutable
    node refers only to its children) and the passes' tables are dropped when they return, so
    reference counting frees what the engine lets go of; the collector would only rescan the
    growing DAG, again and again (a quarter of the time of a 10,000-term sum, growing with it).
    Restored on the way out, also on an error; a no-op when the collector was already off."""
    was = gc.isenabled()
    if was:
        gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _diff(f, wrt, decls: Decls, order: int) -> Derivative:
    expr, x = _resolve(f, wrt, decls)
    node = expr.node
    record = Derivation(expr, x)
    record.add(Step("function", None, 0, None, node, check="none"))
    taken = set(variables(node)) | {x.name}
    current, form, previous = node, None, node.shape
    known = Fixpoints()   # normal-form nodes, shared by df, the sweep's result and the next order
    try:
        for k in range(1, order + 1):
            previous = current.shape
            current, form = _first_derivative(current, x, record, taken, k, last=k == order,
                                              symmetric=k == 2 and form == "gradient", known=known)
    except NotMatrixForm as why:
        del record.steps[1:]
        return _index_form(node, x, order, record, taken, str(why))
    convention = SYMMETRIC_CONVENTION if x.kind == "symmetric" else None
    return Derivative(expr, x, order, form, current, record, convention=convention, of_shape=previous)


COLLECTED = named("collect", "df collected: the simplification rules applied to the sum of the parts' differentials")
BY_SCALAR = named("identify_scalar", "a scalar variable: df = g·ds, so g is df at ds = 1")
BY_ADJOINT = named("identify_gradient",
                   "df = ⟨G, dX⟩ = tr(GᵀdX) identifies the gradient G (trace cyclicity, one reverse sweep)")
BY_JACOBIAN = named("identify_jacobian",
                    "df = J·dx identifies the Jacobian J (the sweep with one cotangent column per entry of f)")
BY_VEC = named("identify_vec", "vec(dF) = J·vec(dX) identifies the Kronecker form J (vec(A·dX·B) = (Bᵀ ⊗ A)·vec(dX))",
               cite="MC 520")
SYMMETRIZED = named("symmetrize", "a symmetric variable: the symmetric-space gradient (G + Gᵀ)/2")
RESULT = named("result", "the identified derivative, simplified")
RESTATED = named("restate", "df written with the result")
INDEX = named("index_form", "no matrix form: the multilinear form written entry by entry, deltas summed out")


def _form_of(fn_shape, x: Var) -> str:
    if is_scalar(x.shape):
        return "derivative"
    if is_scalar(fn_shape):
        return "gradient"
    return "jacobian" if is_vector(fn_shape) and is_vector(x.shape) else "vec"


#: Node visits spent replaying rewrites into the whole expression (``Step.whole``, for reading the
#: derivation line by line); past it a rewrite is recorded with its own before and after only.
REPLAY_BUDGET = 50_000


def _record_rewrites(record: Derivation, trace: list, stage: str, k: int, root: Node, **extra) -> None:
    """The simplification rules that fired, as equality steps; each also carries the whole
    expression after it, where the rewritten part can be found in it (within a size budget).

    A rewrite that a rule made while building its own result (a nested ``rb(...)``) acts on a
    part that is not in the whole expression yet: it is recorded ``within`` the step of that rule,
    right after it, so the line before shows the whole expression the part ended up in."""
    whole = root
    budget = REPLAY_BUDGET // _size_up_to(root, REPLAY_BUDGET + 1) if trace else 0
    inner: list = []                  # rewrites inside the next rule's work, waiting for its step
    for n, (fn, before, after) in enumerate(trace):
        rule = rule_of(fn) if callable(fn) else named(fn, fn)
        if n >= budget:
            record.add(Step(stage, rule, k, before, after, **extra))
            continue
        shown = replace(whole, before, after)
        if shown is None:
            inner.append(Step(stage, rule, k, before, after, within=True, **extra))
            continue
        whole = shown
        record.add(Step(stage, rule, k, before, after, whole=shown, **extra))
        record.extend(inner)
        inner = []
    record.extend(inner)


def _size_up_to(root: Node, limit: int) -> int:
    """The number of distinct nodes of ``root``, counted up to ``limit`` (a big expression is not
    walked to the end only to learn that it is over the replay budget)."""
    count = 0
    for _ in postorder(root):
        count += 1
        if count >= limit:
            break
    return max(1, count)


def _first_derivative(fn: Node, x: Var, record: Derivation, taken: set, k: int, last: bool = True,
                      symmetric: bool = False, known: Optional[Fixpoints] = None) -> tuple[Node, str]:
    dx = direction(x, taken)
    raw, dsteps = differential(fn, x, dx, order=k)
    record.extend(dsteps)
    if raw is None:
        return _zero_result(record, fn.shape, x, k), "zero"
    df, trace = simplify_traced(raw, known=known)
    _record_rewrites(record, trace, "collect", k, raw, direction=dx)
    record.add(Step("collect", COLLECTED, k, raw, df, direction=dx))
    if is_zero(df):
        return _zero_result(record, fn.shape, x, k), "zero"
    form = _form_of(fn.shape, x)
    sweep: list = []
    if form == "derivative":
        raw_g, rule = substitute(df, dx, Num(1)), BY_SCALAR
    elif form == "gradient":
        (raw_g, sweep), rule = cotangent(df, dx, Num(1), order=k), BY_ADJOINT
    elif form == "jacobian":
        by_columns = columns_first(df, dx)
        if by_columns != df:
            record.add(Step("collect", rule_of(columns_first), k, df, by_columns, direction=dx))
            df = by_columns
        jt, sweep = cotangent(df, dx, eye(fn.shape[0]), batched=True, order=k)
        # the Jacobian of a gradient is a Hessian, symmetric: Jᵀ is J, no transpose needed
        raw_g, rule = (None if jt is None else jt if symmetric else T(jt)), BY_JACOBIAN
        if symmetric:
            form = "hessian"
    else:
        if x.kind == "symmetric":
            raise NotMatrixForm(f"the symmetric-space convention for {x.name} in a Kronecker form would need the "
                                "commutation matrix")
        if not last or k > 2:
            raise NotMatrixForm(f"the derivative of a {_kind(fn.shape)} with respect to a {_kind(x.shape)}, "
                                "differentiated again")
        (raw_g, sweep), rule = vec_jacobian(df, dx, order=k), BY_VEC
    if raw_g is None:
        return _zero_result(record, fn.shape, x, k), "zero"
    record.extend(sweep)
    record.add(Step("identify", rule, k, df, raw_g, check="identify", wrt=x, direction=dx, form=form))
    if form == "gradient" and x.kind == "symmetric":
        raw_g = make("div", make("add", raw_g, T(raw_g)), Num(2))
        record.add(Step("identify", SYMMETRIZED, k, df, raw_g, check="identify", wrt=x, direction=dx, form=form))
    final, trace = simplify_traced(raw_g, known=known)
    _record_rewrites(record, trace, "simplify", k, raw_g)
    if is_zero(final) and form != "vec":   # a zero J of the vec form keeps its layout (|F| × |X|, not F × X)
        form = "zero"
    record.add(Step("result", RESULT, k, raw_g, final, wrt=x, form=form))
    if form != "zero":
        stated = make("vec", df) if form == "vec" else df
        record.add(Step("restate", RESTATED, k, stated, _restated(final, dx, form), wrt=x, direction=dx, form=form))
    return final, form


def _restated(g: Node, dx: Var, form: str) -> Node:
    """df written with the result: g·ds, gᵀdx or tr(GᵀdX), J·dx, or J·vec(dX) (a restatement,
    recorded after the result, never a step towards it)."""
    if form == "gradient":
        gt = simplify(T(g), simple=g)   # g is the output of a pass: only the transpose above it is new
        return times(gt, dx) if is_vector(dx.shape) else make("tr", times(gt, dx))
    if form == "vec":
        return times(g, make("vec", dx))
    return times(g, dx)


def _zero_result(record: Derivation, f_shape, x: Var, k: int) -> Node:
    zero = _zero(f_shape, x.shape)
    record.add(Step("result", RESULT, k, None, zero, check="none", wrt=x, form="zero"))
    return zero


def _kind(shape) -> str:
    if is_scalar(shape):
        return "scalar"
    return "vector" if is_vector(shape) else ("row vector" if shape[0] == 1 else "matrix")


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


def _index_form(node: Node, x: Var, order: int, record: Derivation, taken: set, why: str) -> Derivative:
    dirs: list = []
    current: Optional[Node] = node
    for k in range(1, order + 1):
        dx = direction(x, taken | {d.name for d in dirs}, k)
        d, dsteps = differential(current, x, dx, order=k)
        record.extend(dsteps)
        dirs.append(dx)
        if d is None:
            current = None
            break
        current, trace = simplify_traced(d)
        _record_rewrites(record, trace, "collect", k, d, direction=dx)
        record.add(Step("collect", COLLECTED, k, d, current, direction=dx, directions=tuple(dirs)))
    multilinear = current if current is not None else Num(0)
    from matcalc.calculus.index_form import index_form  # loads SymPy: only when an index form is needed
    try:
        index = index_form(multilinear, tuple(dirs), node.shape, x.shape)
    except UnsupportedError:
        index = None
    if index is not None:
        # a zero multilinear form still has f's shape: the step keeps it, for the check
        stated = multilinear if current is not None or is_scalar(node.shape) else Const("fill", node.shape, 0)
        record.add(Step("index", INDEX, order, stated, index, check="index", wrt=x, directions=tuple(dirs),
                        form=why))
    return Derivative(record.f, x, order, "index", None, record, multilinear=multilinear, directions=tuple(dirs),
                      convention=SYMMETRIC_CONVENTION if x.kind == "symmetric" else None, index=index)


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
