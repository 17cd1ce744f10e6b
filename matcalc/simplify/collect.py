"""Phase 3, collect: whole sums collected and factored in one pass, equal factors as powers ([N7], [N8]).

A sum of N terms is flattened once at its root (its inner partial sums are not collected on
their own), like terms are merged through a hash of their non-numeric part, and common factors
are found through an index from each factor to the terms that have it, so an N-term sum costs
about N steps instead of the N² of a pairwise search.
"""
from __future__ import annotations

from matcalc.ir.nodes import PRODUCTS, Node, Num, op_of
from matcalc.ir.shapes import is_scalar, make
from matcalc.derivation import identity
from matcalc.simplify.normal_form import rewrites
from matcalc.simplify.terms import is_num, matrix_product, number, power_parts, scaled, zero


def _signed_terms(node: Node, rb) -> list:
    """A sum as [(coefficient, term)], through +, − and unary minus, and
    through c·(A ± B) where this pass took the number c out of a partial sum (so that the whole
    sum is still collected as one)."""
    out, stack = [], [(1, node)]
    while stack:
        sign, n = stack.pop()
        op = op_of(n)
        if op in PRODUCTS and rb.took_out(n):
            stack.append((sign * n.args[0].value, n.args[1]))
        elif op in ("add", "sub"):
            stack.append((-sign if op == "sub" else sign, n.args[1]))
            stack.append((sign, n.args[0]))
        elif op == "neg":
            stack.append((-sign, n.args[0]))
        else:
            c, t = rb.facts.split(n)
            out.append((sign * c, t))
    return out


def _right_factor(node: Node):
    """(rest, last factor) of a product, or None."""
    if op_of(node) in PRODUCTS and not is_scalar(node.args[1].shape):
        return node.args[0], node.args[1]
    return None


def _left_spine(node: Node) -> list:
    """The left spine of a product: [node, node.args[0], …] while each is a ``mul`` (iterative)."""
    spine = [node]
    while op_of(spine[-1]) in PRODUCTS:
        spine.append(spine[-1].args[0])
    return spine


def _left_factor(node: Node, rb):
    """(first factor, rest) of a matrix product, re-associating (AB)C as A(BC); a scalar factor s
    rides with the rest: s·(A·B) gives (A, s·B) and s·A gives (A, s)."""
    if op_of(node) not in PRODUCTS:
        return None
    a, b = node.args
    if is_scalar(node.shape) or is_scalar(b.shape):
        return None
    if is_scalar(a.shape):
        inner = _left_factor(b, rb)
        return (b, a) if inner is None else (inner[0], rb("mul", a, inner[1]))
    # the left spine, iteratively: node = (…((f·r_k)·r_{k-1})…)·r_1
    rests = []
    cur = node
    while True:
        x, y = cur.args
        if op_of(x) in PRODUCTS and not is_scalar(x.shape) and not is_scalar(x.args[1].shape):
            if is_scalar(x.args[0].shape):
                first, rest = _left_factor(x, rb)
                rests.append(y)
                break
            rests.append(y)
            cur = x
            continue
        first, rest = x, y
        break
    for r in reversed(rests):
        rest = rb("mul", rest, r)
    return first, rest


def _lead_scalar(node: Node, rb):
    """(s, rest) for a matrix product whose leftmost factor is a non-number scalar s, else None."""
    if op_of(node) not in PRODUCTS or is_scalar(node.shape):
        return None
    spine = _left_spine(node)
    for k, n in enumerate(spine[:-1]):
        if is_scalar(n.shape) or op_of(n) not in PRODUCTS:
            return None
        a = n.args[0]
        if is_scalar(a.shape) and not is_num(a):
            rest = n.args[1]
            for m in reversed(spine[:k]):
                rest = rb("mul", rest, m.args[1])
            return a, rest
        if op_of(a) not in PRODUCTS:
            return None
    return None


def _common_suffix(terms: list) -> tuple:
    """([rest_j], [F_1, …, F_k]) with term_j = rest_j·F_1·…·F_k, the longest run of last factors
    the (left-associated) products share: A·B·C + D·B·C gives ([A, D], [B, C]) in one step
    instead of peeling C, then B, each time collecting the sum again."""
    rests = [t.args[0] for t in terms]
    suffix = [terms[0].args[1]]
    while True:
        first = rests[0]
        if not (op_of(first) in PRODUCTS and not is_scalar(first.shape) and not is_scalar(first.args[1].shape)):
            break
        f, shape = first.args[1], first.args[0].shape
        if not all(op_of(r) in PRODUCTS and r.args[0].shape == shape and r.args[1] == f for r in rests[1:]):
            break
        suffix.append(f)
        rests = [r.args[0] for r in rests]
    return rests, suffix[::-1]


