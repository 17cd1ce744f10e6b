"""A fuzz campaign over the whole language: random well-typed expressions through every stage.

``cases()`` is a hypothesis strategy of :class:`Case` (an expression from the one generator,
:func:`matcalc.testing.exprs`, over every operator and function; the variable to differentiate
by; the order); :func:`run_case` puts one through parsing, printing, LaTeX, simplification,
differentiation and the finite-difference check and returns an :class:`Outcome` per check.
Domains are respected by construction (``log``/``sqrt`` of positive arguments, ``inv``/``det``/
``logdet`` of well-conditioned matrices), so a failed check is a bug, not a bad draw.

``python -m matcalc.fuzz --minutes 30`` runs the long campaign and prints the counts of tried, ok,
wrong, crashed and unsupported cases; each failure is minimised and written to
``tests/fuzz_regressions.json``, which the test suite replays.  ``parser_inputs()`` is the
strategy for parser fuzzing: random text, Unicode and mutations of valid expressions.

hypothesis is imported lazily: ``import matcalc`` never loads this module.
"""
from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from matcalc.errors import MatcalcError, UnsupportedError
from matcalc.ir.nodes import Node, Num, Op, Var, postorder, variables

from matcalc.testing import DECLS, LEAVES, N, NN, S, exprs  # noqa: F401 - the one generator (re-exported)

REGRESSIONS = Path(__file__).resolve().parent.parent / "tests" / "fuzz_regressions.json"
CHECKS = ("derivative", "roundtrip", "definitions", "printed_derivative", "latex", "simplify", "steps")


def _make(op, *args):
    from matcalc.ir.shapes import make
    return make(op, *args)


@dataclass(frozen=True)
class Case:
    f: Node
    wrt: str
    order: int
    sizes: tuple      # (n, m) for the value checks
    seed: int

    def text(self) -> str:
        from matcalc.printing.text import to_text
        return to_text(self.f)

    def to_dict(self) -> dict:
        return {"f": self.text(), "wrt": self.wrt, "order": self.order, "sizes": list(self.sizes), "seed": self.seed}


def cases(depth=3):
    """A hypothesis strategy of whole cases: f, wrt (a variable of f, sometimes one f lacks), order."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        shape = draw(st.sampled_from([S, S, S, N, NN]))
        f = draw(exprs(shape, depth))
        names = list(variables(f)) or ["a"]
        wrt = draw(st.sampled_from(names + ["b"] if draw(st.integers(0, 9)) == 0 else names))
        kind = _decl_kinds()[wrt]
        orders = [1, 1, 1, 2] + ([3] if kind in ("scalar", "vector") and shape == S else [])
        if kind in ("matrix", "symmetric") and shape != S:
            orders = [1]
        order = draw(st.sampled_from(orders))
        n, m = draw(st.sampled_from([(3, 2), (2, 3), (4, 3), (3, 5), (2, 4)]))
        return Case(f, wrt, order, (n, m), draw(st.integers(0, 2 ** 16)))

    return build()


def _decl_kinds() -> dict:
    from matcalc.front.parser import parse_program
    return {name: t.kind for name, t in parse_program(DECLS).declarations.items()}


# ------------------------------------------------------------------------------ one case

@dataclass
class Outcome:
    check: str
    status: str                  # ok, wrong, crashed, unsupported
    detail: str = ""


def _values_for(root: Node, sizes: tuple, rng) -> Optional[dict]:
    """Values at which ``root`` is defined, with the case's sizes (None when none is found)."""
    from matcalc.numeric.check import random_values
    from matcalc.numeric.evaluate import NumericalWarning, evaluate
    dims = {"n": sizes[0], "m": sizes[1]}
    for k in range(6):
        vals = random_values(root, rng, positive=k % 2 == 1, sizes=dims)
        with warnings.catch_warnings():
            warnings.simplefilter("error", NumericalWarning)
            try:
                v = evaluate(root, vals)
            except (MatcalcError, NumericalWarning):
                continue
        if np.all(np.isfinite(v)) and np.max(np.abs(v), initial=0) < 1e8:
            return {**vals, **dims}
    return None


def _close(got, want, tol=1e-7) -> bool:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return False
    return bool(np.all(np.abs(got - want) <= tol * np.maximum(1.0, np.abs(want))))


