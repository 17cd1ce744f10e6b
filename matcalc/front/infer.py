"""Kinds and shapes for the names nobody declared, and the reason for each.

The rules, in order (a declaration always wins):

1. **Use decides.**  A kind that makes the statement type-check wins over every default below:
   ``tr(x)`` makes x a matrix, ``X*ω - y`` makes ω a vector.  Among the assignments that
   type-check, the one that departs from the defaults in the fewest names is taken.
2. **Sums take the shape of what they meet.**  An undeclared name that meets a vector or a
   matrix in ``+`` or ``-`` takes its shape: in ``A*x - b`` and ``W*x + b``, b is a vector of
   A*x's shape.  A scalar broadcasts only where it is declared, is a number (``x - 1``), or no
   other kind fits (``b*x + b``, where b is a factor; ``x' - b``, a row, which no undeclared
   kind can be).  A name multiplied or divided by a number (``A*x - 2*b``) or negated counts as
   met.  This is tried before any other departure from the defaults.
3. **Defaults, when nothing decides:**

   - spelled-out Greek letters and common scalar words (``lambda``, ``alpha``, ``beta``,
     ``gamma``, ``eta``, ``sigma``, ``rho``, ``tau``, ``mu``, ``theta``, ``eps``, ``lr`` …, also
     with a suffix such as ``lambda_1``) are scalars;
   - a lowercase Greek letter (``λ``, ``μ``, ``σ``, ``θ``) is a scalar, and use decides before
     any Latin letter is reconsidered (``x - μ`` makes μ a vector, by rule 2); an uppercase
     Greek letter (``Σ``, ``Λ``) is a matrix, like a Latin capital;
   - matrixcalculus.org's convention for Latin letters: a–g scalar, h–z vector, A–Z matrix;
   - anything else (``ℓ``) is a scalar.
4. ``inv``, ``det`` and ``logdet`` of an expression that is a scalar (``inv(x'*A*x)``) are
   1/s, s and log(s); that use does not turn x into a matrix.  Of a bare undeclared name
   (``inv(a)``), they make it a matrix.
5. An undeclared vector or matrix, and an unsized ``eye``, ``vector(c)`` or ``matrix(c)``, never
   gets a dimension 1 from unification (that would mean a kind was misread); the shape error is
   then reported where it happens.

Inference runs statement by statement: the names first used in a statement are decided with
that statement, and later statements only unify dimensions.  So a shape error in the last line
of a 1,024-layer program is found without reconsidering the layers above it.  (A batch program
whose later line contradicts an earlier guess is re-inferred jointly, see
:func:`matcalc.front.program.parse_program`.)

Within a statement, the defaults are tried first; when they fail, the names nearest the
culprit (loose ones first) are reconsidered first, and a long statement gets fewer tries (each
re-checks it), so the search stays about linear in the statement's size.

Each inferred name gets a short reason (``"vector: meets X*w in '-'"``,
``"scalar: the word lambda"``) that the CLI, the REPL and reports can print.
"""
from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from matcalc.errors import ShapeError
from matcalc.ir.nodes import SCALAR, Node
from matcalc.ir.shapes import SHAPE_RULES, Mismatch, Unifier, dim_product, fmt_shape, is_var
from matcalc.front.syntax import Syn

#: Names that mean a scalar when nothing decides (rule 3).
GREEK_WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
               "lambda", "lam", "lambd", "lmbda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma",
               "tau", "upsilon", "phi", "chi", "psi", "omega", "varepsilon", "vartheta", "varphi")
SCALAR_WORDS = GREEK_WORDS + ("eps", "lr", "reg", "temp", "temperature", "scale", "rate", "step_size",
                              "tol", "const", "coef", "weight_decay", "decay", "momentum")
_WORD_BASE = re.compile(r"([a-z]+?)(?:_\w*|\d+)?$")

CONSTANT_CALLS = ("eye", "vector", "matrix")


def _greek(c: str) -> bool:
    return "GREEK" in unicodedata.name(c, "")