def _rebuild(terms: list, shape, rb) -> Node:
    """Σ cᵢ·tᵢ, a positive term first, written with + and −.  The chain is built as is and only
    its root simplified: the terms are already simple and distinct, so the partial sums need no
    collecting (collecting each of them made an N-term sum cost N²)."""
    terms = [(c, t) for c, t in terms if c != 0]
    if not terms:
        return zero(shape)
    first = next((k for k, (c, _) in enumerate(terms) if c > 0), 0)
    terms = [terms[first]] + terms[:first] + terms[first + 1:]
    c, t = terms[0]
    acc = scaled(c, t, shape, rb)
    if len(terms) == 1:
        return acc
    for c, t in terms[1:]:
        acc = make("sub", acc, scaled(-c, t, shape, rb)) if c < 0 else make("add", acc, scaled(c, t, shape, rb))
    return rb.simplified(acc)


def _factor_keys(term: Node, rb):
    """The factors ``term`` could share with another term, in the order they are tried: a leading
    scalar, the last matrix factor, the first matrix factor (each with the shape of what remains)."""
    keys = []
    s = rb.facts.lead(term)
    if s is not None:
        keys.append(("lead", s, term.shape))
    r = _right_factor(term)
    if r is not None:
        keys.append(("right", r[1], r[0].shape))
    left = rb.facts.left(term)
    if left is not None:
        keys.append(("left", left[0], left[1]))
    if op_of(term) == "div" and is_scalar(term.args[1].shape):
        keys.append(("quot", term.args[1], term.shape))
    return keys


def _factor_all(items: list, rb) -> tuple:
    """Take common factors out of a collected sum [(c, term)], with an index from each factor to
    the terms that have it (no pairwise search): every term sharing a factor with the term being
    looked at is grouped at once, A·B + A·C + A·D → A·(B + C + D).  Returns (items, changed)."""
    from matcalc.ir.build import eye
    alive = [c != 0 and t is not None for c, t in items]   # may share a factor
    dead = [False] * len(items)                            # merged into a factored term
    pos = list(range(len(items)))
    items = list(items)
    index: dict = {}
    whole: dict = {}
    keys_of: list = []

    def enter(i):
        c, t = items[i]
        ks = _factor_keys(t, rb) if alive[i] else []
        keys_of.append(ks)
        for k in ks:
            index.setdefault(k, []).append(i)
        if alive[i]:
            whole.setdefault(t, []).append(i)

    for i in range(len(items)):
        enter(i)
    changed = False
    i = 0
    while i < len(items):
        if not alive[i]:
            i += 1
            continue
        merged = None
        for key in keys_of[i]:
            lst = index[key]
            lst[:] = [j for j in lst if alive[j]]
            members = [j for j in lst if j != i]
            kind, factor, rest_shape = key
            extra = []   # A·B ± A → A·(B ± I), s·A ± A → (s ± 1)·A
            if kind == "left" and rest_shape[0] == rest_shape[1]:
                extra = [j for j in whole.get(factor, ()) if alive[j] and j != i]
            if not members and not extra:
                continue
            group = sorted([i] + members)
            if kind == "lead":
                parts = [(items[j][0], _lead_scalar(items[j][1], rb)[1]) for j in group]
                merged = rb("mul", factor, _rebuild(parts, rest_shape, rb))
            elif kind == "quot":   # A/s + B/s → (A + B)/s
                parts = [(items[j][0], items[j][1].args[0]) for j in group]
                merged = rb("div", _rebuild(parts, rest_shape, rb), factor)
            elif kind == "right":
                rests, suffix = _common_suffix([items[j][1] for j in group])
                merged = _rebuild([(items[j][0], r) for j, r in zip(group, rests)], rests[0].shape, rb)
                for f in suffix:
                    merged = rb("mul", merged, f)
            else:
                parts = [(items[j][0], _left_factor(items[j][1], rb)[1]) for j in group]
                unit = Num(1) if is_scalar(rest_shape) else eye(rest_shape[0])
                # s·A beside A·B: what is left of s·A is s·I, not the scalar s (which a sum would spread)
                parts = [(c, rb("mul", r, unit) if is_scalar(r.shape) and not is_scalar(rest_shape) else r)
                         for c, r in parts]
                parts += [(items[j][0], unit) for j in extra]
                group = sorted(group + extra)
                merged = rb("mul", factor, _rebuild(parts, rest_shape, rb))
            break
        if merged is None:
            i += 1
            continue
        changed = True
        for j in group:
            alive[j] = False
            dead[j] = True
        items.append((1, merged))
        alive.append(True)
        dead.append(False)
        pos.append(min(pos[j] for j in group))
        enter(len(items) - 1)
        i += 1
    out = sorted((pos[k], k) for k in range(len(items)) if not dead[k])
    return [items[k] for _, k in out], changed


