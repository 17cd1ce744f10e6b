"""Phase 4, structured: identities of structured operands and special functions ([N9])."""
from __future__ import annotations

from typing import Optional

from matcalc.ir.nodes import PRODUCTS, Const, Node, Num, op_of
from matcalc.ir.shapes import is_scalar, make
from matcalc.derivation import identity
from matcalc.simplify.normal_form import rewrites
from matcalc.simplify.terms import is_num, is_ones, is_zero, power_parts, pull_sign, scaled


@rewrites("structured", "mul", "scale", given=("fill",))
@identity("vector(1)'*x = sum(x)", "x: vector(n)")
def ones_inner_product(node, rb):
    """1ᵀx → sum(x) and xᵀ1 → sum(x) (1 the all-ones vector)."""
    a, b = node.args
    if not is_scalar(node.shape) or is_scalar(a.shape):
        return None
    if is_ones(a):
        return rb("sum", b)
    if is_ones(b):
        return rb("sum", a)
    return None


@rewrites("structured", "mul", "scale", given=("neg", "kron"))
@identity("kron(A, B)*kron(C, D) = kron(A*C, B*D)", "A: matrix(m,n); B: matrix(p,q); C: matrix(n,k); D: matrix(q,l)", "MC 511")
def kron_mixed_product(node, rb):
    """(A ⊗ B)(C ⊗ D) → AC ⊗ BD when the products exist (MC 511)."""
    a, b = node.args
    if op_of(a) == "neg" and op_of(a.args[0]) == "kron":
        out = kron_mixed_product(make("mul", a.args[0], b), rb)
        return rb("neg", out) if out is not None else None
    if op_of(a) == "kron" and op_of(b) == "kron":
        (p, q), (r, t) = a.args, b.args
        if p.shape[1] == r.shape[0] and q.shape[1] == t.shape[0]:
            return rb("kron", rb("mul", p, r), rb("mul", q, t))
    if op_of(node) == "mul" and op_of(a) in PRODUCTS and op_of(a.args[1]) == "kron" and op_of(b) == "kron":
        # c·(A ⊗ B) · (C ⊗ D) or M·(A ⊗ B) · (C ⊗ D); never a scaling whose 1×1 factor is a product
        inner = kron_mixed_product(make("mul", a.args[1], b), rb)
        return rb("mul", a.args[0], inner) if inner is not None else None
    return None


@rewrites("structured", "mul", "scale", given=("diag",))
@identity("diag(x)*diag(y) = diag(x .* y)", "x: vector(n); y: vector(n)")
def diag_product(node, rb):
    """diag(a)·diag(b) → diag(a ⊙ b), and diag(a)·(diag(b)·C) → diag(a ⊙ b)·C, for vectors a, b."""
    a, b = node.args
    if op_of(a) != "diag" or a.args[0].shape[1] != 1:
        return None
    if op_of(b) == "diag" and b.args[0].shape[1] == 1:
        return rb("diag", rb("hadamard", a.args[0], b.args[0]))
    if op_of(b) in PRODUCTS and op_of(b.args[0]) == "diag" and b.args[0].args[0].shape[1] == 1:
        return rb("mul", rb("diag", rb("hadamard", a.args[0], b.args[0].args[0])), b.args[1])
    return None


@rewrites("structured", "mul", "scale", given=("diag",))
@identity("diag(x)*y = x .* y", "x: vector(n); y: vector(n)")
def diag_times_vector(node, rb):
    """diag(a)·v → a ⊙ v for column vectors a, v."""
    a, b = node.args
    if op_of(a) == "diag" and a.args[0].shape[1] == 1 and b.shape[1] == 1 and not is_scalar(b.shape):
        return rb("hadamard", a.args[0], b)
    return None


@rewrites("structured", "mul", "scale", given=("inv",))
@identity("A*inv(A) = eye", "A: matrix(n,n)")
def inverse_product(node, rb):
    """A·A⁻¹ → I and A⁻¹·A → I."""
    a, b = node.args
    if (op_of(b) == "inv" and b.args[0] == a) or (op_of(a) == "inv" and a.args[0] == b):
        from matcalc.ir.build import eye
        return eye(a.shape[0])
    return None