def default_kind(name: str) -> tuple[str, str, bool]:
    """``(kind, reason, loose)``: the kind a name gets when nothing decides, why, and whether
    use should reconsider it before the Latin-letter names (Greek letters and words)."""
    m = _WORD_BASE.match(name)
    if len(name) > 1 and m and (name in SCALAR_WORDS or m.group(1) in SCALAR_WORDS):
        return "scalar", f"the word {m.group(1) if name not in SCALAR_WORDS else name}", True
    c = name[0]
    if _greek(c):
        if c.isupper():
            return "matrix", f"the capital {c}", False
        return "scalar", f"the Greek letter {c}; nothing decides", True
    if c.isupper():
        return "matrix", f"the capital {c} (A–Z are matrices)", False
    if "a" <= c <= "g":
        return "scalar", f"the letter {c} (a–g are scalars)", False
    if "h" <= c <= "z":
        return "vector", f"the letter {c} (h–z are vectors)", False
    return "scalar", "nothing decides", True


def convention_kind(name: str) -> str:
    """The kind a name gets when nothing decides (see the module docstring)."""
    return default_kind(name)[0]


# ---------------------------------------------------------------------------------- unifier

class TrailUnifier(Unifier):
    """A :class:`Unifier` that can undo (a trail of every write) and keeps the dimensions of
    undeclared vectors and matrices from becoming 1."""

    def __init__(self):
        super().__init__()
        self.nonunit: set[str] = set()
        self.trail: list = []

    def fresh_nonunit(self) -> str:
        d = self.fresh()
        self.nonunit.add(d)
        return d

    def mark(self) -> int:
        return len(self.trail)

    def undo(self, mark: int) -> None:
        while len(self.trail) > mark:
            what, var, old = self.trail.pop()
            if what == "p":
                if old is None:
                    del self.parent[var]
                else:
                    self.parent[var] = old
            else:
                self.nonunit.discard(var)

    def _set(self, var, value):
        self.trail.append(("p", var, self.parent.get(var)))
        self.parent[var] = value

    def find(self, d):
        path = []
        while isinstance(d, str) and d in self.parent:
            path.append(d)
            d = self.parent[d]
        for p in path[:-1]:
            if self.parent[p] != d:
                self._set(p, d)
        return d

    def _bind(self, var, value) -> bool:
        if var in self.nonunit:
            if value == 1:
                return False
            if is_var(value) and value not in self.nonunit:
                self.nonunit.add(value)
                self.trail.append(("n", value, None))
        self._set(var, value)
        return True


# ---------------------------------------------------------------------------------- state

@dataclass
class State:
    """What the statements inferred so far established; grows statement by statement."""

    u: TrailUnifier = field(default_factory=TrailUnifier)
    kinds: dict = field(default_factory=dict)      # name -> kind, declared or inferred
    env: dict = field(default_factory=dict)        # name -> shape (dimension variables allowed)
    rigid: set = field(default_factory=set)        # names whose kind is fixed (declared, or known)
    reasons: dict = field(default_factory=dict)    # inferred name -> reason
    shapes: dict = field(default_factory=dict)     # id(Syn) -> shape
    scalar_calls: set = field(default_factory=set)  # ids of inv/det/logdet calls of a scalar
    refs: dict = field(default_factory=dict)       # name -> IR node (definitions of a session)
    keep: list = field(default_factory=list)       # the roots, so that ids stay unique

    def declare(self, name: str, kind: str, shape: tuple) -> None:
        self.kinds[name], self.env[name] = kind, shape
        self.rigid.add(name)


def walk_new(roots: Iterable[Syn], done: Mapping[int, object]):
    """Syntax nodes post-order, each distinct node once, skipping those in ``done``."""
    seen: set[int] = set()
    stack = [(r, False) for r in reversed(list(roots))]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
        elif id(node) not in seen and id(node) not in done:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children()))


def node_text(syn: Syn, text: str) -> str:
    return text[syn.span[0]:syn.span[1]]


def _balanced(t: str) -> str:
    t = t.strip()
    opened = closed = 0
    for ch in t:
        if ch == "(":
            opened += 1
        elif ch == ")":
            if opened:
                opened -= 1
            else:
                closed += 1
    return "(" * closed + t + ")" * opened