def _common_coefficient(items: list):
    """c when every term is ±c·Tᵢ for one number c ≠ ±1 (and at least two terms), else None."""
    live = [(c, t) for c, t in items if c != 0]
    if len(live) < 2 or any(t is None for _, t in live):
        return None
    c = abs(live[0][0])
    if c == 1 or any(abs(ci) != c for ci, _ in live):
        return None
    return c


@rewrites("collect", "add", "sub")
@identity("A*B + A*C = A*(B + C)", "A: matrix(m,n); B: matrix(n,p); C: matrix(n,p)")
def collect_sum(node, rb):
    """Σ cᵢ·Tᵢ with like terms collected (c·T + d·T → (c + d)·T, so A + A → 2A and A − A → 0)
    and common factors taken out (AB + AC → A(B + C), BA + CA → (B + C)A), over the whole sum:
    factor, never expand.  Terms are hashed by their non-numeric part and collected in one
    pass; factors are found through an index from factor to terms."""
    if rb.interior(node):
        return None
    terms = _signed_terms(node, rb)
    merged: dict = {}
    for c, t in terms:
        key = t if t is not None else Num(0)
        merged[key] = (merged[key][0] + c, t) if key in merged else (c, t)
    items = [(c, t) for c, t in merged.values()]
    changed = len(items) != len(terms)
    items, factored = _factor_all(items, rb)
    common = _common_coefficient(items)
    if not (changed or factored or common):
        return None
    if common:   # c·A ± c·B → c·(A ± B)
        inner = _rebuild([(c / common, t) for c, t in items], node.shape, rb)
        out = rb("mul", Num(number(common)), inner)
        if op_of(out) in PRODUCTS and is_num(out.args[0]):
            rb.mark_taken_out(out)
        return out
    out = _rebuild(items, node.shape, rb)
    return None if out == node else out


@rewrites("collect", "mul", "scale")
@identity("A*A = A^2", "A: matrix(n,n)")
def equal_factors_to_power(node, rb):
    """A·A → A², Aᵏ·A → Aᵏ⁺¹, A·Aᵏ → Aᵏ⁺¹ (scalars and square matrices)."""
    a, b = node.args
    if a.shape != b.shape or a.shape[0] != a.shape[1]:
        return None
    (ba, ka), (bb, kb) = power_parts(a), power_parts(b)
    if ba == bb and not is_num(ba):
        return rb("pow", ba, Num(ka + kb))
    return None


@rewrites("collect", "hadamard")
@identity("A .* A = A.^2", "A: matrix(m,n)")
def equal_factors_to_elementwise_power(node, rb):
    """A ⊙ A → A.^2."""
    a, b = node.args
    return rb("epow", a, Num(2)) if a == b and not is_scalar(a.shape) else None


@rewrites("collect", "mul", "scale", given=("transpose",))
@identity("(A^2)'*(A^3)' = (A^5)'", "A: matrix(n,n)")
def transposes_of_powers(node, rb):
    """(Aᵏ)ᵀ·(Aʲ)ᵀ → (Aᵏ⁺ʲ)ᵀ: transposed powers of one matrix combine."""
    a, b = node.args
    if op_of(a) == "transpose" and op_of(b) == "transpose":
        (ba, _), (bb, _) = power_parts(a.args[0]), power_parts(b.args[0])
        if ba == bb and not is_scalar(ba.shape):
            return rb("transpose", rb("mul", b.args[0], a.args[0]))
    return None


# ------------------------------------------------------------------ shared suffixes, before association