def run_case(case: Case, checks=CHECKS) -> list[Outcome]:
    """The ``checks`` (default: all) on one case; a non-MatcalcError exception is a crash of that check."""
    import matcalc
    from matcalc.numeric.check import verdict
    from matcalc.printing.latex import to_latex
    from matcalc.printing.text import to_text
    from matcalc.simplify.engine import simplify

    out: list[Outcome] = []
    checks = set(checks) | ({"derivative"} if {"printed_derivative", "steps"} & set(checks) else set())
    rng = np.random.default_rng(case.seed)
    text = case.text()

    def attempt(check: str, fn: Callable[[], Optional[str]]):
        if check not in checks:
            return
        try:
            why = fn()
        except UnsupportedError as e:
            out.append(Outcome(check, "unsupported", e.message))
            return
        except MatcalcError as e:
            out.append(Outcome(check, "wrong", f"{type(e).__name__}: {e.message}"))
            return
        except Exception as e:  # noqa: BLE001 - the point of fuzzing: report, never stop
            out.append(Outcome(check, "crashed", f"{type(e).__name__}: {e}\n{_short_traceback()}"))
            return
        if why is None:
            out.append(Outcome(check, "ok"))
        elif why.startswith("unsupported: "):
            out.append(Outcome(check, "unsupported", why[len("unsupported: "):]))
        else:
            out.append(Outcome(check, "wrong", why))

    def roundtrip():
        back = matcalc.parse(text, DECLS).node
        return None if back == case.f else f"parse(str(e)) is {to_text(back)}, a different tree"

    def definitions():
        subs = [n for n in postorder(case.f) if isinstance(n, Op) and n is not case.f]
        if not subs:
            return None
        t = subs[rng.integers(len(subs))]
        h = Var("h", t.shape, "scalar" if t.shape == S else ("vector" if t.shape[1] == 1 else "matrix"))
        body = to_text(_replace(case.f, t, h))
        program = f"h = {to_text(t)}; {body}"
        back = matcalc.parse(program, DECLS).node
        return None if back == case.f else f"{program!r} parses to {to_text(back)}"

    def latex():
        to_latex(case.f)
        return None

    values = _values_for(case.f, case.sizes, rng)

    def simplified():
        if values is None:
            return "unsupported: no point where f is defined"
        from matcalc.numeric.evaluate import evaluate
        s = simplify(case.f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want, got = evaluate(case.f, values), evaluate(s, values)
        return None if _close(got, want, 1e-6) else f"simplify gives {to_text(s)}, value {got} instead of {want}"

    attempt("roundtrip", roundtrip)
    attempt("definitions", definitions)
    attempt("latex", latex)
    attempt("simplify", simplified)

    holder = {}

    def derivative():
        d = holder["d"] = matcalc.diff(matcalc.parse(text, DECLS), case.wrt, DECLS, case.order)
        d.latex()
        str(d)
        v = verdict(d.f, case.wrt, DECLS, case.order, seed=case.seed,
                    tolerance=1e-6 if case.order == 1 else 1e-5)  # FD of a derivative loses a digit
        if v.ok:
            return None
        if v.inconclusive or v.reason.startswith("no valid point"):   # no verdict either way
            return "unsupported: " + v.reason
        return v.reason

    attempt("derivative", derivative)
    d = holder.get("d")
    if d is not None and d.node is not None and values is not None:
        def printed():
            wrt_value = values.get(case.wrt)
            vals = dict(values)
            if wrt_value is None:
                from matcalc.numeric.check import random_values
                vals.update(random_values(d.wrt, rng, sizes={"n": case.sizes[0], "m": case.sizes[1]}))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = d.evaluate(vals)
                if not np.all(np.isfinite(want)):  # f is not differentiable here: nothing to compare
                    return "unsupported: the derivative is not finite at the point drawn"
                back = matcalc.parse(str(d), DECLS)
                got = back.evaluate(vals)
            if np.shape(got) != np.shape(want) and np.size(want) == np.size(got) and d.form == "vec":
                return None  # the vec form is read back as a matrix of the same entries
            return None if _close(got, want, 1e-6) else f"parse(str(d)) = {str(d)!r} evaluates to {got}, d.evaluate to {want}"
        attempt("printed_derivative", printed)
    if d is not None and hasattr(d, "verify"):
        def steps():
            verdicts = d.verify(seed=case.seed)
            bad = [v for v in verdicts if not v.ok and not v.undefined]
            if bad:
                return f"{len(bad)} step(s) do not verify; first: {bad[0]}"
            undefined = [v for v in verdicts if v.undefined]
            return f"unsupported: {len(undefined)} step(s) undefined wherever drawn: {undefined[0]}" if undefined else None
        attempt("steps", steps)
    return out


def _replace(root: Node, old: Node, new: Node) -> Node:
    """``root`` with every subtree equal to ``old`` replaced by ``new`` (iteratively)."""
    done: dict[int, Node] = {}
    for node in postorder(root):
        if node == old:
            done[id(node)] = new
        elif node.children():
            kids = tuple(done[id(k)] for k in node.children())
            done[id(node)] = node if all(a is b for a, b in zip(kids, node.children())) else _make(node.op, *kids)
        else:
            done[id(node)] = node
    return done[id(root)]


def _short_traceback() -> str:
    lines = traceback.format_exc().strip().splitlines()
    return "\n".join(lines[-6:])


# ------------------------------------------------------------------------------ minimising

def shrink(case: Case, fails: Callable[[Case], bool], budget: float = 60.0) -> Case:
    """A smaller case that still ``fails``: greedily replace a subtree by one of its children of the
    same shape, or by a leaf of that shape, while the failure persists (``budget`` seconds)."""
    start = time.time()
    improved = True
    while improved and time.time() - start < budget:
        improved = False
        for node in sorted({id(n): n for n in postorder(case.f)}.values(), key=_size, reverse=True):
            if node is case.f and not isinstance(node, Op):
                continue
            for smaller in _candidates(node):
                try:
                    trial = Case(_replace(case.f, node, smaller), case.wrt, case.order, case.sizes, case.seed)
                except Exception:  # noqa: BLE001 - a replacement that does not type-check is skipped
                    continue
                if _size(trial.f) < _size(case.f) and case.wrt in variables(trial.f) and fails(trial):
                    case, improved = trial, True
                    break
            if improved or time.time() - start > budget:
                break
    return case


def _size(node: Node) -> int:
    return sum(1 for _ in postorder(node))


def _candidates(node: Node):
    for child in node.children():
        if child.shape == node.shape:
            yield child
    yield from LEAVES.get(tuple(node.shape), [])
    if node.shape == S:
        yield Num(2)


# ------------------------------------------------------------------------------ parser fuzzing

VALID = ["x'*A*x", "norm2(X*w - y)^2", "tr(inv(A)*B)", "logdet(S) + sum(log(x))", "h = tanh(W*x); sum(h .^ 2)",
         "-y'*log(softmax(W*x))", "kron(A, B)", "X: matrix(m,n); tr(X'*X)", "diag(diag(A))*x ./ (1 + x .^ 2)"]
ALPHABET = list("xyAB12.+-*/^'()[],;:= \n\t⊙ᵀ#@$\\\"{}<>|&!?~`") + [
    "tr(", "exp(", ".*", "./", ".^", ".T", "eye", "matrix(", "vector(", "symmetric(", "kron(", "α", "ℓ", "∑",
    "\u200b", "\x00", "\ud800" if False else "\ufffd", "1e9999", "0x1F", "𝐱", "ﬁ"]


def parser_inputs():
    """Random text: tokens of the language and not, Unicode, bytes decoded, and truncations,
    insertions and deletions applied to valid expressions."""
    from hypothesis import strategies as st
    tokens = st.lists(st.sampled_from(ALPHABET), max_size=30).map("".join)
    unicode = st.text(max_size=40)
    raw = st.binary(max_size=40).map(lambda b: b.decode("utf-8", errors="replace"))

    @st.composite
    def mutated(draw):
        s = draw(st.sampled_from(VALID))
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(s)))
            what = draw(st.sampled_from(["cut", "drop", "insert", "swap"]))
            if what == "cut":
                s = s[:i]
            elif what == "drop":
                s = s[:i] + s[i + 1:]
            elif what == "insert":
                s = s[:i] + draw(st.sampled_from(ALPHABET)) + s[i:]
            elif len(s) > 1:
                j = draw(st.integers(0, len(s) - 1))
                chars = list(s)
                chars[i % len(s)], chars[j] = chars[j], chars[i % len(s)]
                s = "".join(chars)
        return s

    return st.one_of(tokens, unicode, raw, mutated())