# ------------------------------------------------------------------------------ cancellation

def _scalar_spine(node: Node) -> list:
    """The left spine of a product with, at each link, whether its first operand is a scalar factor."""
    spine = [node]
    while op_of(spine[-1]) in PRODUCTS:
        spine.append(spine[-1].args[0])
    return spine


def _without_factor(node: Node, factor: Node, rb) -> Optional[Node]:
    """``node`` (a product) with one scalar factor equal to ``factor`` (or to −factor, the sign
    kept) taken out of its left spine, or None when it has no such factor."""
    spine, k = [node], 0
    while op_of(spine[-1]) in PRODUCTS:
        spine.append(spine[-1].args[0])
    for k in range(len(spine) - 1):   # spine[k] = spine[k+1] · spine[k].args[1]
        n = spine[k]
        for i, x in enumerate(n.args):
            if not is_scalar(x.shape):
                continue
            sign = op_of(x) == "neg" and x.args[0] == factor
            if x == factor or sign:
                rest = n.args[1 - i]
                out = rb("neg", rest) if sign else rest
                for m in reversed(spine[:k]):
                    out = rb("mul", out, m.args[1])
                return out
    return None


@identity("s*A/s = A", "s: scalar; A: matrix(m,n)")
@rewrites("structured", "div")
def cancel_scalar_factor(node, rb):
    """s·A/s → A and s·A/(s·t) → A/t; numbers too: 2·A/(2·s) → A/s, a/a → 1."""
    a, b = node.args
    if a == b and not is_zero(b):
        return Num(1)
    ca, ta = rb.facts.split(a)
    cb, tb = rb.facts.split(b)
    if cb != 1 and cb != 0 and ta is not None and tb is not None and float(ca / cb).is_integer():
        return rb("div", scaled(ca / cb, ta, a.shape, rb), tb)
    factors = [b] + ([b.args[0], b.args[1]] if op_of(b) in PRODUCTS and is_scalar(b.args[0].shape) else [])
    for k, f in enumerate(factors):
        if is_num(f):
            continue
        out = _without_factor(a, f, rb)
        if out is None and a == f:
            out = Num(1)
        if out is not None:
            return out if k == 0 else rb("div", out, factors[3 - k])
    return None


def _hadamard_parts(node: Node) -> tuple:
    """(numerators, denominators) of an elementwise product/quotient of same-shaped arrays."""
    num, den, stack = [], [], [(node, True)]
    while stack:
        n, up = stack.pop()
        op = op_of(n)
        if op in ("hadamard", "ediv") and n.args[0].shape == n.args[1].shape == n.shape:
            stack.append((n.args[1], up if op == "hadamard" else not up))
            stack.append((n.args[0], up))
        else:
            (num if up else den).append(n)
    return num, den


@identity("A .* (B ./ A) = B", "A: matrix(m,n); B: matrix(m,n)")
@rewrites("structured", "hadamard", "ediv")
def cancel_elementwise_factor(node, rb):
    """A ⊙ (B ⊘ A) → B, A ⊘ A → 1 (the all-ones array), (A ⊙ B) ⊘ (A ⊙ C) → B ⊘ C."""
    num, den = _hadamard_parts(node)
    if not den:
        return None
    left = list(den)
    kept = []
    for f in num:
        match = next((k for k, d in enumerate(left) if d == f), None)
        if match is None:
            kept.append(f)
        else:
            left.pop(match)
    if len(left) == len(den):
        return None
    top = kept[0] if kept else Const("fill", tuple(node.shape), 1)
    for f in kept[1:]:
        top = rb("hadamard", top, f)
    for d in left:
        top = rb("ediv", top, d)
    return top


def _one_minus(node: Node) -> Optional[Node]:
    """B for node = 1 − B (1 the number or the all-ones array), else None."""
    if op_of(node) == "sub" and (is_num(node.args[0], 1) or is_ones(node.args[0])):
        return node.args[1]
    return None


