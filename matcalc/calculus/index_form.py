"""Index notation for derivatives that have no matrix form (third and higher orders, …).

The multilinear form dᵏf(dX₁, …, dXₖ) is written entry by entry: every matrix product becomes a
sum over a shared index, each direction dX_m becomes Kronecker deltas pinning its indices to the
m-th derivative index, and the deltas are summed out by the index-sum engine of
:mod:`matcalc.conv` (the same rules that derive convolution gradients).  Subexpressions that do
not involve a direction (tanh(W*x), inv(X), …) are named t1, t2, … and listed under "where".
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from matcalc.calculus.linear import INDEX_RULES
from matcalc.indexsum.ir import Delta, Index, IndexSum, Ref, Term, symbol
from matcalc.indexsum.printing import sum_text
from matcalc.indexsum.rules import drop_trivial, sum_out_delta, sum_unit_ranges
from matcalc.errors import UnsupportedError
from matcalc.ir.nodes import Node, Var, op_of, postorder
from matcalc.printing.text import to_text
from matcalc.ir.shapes import is_scalar

LETTERS = "ijklpqrsuvabcdefgh"


@dataclass(frozen=True)
class IndexForm:
    """D[free…] = rhs, with the named subexpressions it uses."""

    lhs: str
    expr: IndexSum
    where: tuple  # (name, node)

    def __str__(self) -> str:
        return self.text()

    def text(self, where: bool = True) -> str:
        """D[…] = Σ …, and (``where``) the definitions of the named subexpressions under it."""
        rhs = sum_text(self.expr).replace("+ -", "− ").replace("**", "^")
        if rhs.startswith("-"):
            rhs = "−" + rhs[1:]
        text = f"{self.lhs} = {rhs}"
        if self.where and where:
            text += "\n  where " + "; ".join(f"{n} = {to_text(t)}" for n, t in self.where)
        return text

    def evaluate(self, values: dict, dims: dict) -> np.ndarray:
        """The entries D[…] from the index sums themselves (``dims``: dimension name → size)."""
        from matcalc.indexsum.evaluate import evaluate as evaluate_sum
        from matcalc.numeric.evaluate import evaluate as evaluate_node
        arrays, scalars = {}, {}
        names = {f.name for t in self.expr.terms for f in t.factors if isinstance(f, Ref)}
        for name in names:
            node = dict((n, t) for n, t in self.where).get(name)
            value = np.asarray(evaluate_node(node, values) if node is not None else values[name], dtype=float)
            arrays[name] = value.reshape(-1) if value.ndim == 2 and 1 in value.shape and \
                (node is None or node.shape[0] == 1 or node.shape[1] == 1) else value
        for name, node in self.where:
            if is_scalar(node.shape):
                scalars[sp.Symbol(name)] = float(evaluate_node(node, values))
        sizes = {symbol(k, positive=True): v for k, v in dims.items()}
        return evaluate_sum(self.expr, arrays, {**sizes, **scalars})

    def latex(self) -> str:
        from dataclasses import replace
        from matcalc.indexsum.printing import LATEX
        from matcalc.printing.latex import latex_name, to_latex, wrap_lines
        text = f"{self.lhs} = {sum_text(self.expr, style=replace(LATEX, rename=latex_name))}"
        if self.where:
            text += r",\quad \text{where } " + r",\ ".join(f"{latex_name(n)} = {to_latex(t)}" for n, t in self.where)
        return wrap_lines(text)


def _extent(dim) -> sp.Expr:
    if isinstance(dim, int):
        return sp.Integer(dim)
    out = sp.Integer(1)
    for part in str(dim).split("*"):
        out *= sp.Integer(int(part)) if part.isdigit() else symbol(part, positive=True)
    return out


def _indices(shape, row, col) -> tuple:
    """The index expressions a node of ``shape`` is read at (none for a scalar, one for a vector)."""
    if is_scalar(shape):
        return ()
    if shape[1] == 1:
        return (row,)
    if shape[0] == 1:
        return (col,)
    return (row, col)


#: The index rules, one per linear op (:mod:`matcalc.calculus.linear`): a generator
#: ``rule(builder, node, row, col)`` that yields the entries it needs, as ``(child, row, col)``, is
#: sent each one's terms, and returns the node's terms (coefficient, factors, bound indices).
#: :func:`_drive` runs them with an explicit stack, so the depth of the expression never reaches
#: Python's recursion limit.
#: Direction-free scalars kept as SymPy expressions (numbers, powers and quotients), by op; the rest
#: is named.  Same protocol, sent and returning SymPy expressions.
SCALAR_RULES: dict = {}


def _scalar(*ops):
    def register(fn):
        for op in ops:
            SCALAR_RULES[op] = fn
        return fn
    return register


@_scalar("num")
def scalar_num(b, node):
    return sp.nsimplify(node.value)
    yield  # a generator


@_scalar("neg")
def scalar_neg(b, node):
    return -(yield node.args[0])


@_scalar("transpose")
def scalar_transpose(b, node):
    return (yield node.args[0])


@_scalar("scale")
def scalar_scale(b, node):
    if not is_scalar(node.shape):
        return sp.Symbol(b.name(node))
    left = yield node.args[0]
    return left * (yield node.args[1])


@_scalar("div")
def scalar_div(b, node):
    if not is_scalar(node.args[0].shape):
        return sp.Symbol(b.name(node))
    top = yield node.args[0]
    return top / (yield node.args[1])


@_scalar("pow", "epow")
def scalar_pow(b, node):
    if op_of(node.args[1]) != "num":
        return sp.Symbol(b.name(node))
    return (yield node.args[0]) ** sp.nsimplify(node.args[1].value)


def _drive(first, start=lambda request: request):
    """Run a rule generator and those it asks for with an explicit stack, and return its value;
    ``start`` turns a request into the generator that answers it."""
    stack, value = [first], None
    while stack:
        try:
            request = stack[-1].send(value)
        except StopIteration as done:
            stack.pop()
            value = done.value
            continue
        stack.append(start(request))
        value = None
    return value


class _Builder:
    def __init__(self, directions: dict, depends: set):
        self.directions = directions     # name -> (row symbol, col symbol)
        self.depends = depends           # ids of nodes that involve a direction
        self.opaque: dict = {}           # node -> name
        self.fresh = (symbol(f"k{n}") for n in itertools.count(1))

    def bound(self, k, dim) -> Index:
        """The summation index k over a dimension."""
        return Index(k, _extent(dim))

    def delta(self, a, b) -> Delta:
        return Delta(a, b)

    def ref(self, node: Node, row, col) -> Ref:
        """The entry [row, col] of a direction-free node, named."""
        return Ref(self.name(node), _indices(node.shape, row, col))

    def name(self, node: Node) -> str:
        if node not in self.opaque:
            self.opaque[node] = f"t{len(self.opaque) + 1}"
        return self.opaque[node]

    def scalar(self, node: Node) -> sp.Expr:
        """A direction-free scalar as a SymPy expression: numbers, powers and quotients kept
        (:data:`SCALAR_RULES`), anything else named."""
        return _drive(_scalar_start(self, node), lambda n: _scalar_start(self, n))

    def terms(self, node: Node, row, col) -> list:
        """The entry [row, col] of ``node`` as terms (coeff, factors, bound indices)."""
        return _drive(_Request(self, node, row, col))

    def leaf(self, node: Node, row, col):
        """The terms of a node the rules do not take apart: a direction, or a direction-free part."""
        op = op_of(node)
        if op == "var" and node.name in self.directions:
            p, q = self.directions[node.name]
            idx = _indices(node.shape, row, col)
            target = _indices(node.shape, p, q)
            if node.kind == "symmetric":
                # the symmetric-space convention in this slot: dS[a, b] = ([a = p][b = q] + [a = q][b = p])/2
                half = sp.Rational(1, 2)
                return [(half, (Delta(idx[0], p), Delta(idx[1], q)), ()),
                        (half, (Delta(idx[0], q), Delta(idx[1], p)), ())]
            return [(sp.Integer(1), tuple(Delta(a, b) for a, b in zip(idx, target)), ())]
        if is_scalar(node.shape):
            return [(self.scalar(node), (), ())]
        name = node.name if op == "var" else self.name(node)
        return [(sp.Integer(1), (Ref(name, _indices(node.shape, row, col)),), ())]


def _scalar_start(b, n):
    rule = SCALAR_RULES.get(op_of(n))
    if rule is None:
        return _constant(sp.Symbol(b.name(n)))
    return rule(b, n)


def _constant(value):
    return value
    yield  # a generator


#: ops the index rules take apart even where no direction occurs (they keep the text short)
_STRUCTURAL = ("transpose", "neg", "scale")


def _Request(b: _Builder, node: Node, row, col):
    """The generator for the entry [row, col] of ``node``: its op's rule, or a leaf; the requests
    of a rule, (child, row, col), become generators in turn (see :func:`_drive`)."""
    op = op_of(node)
    if (op == "var" and node.name in b.directions) or \
            (op not in _STRUCTURAL and id(node) not in b.depends):
        return _constant(b.leaf(node, row, col))
    rule = INDEX_RULES.get(op)
    if rule is None:
        raise UnsupportedError(f"{op} of a direction has no index notation here")
    return _requests(b, rule(b, node, row, col))


def _requests(b: _Builder, gen):
    """Forward ``gen``'s requests (child, row, col) as generators, and its result."""
    value = None
    while True:
        try:
            child, r, c = gen.send(value)
        except StopIteration as done:
            return done.value
        value = yield _Request(b, child, r, c)


