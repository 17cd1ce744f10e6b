"""The Markdown writer: ``$…$`` and ``$$…$$`` math (LaTeX) that GitHub and Jupyter render.

Prose is escaped for Markdown (``*``, ``_``, ``<``, ``|``, ``$``, …), code spans get a fence
longer than any backtick run inside them, and a table cell cannot end its row.
"""
from __future__ import annotations

import re

from matcalc.reports.latex import math_latex
from matcalc.reports.model import Alert, Code, CodeBlock, Document, Heading, Math, Para, Steps, Strong, Table

_ESCAPE = re.compile(r"([\\`*_\[\]<>|$~&])")


def md_text(text: str) -> str:
    return _ESCAPE.sub(r"\\\1", str(text)).replace("\n", " ")


def _code(text: str) -> str:
    runs = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (runs + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace(chr(10), ' ')}{pad}{fence}"


def _math(m: Math) -> str:
    return "$" + _safe(math_latex(m)).replace("|", r"\vert ") + "$"


def _safe(latex: str) -> str:
    """``<`` and ``>`` as ``\\lt``/``\\gt``, so no Markdown renderer reads a tag into the maths."""
    return latex.replace("<", r"\lt ").replace(">", r"\gt ")


def inline(items, in_table: bool = False) -> str:
    out = []
    for it in items:
        if isinstance(it, Math):
            out.append(_math(it))
        elif isinstance(it, Code):
            code = _code(it.text)
            out.append(code.replace("|", r"\|") if in_table else code)   # GFM splits cells even in code
        elif isinstance(it, Strong):
            out.append(f"**{md_text(it.text.strip())}**" + (" " if it.text.endswith(" ") else ""))
        else:
            out.append(md_text(it))
    return "".join(out)


def _cell(items) -> str:
    return inline(items, in_table=True)


def _fence(text: str) -> str:
    runs = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (runs + 1)
    return f"{fence}text\n{text}\n{fence}"


def _step(it) -> str:
    verdict = ("✓" if it.ok else "✗ **failed**") + (f" {it.error:.1e}" if it.error is not None else "") + \
        (f" ({md_text(it.note)})" if it.note else "")
    rule = ""
    if it.rule_name or it.rule_title:
        rule = ": ".join(x for x in (_code(it.rule_name) if it.rule_name else "", md_text(it.rule_title)) if x)
        if it.identity is not None:
            rule += f", {_math(it.identity)}"
        elif it.identity_text:
            rule += f", {_code(it.identity_text)}"
        if it.cite:
            rule += f" ({md_text(it.cite)})"
    detail = f" ({md_text(it.detail_word)} {_math(it.detail)})" if it.detail is not None else ""
    if it.where:
        detail += ", where " + ", ".join(_math(w) for w in it.where)
    return f"{it.number}. {_math(it.formula)}{detail}  \n   {rule}{' — ' if rule else ''}{verdict}"


def render(doc: Document) -> str:
    out = [f"# {md_text(doc.title)}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + md_text(b.text), ""]
        elif isinstance(b, Para):
            out += [inline(b.items), ""]
        elif isinstance(b, Alert):
            out += ["> **" + inline(b.items) + "**", ""]
        elif isinstance(b, Math):
            out += ["$$", _safe(math_latex(b)), "$$", ""]
        elif isinstance(b, CodeBlock):
            out += [_fence(b.text), ""]
        elif isinstance(b, Table):
            out.append("| " + " | ".join(md_text(h) for h in b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
        elif isinstance(b, Steps):
            out += [f"**{md_text(b.title)}**", ""]
            out += [_step(it) for it in b.items]
            out.append("")
    return "\n".join(out)
