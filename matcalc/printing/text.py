"""The input language as output: minimal parentheses, and it parses back to the same function.

Constants print bare (``eye``, ``vector(1)``, ``matrix(0)``) only where the text around them
fixes their size, as the parser will infer it; elsewhere they carry it: ``eye(n)``,
``vector(0, n)``, ``vector(1, n)'`` for a row, ``matrix(1, m, n)``.  A 1×1 identity or fill is
the number it equals.  :func:`open_constants` decides which constants need their size, by
running the parser's shape unification over the printed occurrences.
"""
from __future__ import annotations

from matcalc.ir.nodes import ALL_OPS, ELEMENTWISE, MATRIX_FUNCTIONS, BINARY_FUNCTIONS, Node, fold, op_of
from matcalc.ir.shapes import narrowed
from matcalc.tables import registrar

# binding strength: sums < products < unary minus < postfix (^ .^ ') < atoms
SUM, PRODUCT, UNARY, POSTFIX, ATOM = 1, 2, 3, 4, 5

TEXT_RULES: dict = {}


printer = registrar(TEXT_RULES)


def _p(kid, level: int) -> str:
    """A child's text, parenthesised if it binds less tightly than ``level``."""
    text, prec = kid
    return text if prec >= level else f"({text})"


def _right(kid, level: int) -> str:
    """A right operand's text: parenthesised as :func:`_p`, and when it starts with a minus sign
    (``x + (-2)``, ``a*(-2)``; the grammar reads ``x + -2`` too, but a reader stumbles)."""
    text = _p(kid, level)
    return f"({text})" if text.startswith("-") else text


def _number(value) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


@printer("num")
def text_num(node, kids):
    """Numbers print as Python would; a negative one binds like unary minus."""
    return _number(node.value), (UNARY if node.value < 0 else ATOM)


@printer("var")
def text_var(node, kids):
    return node.name, ATOM


@printer("eye")
def text_eye(node, kids):
    """eye; a 1×1 identity is 1."""
    if node.shape == (1, 1):
        return "1", ATOM
    return "eye", ATOM


@printer("fill")
def text_fill(node, kids):
    """vector(c), matrix(c), and vector(c)' for a row; a 1×1 fill is the number c."""
    c = _number(node.value)
    if node.shape == (1, 1):
        return c, (UNARY if node.value < 0 else ATOM)
    if node.shape[0] == 1:
        return f"vector({c})'", POSTFIX
    kind = "vector" if node.shape[1] == 1 else "matrix"
    return f"{kind}({c})", ATOM


def _dim_text(d) -> str:
    return str(d)


def text_sized(node) -> tuple:
    """A constant with its size: eye(n), vector(c, n), vector(c, n)', matrix(c, m, n)."""
    r, k = node.shape
    if node.op == "eye":
        return f"eye({_dim_text(r)})", ATOM
    c = _number(node.value)
    if r == 1:
        return f"vector({c}, {_dim_text(k)})'", POSTFIX
    if k == 1:
        return f"vector({c}, {_dim_text(r)})", ATOM
    return f"matrix({c}, {_dim_text(r)}, {_dim_text(k)})", ATOM


def _bare_shape(node, u):
    """The shape the parser gives a bare constant: fresh dimensions where the text is silent."""
    r, k = node.shape
    if (r, k) == (1, 1):
        return (1, 1)
    if node.op == "eye":
        d = u.fresh()
        return (d, d)
    if r == 1:
        return (1, u.fresh())
    if k == 1:
        return (u.fresh(), 1)
    return (u.fresh(), u.fresh())


def open_constants(root: Node, shared: frozenset = frozenset(), budget: int | None = None) -> set:
    """The ids of the constants in ``root`` whose size the printed text would not fix.

    The text of a DAG repeats a shared subexpression once per use, and the parser infers each
    copy on its own, so the occurrences are walked as a tree (subtrees without constants have
    their own, known shape and are not entered).  Nodes in ``shared`` print once, as a
    definition, and are inferred once.  Past ``budget`` occurrences every constant counts as
    open (sized text is always faithful)."""
    from matcalc.ir.nodes import postorder
    from matcalc.ir.shapes import SHAPE_RULES, Mismatch, Unifier

    consts = {}
    has_const: dict[int, bool] = {}
    count = 0
    for node in postorder(root):
        count += 1
        op = op_of(node)
        if op in ("eye", "fill"):
            has_const[id(node)] = node.shape != (1, 1)
            if has_const[id(node)]:
                consts[id(node)] = node
        else:
            has_const[id(node)] = any(has_const[id(c)] for c in node.children())
    if not consts:
        return set()
    budget = budget if budget is not None else 20 * count + 10_000
    u = Unifier()
    seen: list = []  # (const id, parsed shape)
    memo: dict[int, tuple] = {}
    results: list = []
    stack = [(root, False)]
    steps = 0
    while stack:
        node, expanded = stack.pop()
        steps += 1
        if steps > budget:
            return set(consts)
        if not expanded:
            if not has_const[id(node)]:
                results.append(node.shape)
            elif id(node) in memo:
                results.append(memo[id(node)])
            elif id(node) in consts:
                shape = _bare_shape(node, u)
                seen.append((id(node), shape))
                results.append(shape)
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.children()))
            continue
        n = len(node.children())
        args = tuple(results[len(results) - n:])
        del results[len(results) - n:]
        try:
            shape = SHAPE_RULES[op_of(node)](args, u)
        except Mismatch:
            shape = node.shape
        if id(node) in shared:
            memo[id(node)] = shape
        results.append(shape)
    return {cid for cid, shape in seen if tuple(u.resolve(shape)) != tuple(consts[cid].shape)}