def _with_named_dims(err: Mismatch, op: str, args: tuple, state: State) -> Mismatch:
    """The rule's refusal again, with the open dimensions named (n, m, …) rather than '?'."""
    u = state.u
    mark = u.mark()
    taken = {p for sh in state.env.values() for d in sh if isinstance(d, str)
             for p in d.split("*") if not p.startswith("?")}
    try:
        name_dims(u, args, taken)
        SHAPE_RULES[op](args, u)
    except Mismatch as named:
        return named
    finally:
        u.undo(mark)
    return err


def operand_texts(node: Syn, text: str) -> list[str]:
    """The operands of ``node`` as the user wrote them at this place: a definition's name
    (``h3``), not its body, when the operand was substituted from a definition."""
    out = []
    lo, hi = node.span
    for i, a in enumerate(node.args):
        if lo <= a.span[0] and a.span[1] <= hi or node.op_span is None:
            out.append(node_text(a, text))
        elif node.kind == "op" and len(node.args) == 2:
            part = text[lo:node.op_span[0]] if i == 0 else text[node.op_span[1]:hi]
            out.append(_balanced(part))
        elif node.kind == "op":  # neg, transpose: the rest of the node's text
            part = text[node.op_span[1]:hi] if node.op_span[0] == lo else text[lo:node.op_span[0]]
            out.append(_balanced(part))
        elif len(node.args) == 1:  # f(h3)
            out.append(text[node.op_span[1]:hi].strip()[1:-1].strip())
        else:
            out.append(node_text(a, text))
    return out


def is_scalar_now(s, u) -> bool:
    s = u.resolve(s)
    return s[0] == 1 and s[1] == 1


def constant_dims(syn: Syn) -> list:
    """The size arguments of eye(n), vector(c, n), matrix(c, m, n) (syntax nodes)."""
    return list(syn.args) if syn.head == "eye" else list(syn.args[1:])


def dim_of(syn: Syn):
    """A size argument as a dimension: a positive integer, a name, or a product m*n."""
    if syn.kind == "num":
        return syn.head
    if syn.kind == "name":
        return syn.head
    a, b = syn.args
    return dim_product(dim_of(a), dim_of(b))


def _fresh(kind: str, u: TrailUnifier) -> tuple:
    if kind == "scalar":
        return SCALAR
    if kind == "vector":
        return (u.fresh_nonunit(), 1)
    return (u.fresh_nonunit(), u.fresh_nonunit())


def _constant_shape(node: Syn, u: TrailUnifier) -> tuple:
    """A constant's size, or fresh dimensions that may not become 1 (a 1×1 eye is a number)."""
    dims = [dim_of(d) for d in constant_dims(node)]
    if node.head == "eye":
        d = dims[0] if dims else u.fresh_nonunit()
        return (d, d)
    if node.head == "vector":
        return (dims[0] if dims else u.fresh_nonunit(), 1)
    return tuple(dims) if dims else (u.fresh_nonunit(), u.fresh_nonunit())


def _met_name(syn: Syn):
    """The name a summand is, up to negation and numeric factors (rule 2), else None."""
    while True:
        if syn.kind == "name":
            return syn
        if syn.kind != "op":
            return None
        if syn.head == "neg":
            syn = syn.args[0]
        elif syn.head == "mul" and syn.args[0].kind == "num":
            syn = syn.args[1]
        elif syn.head in ("mul", "div") and syn.args[1].kind == "num":
            syn = syn.args[0]
        else:
            return None


