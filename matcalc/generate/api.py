"""``matcalc.codegen`` and ``matcalc.compile``: a derivative as a module of fast code.

The module has ``value_and_grad`` (the value and the gradient, Jacobian or vec-form derivative
in the layout f.shape + x.shape; a tuple of them for several variables), and on request
``hessian`` (``hessian=True``: shape x.shape + x.shape), ``hvp`` (``hvp=True``: the Hessian
applied to a direction, from the directional derivative of the gradient, so the Hessian is never
formed) and ``derivative`` (``order=k``: the k-th derivative, shape f.shape + x.shape × k; from
order 3 on an index form, one ``einsum`` per term of its index sum, e.g.
``compile("norm2(x)^4", ["x"], order=3).derivative(x=x)`` of shape (n, n, n)).  Vec forms
(Kronecker products, ``diag(vec(M))``) become einsums too: no dense Kronecker matrix is built.
For JAX, ``jit=False`` leaves the functions unjitted (no compile per function; for tests).  Every function takes
the variables as keyword arguments under the expression's own names, ``f(**values)`` with the
dict ``evaluate`` takes, and checks their ranks and dimension sizes before computing.
"""
from __future__ import annotations

import ast
import builtins
import linecache
from dataclasses import dataclass
from itertools import count
from typing import Mapping, Optional, Sequence, Union

from matcalc.errors import MatcalcError, UnsupportedError
from matcalc.generate.emit import Body, Namer, constant, name, prelude, store
from matcalc.generate.plan import Planner, for_target
from matcalc.generate.targets import TARGETS
from matcalc.ir.nodes import Const, Node, Num, Var, variables
from matcalc.ir.shapes import is_scalar

DIRECTION_NAMES = ("v", "direction", "v_direction")
_MODULES = count(1)


@dataclass
class Output:
    """One returned array: the IR node, its user-layout shape, and the vec-form layout if any."""

    node: Node
    shape: tuple                 # user-layout dims (IR dims)
    unvec: Optional[tuple] = None  # (p, q, r, s): vec(F) (p×q) against vec(X) (r×s)
    index: Optional[object] = None  # an IndexForm, lowered to einsum (node is then None)


@dataclass
class Function:
    name: str
    doc: str
    variables: list              # Vars, in keyword order (with the hvp direction last)
    outputs: list                # Outputs
    nest: bool = False           # value_and_grad for several variables: (value, (g1, g2, …))


def user_dims(shape) -> tuple:
    if is_scalar(shape):
        return ()
    if shape[1] == 1:
        return (shape[0],)
    return tuple(shape)


def _spec(var: Var) -> tuple:
    return (var.name, var.kind, tuple(user_dims(var.shape)))


def _kind_words(var: Var) -> str:
    dims = user_dims(var.shape)
    return var.kind + (f"({','.join(map(str, dims))})" if dims else "")


# ------------------------------------------------------------------------------ derivatives to outputs

def _parse(f, decls):
    from matcalc.expr import Expr
    from matcalc.front.parser import parse_node
    if isinstance(f, Expr):
        return f.node
    if isinstance(f, Node):
        return f
    if isinstance(f, str):
        return parse_node(f, decls)[0]
    raise MatcalcError(f"f must be an expression text or an Expr, not {type(f).__name__}")


def _derivative_output(d, f_node: Node) -> Output:
    x = d.wrt
    shape = user_dims(f_node.shape) + user_dims(x.shape) * d.order
    if d.node is None:
        if d.index is None or x.kind == "symmetric":
            raise UnsupportedError(f"the derivative of {d.f} w.r.t. {x.name} (order {d.order}) has only a "
                                   "multilinear form, without index notation, which code generation cannot "
                                   "lower; use Derivative.evaluate")
        return Output(None, shape, index=d.index)
    if d.form == "vec":
        return Output(d.node, shape, tuple(d.of_shape) + tuple(x.shape))
    return Output(d.node, shape)