def _two_factors(node: Node):
    """The two factors of an elementwise product (or of a product of two scalars), else None."""
    if op_of(node) == "hadamard" or (op_of(node) in PRODUCTS and is_scalar(node.args[0].shape)
                                     and is_scalar(node.args[1].shape)):
        return tuple(node.args)
    return None


@identity("A .* (1 - B) - (1 - A) .* B = A - B", "A: matrix(m,n); B: matrix(m,n)")
@rewrites("structured", "sub")
def complementary_products(node, rb):
    """A ⊙ (1 − B) − (1 − A) ⊙ B → A − B (the products A ⊙ B cancel; as in the logistic loss), and
    likewise for scalars: a·(1 − b) − (1 − a)·b → a − b."""
    x, y = (_two_factors(t) for t in node.args)
    if not x or not y:
        return None
    for p, q in (x, x[::-1]):
        b = _one_minus(q)
        if b is None:
            continue
        for r, s in (y, y[::-1]):
            if _one_minus(r) == p and s == b:
                return rb("sub", p, b)
    return None


# ------------------------------------------------------------------------------ special functions

@identity("1 - sigmoid(-u) = sigmoid(u)", "u: vector(n)")
@rewrites("structured", "sub")
def sigmoid_complement(node, rb):
    """1 − σ(−u) → σ(u), and 1 − σ(u) stays (it is the textbook σ′ = σ(1 − σ))."""
    u = _one_minus(node)
    if op_of(u) == "sigmoid" and u.shape == node.shape:
        inner = pull_sign(u.args[0], rb)   # −v, or (−a) ⊙ b as the sign normal form writes −(a ⊙ b)
        if inner is not None:
            return rb("sigmoid", inner)
    return None


def _one_plus_exp(node: Node) -> Optional[Node]:
    """v for node = 1 + exp(v), else None."""
    if op_of(node) == "add" and (is_num(node.args[0], 1) or is_ones(node.args[0])) and op_of(node.args[1]) == "exp":
        return node.args[1].args[0]
    return None


@identity("exp(-u) ./ (1 + exp(-u)) = sigmoid(-u)", "u: vector(n)")
@rewrites("structured", "ediv", "div")
def logistic_quotient(node, rb):
    """exp(v) ⊘ (1 + exp(v)) → σ(v) and 1 ⊘ (1 + exp(−u)) → σ(u) (the logistic function)."""
    a, b = node.args
    v = _one_plus_exp(b)
    if v is None or b.shape != node.shape:
        return None
    if op_of(a) == "exp" and a.args[0] == v:
        return rb("sigmoid", v)
    if (is_num(a, 1) or is_ones(a)) and op_of(v) == "neg":
        return rb("sigmoid", v.args[0])
    return None


@identity("sum(softmax(x)) = 1", "x: vector(n)")
@rewrites("structured", "sum")
def softmax_sums_to_one(node, rb):
    """sum(softmax(x)) → 1: softmax is a probability vector, 1ᵀ·softmax(x) = 1."""
    return Num(1) if op_of(node.args[0]) == "softmax" else None


@identity("x'*(c*vector(1)) = c*sum(x)", "x: vector(n); c: scalar")
@rewrites("structured", "mul", "scale", given=("fill",))
def constant_inner_product(node, rb):
    """xᵀ(c·1) → c·sum(x) and (c·1)ᵀx → c·sum(x), for a constant array c·1 (c a number)."""
    a, b = node.args
    if not is_scalar(node.shape) or is_scalar(a.shape):
        return None
    for x, y in ((a, b), (b, a)):
        if isinstance(y, Const) and y.op == "fill" and y.value not in (0, 1):
            return rb("mul", Num(y.value), rb("sum", x))
        if op_of(y) == "transpose" and isinstance(y.args[0], Const) and y.args[0].op == "fill" \
                and y.args[0].value not in (0, 1):
            return rb("mul", Num(y.args[0].value), rb("sum", x))
    return None