def _rule(sized: set):
    def visit(node, kids):
        if id(node) in sized:
            return text_sized(node)
        return TEXT_RULES[op_of(node)](node, kids)
    return visit


def _infix(symbol: str, prec: int):
    def text_infix(node, kids):
        a, b = kids
        return f"{_p(a, prec)}{symbol}{_right(b, prec + 1)}", prec
    return text_infix


printer("add")(_infix(" + ", SUM))
printer("sub")(_infix(" - ", SUM))
@printer("mul", "scale")
def text_mul(node, kids):
    """A*B; an inner product scaling a matrix keeps its parentheses, (x'*y)*z, for readers."""
    a, b = kids
    left = _p(a, PRODUCT)
    x, y = node.args
    if op_of(x) == "mul" and x.shape == (1, 1) and x.args[0].shape != (1, 1) and y.shape != (1, 1):
        left = f"({a[0]})"
    return f"{left}*{_right(b, PRODUCT + 1)}", PRODUCT
printer("div")(_infix("/", PRODUCT))
printer("hadamard")(_infix(" .* ", PRODUCT))
printer("ediv")(_infix(" ./ ", PRODUCT))


@printer("neg")
def text_neg(node, kids):
    (a,) = kids
    inner = _p(a, UNARY)
    return ("-" + (f"({inner})" if inner.startswith("-") else inner)), UNARY


@printer("transpose")
def text_transpose(node, kids):
    return _p(kids[0], POSTFIX) + "'", POSTFIX


_ATOM_OPS = {"var", "num", "eye", "fill", *ELEMENTWISE, *MATRIX_FUNCTIONS, *BINARY_FUNCTIONS}


def _exponent(node: Node, kid) -> str:
    """An exponent is an atom or a negated atom (``X^-1``); anything else is parenthesised."""
    if op_of(node) == "var" and node.name == "T":  # X^T reads as a transpose; the power is X^(T)
        return f"({kid[0]})"
    if kid[1] == ATOM or (op_of(node) == "num" and node.value < 0):
        return kid[0]
    if op_of(node) == "neg" and op_of(node.args[0]) in _ATOM_OPS and kid[0][1:2] != "-":
        return kid[0]
    return f"({kid[0]})"


def _power(symbol: str):
    def text_power(node, kids):
        base, expo = kids
        # a power of a power keeps its parentheses for human readers, though the grammar needs none
        bare = base[1] == ATOM or op_of(node.args[0]) == "transpose"
        return f"{base[0] if bare else f'({base[0]})'}{symbol}{_exponent(node.args[1], expo)}", POSTFIX
    return text_power


printer("pow")(_power("^"))
printer("epow")(_power(".^"))


@printer(*ELEMENTWISE, *MATRIX_FUNCTIONS, *BINARY_FUNCTIONS)
def text_call(node, kids):
    return f"{node.op}({', '.join(k[0] for k in kids)})", ATOM


assert set(TEXT_RULES) == set(ALL_OPS), set(ALL_OPS) ^ set(TEXT_RULES)


def to_text(root: Node) -> str:
    """The expression in matcalc's input language; constants carry their size where the text
    would not fix it (see :func:`open_constants`); a scalar spread in a sum is the scalar, as
    it was typed (x + 1, see :func:`matcalc.ir.shapes.narrowed`)."""
    root = narrowed(root)
    return fold(root, _rule(open_constants(root)))[0]


def to_text_shared(root: Node, min_size: int = 4) -> str:
    """Like :func:`to_text`, but a large result whose subexpressions repeat prints them once, as
    definitions ``t1 = …`` on lines before it (matrixcalculus.org's "where"); it still parses.
    Which subexpressions are named is decided by :func:`matcalc.printing.share.share`."""
    from matcalc.printing.share import share

    bindings, body = share(root, min_size)
    return "\n".join([f"{name} = {to_text(node)}" for name, node in bindings] + [to_text(body)])