def functions(f_node: Node, wrt: list, decls, hessian: bool, hvp: bool,
              order: Optional[int] = None) -> tuple[list, Optional[str]]:
    """The entry points to generate, and the hvp direction's keyword."""
    from matcalc.calculus.derivative import diff
    from matcalc.calculus.differential import differential
    from matcalc.simplify.engine import simplify

    ds = [diff(f_node, w, decls) for w in wrt]
    xs = [d.wrt for d in ds]
    names = list(variables(f_node).values()) + [x for x in xs if x.name not in variables(f_node)]
    text = _text(f_node)
    value = Output(f_node, user_dims(f_node.shape))
    grads = [_derivative_output(d, f_node) for d in ds]
    out = [Function("value_and_grad",
                    f"(f, ∂f/∂{xs[0].name})" if len(xs) == 1 else f"(f, (∂f/∂{'·, ∂f/∂'.join(x.name for x in xs)}))",
                    names, [value] + grads, nest=len(xs) > 1)]
    direction = None
    if order is not None:
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise MatcalcError(f"order must be a positive whole number (3 for the third derivative), not {order!r}")
        if len(xs) != 1:
            raise UnsupportedError("order= takes one variable (wrt=[name]); generate one module per variable")
        dk = diff(f_node, xs[0], decls, order=order)
        x = xs[0]
        out.append(Function("derivative", f"the derivative of order {order}, ∂^{order}f/∂{x.name}^{order}, of shape "
                                          f"f.shape + {x.name}.shape × {order}", names, [_derivative_output(dk, f_node)]))
    if hessian or hvp:
        if len(xs) != 1:
            raise UnsupportedError("hessian and hvp take one variable (wrt=[name]); generate one module per variable")
        if not is_scalar(f_node.shape):
            raise UnsupportedError(f"hessian and hvp need a scalar function, but {text} is not a scalar")
        x = xs[0]
    if hessian:
        d2 = diff(f_node, x, decls, order=2)
        out.append(Function("hessian", f"∂²f/∂{x.name}², shape {x.name}.shape + {x.name}.shape", names,
                            [_derivative_output(d2, f_node)]))
    if hvp:
        taken = {v.name for v in names}
        direction = next(n for n in DIRECTION_NAMES if n not in taken)
        v = Var(direction, x.shape, x.kind)
        g = ds[0].node
        if g is None:
            raise UnsupportedError(f"hvp needs the gradient of {text} w.r.t. {x.name} in matrix form, "
                                   "but it has only an index form")
        dg = differential(g, x, v, record=False)[0] if ds[0].form != "zero" else None
        dg = simplify(dg) if dg is not None else None
        if dg is None:
            dg = Num(0) if is_scalar(x.shape) else Const("fill", tuple(x.shape), 0)
        out.append(Function("hvp", f"the Hessian of f w.r.t. {x.name} applied to the direction "
                                   f"{direction} (shape {x.name}.shape), without forming the Hessian",
                            names + [v], [Output(dg, user_dims(x.shape))]))
    return out, direction


def _text(node: Node) -> str:
    from matcalc.printing.text import to_text
    return to_text(node)


# ------------------------------------------------------------------------------ module building

def _lower_output(planner: Planner, o: Output, fn: Function):
    if o.index is not None:
        from matcalc.generate.index import lower_index_form
        return lower_index_form(planner, o.index, {v.name: v for v in fn.variables}, o.shape)
    if o.unvec is not None:
        return planner.vec_form(o.node, o.unvec)
    return planner.lower(o.node)