def _spine_suffixes(term: Node) -> dict:
    """{id(S): (S, k, sign, scalars)} for each matrix product S on ``term``'s right spine below at
    least one left factor: term = sign·scalars·L₁·…·L_k·S (through −, scalar factors and right-nested
    matrix products; iterative)."""
    found: dict = {}
    lefts, sign, scalars, n = 0, 1, 0, term
    while True:
        op = op_of(n)
        if op == "neg":
            sign, n = -sign, n.args[0]
        elif op == "scale" and not is_scalar(n.shape):
            scalars, n = scalars + 1, n.args[1]
        elif matrix_product(n):
            if lefts:
                found.setdefault(id(n), (n, lefts, sign, scalars))
            lefts, n = lefts + 1, n.args[1]
        else:
            return found


def _prefix(term: Node, k: int, scalars: int) -> Node:
    """L₁·(…·L_k) of ``term`` = ±s·L₁·(…·(L_k·S)), nested as in the term (so that the rules meet the
    same neighbouring factors), its scalars leading (the sign is the caller's)."""
    factors, scal, n = [], [], term
    while len(factors) < k or len(scal) < scalars:
        op = op_of(n)
        if op == "neg":
            n = n.args[0]
        elif op == "scale" and len(scal) < scalars and is_scalar(n.args[0].shape) and not is_scalar(n.shape):
            scal.append(n.args[0])
            n = n.args[1]
        else:
            factors.append(n.args[0])
            n = n.args[1]
    out = factors[-1]
    for f in reversed(factors[:-1]):
        out = make("mul", f, out)
    for s in reversed(scal):
        out = make("mul", s, out)
    return out


def _plain_terms(node: Node) -> list:
    """A sum as [(sign, term)] through +, − and unary minus (the raw expression, before collecting)."""
    out, stack = [], [(1, node)]
    while stack:
        sign, n = stack.pop()
        op = op_of(n)
        if op in ("add", "sub") and n.args[0].shape == n.shape == n.args[1].shape:
            stack.append((-sign if op == "sub" else sign, n.args[1]))
            stack.append((sign, n.args[0]))
        elif op == "neg":
            stack.append((-sign, n.args[0]))
        else:
            out.append((sign, n))
    return out


@identity("A*(B*(C*D)) - E*(C*D) = (A*B - E)*(C*D)",
          "A: matrix(m,n); B: matrix(n,p); C: matrix(p,q); D: matrix(q,r); E: matrix(m,p)")
def shared_suffix_out(node, rb=None):
    """A sum whose every term ends in one right-nested matrix product S (the same node: a reverse
    sweep's products of Jacobians) is written (Σ prefixes)·S before its products are associated to
    the left, so S is not written out once in every term only to be taken back out of the sum."""
    terms = _plain_terms(node)
    if len(terms) < 2:
        return None
    common = _spine_suffixes(terms[0][1])
    if not common:
        return None
    spines = [common]
    for _, t in terms[1:]:
        s = _spine_suffixes(t)
        common = {k: v for k, v in common.items() if k in s}
        if not common:
            return None
        spines.append(s)
    # the highest common node: the one with the fewest left factors above it in the first term
    key = min(common, key=lambda k: common[k][1])
    shared = common[key][0]
    out = None
    for (sign, t), s in zip(terms, spines):
        _, k, inner_sign, scalars = s[key]
        p = _prefix(t, k, scalars)
        if sign * inner_sign < 0:
            out = make("neg", p) if out is None else make("sub", out, p)
        else:
            out = p if out is None else make("add", out, p)
    return make("mul", out, shared)


def shared_suffixes_out(order: list, inner: set, trace) -> dict:
    """:func:`shared_suffix_out` applied bottom-up to the whole sums of a raw expression (``order``
    its nodes in postorder, ``inner`` the ids of partial sums inside a larger sum), before the
    rules associate its products.  Returns {id(node): node rewritten} for the nodes that changed."""
    new: dict = {}
    for node in order:
        kids = node.children()
        out = node
        if kids and new:
            now = tuple(new.get(id(k), k) for k in kids)
            if any(a is not b for a, b in zip(now, kids)):
                out = make(node.op, *now)
        if op_of(node) in ("add", "sub") and id(node) not in inner:
            factored = shared_suffix_out(out)
            if factored is not None:
                if trace is not None:
                    trace.append((shared_suffix_out, out, factored))
                out = factored
        if out is not node:
            new[id(node)] = out
    return new