def parse_outcome(text: str) -> Optional[str]:
    """None if parsing ``text`` succeeds or fails with a located MatcalcError; else what went wrong."""
    import matcalc
    try:
        matcalc.parse(text)
    except MatcalcError as e:
        if not e.message:
            return f"{type(e).__name__} without a message"
        if e.line is None and text.strip():
            return f"{type(e).__name__} without a location: {e.message}"
        return None
    except Exception as e:  # noqa: BLE001
        return f"crash {type(e).__name__}: {e}"
    return None


# ------------------------------------------------------------------------------ the long campaign

class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


@dataclass
class Tally:
    tried: int = 0
    ok: int = 0
    wrong: int = 0
    crashed: int = 0
    unsupported: int = 0
    timeouts: int = 0
    by_check: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    parser_tried: int = 0
    parser_bad: list = field(default_factory=list)

    def add(self, case: Case, outcomes: list[Outcome]) -> None:
        self.tried += 1
        worst = "ok"
        for o in outcomes:
            self.by_check.setdefault(o.check, {}).setdefault(o.status, 0)
            self.by_check[o.check][o.status] += 1
            if o.status in ("wrong", "crashed"):
                self.failures.append((case, o))
                worst = "crashed" if o.status == "crashed" or worst == "crashed" else "wrong"
            elif o.status == "unsupported" and worst == "ok":
                worst = "unsupported"
        setattr(self, worst, getattr(self, worst) + 1)

    def summary(self) -> str:
        lines = [f"tried {self.tried}: ok {self.ok}, wrong {self.wrong}, crashed {self.crashed}, "
                 f"unsupported {self.unsupported}, timeouts {self.timeouts}"]
        for check in CHECKS:
            if check in self.by_check:
                counts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_check[check].items()))
                lines.append(f"  {check}: {counts}")
        lines.append(f"parser: tried {self.parser_tried}, bad {len(self.parser_bad)}")
        return "\n".join(lines)