@identity("A .* (s*matrix(1)) = s*A", "A: matrix(m,n); s: scalar")
@rewrites("structured", "hadamard")
def hadamard_by_scaled_ones(node, rb):
    """A ⊙ (s·1) → s·A: a scalar broadcast through a constant array is a scaling."""
    a, b = node.args
    for x, y in ((a, b), (b, a)):
        if op_of(y) in PRODUCTS and is_scalar(y.args[0].shape) and is_ones(y.args[1]) and x.shape == node.shape:
            return rb("mul", y.args[0], x)
    return None


@identity("sum(A') = sum(A)", "A: matrix(m,n)")
@rewrites("structured", "sum")
def sum_of_transpose(node, rb):
    """sum(Aᵀ) → sum(A): the entries are the same."""
    a = node.args[0]
    return rb("sum", a.args[0]) if op_of(a) == "transpose" else None


@rewrites("structured", "sum")
@identity("sum(-(s*A)) = -(s*sum(A))", "s: scalar; A: matrix(m,n)")
def scalar_out_of_sum(node, rb):
    """sum(−A) → −sum(A) and sum(s·A) → s·sum(A) (the sum is linear)."""
    a = node.args[0]
    if op_of(a) == "neg":
        return rb("neg", rb("sum", a.args[0]))
    if op_of(a) == "scale":
        return rb("scale", a.args[0], rb("sum", a.args[1]))
    return None


# ------------------------------------------------------------------------------ inverses of products
# The patterns below go through small predicates (_scaling, _matrix_link, _last_factor, …) rather
# than matching ``op == "mul"`` with scalar tests inline, so that splitting the product op into a
# matrix product and a scaling changes only these helpers.

#: the longest power A^k unrolled into k factors when matching a product against an inverse
_MAX_UNROLL = 8


def _scaling(node: Node):
    """(s, A) for s·A, a scalar s times a non-scalar A, else None."""
    if op_of(node) in ("mul", "scale") and is_scalar(node.args[0].shape) and not is_scalar(node.args[1].shape):
        return node.args[0], node.args[1]
    return None


def _matrix_link(node: Node):
    """(A, B) for a matrix product A·B of two non-scalar factors, else None."""
    if op_of(node) == "mul" and not is_scalar(node.args[0].shape) and not is_scalar(node.args[1].shape):
        return node.args[0], node.args[1]
    return None


def _square(node: Node) -> bool:
    return not is_scalar(node.shape) and node.shape[0] == node.shape[1]


def _times(a: Optional[Node], b: Optional[Node], rb) -> Optional[Node]:
    """a·b, where None stands for a factor that is not there."""
    if a is None or b is None:
        return b if a is None else a
    return rb("mul", a, b)


def _right_nested(pieces: list, rb) -> Optional[Node]:
    """p₁·(p₂·(…·pₖ)), or None for no pieces."""
    out = None
    for p in reversed(pieces):
        out = p if out is None else rb("mul", p, out)
    return out


def _last_factor(node: Node):
    """(pieces, F) with node = p₁·(p₂·(…·pₖ))·F for the last matrix factor F: the scalings'
    scalars, then the product before F (no pieces when node is F).  Nothing is built: a rule
    that does not fire must leave no step behind (see :func:`_right_nested`)."""
    pieces = []
    sc = _scaling(node)
    while sc is not None:
        pieces.append(sc[0])
        node = sc[1]
        sc = _scaling(node)
    link = _matrix_link(node)
    if link is not None:
        pieces.append(link[0])
        return pieces, link[1]
    return pieces, node


def _first_factor(node: Node):
    """(F, rights) with node = F·R₁·…·Rₖ for the first matrix factor F (F None when node has a
    scalar factor: its scalar leads, it has no first matrix factor).  Nothing is built."""
    if _scaling(node) is not None:
        return None, [node]
    spine = [node]
    while _matrix_link(spine[-1]) is not None:
        spine.append(spine[-1].args[0])
    first = spine.pop()
    return first, [link.args[1] for link in reversed(spine)]


