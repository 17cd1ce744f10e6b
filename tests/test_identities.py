"""Every rule states its identity in the matcalc language, and every identity holds numerically.

The per-rule oracle (what autograd's ``check_grads`` is for its rules): each differential,
adjoint, vec and simplification rule's ``@identity`` is parsed with its ``where`` and checked at
random points with every dimension a different size: a differential identity ``d(f) = df`` by
central differences of f along random directions (all variables moving at once), an equality by
value.  Every simplification rule also has an example that fires it and keeps the value.
"""
import inspect
import re
import zlib

import numpy as np
import pytest

from matcalc.calculus import differential
from matcalc.calculus.differential import DIFF_RULES, SELECTORS
from matcalc.calculus.identify import ADJOINT_RULES, VEC_RULES
from matcalc.derivation import Rule, parse_identity, rule_for, rule_of
from matcalc.errors import MatcalcError, ShapeError
from matcalc.front.parser import parse_node, parse_program
from matcalc.ir.nodes import ELEMENTWISE, SCALAR, Var, variables
from matcalc.ir.shapes import make
from matcalc.numeric.check import dimension_sizes, random_values, relative_error
from matcalc.numeric.evaluate import evaluate
from matcalc.simplify import SIMPLIFY_RULES
from matcalc.simplify.engine import PASS_RULES
from matcalc.simplify.engine import simplify_traced

#: Rules that state no identity, and why.  Keep this short: a rule that computes something has one.
WITHOUT_IDENTITY = {
    "vec_unsupported": "raises NotMatrixForm (diag): no Kronecker form, the index form takes over",
    "trace_of_scalar": "never fires: tr of a 1×1 argument is a ShapeError in make() and in the language",
}

#: Simplification rules that no input can fire (checked below, so this fails once one can).
NEVER_FIRES = {"trace_of_scalar"}

#: Where an identity's variables are drawn, when it is not "anywhere, else positive".
DOMAINS = {f"diff:d_elementwise[{op}]": ("unit",) for op in ("arcsin", "arccos", "tan")}

#: Nodes on which each differential selector is probed, to collect the rules it can select.
SELECTOR_PROBES = {
    **{op: [(f"{op}(A)", "A: matrix(m,n)")] for op in ELEMENTWISE},
    "log": [("log(A)", "A: matrix(m,n)"), ("log(1 + exp(A))", "A: matrix(m,n)"), ("log(softmax(x))", "x: vector(n)")],
    "pow": [("a^p", "a: scalar; p: scalar"), ("A^3", "A: matrix(n,n)"), ("A^-2", "A: matrix(n,n)"),
            ("norm2(x)^2", "x: vector(n)")],
}

