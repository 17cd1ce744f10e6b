"""The input language as output: minimal parentheses, and it parses back to the same IR."""
from __future__ import annotations

from matcalc.ir.nodes import ALL_OPS, ELEMENTWISE, MATRIX_FUNCTIONS, BINARY_FUNCTIONS, Node, fold, op_of
from matcalc.tables import registrar

# binding strength: sums < products < unary minus < postfix (^ .^ ') < atoms
SUM, PRODUCT, UNARY, POSTFIX, ATOM = 1, 2, 3, 4, 5

TEXT_RULES: dict = {}


printer = registrar(TEXT_RULES)


def _p(kid, level: int) -> str:
    """A child's text, parenthesised if it binds less tightly than ``level``."""
    text, prec = kid
    return text if prec >= level else f"({text})"


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
    return "eye", ATOM


@printer("fill")
def text_fill(node, kids):
    """vector(c), matrix(c), and vector(c)' for a row."""
    if node.shape[0] == 1 and node.shape[1] != 1:
        return f"vector({_number(node.value)})'", POSTFIX
    kind = "vector" if node.shape[1] == 1 else "matrix"
    return f"{kind}({_number(node.value)})", ATOM


def _infix(symbol: str, prec: int):
    def text_infix(node, kids):
        a, b = kids
        return f"{_p(a, prec)}{symbol}{_p(b, prec + 1)}", prec
    return text_infix


printer("add")(_infix(" + ", SUM))
printer("sub")(_infix(" - ", SUM))
@printer("mul")
def text_mul(node, kids):
    """A*B; an inner product scaling a matrix keeps its parentheses, (x'*y)*z, for readers."""
    a, b = kids
    left = _p(a, PRODUCT)
    x, y = node.args
    if op_of(x) == "mul" and x.shape == (1, 1) and x.args[0].shape != (1, 1) and y.shape != (1, 1):
        left = f"({a[0]})"
    return f"{left}*{_p(b, PRODUCT + 1)}", PRODUCT
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
    """The expression in matcalc's input language."""
    return fold(root, lambda node, kids: TEXT_RULES[op_of(node)](node, kids))[0]


def to_text_shared(root: Node, min_size: int = 4) -> str:
    """Like :func:`to_text`, but a large result whose subexpressions repeat prints them once, as
    definitions ``t1 = …`` on lines before it (matrixcalculus.org's "where"); it still parses.
    Which subexpressions are named is decided by :func:`matcalc.printing.share.share`."""
    from matcalc.printing.share import share

    bindings, body = share(root, min_size)
    return "\n".join([f"{name} = {to_text(node)}" for name, node in bindings] + [to_text(body)])