def shapes_of(nodes: list[Syn], state: State, free: set, text: str):
    """Every new syntax node's shape; returns ``(shapes, soft, scalar_calls)`` where ``soft``
    lists the summands that broadcast a guessed scalar (rule 2).  Raises a ShapeError at the
    culprit."""
    u, env, kinds, old = state.u, state.env, state.kinds, state.shapes
    shape: dict[int, tuple] = {}
    soft: list = []
    scalar_calls: set = set()

    def of(s):
        k = id(s)
        return shape[k] if k in shape else old[k]

    for node in nodes:
        k = node.kind
        if k == "num":
            shape[id(node)] = SCALAR
        elif k == "ref":
            shape[id(node)] = state.refs[node.head].shape
        elif k == "name":
            shape[id(node)] = (lambda d: (d, d))(u.fresh_nonunit()) if node.head == "eye" else env[node.head]
        elif k == "call" and node.head in CONSTANT_CALLS:
            shape[id(node)] = _constant_shape(node, u)
        else:
            op = node.head
            args = tuple(of(a) for a in node.args)
            if op in ("inv", "det", "logdet") and is_scalar_now(args[0], u) and \
                    not (node.args[0].kind == "name" and node.args[0].head in free):
                shape[id(node)] = SCALAR  # rule 4: 1/s, s, log(s)
                scalar_calls.add(id(node))
                continue
            try:
                shape[id(node)] = SHAPE_RULES[op](args, u)
            except Mismatch as e:
                e = _with_named_dims(e, op, args, state)
                operands = operand_texts(node, text)
                err = ShapeError(e.args[0].format(*operands), text, node.op_span)
                err.culprit, err.culprit_node = node_text(node, text), node
                raise err from None
            if op == "pow" and not is_scalar_now(args[0], u):
                expo = node.args[1]
                if expo.kind != "num" or not float(expo.head).is_integer():
                    err = ShapeError(f"a matrix power needs an integer exponent, not {node_text(expo, text)}; "
                                   "use '.^' for an elementwise power", text, node.op_span)
                    err.culprit, err.culprit_node = node_text(node, text), node
                    raise err
            if op in ("add", "sub"):
                for mine, other in ((node.args[0], node.args[1]), (node.args[1], node.args[0])):
                    met = _met_name(mine)
                    if met is not None and met.head in free and kinds[met.head] == "scalar" \
                            and not is_scalar_now(of(other), u):
                        sym = "+" if op == "add" else "-"
                        o = u.resolve(of(other))
                        wanted = "vector" if o[1] == 1 else ("matrix" if o[0] != 1 else None)
                        if wanted:  # a row: no undeclared kind fits, the scalar broadcasts
                            soft.append((met.head, f"meets {node_text(other, text)} in '{sym}'", wanted))
    return shape, soft, scalar_calls


def _assignments(free: list[str], defaults: dict, budget: int):
    """Kind assignments in order of how many names depart from their defaults (loose names
    first), at most ``budget`` of them."""
    tries = 0
    for n_changed in range(len(free) + 1):
        for changed in itertools.combinations(range(len(free)), n_changed):
            alternatives = [[k for k in ("scalar", "vector", "matrix") if k != defaults[free[i]]] for i in changed]
            for picks in itertools.product(*alternatives):
                kinds = {n: defaults[n] for n in free}
                for i, k in zip(changed, picks):
                    kinds[free[i]] = k
                yield kinds
                tries += 1
                if tries >= budget:
                    return


def _near(culprit: Syn, names: set) -> dict:
    """How deep below the culprit each of ``names`` first occurs (breadth first)."""
    depth: dict[str, int] = {}
    level, seen, d = [culprit], set(), 0
    while level and len(depth) < len(names):
        nxt = []
        for node in level:
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.kind == "name" and node.head in names:
                depth.setdefault(node.head, d)
            nxt.extend(node.children())
        level, d = nxt, d + 1
    return depth


def _try(state: State, nodes, free, kinds, text):
    """Run one assignment; leaves the unifier changed (the caller undoes or commits)."""
    state.kinds.update(kinds)
    for n in free:
        state.env[n] = _fresh(kinds[n], state.u)
    return shapes_of(nodes, state, set(free), text)