#: One example per simplification rule: text and declarations whose simplification fires it.
SIMPLIFY_EXAMPLES = {
    "fold_numbers": ("2*3*A", "A: matrix(m,n)"),
    "fold_division": ("A/1", "A: matrix(m,n)"),
    "divide_coefficient": ("(6*A)/3", "A: matrix(m,n)"),
    "power_of_one": ("A.^1", "A: matrix(m,n)"),
    "power_of_zero": ("s*s^-1*A", "s: scalar; A: matrix(m,n)"),
    "neg_neg": ("-(-A)", "A: matrix(m,n)"),
    "neg_of_number": ("A + -matrix(2)", "A: matrix(m,n)"),
    "neg_into_product": ("-(A*B)", "A: matrix(m,n); B: matrix(n,p)"),
    "sign_to_the_left": ("A*(-B)", "A: matrix(m,n); B: matrix(n,p)"),
    "multiply_by_one": ("eye*A", "A: matrix(m,n)"),
    "multiply_by_zero": ("0*A + B", "A: matrix(m,n); B: matrix(m,n)"),
    "linear_of_zero": ("sum(A - A) + s", "A: matrix(m,n); s: scalar"),
    "zero_quotient": ("(A - A) ./ B + C", "A: matrix(m,n); B: matrix(m,n); C: matrix(m,n)"),
    "hadamard_by_ones": ("A .* matrix(1)", "A: matrix(m,n)"),
    "add_zero": ("A + 0", "A: matrix(m,n)"),
    "scale_constant": ("A + 2*matrix(3)", "A: matrix(m,n)"),
    "sum_of_scalar": ("sum(x'*y)", "x: vector(n); y: vector(n)"),
    "coefficient_first": ("s*2", "s: scalar"),
    "scalar_factor_first": ("A*(s*B)", "A: matrix(m,n); s: scalar; B: matrix(n,p)"),
    "transpose_of_transpose": ("A''", "A: matrix(m,n)"),
    "transpose_of_symmetric": ("S'*A", "S: symmetric(n); A: matrix(n,m)"),
    "transpose_inward": ("(A'*B)'", "A: matrix(n,m); B: matrix(n,p)"),
    "collect_sum": ("A*B + A*C", "A: matrix(m,n); B: matrix(n,p); C: matrix(n,p)"),
    "subtract_negative": ("A + (-B)", "A: matrix(m,n); B: matrix(m,n)"),
    "ones_inner_product": ("vector(1)'*x", "x: vector(n)"),
    "associate_left": ("A*(B*C)", "A: matrix(m,n); B: matrix(n,p); C: matrix(p,q)"),
    "kron_mixed_product": ("kron(A, B)*kron(C, D)",
                           "A: matrix(m,n); B: matrix(p,q); C: matrix(n,k); D: matrix(q,l)"),
    "diag_product": ("diag(x)*diag(y)", "x: vector(n); y: vector(n)"),
    "plain_before_transposed": ("A' + A", "A: matrix(n,n)"),
    "hadamard_reciprocal": ("A .* (1 ./ B)", "A: matrix(m,n); B: matrix(m,n)"),
    "divide_twice": ("(A/s)/t", "A: matrix(m,n); s: scalar; t: scalar"),
    "reciprocal_scaling": ("(1/s)*A", "A: matrix(m,n); s: scalar"),
    "scaled_identity": ("(s*eye)*B", "s: scalar; B: matrix(m,n)"),
    "minus_one_times": ("-1*A", "A: matrix(m,n)"),
    "equal_factors_to_power": ("A*A", "A: matrix(n,n)"),
    "equal_factors_to_elementwise_power": ("A .* A", "A: matrix(m,n)"),
    "power_of_transpose": ("(A')^3", "A: matrix(n,n)"),
    "inverse_of_inverse": ("inv(inv(A))", "A: matrix(n,n)"),
    "kron_sign": ("kron(-A, B)", "A: matrix(m,n); B: matrix(p,q)"),
    "elementwise_quotient": ("(A ./ B) ./ C", "A: matrix(m,n); B: matrix(m,n); C: matrix(m,n)"),
    "diag_times_vector": ("diag(x)*y", "x: vector(n); y: vector(n)"),
    "inverse_product": ("A*inv(A)*B", "A: matrix(n,n); B: matrix(n,m)"),
    "transpose_of_quotient": ("(A/s)'", "A: matrix(m,n); s: scalar"),
    "quotient_out_of_product": ("A*(B/s)", "A: matrix(m,n); B: matrix(n,p); s: scalar"),
    "transposes_of_powers": ("(A^2)'*(A^3)'", "A: matrix(n,n)"),
    "cancel_scalar_factor": ("det(A)*B/det(A)", "A: matrix(n,n); B: matrix(m,p)"),
    "cancel_elementwise_factor": ("A .* (B ./ A)", "A: matrix(m,n); B: matrix(m,n)"),
    "complementary_products": ("A .* (1 - B) - (1 - A) .* B", "A: matrix(m,n); B: matrix(m,n)"),
    "sigmoid_complement": ("1 - sigmoid(-u)", "u: vector(n)"),
    "logistic_quotient": ("exp(-u) ./ (1 + exp(-u))", "u: vector(n)"),
    "softmax_sums_to_one": ("sum(softmax(x))", "x: vector(n)"),
    "constant_inner_product": ("x'*vector(-2)", "x: vector(n)"),
    "hadamard_by_scaled_ones": ("A .* (s*matrix(1))", "A: matrix(m,n); s: scalar"),
    "sum_of_transpose": ("sum(A')", "A: matrix(m,n)"),
    "scalar_out_of_sum": ("sum(-(s*A))", "s: scalar; A: matrix(m,n)"),
    "cancel_into_inverse": ("A*X*inv(X'*A*X)", "A: matrix(n,n); X: matrix(n,n)"),
    "inverse_of_transpose": ("inv(A') + A", "A: matrix(n,n)"),
    "transpose_out_of_sum": ("A'*B' + B'*A'", "A: matrix(n,n); B: matrix(n,n)"),
    "kron_sandwich": ("kron(a, eye)*diag(v)*kron(b', eye)", "a: vector(p); b: vector(q); v: vector(n)"),
    "vec_of_vector": ("vec(x) + y", "x: vector(n); y: vector(n)"),
    "merge_scalar_powers": ("s*(3*s^2)*(2*A)", "s: scalar; A: matrix(m,n)"),
    "power_of_monomial": ("(2*s^3)^2", "s: scalar"),
    "cancel_common_powers": ("s^2*(t*A)/(4*s^3)", "s: scalar; t: scalar; A: matrix(m,n)"),
}