def _core(fn: Function, target: str, sizes) -> tuple[str, ast.FunctionDef]:
    namer = Namer()
    idents = {v.name: namer.claim(v.name) for v in fn.variables}
    core_name = "_" + fn.name
    planner = Planner(sizes)
    lowered = [_lower_output(planner, o, fn) for o in fn.outputs]
    lowered = for_target(planner, lowered, target)
    dims: dict = {}
    for v in fn.variables:                    # where each dimension's size is read (after reshaping)
        for axis, d in enumerate(v.shape):
            if isinstance(d, str) and "*" not in d and d not in dims and not is_scalar(v.shape):
                dims[d] = (idents[v.name], axis)
    dim_idents: dict = {}
    pre: list[ast.stmt] = []

    def dim(d) -> ast.expr:
        if isinstance(d, int) or str(d).isdigit():
            return ast.Constant(int(d))
        if "*" in d:
            parts = [dim(p) for p in d.split("*")]
            out = parts[0]
            for p in parts[1:]:
                out = ast.BinOp(out, ast.Mult(), p)
            return out
        if d not in dim_idents:
            if d not in dims:
                raise UnsupportedError(f"the size of dimension {d} comes from no variable of the function")
            ident = dim_idents[d] = namer.claim(d)
            src, axis = dims[d]
            pre.append(ast.Assign([store(ident)], ast.Subscript(
                ast.Attribute(name(src), "shape", ast.Load()), ast.Constant(axis), ast.Load())))
        return name(dim_idents[d])

    body = Body(target, namer, idents, dim)
    exprs = body.program(lowered)
    results = []
    for o, e in zip(fn.outputs, exprs):
        if o.shape == ():
            results.append(ast.Call(name("_scalar"), [e, name("_ref")], []))
        else:
            results.append(ast.Call(name("_out"), [e, ast.Tuple([dim(d) for d in o.shape], ast.Load()),
                                                   name("_ref")], []))
    if fn.nest:
        ret = ast.Tuple([results[0], ast.Tuple(results[1:], ast.Load())], ast.Load())
    elif len(results) == 1:
        ret = results[0]
    else:
        ret = ast.Tuple(results, ast.Load())
    params = [idents[v.name] for v in fn.variables]
    arrays = [v for v in fn.variables if not is_scalar(v.shape)]
    ref = idents[(arrays or fn.variables)[0].name] if fn.variables else None
    setup: list[ast.stmt] = [ast.Assign([store("_ref")], name(ref) if ref else ast.Constant(None))]
    for v in fn.variables:
        if v.shape[1] == 1 and not is_scalar(v.shape):
            ident = idents[v.name]
            setup.append(ast.Assign([store(ident)], ast.Call(ast.Attribute(name(ident), "reshape", ast.Load()),
                                                               [constant(-1), ast.Constant(1)], [])))
    stmts = setup + pre + body.stmts + [ast.Return(ret)]
    decorators = [ast.Call(ast.Attribute(name("torch"), "no_grad", ast.Load()), [], [])] if target == "torch" else []
    node = ast.FunctionDef(core_name, ast.arguments([], [ast.arg(p) for p in params], None, [], [], None, []),
                           stmts, decorators, None)
    return core_name, node


def module_ast(f_node: Node, fns: list, target: str, wrt: list, direction: Optional[str],
               sizes: Optional[Mapping] = None, jit: bool = True) -> ast.Module:
    text = _text(f_node)
    lines = [f"Generated by matcalc for the {target} target: f = {text}, w.r.t. {', '.join(wrt)}.", ""]
    variables_ = fns[0].variables
    lines.append("Every function takes the variables as keyword arguments under the expression's own names")
    lines.append("(`fn(**values)`, the dict `Expr.evaluate` takes): " +
                 ", ".join(f"{v.name}: {_kind_words(v)}" for v in variables_) + ".")
    lines.append("A vector is a 1-D array, a matrix 2-D, a scalar a number; ranks and dimension sizes are")
    lines.append("checked first (InputError, a ValueError).")
    lines.append("")
    for fn in fns:
        lines.append(f"{fn.name}(**values): {fn.doc}.")
    if direction is not None:
        note = "" if direction == "v" else " (not `v`: the expression has its own variable v)"
        lines.append(f"The direction of hvp is the keyword `{direction}`{note}.")
    if target == "jax" and not jit:
        lines += ["", "JAX, generated with jit=False: the functions run op by op, without jax.jit (for tests and",
                  "debugging); wrap them in jax.jit yourself for speed. For float64 enable",
                  "jax.config.update('jax_enable_x64', True) before the first call."]
    if target == "jax" and jit:
        lines += ["", "JAX: each function is wrapped in jax.jit, so the first call for given shapes compiles",
                  "(about a second); later calls run the compiled code. For float64 enable",
                  "jax.config.update('jax_enable_x64', True) before the first call. The code runs unchanged",
                  "on GPU and TPU, and under jax.sharding: pass sharded arrays."]
    if target == "torch":
        lines += ["", "torch: runs under torch.no_grad(), on the device and dtype of the given tensors",
                  "(CPU or GPU, unchanged); numbers and NumPy arrays are converted to that device."]
    body: list[ast.stmt] = [ast.Expr(ast.Constant("\n".join(lines) + "\n"))]
    body += prelude(target)
    for i, fn in enumerate(fns):
        spec_name = f"_VARIABLES_{fn.name.upper()}"
        body.append(ast.Assign([store(spec_name)], constant(tuple(_spec(v) for v in fn.variables))))
        core_name, core = _core(fn, target, sizes)
        body.append(core)
        if target == "jax" and jit:
            body.append(ast.Assign([store(core_name)], ast.Call(ast.Attribute(name("jax"), "jit", ast.Load()),
                                                                [name(core_name)], [])))
        call = ast.Call(name(core_name), [ast.Starred(ast.Call(name("_bind"), [
            name("values"), name(spec_name), ast.Constant(fn.name)], []), ast.Load())], [])
        entry = ast.FunctionDef(fn.name, ast.arguments([], [], None, [], [], ast.arg("values"), []),
                                [ast.Expr(ast.Constant(f"{fn.doc}.")), ast.Return(call)], [], None)
        body.append(entry)
    module = ast.Module(body, [])
    return ast.fix_missing_locations(module)