def campaign(minutes: float, seed: Optional[int] = None, per_case: int = 60, log=print,
             save: Optional[Path] = REGRESSIONS) -> Tally:
    """Run random cases for ``minutes``; minimise each distinct failure and save it."""
    from hypothesis import HealthCheck, given, settings

    tally = Tally()
    deadline = time.time() + 60 * minutes
    rnd = random.Random(seed)
    signal.signal(signal.SIGALRM, _alarm)

    @settings(max_examples=100, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def batch(case):
        if time.time() > deadline:
            return
        signal.alarm(per_case)
        try:
            outcomes = run_case(case)
        except _Timeout:
            tally.timeouts += 1
            tally.tried += 1
            tally.failures.append((case, Outcome("budget", "crashed", f"no answer within {per_case} s")))
            return
        finally:
            signal.alarm(0)
        tally.add(case, outcomes)

    @settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(parser_inputs())
    def parser_batch(text):
        tally.parser_tried += 1
        bad = parse_outcome(text)
        if bad:
            tally.parser_bad.append((text, bad))

    last = time.time()
    while time.time() < deadline:
        np.random.seed(rnd.randrange(2 ** 32))
        batch()
        parser_batch()
        if time.time() - last > 60:
            log(tally.summary())
            last = time.time()
    log(tally.summary())
    found = _minimise(tally, per_case, log)
    if save is not None and found:
        _save(found, save, log)
    for text, bad in tally.parser_bad[:20]:
        log(f"parser: {text!r}: {bad}")
    return tally


def _signature(case: Case, o: Outcome) -> str:
    """Failures alike in check, status, kind of message, kind of variable, shape and order."""
    first = o.detail.splitlines()[0] if o.detail else ""
    head = first.split(":")[0] if not first.startswith("max relative error") else "numbers differ"
    return f"{o.check}/{o.status}/{head}/{_decl_kinds().get(case.wrt)}/{case.f.shape}/{case.order}"


def _minimise(tally: Tally, per_case: int, log) -> list[dict]:
    seen: dict = {}
    for case, o in tally.failures:
        seen.setdefault(_signature(case, o), (case, o))
    found = []
    for sig, (case, o) in seen.items():
        def fails(c, check=o.check, status=o.status):
            signal.alarm(per_case)
            try:
                return any(x.check == check and x.status == status for x in run_case(c))
            except _Timeout:
                return check == "budget"
            finally:
                signal.alarm(0)
        small = shrink(case, fails) if o.check != "budget" else case
        again = [x for x in run_case(small) if x.check == o.check] if o.check != "budget" else [o]
        detail = again[0].detail if again else o.detail
        entry = {**small.to_dict(), "check": o.check, "status": o.status, "detail": detail.splitlines()[0][:300]}
        log(f"FAILURE {sig}\n  minimal: {json.dumps(entry, ensure_ascii=False)}")
        found.append(entry)
    return found


def _save(found: list[dict], path: Path, log) -> None:
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    keys = {(e["f"], e["wrt"], e["order"], e["check"]) for e in old}
    new = [dict(e, open=True) for e in found if (e["f"], e["wrt"], e["order"], e["check"]) not in keys]
    path.write_text(json.dumps(old + new, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    log(f"saved {len(new)} new regression case(s) to {path}")


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m matcalc.fuzz", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--per-case", type=int, default=60, help="seconds before a case counts as a budget failure")
    p.add_argument("--no-save", action="store_true", help="do not write tests/fuzz_regressions.json")
    args = p.parse_args(argv)
    t = campaign(args.minutes, args.seed, args.per_case, log=lambda s: print(s, flush=True),
                 save=None if args.no_save else REGRESSIONS)
    return 0 if not (t.wrong or t.crashed or t.parser_bad) else 1


if __name__ == "__main__":
    sys.exit(main())