def _differential_rules() -> dict:
    """Every differential rule: the table's entries, the variants the selectors pick on their
    probes, and every ``d_*`` function of the module (so no variant is missed)."""
    found = {fn.__name__: fn for fn in DIFF_RULES.values()}
    for op, select in SELECTORS.items():
        for text, where in SELECTOR_PROBES[op]:
            fn = select(parse_node(text, where)[0])
            found[fn.__name__] = fn
    for name, fn in vars(differential).items():
        if name.startswith("d_") and inspect.isfunction(fn) and fn.__module__ == differential.__name__:
            found[name] = fn
    return found


def _all_rules() -> dict:
    """{"table:name": function} over every rule table."""
    out = {f"diff:{n}": fn for n, fn in _differential_rules().items()}
    out.update({f"adjoint:{fn.__name__}": fn for fn in ADJOINT_RULES.values()})
    out.update({f"vec:{fn.__name__}": fn for fn in VEC_RULES.values()})
    out.update({f"simplify:{fn.__name__}": fn for fns in SIMPLIFY_RULES.values() for fn in fns})
    out.update({f"simplify:{fn.__name__}": fn for fn in PASS_RULES})
    return out


RULES = _all_rules()


def _stated() -> dict:
    """{"table:name[op]": Rule} for every identity stated, per-op tables included."""
    out = {}
    for key, fn in RULES.items():
        if rule_of(fn).identity:
            out[key] = rule_of(fn)
        for op in getattr(fn, "rules", {}):
            out[f"{key}[{op}]"] = rule_for(fn, op)
    return out


STATED = _stated()


def _draw(parsed, rng, domain: str) -> dict:
    """Values of every variable (``domain``: any, positive or unit), and random directions."""
    sizes = dimension_sizes(parsed.left, parsed.right)
    values = {}
    for side in (parsed.left, parsed.right):
        for name, v in random_values(side, rng, positive=domain == "positive", sizes=sizes).items():
            values.setdefault(name, v)
    if domain == "any":    # entries away from 0, where division, sign and |·| are well conditioned
        values = {k: v if np.ndim(v) == 2 and v.shape[0] == v.shape[1] else v + 0.5 * np.sign(v)
                  for k, v in values.items()}   # (square matrices are already shifted by √n·I)
    if domain == "unit":   # arcsin, arccos, tan: |a| < 1
        values = {k: 0.9 * np.tanh(v) for k, v in values.items()}
    for dim, n in sizes.items():   # the sizes of dimensions only constants have (matrix(0), eye)
        values.setdefault(dim, n)
    for x, dx in parsed.directions:
        values[dx.name] = random_values(dx, rng, sizes=sizes)[dx.name]
        if isinstance(values[dx.name], np.ndarray) and values[dx.name].ndim == 2 \
                and values[dx.name].shape[0] == values[dx.name].shape[1]:
            values[dx.name] = values[dx.name] - np.sqrt(len(values[dx.name])) * np.eye(len(values[dx.name]))
    return values