def _left_nested(pieces: list, rb) -> Optional[Node]:
    """((p₁·p₂)·…)·pₖ, or None for no pieces."""
    out = None
    for p in pieces:
        out = _times(out, p, rb)
    return out


def _is_transpose_of(f: Node, q: Node, rb) -> bool:
    """Whether f is qᵀ in normal form (q's transpose dropped, q symmetric, or f = qᵀ), decided
    without building qᵀ."""
    if op_of(q) == "transpose":
        return f == q.args[0]
    if rb.facts.symmetric(q):
        return f == q
    return op_of(f) == "transpose" and f.args[0] == q


def _chain_factors(node: Node) -> list:
    """The matrix factors of a product chain, left to right; a power A^k counts as k factors A."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        link = _matrix_link(n)
        if link is not None:
            stack += [link[1], link[0]]
            continue
        base, k = power_parts(n)
        out += [base] * k if 1 < k <= _MAX_UNROLL and not is_scalar(base.shape) else [n]
    return out


def _product_of(factors: list, rb) -> Node:
    out = factors[0]
    for f in factors[1:]:
        out = rb("mul", out, f)
    return out


def _inverse_parts(node: Node):
    """(factors of Q, transposed) for node = inv(Q) or inv(Q)ᵀ, else None."""
    transposed = op_of(node) == "transpose"
    inner = node.args[0] if transposed else node
    if op_of(inner) != "inv":
        return None
    return _chain_factors(inner.args[0]), transposed


def _reduced_inverse(factors: list, transposed: bool, n, rb) -> Node:
    """inv(F₁·…·Fₖ), transposed if asked; the n×n identity when no factor is left."""
    from matcalc.ir.build import eye
    if not factors:
        return eye(n)
    out = rb("inv", _product_of(factors, rb))
    return rb("transpose", out) if transposed else out


@identity("B*inv(A*B) = inv(A)", "A: matrix(n,n); B: matrix(n,n)", "MC 1")
@rewrites("structured", "mul")
def cancel_into_inverse(node, rb):
    """F·inv(Q·F) → inv(Q) and inv(F·Q)·F → inv(Q), as inv(Q·F) = inv(F)·inv(Q) (MC 1), for a square F (so Q is square too, and both
    are invertible since Q·F is); also transposed, Fᵀ·inv(F·Q)ᵀ → inv(Q)ᵀ and inv(Q·F)ᵀ·Fᵀ →
    inv(Q)ᵀ, and through powers, X·inv(X²) → inv(X).  A rectangular F is never cancelled:
    X·inv(Xᵀ·X) stays.  One factor is cancelled per step; the rebuilt product is simplified
    again, so A·X·inv(Xᵀ·A·X) → inv(Xᵀ)."""
    link = _matrix_link(node)
    if link is None:
        return None
    a, b = link
    inv_b = _inverse_parts(b)
    if inv_b is not None:                       # …·F · inv(…·F): F meets the last factor of Q
        factors, transposed = inv_b
        pieces, f = _last_factor(a)
        # the last factor of Q (or, transposed, of Qᵀ = …·Q₁ᵀ)
        if _square(f) and (_is_transpose_of(f, factors[0], rb) if transposed else f == factors[-1]):
            left = factors[1:] if transposed else factors[:-1]
            return _times(_right_nested(pieces, rb), _reduced_inverse(left, transposed, f.shape[0], rb), rb)
    pieces, f = _last_factor(a)
    inv_a = _inverse_parts(f)
    if inv_a is not None:                       # inv(F·…) · F·…: F meets the first factor of Q
        factors, transposed = inv_a
        g, rights = _first_factor(b)
        if g is not None and _square(g) and (_is_transpose_of(g, factors[-1], rb) if transposed else g == factors[0]):
            left = factors[:-1] if transposed else factors[1:]
            inverse = _reduced_inverse(left, transposed, g.shape[0], rb)
            return _times(_times(_right_nested(pieces, rb), inverse, rb), _left_nested(rights, rb), rb)
    return None


# ------------------------------------------------------------------------------ transposes out of a sum

def _transposes_written(node: Node) -> int:
    """How many transposes a term of a sum shows at its top level: itself Aᵀ, or the transposed
    factors of its product chain (through scalings, signs and scalar divisions)."""
    count, stack = 0, [node]
    while stack:
        n = stack.pop()
        op = op_of(n)
        if op == "transpose":
            count += 1
        elif _matrix_link(n) is not None or _scaling(n) is not None:
            stack += n.args
        elif op == "neg" or (op == "div" and is_scalar(n.args[1].shape)):
            stack.append(n.args[0])
    return count


@identity("A'*B' + B'*A' = (B*A + A*B)'", "A: matrix(n,n); B: matrix(n,n)", "MC 4, 5")
@rewrites("structured", "add", "sub")
def transpose_out_of_sum(node, rb):
    """Σ ±Tᵢ → (Σ ±Tᵢᵀ)ᵀ when that writes at least two transposes fewer: Xᵀ·Bᵀ + Bᵀ·Xᵀ →
    (B·X + X·B)ᵀ (MC 4, 5), while Aᵀ + Bᵀ stays.
    Only whole sums, and only when the transposed sum stays transposed (a sum whose transpose
    the canonical rules push back in is left alone). [N5]"""
    from matcalc.simplify.facts import signed_parts
    if rb.interior(node) or is_scalar(node.shape):
        return None
    terms = signed_parts(node)
    if len(terms) < 2 or any(t.shape != node.shape for _, t in terms):
        return None
    written = sum(_transposes_written(t) for _, t in terms)
    if 1 + sum(rb.facts.transpose_cost(t) for _, t in terms) > written - 2:   # two fewer at least
        return None
    flipped = [(sign, rb("transpose", t)) for sign, t in terms]
    if 1 + sum(_transposes_written(t) for _, t in flipped) > written - 2:
        return None
    acc = None
    for sign, t in flipped:   # the partial sums as they are: only the whole is simplified (and collected)
        if acc is None:
            acc = t if sign > 0 else make("neg", t)
        else:
            acc = make("add" if sign > 0 else "sub", acc, t)
    out = rb("transpose", rb.simplified(acc))
    return out if op_of(out) == "transpose" and _transposes_written(out) <= written - 2 else None


# ------------------------------------------------------------------------------ Kronecker sandwiches

@identity("kron(a, B)*C*kron(b', E) = kron(a*b', B*C*E)",
          "a: vector(p); B: matrix(m,n); C: matrix(n,k); b: vector(q); E: matrix(k,l)", "MC 511")
@rewrites("structured", "mul")
def kron_sandwich(node, rb):
    """(a ⊗ B)·C·(bᵀ ⊗ E) → (a·bᵀ) ⊗ (B·C·E) for a column a and a row bᵀ: C is 1 ⊗ C, and two
    mixed products (MC 511) fold the vec form's diag(…)·Kronecker sandwich into one Kronecker
    product, (w ⊗ I)·diag(v)·(wᵀ ⊗ I) → (w·wᵀ) ⊗ diag(v)."""
    link = _matrix_link(node)
    if link is None or op_of(link[1]) != "kron":
        return None
    left, right = link
    inner = _matrix_link(left)
    if inner is None or op_of(inner[0]) != "kron" or op_of(inner[1]) == "kron":
        return None
    (a, b_), c, (d, e) = inner[0].args, inner[1], right.args
    if a.shape[1] != 1 or d.shape[0] != 1:
        return None
    return rb("kron", rb("mul", a, d), rb("mul", rb("mul", b_, c), e))


@identity("vec(x) = x", "x: vector(n)")
@rewrites("structured", "vec")
def vec_of_vector(node, rb):
    """vec(x) → x for a column vector x (its one column is its vec)."""
    a = node.args[0]
    return a if a.shape == node.shape else None


