"""The HTML writer: one self-contained file, MathML Core from the IR, the math font embedded.

No script and no external load: a Content-Security-Policy meta tag forbids everything but
inline style and ``data:`` fonts, and the subset STIX Math font (``assets/math.woff2``, made by
``scripts/make_math_font.py``) is embedded as a ``data:`` URI, so the page looks the same on
every machine and offline.  Light and dark schemes follow the viewer; long formulas scroll
inside their box instead of overflowing; print drops the colours.
"""
from __future__ import annotations

import base64
from functools import lru_cache
from html import escape
from pathlib import Path

from matcalc.ir.nodes import Node
from matcalc.printing.mathml import math, to_mathml
from matcalc.reports.indexmath import index_mathml
from matcalc.reports.model import (Alert, Code, CodeBlock, Document, Heading, IndexMath, Math, Para, Steps, Strong,
                                   Table)

FONT_FAMILY = "matcalc STIX Math"
FONT_PATH = Path(__file__).with_name("assets") / "math.woff2"
CSP = "default-src 'none'; style-src 'unsafe-inline'; font-src data:; img-src data:"

STYLE = """
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #ffffff; --muted: #5b5b5b; --line: #d8d8d8;
  --ok: #1a7f37; --bad: #b42318; --box: #f6f7f9; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e6e6; --bg: #15171a; --muted: #a4a4a4;
  --line: #3a3d42; --ok: #4ac26b; --bad: #ff7b72; --box: #1e2126; } }
html { background: var(--bg); color: var(--fg); }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto;
  padding: 0 1rem; }
math { font-family: "%(family)s", math; font-size: 1.1em; }
math[display="block"] { margin: 0.4rem 0; }
mi.mc-word { font-style: italic; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; border-bottom: 1px solid var(--line); margin-top: 2rem; }
h3 { font-size: 1.1rem; } h4 { font-size: 1rem; margin: 1rem 0 0.3rem; color: var(--muted); }
.formula, .step-formula { overflow-x: auto; overflow-y: hidden; padding: 0.1rem 0; }
.formula { background: var(--box); padding: 0.3rem 0.6rem; border-radius: 4px; }
pre { background: var(--box); padding: 0.5rem 0.75rem; overflow-x: auto; border-radius: 4px; }
code { font-size: 0.92em; }
table { border-collapse: collapse; width: 100%%; display: block; overflow-x: auto; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
ol.steps { padding-left: 2.4rem; } ol.steps li { margin: 0.35rem 0; }
.rule { color: var(--muted); font-size: 0.92em; }
.ok { color: var(--ok); } .bad { color: var(--bad); font-weight: bold; }
.alert { border: 2px solid var(--bad); color: var(--bad); padding: 0.5rem 0.75rem; border-radius: 4px; }
.verified { border-left: 4px solid var(--ok); padding-left: 0.75rem; }
@media print { :root { --fg: #000; --bg: #fff; --box: #fff; } body { margin: 0; max-width: none; }
  .formula, .step-formula, table, pre { overflow: visible; white-space: pre-wrap; } }
"""


@lru_cache(maxsize=1)
def font_face() -> str:
    data = base64.b64encode(FONT_PATH.read_bytes()).decode("ascii")
    return (f'@font-face {{ font-family: "{FONT_FAMILY}"; '
            f'src: url(data:font/woff2;base64,{data}) format("woff2"); }}')


def math_markup(m: Math) -> str:
    out = []
    for p in m.parts:
        if isinstance(p, Node):
            out.append(to_mathml(p, m.differentials))
        elif isinstance(p, IndexMath):
            out.append(index_mathml(p.text))
        else:
            out.append(p.mathml)
    return math("<mrow>" + "".join(out) + "</mrow>", m.display)


def inline(items) -> str:
    out = []
    for it in items:
        if isinstance(it, Math):
            out.append(math_markup(it))
        elif isinstance(it, Code):
            out.append(f"<code>{escape(it.text)}</code>")
        elif isinstance(it, Strong):
            out.append(f"<strong>{escape(it.text)}</strong>")
        else:
            out.append(escape(str(it)))
    return "".join(out)


def _step(it) -> str:
    if it.ok:
        verdict = '<span class="ok">✓</span>' + (f" {it.error:.1e}" if it.error is not None else "")
    else:
        verdict = '<span class="bad">✗ failed</span>' + (f" {it.error:.1e}" if it.error is not None else "")
    if it.note:
        verdict += f" ({escape(it.note)})"
    rule = ""
    if it.rule_name or it.rule_title:
        rule = ": ".join(x for x in (f"<code>{escape(it.rule_name)}</code>" if it.rule_name else "",
                                     escape(it.rule_title)) if x)
        if it.identity is not None:
            rule += ", " + math_markup(it.identity)
        elif it.identity_text:
            rule += f", <code>{escape(it.identity_text)}</code>"
        if it.cite:
            rule += f" ({escape(it.cite)})"
    detail = f'<div class="rule">{escape(it.detail_word)} {math_markup(it.detail)}</div>' if it.detail is not None else ""
    if it.where:
        detail += '<div class="where">where ' + ", ".join(math_markup(w) for w in it.where) + "</div>"
    return (f'<li value="{it.number}" class="step stage-{escape(it.stage)}"><div class="step-formula">'
            f'{math_markup(it.formula)}</div>{detail}<div class="rule">{rule}{" — " if rule else ""}{verdict}</div></li>')


def _block(b) -> str:
    if isinstance(b, Heading):
        return f"<h{b.level}>{escape(b.text)}</h{b.level}>"
    if isinstance(b, Para):
        verified = ' class="verified"' if b.items and isinstance(b.items[0], Strong) and b.items[0].text.startswith("Verified") else ""
        return f"<p{verified}>{inline(b.items)}</p>"
    if isinstance(b, Alert):
        return f'<p class="alert" role="alert">{inline(b.items)}</p>'
    if isinstance(b, Math):
        return f'<div class="formula">{math_markup(b)}</div>'
    if isinstance(b, CodeBlock):
        return f"<pre><code>{escape(b.text)}</code></pre>"
    if isinstance(b, Table):
        head = "".join(f"<th>{escape(h)}</th>" for h in b.header)
        rows = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in b.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if isinstance(b, Steps):
        items = "".join(_step(it) for it in b.items)
        return f'<h4>{escape(b.title)}</h4><ol class="steps">{items}</ol>'
    raise TypeError(f"no HTML for {type(b).__name__}")


def render(doc: Document) -> str:
    body = "\n".join(_block(b) for b in doc.blocks)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="generator" content="matcalc">\n'
            f"<title>{escape(doc.title)}</title>\n<style>{font_face()}\n{STYLE % {'family': FONT_FAMILY}}</style>\n"
            f"</head><body><main>\n<h1>{escape(doc.title)}</h1>\n{body}\n</main></body></html>\n")