def _finite(*arrays) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, dtype=float))) for a in arrays)


def identity_error(rule: Rule, seed: int = 0, trials: int = 3, h: float = 1e-4, key: str = "") -> float:
    """The largest relative error of ``rule``'s identity over ``trials`` random points, drawn in
    the domain ``DOMAINS[key]`` (by default anywhere away from 0, else positive)."""
    parsed = parse_identity(rule)
    assert parsed.left.shape == parsed.right.shape, (parsed.left.shape, parsed.right.shape)
    if rule.is_differential:
        assert parsed.directions, f"{rule.name}: d(f) with no variable in f"
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(trials):
        for domain in DOMAINS.get(key, ("any", "positive")):
            values = _draw(parsed, rng, domain)

            def moved(t, values=values):
                out = dict(values)
                for x, dx in parsed.directions:
                    out[x.name] = values[x.name] + t * values[dx.name]
                return out

            try:
                if rule.is_differential:
                    got = evaluate(parsed.right, values)
                    f = {k: np.asarray(evaluate(parsed.left, moved(k * h)), dtype=float) for k in (-2, -1, 1, 2)}
                    want = (f[-2] - 8 * f[-1] + 8 * f[1] - f[2]) / (12 * h)   # central, fourth order
                    at = evaluate(parsed.left, values)
                else:
                    got, want = evaluate(parsed.left, values), evaluate(parsed.right, values)
                    at = got
            except MatcalcError:   # outside the domain (e.g. a singular matrix): draw again
                continue
            if _finite(got, want, at):
                break
        else:
            raise AssertionError(f"{rule}: no point of its domain found")
        worst = max(worst, relative_error(got, want))
    return worst


def _seed(key: str) -> int:
    return zlib.crc32(key.encode())


def test_every_rule_states_an_identity():
    missing = [k for k, fn in RULES.items() if not rule_of(fn).identity and fn.__name__ not in WITHOUT_IDENTITY]
    assert not missing, f"rules with no @identity: {missing}"
    stated_anyway = [k for k, fn in RULES.items() if rule_of(fn).identity and fn.__name__ in WITHOUT_IDENTITY]
    assert not stated_anyway, f"listed as without identity, yet they state one: {stated_anyway}"
    assert all(reason for reason in WITHOUT_IDENTITY.values())
    names = {fn.__name__ for fn in RULES.values()}
    stale = set(WITHOUT_IDENTITY) - names
    assert not stale, f"no such rule any more, remove it from WITHOUT_IDENTITY: {stale}"


def test_rules_are_named_after_their_functions_and_cite_consistently():
    for key, rule in STATED.items():
        assert rule.name == RULES[key.split("[")[0]].__name__
        assert " = " in rule.identity and rule.identity.count(" = ") == 1, key
        assert rule.cite == "" or rule.cite.startswith("MC "), key


def test_where_declares_every_variable_and_docstring_citations_agree():
    for key, rule in STATED.items():
        parsed = parse_identity(rule)
        declared = set(parse_program(rule.where).declarations) if rule.where else set()
        directions = {dx.name for _, dx in parsed.directions}
        used = set(variables(parsed.left)) | set(variables(parsed.right))
        assert used - directions <= declared, f"{key}: declare {sorted(used - directions - declared)} in where"
        doc = RULES[key.split("[")[0]].__doc__ or ""
        cited = set(re.findall(r"MC \(?(\d+)", doc))
        assert cited <= set(re.findall(r"\d+", rule.cite)), f"{key}: the docstring cites MC {cited}, the rule {rule.cite!r}"


