"""Lowered programs to Python modules, through :mod:`ast` (never by formatting user text).

User names reach the module only as string constants (the keyword names of ``**values``);
every identifier in it comes from a :class:`Namer`, which keeps a user's name where it is a
plain ASCII identifier that is no keyword, builtin, module alias or generated name, and maps
every other name to a safe one (``lambda`` → ``u_lambda``, ``np`` → ``u_np``, ``ω`` → ``u_x03c9``).
A lowered node used more than once, an output, or an inlined expression deeper than
:data:`MAX_DEPTH` becomes a temporary ``t1 = …``; anything else is inlined into its one user.
"""
from __future__ import annotations

import ast
import builtins
import keyword
import re

from matcalc.generate.plan import L
from matcalc.ir.nodes import postorder_all
from matcalc.generate.targets import PRELUDES, TEMPLATES

MAX_DEPTH = 8
EINSUM = {"numpy": "np", "jax": "jnp", "torch": "torch"}
RESERVED = frozenset(keyword.kwlist) | frozenset(getattr(keyword, "softkwlist", ())) | frozenset(dir(builtins)) | {
    "np", "jnp", "jax", "torch", "math", "values", "InputError", "self", "cls"}
_PLACEHOLDERS = ("_0", "_1", "_a", "_r", "_c", "_ref")
_TEMP = re.compile(r"t\d+")


def safe(name: str) -> bool:
    """A name usable unchanged as a generated identifier."""
    return (name.isascii() and name.isidentifier() and name not in RESERVED and not name.startswith("_")
            and not _TEMP.fullmatch(name))


class Namer:
    """Unique, valid identifiers; user names kept where :func:`safe`."""

    def __init__(self):
        self.used: set[str] = set()
        self.temps = 0

    def claim(self, preferred: str) -> str:
        base = preferred if safe(preferred) else "u_" + "".join(
            c if (c.isascii() and (c.isalnum() or c == "_")) else f"x{ord(c):04x}" for c in preferred)
        name, i = base, 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        assert name.isidentifier() and not keyword.iskeyword(name), name
        self.used.add(name)
        return name

    def temp(self) -> str:
        while True:
            self.temps += 1
            name = f"t{self.temps}"
            if name not in self.used:
                self.used.add(name)
                return name


class _Fill(ast.NodeTransformer):
    def __init__(self, holes: dict):
        self.holes = holes

    def visit_Name(self, node):
        if node.id in self.holes:
            hole = self.holes[node.id]
            # argument trees are used once (a repeated argument is a name): no copy needed
            return ast.Name(hole.id, ast.Load()) if isinstance(hole, ast.Name) else hole
        return node


def fill(target: str, op: str, holes: dict) -> ast.expr:
    """The template of ``op`` with its holes replaced by syntax trees (the template is parsed
    afresh, which is faster than copying a parsed one)."""
    return _Fill(holes).visit(ast.parse(TEMPLATES[target][op], mode="eval").body)


def repeats(target: str, op: str) -> bool:
    """Does the template use an argument twice (then the argument must be a name)?"""
    text = TEMPLATES[target][op]
    return any(len(re.findall(rf"\b{h}\b", text)) > 1 for h in ("_0", "_1"))


def name(ident: str) -> ast.Name:
    return ast.Name(ident, ast.Load())


def store(ident: str) -> ast.Name:
    return ast.Name(ident, ast.Store())


def constant(value) -> ast.expr:
    """A constant of plain data (numbers, strings, tuples of them)."""
    if isinstance(value, tuple):
        return ast.Tuple([constant(v) for v in value], ast.Load())
    if isinstance(value, float) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


class Body:
    """Statements of one core function: lowered nodes become expressions and temporaries."""

    def __init__(self, target: str, namer: Namer, args: dict, dim):
        self.target, self.namer, self.args, self.dim = target, namer, args, dim
        self.stmts: list[ast.stmt] = []

    def assign(self, ident: str, value: ast.expr) -> None:
        self.stmts.append(ast.Assign([store(ident)], value))

    def program(self, outputs: list[L]) -> list[ast.expr]:
        """Emit every node the outputs need; return the outputs' expressions."""
        order = list(postorder_all(outputs))
        uses: dict[int, int] = {}
        for n in order:
            for a in n.args:
                uses[id(a)] = uses.get(id(a), 0) + 1
        for o in outputs:
            uses[id(o)] = uses.get(id(o), 0) + 2
        refs: dict[int, tuple] = {}        # id -> (expr, depth)
        for n in order:
            if n.op == "arg":
                refs[id(n)] = (name(self.args[n.attr]), 0)
                continue
            if n.op == "lit":
                refs[id(n)] = (constant(float(n.attr)), 0)
                continue
            kids = [refs[id(a)] for a in n.args]
            if n.op == "einsum":
                # NumPy contracts three or more operands in one loop over all indices unless
                # told to find a pairwise path (whose intermediates are at most the largest operand)
                keywords = [ast.keyword("optimize", ast.Constant(True))] if self.target == "numpy" and len(kids) > 2 else []
                expr = ast.Call(ast.Attribute(name(EINSUM[self.target]), "einsum", ast.Load()),
                                [ast.Constant(n.attr)] + [k[0] for k in kids], keywords)
                ident = self.namer.temp()
                self.assign(ident, expr)
                refs[id(n)] = (name(ident), 0)
                continue
            if repeats(self.target, n.op):
                kids = [self._named(k) for k in kids]
            holes = {f"_{i}": k[0] for i, k in enumerate(kids)}
            holes["_a"] = self._attr(n)
            if "_r" in TEMPLATES[self.target][n.op]:
                holes["_r"], holes["_c"] = self.dim(n.shape[0]), self.dim(n.shape[1])
            holes["_ref"] = name("_ref")
            if self.target == "numpy" and n.op == "sub" and isinstance(kids[0][0], ast.Name) \
                    and not isinstance(kids[1][0], (ast.Name, ast.Constant)) and n.args[1].shape == n.shape:
                # a - (fresh temporary) as -(temporary - a): NumPy then reuses the temporary's memory
                # (it elides only a left-hand temporary of a subtraction) instead of allocating
                expr = ast.UnaryOp(ast.USub(), fill(self.target, "sub", {"_0": kids[1][0], "_1": kids[0][0]}))
            else:
                expr = fill(self.target, n.op, holes)
            depth = 1 + max((k[1] for k in kids), default=0)
            if uses.get(id(n), 0) > 1 or depth > MAX_DEPTH:
                ident = self.namer.temp()
                self.assign(ident, expr)
                refs[id(n)] = (name(ident), 0)
            else:
                refs[id(n)] = (expr, depth)
        return [refs[id(o)][0] for o in outputs]

    def _named(self, ref):
        expr, depth = ref
        if isinstance(expr, (ast.Name, ast.Constant)):
            return ref
        ident = self.namer.temp()
        self.assign(ident, expr)
        return name(ident), 0

    def _attr(self, n: L) -> ast.expr:
        if n.op == "eye":
            return self.dim(n.attr)
        if n.op in ("unvec", "zeros", "reshape"):
            return ast.Tuple([self.dim(d) for d in n.attr], ast.Load())
        if n.op in ("full", "matpow"):
            return constant(n.attr)
        return ast.Constant(None)


def prelude(target: str) -> list[ast.stmt]:
    return ast.parse(PRELUDES[target]).body
