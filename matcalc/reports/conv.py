"""The conv report: the forward index sum, each gradient's delta elimination step by step, the
closed forms, and a small worked example checked against a direct loop implementation.

Every step of a gradient's derivation is an index sum the engine produced; each one after the
differentiation is evaluated (it is the gradient, rewritten) and compared with the gradient of a
plain nested-loop convolution, so a wrong rewrite shows as a failed step.
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from matcalc.reports.model import (Alert, Code, CodeBlock, Document, Heading, IndexMath, Math, Para, StepItem,
                                   Steps, Strong, Table)

TOLERANCE = 1e-9


def loop_conv(V, W, b, stride, padding, dilation, groups, delta=None):
    """PyTorch's conv{1,2,3}d (cross-correlation) as plain nested loops: the reference.

    With ``delta`` (= ∂L/∂Z) the same loops also run backwards, textbook style, and return
    ``(Z, {"V": ∂L/∂V, "W": ∂L/∂W, "b": ∂L/∂b})``."""
    N, C_in, *H = V.shape
    C_out, C_in_g, *k = W.shape
    out_sp = [(h + 2 * p - d * (kk - 1) - 1) // s + 1 for h, p, d, kk, s in zip(H, padding, dilation, k, stride)]
    Z = np.zeros((N, C_out, *out_sp))
    grads = {"V": np.zeros_like(V), "W": np.zeros_like(W), "b": np.zeros(C_out)}
    per_out = C_out // groups
    for n, o in itertools.product(range(N), range(C_out)):
        g = o // per_out
        for pos in itertools.product(*(range(m) for m in out_sp)):
            total = 0.0 if b is None else float(b[o])
            back = 0.0 if delta is None else float(delta[(n, o) + pos])
            grads["b"][o] += back
            for c in range(C_in_g):
                for off in itertools.product(*(range(kk) for kk in k)):
                    at = [q * s + r * d - p for q, s, r, d, p in zip(pos, stride, off, dilation, padding)]
                    if all(0 <= a < h for a, h in zip(at, H)):
                        v_at = (n, g * C_in_g + c) + tuple(at)
                        total += W[(o, c) + off] * V[v_at]
                        grads["V"][v_at] += back * W[(o, c) + off]
                        grads["W"][(o, c) + off] += back * V[v_at]
            Z[(n, o) + pos] = total
    return Z if delta is None else (Z, grads)


def _sizes(layer_ndim: int, stride, padding, dilation, groups):
    k = (3,) * layer_ndim if layer_ndim < 3 else (2,) * layer_ndim
    H = tuple(max(5, d * (kk - 1) + 1 + 2 * s - 2 * p) for kk, s, p, d in zip(k, stride, padding, dilation))
    return dict(N=1, C_in=2 * groups, C_out=2 * groups, k=k, H=H)


def conv_document(layer: str = "conv", ndim: int = 2, stride=None, padding=0, dilation=1, groups: int = 1,
                  bias: bool = True, output_padding=0, kernel_size=2, seed: int = 0) -> Document:
    from matcalc.conv.api import avgpool_gradients, conv_gradients, conv_transpose_gradients
    from matcalc.indexsum.derive import step_text
    from matcalc.indexsum.printing import LATEX, sum_text
    if layer == "avgpool":
        g = avgpool_gradients(ndim, kernel_size, stride, padding)
    else:
        stride = 1 if stride is None else stride
        if layer == "conv_transpose":
            g = conv_transpose_gradients(ndim, stride, padding, output_padding, dilation, groups, bias)
        else:
            g = conv_gradients(ndim, stride, padding, dilation, groups, bias)
    doc = Document(f"Derivation report: {g.layer.ndim}-D {g.layer.kind.replace('_', ' ')} gradients")
    doc.add(Heading(2, "The layer"), CodeBlock(g.header()),
            Heading(2, "The forward index sum"),
            Math((IndexMath(g.forward.text(), g.forward.latex()),), display=True),
            Para(("Specialised to this layer: ",)),
            Math((IndexMath(g.forward.text(True), g.forward.latex(True)),), display=True))
    example = _example(g, layer, ndim, stride, padding, dilation, groups, bias, seed)
    for part in (g.grad_bias, g.grad_weight, g.grad_input):
        if part is None:
            continue
        doc.add(Heading(2, f"The gradient {part.title}"))
        layouts = part._layouts()
        items = []
        reference = example["reference"].get(part.target) if example else None
        for k, step in enumerate(part.steps, 1):
            expr, name = step.after, step_text(step)
            formula = Math((IndexMath(sum_text(expr, layouts), sum_text(expr, layouts, LATEX)),))
            ok, error, note = True, None, "the loss, a statement"
            if k > 1 and expr.free and example is not None and reference is not None:
                try:
                    value = replace(part, derivation=type(part.derivation)(expr, ())).evaluate(**example["arrays"])
                    error = float(np.max(np.abs(value - reference)) / max(1.0, float(np.max(np.abs(reference)))))
                    ok, note = error <= TOLERANCE, ""
                except Exception as why:   # a step that cannot be evaluated is reported, not hidden
                    ok, note = False, f"could not be evaluated: {why}"
            elif k > 1 and not expr.free:
                note = "the loss, restated: a statement"
            elif k > 1:
                note = "not evaluated (the loop reference covers conv layers only)"
            if not ok:
                doc.failures.append(f"{part.title}, step {k} ({name}): {note or f'error {error:.1e}'}")
            items.append(StepItem(k, "delta", formula, step.rule.name, name, None, "", ok, error, note,
                                  _decided(step, layouts), detail_word="decided:"))
        doc.add(Steps("Derivation (delta elimination), each step evaluated against the loop reference", tuple(items)))
        doc.add(Para(("Result:",)), Math((IndexMath(part.text(), part.latex()),), display=True),
                Para(("Specialised to this layer:",)),
                Math((IndexMath(part.text(True), part.latex(True)),), display=True))
        if part.closed_form:
            doc.add(Para((Strong("Closed form: "), part.closed_form.text)))
    if example is not None:
        _example_section(doc, example)
    _summary(doc)
    return doc


def _decided(step, layouts):
    """What a delta elimination decided, as formulas: the delta, the index and its solution, the
    conditions that remain (None for the other steps)."""
    from matcalc.indexsum.derive import SumOut
    from matcalc.indexsum.ir import InRange
    from matcalc.indexsum.printing import LATEX, TEXT, factor_text, index_text
    order, detail = step.detail
    found = detail if isinstance(detail, tuple) and detail and isinstance(detail[0], SumOut) else \
        ((detail,) if isinstance(detail, SumOut) else ())
    if not found:
        return None
    pieces = []
    for style in (TEXT, LATEX):
        parts = []
        for d in found:
            at = list(order) + [d.index.var]
            text = f"{factor_text(d.delta, at, {}, style)} over {d.index.var}: {d.index.var} = {index_text(d.solution, list(order), style)}"
            needs = [InRange(d.index.var, f.lo, f.hi) if isinstance(f, InRange) else f for f in d.needs]
            if needs:
                text += "; needs " + " ".join(factor_text(f, at, {}, style) for f in needs)
            parts.append(text)
        pieces.append("; ".join(parts))
    text, latex = pieces
    latex = latex.replace(" over ", r" \text{ over } ").replace("; needs ", r";\ \text{needs } ").replace("; ", r";\ ")
    return Math((IndexMath(text, latex),))


def _example(g, layer, ndim, stride, padding, dilation, groups, bias, seed):
    """Random arrays of small sizes, the engine's values, and the loop reference (conv only)."""
    from matcalc.conv import config
    if layer != "conv":
        return None
    stride, padding, dilation = (config.as_tuple(v, ndim, n, 0) for v, n in
                                 ((stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    s = _sizes(ndim, stride, padding, dilation, groups)
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((s["N"], s["C_in"], *s["H"]))
    W = rng.standard_normal((s["C_out"], s["C_in"] // groups, *s["k"]))
    b = rng.standard_normal(s["C_out"]) if bias else None
    conf = (stride, padding, dilation, groups)
    Z_loop = loop_conv(V, W, b, *conf)
    delta = rng.standard_normal(Z_loop.shape)
    arrays = {"V": V, "W": W, "delta": delta, **({"b": b} if bias else {})}
    _, reference = loop_conv(V, W, b, *conf, delta=delta)
    Z = g.forward.evaluate(V=V, W=W, b=b)
    rows = [("Z (forward)", Z, Z_loop)]
    for part in (g.grad_bias, g.grad_weight, g.grad_input):
        if part is not None:
            rows.append((part.title, part.evaluate(**arrays), reference[part.target]))
            if part.closed_form and part.closed_form.compute:
                rows.append((f"{part.title}, closed form", part.evaluate_closed_form(**arrays), reference[part.target]))
    return {"arrays": arrays, "reference": reference, "rows": rows, "sizes": s}


def _example_section(doc: Document, ex: dict) -> None:
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in ex["arrays"].items())
    doc.add(Heading(2, "A worked numeric example, checked against a direct loop implementation"),
            Para(("Random arrays (seeded): ", Code(shapes), "; the reference is a nested-loop convolution "
                  "whose loops, run backwards, accumulate the gradients of L = Σ δ ⊙ Z.",)))
    rows = []
    for name, got, want in ex["rows"]:
        error = float(np.max(np.abs(got - want)) / max(1.0, float(np.max(np.abs(want)))))
        ok = error <= TOLERANCE
        if not ok:
            doc.failures.append(f"{name}: differs from the loop reference by {error:.1e}")
        rows.append(((name,), (Code(str(tuple(got.shape))),), (f"{error:.1e}",), ("✓" if ok else "✗",)))
    doc.add(Table(("quantity", "shape", "max relative difference from the loop", "verdict"), tuple(rows)))


def _summary(doc: Document) -> None:
    steps = [it for b in doc.blocks if isinstance(b, Steps) for it in b.items]
    checked = [it for it in steps if it.error is not None]
    if doc.failures:
        doc.blocks.insert(0, Alert(("Verification FAILED for ", str(len(doc.failures)), " item(s): ",
                                    "; ".join(doc.failures), ".")))
    elif checked:
        worst = f"{max(it.error for it in checked):.1e}"
        doc.blocks.insert(0, Para((Strong("Verified: "), f"{len(checked)} of {len(steps)} derivation steps "
                                   f"evaluated against the loop reference, all ✓ (largest difference {worst}).",)))
    else:
        doc.blocks.insert(0, Para((Strong("Not verified numerically: "), f"the loop reference covers conv layers "
                                   f"only, so none of the {len(steps)} steps of this {doc.title.split(': ')[-1]} "
                                   f"was evaluated here (the conv module's tests check these layers).",)))