@pytest.mark.parametrize("key", sorted(STATED))
def test_identity_holds(key):
    rule = STATED[key]
    tolerance = 1e-6 if rule.is_differential else 1e-9
    error = identity_error(rule, seed=_seed(key), key=key)
    assert error < tolerance, f"{rule}: relative error {error:.1e}"


@pytest.mark.parametrize("key", sorted(k for k, r in STATED.items() if k.startswith("diff:")))
def test_differential_rule_computes_its_identity(key):
    """The engine, run on the identity's f, applies this very rule at the root and gives the
    identity's df (summed over the variables, each moving in its direction)."""
    rule = STATED[key]
    parsed = parse_identity(rule)
    values = _draw(parsed, np.random.default_rng(_seed(key)), DOMAINS.get(key, ("positive",))[0])
    total = np.zeros(np.shape(evaluate(parsed.right, values)))
    for x, dx in parsed.directions:
        out, steps = differential.differential(parsed.left, x, dx)
        if out is None:
            continue
        assert steps[-1].before is parsed.left and steps[-1].rule.name == rule.name, (key, steps[-1].rule)
        total = total + np.asarray(evaluate(out, values), dtype=float)
    assert relative_error(total, evaluate(parsed.right, values)) < 1e-9


def test_elementwise_table_covers_every_function_d_elementwise_serves():
    served = {op for op in SELECTORS if op in ELEMENTWISE
              and SELECTORS[op](parse_node(f"{op}(A)", "A: matrix(m,n)")[0]) is differential.d_elementwise}
    assert set(differential.d_elementwise.rules) == served
    for op, rule in differential.d_elementwise.rules.items():
        assert rule.identity.startswith(f"d({op}(A)) = ")


def test_direction_takes_its_variable_type():
    parsed = parse_identity(Rule("r", identity="d(S*x) = dS*x + S*dx", where="S: symmetric(n); x: vector(n)"))
    kinds = {dx.name: (dx.kind, dx.shape, x.shape) for x, dx in parsed.directions}
    assert kinds == {"dS": ("symmetric", ("n", "n"), ("n", "n")), "dx": ("vector", ("n", 1), ("n", 1))}


@pytest.mark.parametrize("identity, where", [
    ("d(A*B) = dA*B", "A: matrix(m,n); B: matrix(n,p)"),        # a product rule missing a term
    ("d(inv(A)) = inv(A)*dA*inv(A)", "A: matrix(n,n)"),          # a lost sign
    ("d(A') = dA", "A: matrix(n,n)"),                           # a lost transpose (square, so it parses)
    ("tr(A*B) = tr(A)*tr(B)", "A: matrix(n,n); B: matrix(n,n)"),  # a false equality
    ("(A*B)' = A'*B'", "A: matrix(n,n); B: matrix(n,n)"),
])
def test_a_wrong_identity_is_caught(identity, where):
    assert identity_error(Rule("wrong", identity=identity, where=where), seed=1) > 1e-3


def test_every_simplification_rule_has_an_example():
    names = {fn.__name__ for fns in SIMPLIFY_RULES.values() for fn in fns}
    assert set(SIMPLIFY_EXAMPLES) | NEVER_FIRES == names, (set(SIMPLIFY_EXAMPLES) | NEVER_FIRES) ^ names
    assert not set(SIMPLIFY_EXAMPLES) & NEVER_FIRES


def test_trace_of_scalar_cannot_fire():
    """tr(a) of a 1×1 a cannot be built, so trace_of_scalar never applies (a dead rule)."""
    with pytest.raises(ShapeError):
        make("tr", Var("a", SCALAR, "scalar"))
    with pytest.raises(ShapeError):
        parse_node("tr(x'*y)", "x: vector(n); y: vector(n)")