def _slots(shape, letters) -> tuple:
    """(index symbols, row, col) for reading an entry of ``shape``: none for a scalar, one for a vector."""
    if is_scalar(shape):
        return [], None, None
    if shape[1] == 1:
        i = symbol(next(letters))
        return [Index(i, _extent(shape[0]))], i, None
    if shape[0] == 1:
        j = symbol(next(letters))
        return [Index(j, _extent(shape[1]))], None, j
    i, j = symbol(next(letters)), symbol(next(letters))
    return [Index(i, _extent(shape[0])), Index(j, _extent(shape[1]))], i, j


def index_form(multilinear: Node, directions: tuple, f_shape: tuple, x_shape: tuple) -> IndexForm:
    """D[f…, x₁…, …] for the multilinear form dᵏf(dX₁, …, dXₖ) (shapes as (rows, cols))."""
    letters = iter(LETTERS)
    free, row, col = _slots(f_shape, letters)
    dirs: dict = {}
    for dv in directions:
        more, p, q = _slots(x_shape, letters)
        free += more
        dirs[dv.name] = (p, q)
    depends: set = set()
    for node in postorder(multilinear):
        if (isinstance(node, Var) and node.name in dirs) or any(id(c) in depends for c in node.children()):
            depends.add(id(node))
    builder = _Builder(dirs, depends)
    merged: dict = {}
    for coeff, factors, bound in builder.terms(multilinear, row, col):
        term = _sum_out(Term(tuple(factors), tuple(bound), coeff), tuple(free))
        if term is None:
            continue
        term = _canonical(term)
        key = (term.factors, term.bound)
        merged[key] = merged[key] + term.coeff if key in merged else term.coeff
    terms = [Term(f, b, sp.simplify(c)) for (f, b), c in merged.items() if sp.simplify(c) != 0]
    lhs = "D[" + ", ".join(str(i.var) for i in free) + "]" if free else "D"
    used = {f.name for t in terms for f in t.factors if isinstance(f, Ref)} | \
        {str(s) for t in terms for s in sp.sympify(t.coeff).free_symbols}
    where = tuple((name, node) for node, name in builder.opaque.items() if name in used)
    return IndexForm(lhs, IndexSum(tuple(free), tuple(terms)), where)


def _canonical(term: Term) -> Term:
    """Deltas written smaller index first, factors in a fixed order, so equal terms compare equal."""
    def norm(f):
        if isinstance(f, Delta) and str(f.rhs) < str(f.lhs):
            return Delta(f.rhs, f.lhs)
        return f
    factors = sorted((norm(f) for f in term.factors), key=lambda f: (isinstance(f, Delta), str(f)))
    return Term(tuple(factors), tuple(sorted(term.bound, key=lambda i: str(i.var))), term.coeff)


def _sum_out(term: Term, free: tuple):
    """Sum out every delta that involves a bound index; drop sums over one value and what always holds."""
    term = sum_unit_ranges(term)
    while True:
        for k, f in enumerate(term.factors):
            if isinstance(f, Delta):
                found = sum_out_delta(term, k)
                if found is not None:
                    term = found[0]
                    break
        else:
            break
        term, _ = drop_trivial(term, free)
        if term is None:
            return None
    term, _ = drop_trivial(term, free)
    return term