def _prepare(f, wrt, target, decls, hessian, hvp, sizes, order=None, jit=True):
    if target not in TARGETS:
        raise MatcalcError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    wrt_list = [wrt] if isinstance(wrt, str) else list(wrt) if isinstance(wrt, (list, tuple)) else None
    if not wrt_list or not all(isinstance(w, str) for w in wrt_list):
        raise MatcalcError(f"wrt must be a variable name or a list of names, not {wrt!r}")
    f_node = _parse(f, decls)
    fns, direction = functions(f_node, wrt_list, decls, hessian, hvp, order)
    return module_ast(f_node, fns, target, wrt_list, direction, sizes, jit), direction


def codegen(f, wrt: Union[str, Sequence[str]], target: str = "numpy", decls=None, hessian: bool = False,
            hvp: bool = False, sizes: Optional[Mapping[str, int]] = None, order: Optional[int] = None,
            jit: bool = True) -> str:
    """The source of a module with ``value_and_grad`` (and ``hessian``, ``hvp`` on request) for
    ``f`` w.r.t. ``wrt`` in ``target`` (numpy, jax or torch).  ``order=k`` adds
    ``derivative(**values)``, the k-th derivative in the layout f.shape + x.shape × k (for k ≥ 3
    an index form, compiled to one ``einsum`` per term).  ``sizes`` (dimension → size) informs
    the planner's cost model (a matrix chain's order); unknown sizes count as 1000.  ``jit``
    (JAX only): False leaves the functions unjitted, so they run op by op without compiling
    (for tests and debugging; much slower per call)."""
    module, _ = _prepare(f, wrt, target, decls, hessian, hvp, sizes, order, jit)
    return ast.unparse(module) + "\n"


@dataclass
class Compiled:
    """The generated functions (None where not requested), their module's source and namespace."""

    value_and_grad: object
    hessian: object
    hvp: object
    source: str
    direction: Optional[str]
    namespace: dict
    derivative: object = None


def compile(f, wrt: Union[str, Sequence[str]], target: str = "numpy", decls=None, hessian: bool = False,
            hvp: bool = False, sizes: Optional[Mapping[str, int]] = None, order: Optional[int] = None,
            jit: bool = True) -> Compiled:
    """Like :func:`codegen`, but the functions themselves (the target library must be installed)."""
    module, direction = _prepare(f, wrt, target, decls, hessian, hvp, sizes, order, jit)
    source = ast.unparse(module) + "\n"
    filename = f"<matcalc-codegen-{next(_MODULES)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": filename}
    code = builtins.compile(source, filename, "exec")
    exec(code, namespace)  # the module built above from the IR through ast, never user text
    return Compiled(namespace.get("value_and_grad"), namespace.get("hessian"), namespace.get("hvp"),
                    source, direction, namespace, namespace.get("derivative"))