@pytest.mark.parametrize("name", sorted(SIMPLIFY_EXAMPLES))
def test_simplification_example_fires_and_keeps_the_value(name):
    text, where = SIMPLIFY_EXAMPLES[name]
    node = parse_node(text, where)[0]
    out, trace = simplify_traced(node)
    fired = [(before, after) for rule, before, after in trace if rule.__name__ == name]   # the trace holds rule functions
    assert fired, f"{name} did not fire on {text}: {[r.__name__ for r, _, _ in trace]}"
    rng = np.random.default_rng(_seed(name))
    for domain in ("any", "positive"):
        values = {**dimension_sizes(node), **random_values(node, rng, positive=domain == "positive")}
        if _finite(evaluate(node, values)):
            break
    assert out.shape == node.shape
    assert relative_error(evaluate(out, values), evaluate(node, values)) < 1e-9
    for before, after in fired:   # each rewrite by this rule keeps its own subexpression's value
        assert relative_error(evaluate(after, values), evaluate(before, values)) < 1e-9


# ------------------------------------------------------------------------------ adjoint and vec rules at work

#: Linear forms N(dX) on which each adjoint rule is run: (text, where, direction, batched).  The
#: sweep must give G with ⟨C, N(dX)⟩ = ⟨G, dX⟩ for a random cotangent C (batched: Jᵀ with N = J·dx).
ADJOINT_PROBES = {
    "adjoint_vec": [("vec(A)'*vec(dX)", "A: matrix(m,n); dX: matrix(m,n)", "dX", False),
                    ("vec(A*dx)", "A: matrix(m,n); dx: vector(n)", "dx", True)],
    "adjoint_kron": [("kron(a, dx)", "a: vector(m); dx: vector(n)", "dx", False),
                     ("kron(dx, a)", "a: vector(m); dx: vector(n)", "dx", True),
                     ("tr(kron(A, dX))", "A: matrix(m,m); dX: matrix(n,n)", "dX", False)],
    "adjoint_add": [("A*dX + dX", "A: matrix(m,m); dX: matrix(m,n)", "dX", False),
                    ("x'*dx + y*dx'", "x: vector(n); dx: vector(n); y: vector(m)", "dx", False),
                    ("A*dx + dx", "A: matrix(n,n); dx: vector(n)", "dx", True)],
    "adjoint_sub": [("A*dX - dX", "A: matrix(m,m); dX: matrix(m,n)", "dX", False),
                    ("y*dx' - x'*dx", "x: vector(n); dx: vector(n); y: vector(m)", "dx", False),
                    ("A*dx - dx", "A: matrix(n,n); dx: vector(n)", "dx", True)],
    "adjoint_neg": [("-(A*dX)", "A: matrix(m,n); dX: matrix(n,p)", "dX", False),
                    ("-(A*dx)", "A: matrix(m,n); dx: vector(n)", "dx", True)],
    "adjoint_mul": [("A*dX*B", "A: matrix(m,n); dX: matrix(n,p); B: matrix(p,q)", "dX", False),
                    ("A*dx", "A: matrix(m,n); dx: vector(n)", "dx", True),
                    ("(dx'*A)'", "dx: vector(m); A: matrix(m,n)", "dx", True)],
    "adjoint_scale": [("s*dX", "s: scalar; dX: matrix(m,n)", "dX", False),
                      ("dX*s", "s: scalar; dX: matrix(m,n)", "dX", False),
                      ("s .* dX", "s: scalar; dX: matrix(m,n)", "dX", False),
                      ("(x'*dx)*B", "x: vector(n); dx: vector(n); B: matrix(m,p)", "dx", False),
                      ("B*(x'*dx)", "x: vector(n); dx: vector(n); B: matrix(m,p)", "dx", False),
                      ("(x'*dx) .* B", "x: vector(n); dx: vector(n); B: matrix(m,p)", "dx", False),
                      ("(x'*dx)*y", "x: vector(n); dx: vector(n); y: vector(m)", "dx", True),
                      ("s*(A*dx)", "s: scalar; A: matrix(m,n); dx: vector(n)", "dx", True)],
    "adjoint_hadamard": [("A .* dX", "A: matrix(m,n); dX: matrix(m,n)", "dX", False),
                         ("y .* dx", "y: vector(n); dx: vector(n)", "dx", True)],
    "adjoint_div": [("dX/s", "s: scalar; dX: matrix(m,n)", "dX", False),
                    ("dx/s", "s: scalar; dx: vector(n)", "dx", True)],
    "adjoint_ediv": [("dX ./ B", "B: matrix(m,n); dX: matrix(m,n)", "dX", False),
                     ("(x'*dx) ./ B", "x: vector(n); dx: vector(n); B: matrix(m,p)", "dx", False),
                     ("dX ./ s", "s: scalar; dX: matrix(m,n)", "dX", False),
                     ("dx ./ y", "y: vector(n); dx: vector(n)", "dx", True)],
    "adjoint_transpose": [("dX'", "dX: matrix(m,n)", "dX", False),
                          ("(dx'*A)'", "dx: vector(m); A: matrix(m,n)", "dx", True)],
    "adjoint_tr": [("tr(A*dX)", "A: matrix(n,m); dX: matrix(m,n)", "dX", False)],
    "adjoint_sum": [("sum(A .* dX)", "A: matrix(m,n); dX: matrix(m,n)", "dX", False),
                    ("sum(dx)*y", "dx: vector(n); y: vector(m)", "dx", True)],
    "adjoint_diag": [("y'*diag(dX)", "y: vector(n); dX: matrix(n,n)", "dX", False),
                     ("x'*diag(dx)*y", "x: vector(n); dx: vector(n); y: vector(n)", "dx", False)],
}