def infer_statement(state: State, roots: list[Syn], new_names: list[str], text: str, budget: int = 256) -> None:
    """Decide the kinds of ``new_names`` (first used in ``roots``) and commit every new node's
    shape to ``state``; raises the ShapeError of the default assignment when nothing fits."""
    state.keep.extend(roots)
    nodes = list(walk_new(roots, state.shapes))
    info = {n: default_kind(n) for n in new_names}
    defaults = {n: info[n][0] for n in new_names}
    free = sorted(new_names, key=lambda n: not info[n][2])  # loose names vary first
    u = state.u
    first_error = None
    soft_choice = None
    chosen = None
    kept = None  # the unifier mark of a clean first try that was kept (the common case)

    def attempt(kinds):
        nonlocal first_error, kept
        mark = u.mark()
        try:
            result = _try(state, nodes, free, kinds, text)
        except ShapeError as e:
            first_error = first_error or e
            u.undo(mark)
            return None
        if not result[1] and all(kinds[n] == defaults[n] for n in free):
            kept = (mark, result)
        else:
            u.undo(mark)
        return result[1]

    # each try re-checks the statement: a long statement gets fewer tries
    budget = min(budget, max(8, 50_000 // max(1, len(nodes))))
    def search():
        """The defaults first; if they fail at a culprit, the names nearest it vary first
        (loose names before Latin ones), so a long statement's fix is found in few tries."""
        nonlocal free
        order = _assignments(free, defaults, budget)
        yield next(order)
        culprit = getattr(first_error, "culprit_node", None)
        if culprit is not None and first_error is not None:
            near = _near(culprit, set(free))
            far = len(nodes) + 1
            free = sorted(free, key=lambda n: (not info[n][2], near.get(n, far)))
            order = _assignments(free, defaults, budget)
            next(order)  # the defaults again
        yield from order

    for kinds in search():
        soft = attempt(kinds)
        if soft is None:
            continue
        for _ in range(4):
            if not soft:
                break
            # rule 2: the met names take the shape of what they meet, if that fits
            repaired = dict(kinds, **{m: w for m, _, w in soft})
            again = attempt(repaired)
            if again is None or repaired == kinds:
                break
            kinds, soft = repaired, again
        if soft:
            soft_choice = (kinds, soft)
        else:
            chosen = kinds
        break
    if kept is not None and chosen is not None:
        for n in free:
            state.reasons[n] = f"{chosen[n]}: {info[n][1]}"
        state.shapes.update(kept[1][0])
        state.scalar_calls |= kept[1][2]
        return
    if kept is not None:
        u.undo(kept[0])
    broadcast = {}
    if chosen is None:
        if soft_choice is None:
            for n in free:
                state.kinds.pop(n, None)
                state.env.pop(n, None)
            raise first_error
        chosen, soft = soft_choice
        broadcast = {m: w for m, w, _ in soft}
    # a reason per name: its default, or what its default would have broken
    for n in free:
        if chosen[n] == defaults[n]:
            state.reasons[n] = (f"scalar: broadcasts after it {broadcast[n]} (no vector or matrix fits)"
                                if n in broadcast else f"{chosen[n]}: {info[n][1]}")
            continue
        trial = dict(chosen, **{n: defaults[n]})
        mark = u.mark()
        try:
            _, soft, _ = _try(state, nodes, free, trial, text)
            why = next((w for m, w, _ in soft if m == n), soft[0][1] if soft else "by use")
        except ShapeError as e:
            culprit = getattr(e, "culprit", None)
            why = f"as a {defaults[n]} it breaks {culprit}" if culprit else f"as a {defaults[n]}: {e.message}"
        u.undo(mark)
        state.reasons[n] = f"{chosen[n]}: {why}"
    shapes, _, scalar_calls = _try(state, nodes, free, chosen, text)
    state.shapes.update(shapes)
    state.scalar_calls |= scalar_calls


DIM_NAMES = ("n", "m", "p", "q", "k", "r", "s", "t", "l", "j")


def name_dims(u: Unifier, shapes: Iterable[tuple], taken: set) -> dict:
    """Give the dimensions left open by inference readable names (n, m, p, ...)."""
    pool = itertools.chain(DIM_NAMES, (f"n{i}" for i in itertools.count(1)))
    names: dict[str, str] = {}
    for s in shapes:
        for d in (part for dim in u.resolve(s) for part in str(dim).split("*")):
            if is_var(d) and d not in names:
                name = next(x for x in pool if x not in taken)
                names[d] = name
    for var, name in names.items():
        u.unify(var, name)
    return names


__all__ = ["default_kind", "convention_kind", "State", "infer_statement", "name_dims", "fmt_shape", "Node"]