#: Linear forms N(dX) on which each vec rule is run: vec(N(dX)) = J·vec(dX).
VEC_PROBES = {
    "vec_add": [("A*dX + dX", "A: matrix(m,m); dX: matrix(m,n)", "dX")],
    "vec_sub": [("A*dX - dX", "A: matrix(m,m); dX: matrix(m,n)", "dX")],
    "vec_neg": [("-(A*dX)", "A: matrix(m,n); dX: matrix(n,p)", "dX")],
    "vec_mul": [("A*dX*B", "A: matrix(m,n); dX: matrix(n,p); B: matrix(p,q)", "dX")],
    "vec_scale": [("s*dX", "s: scalar; dX: matrix(m,n)", "dX"),
                  ("dX*s", "s: scalar; dX: matrix(m,n)", "dX"),
                  ("s .* dX", "s: scalar; dX: matrix(m,n)", "dX"),
                  ("(x'*dx)*B", "x: vector(n); dx: vector(n); B: matrix(m,p)", "dx"),
                  ("B*(x'*dx)", "x: vector(n); dx: vector(n); B: matrix(m,p)", "dx")],
    "vec_hadamard": [("A .* dX", "A: matrix(m,n); dX: matrix(m,n)", "dX")],
    "vec_div": [("dX/s", "s: scalar; dX: matrix(m,n)", "dX")],
    "vec_ediv": [("dX ./ B", "B: matrix(m,n); dX: matrix(m,n)", "dX"),
                 ("dX ./ s", "s: scalar; dX: matrix(m,n)", "dX")],
    "vec_transpose": [("(A*dx)'", "A: matrix(m,n); dx: vector(n)", "dx")],
    "vec_tr": [("tr(A*dX)", "A: matrix(n,m); dX: matrix(m,n)", "dX")],
    "vec_sum": [("sum(A .* dX)", "A: matrix(m,n); dX: matrix(m,n)", "dX")],
    "vec_vec": [("vec(A*dX)", "A: matrix(m,n); dX: matrix(n,p)", "dX")],
    "vec_kron": [("kron(a, dx)", "a: vector(m); dx: vector(n)", "dx"),
                 ("kron(dx, a)", "a: vector(m); dx: vector(n)", "dx")],
}


def _kind(shape) -> str:
    return "scalar" if shape == SCALAR else "vector" if shape[1] == 1 else "matrix"


def _at_random(*roots, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    sizes = dimension_sizes(*roots)
    values = dict(sizes)
    for root in roots:
        values.update(random_values(root, rng, positive=True, sizes=sizes))
    return values


def _flat(a) -> np.ndarray:
    """vec(a): the columns stacked (a scalar as a 1-vector)."""
    return np.asarray(a, dtype=float).reshape(-1, order="F") if np.ndim(a) == 2 else np.atleast_1d(np.asarray(a, float))


def test_every_adjoint_and_vec_rule_is_probed():
    adjoint = {fn.__name__ for fn in ADJOINT_RULES.values()} - set(WITHOUT_IDENTITY)
    vec = {fn.__name__ for fn in VEC_RULES.values()} - set(WITHOUT_IDENTITY)
    assert set(ADJOINT_PROBES) == adjoint and set(VEC_PROBES) == vec


@pytest.mark.parametrize("name, probe", [(n, p) for n, ps in sorted(ADJOINT_PROBES.items()) for p in ps],
                         ids=lambda v: v if isinstance(v, str) else v[0])
def test_adjoint_rule_moves_the_cotangent_off_the_direction(name, probe):
    from matcalc.calculus.identify import cotangent
    from matcalc.ir.build import eye

    text, where, d, batched = probe
    n = parse_node(text, where)[0]
    dx = variables(n)[d]
    steps = []
    if batched:
        g, steps = cotangent(n, dx, eye(n.shape[0]), batched=True)   # Jᵀ
        values = _at_random(n, g, seed=_seed(text))
        got = np.asarray(evaluate(g, values), dtype=float).reshape(-1, _flat(evaluate(n, values)).size).T @ _flat(values[d])
        want = _flat(evaluate(n, values))
    else:
        c = Var("C", n.shape, _kind(n.shape))
        g, steps = cotangent(n, dx, c)
        values = _at_random(n, g, seed=_seed(text))
        got = np.sum(_flat(evaluate(g, values)) * _flat(values[d]))
        want = np.sum(_flat(values["C"]) * _flat(evaluate(n, values)))
    if not (batched and name == "adjoint_transpose"):  # a batch keeps a row as a column: ⟨C, rowᵀ⟩ reads the same, no step
        assert name in {s.rule.name for s in steps}, [s.rule.name for s in steps]
    assert relative_error(got, want) < 1e-9


@pytest.mark.parametrize("name, probe", [(n, p) for n, ps in sorted(VEC_PROBES.items()) for p in ps],
                         ids=lambda v: v if isinstance(v, str) else v[0])
def test_vec_rule_gives_the_kronecker_form(name, probe):
    from matcalc.calculus.identify import vec_jacobian

    text, where, d = probe
    n = parse_node(text, where)[0]
    j, steps = vec_jacobian(n, variables(n)[d])
    values = _at_random(n, j, seed=_seed(text))
    want = _flat(evaluate(n, values))
    got = np.asarray(evaluate(j, values), dtype=float).reshape(want.size, -1) @ _flat(values[d])
    assert name in {s.rule.name for s in steps}, [s.rule.name for s in steps]
    assert relative_error(got, want) < 1e-9


def test_each_linear_op_is_registered_once_with_all_its_rules():
    """calculus/linear.py: every linear op of a differential has an adjoint and a vec rule side
    by side, an index rule wherever index notation exists, and a batched rule only where a
    batch of cotangents needs its own (it cites the adjoint's identity in the steps)."""
    from matcalc.calculus import linear
    assert set(linear.VEC_RULES) == set(linear.ADJOINT_RULES)
    assert set(linear.INDEX_RULES) == set(linear.ADJOINT_RULES) - {"vec", "kron"}
    assert set(linear.BATCHED_RULES) < set(linear.ADJOINT_RULES)
    for prefix, table in linear._TABLES.items():
        for op, fn in table.items():
            assert fn.__name__.startswith(prefix) and fn.__doc__, (op, fn.__name__)
    for op, fn in linear.BATCHED_RULES.items():
        assert getattr(fn, "rule", None) is None and getattr(linear.ADJOINT_RULES[op], "rule", None) is not None, op
