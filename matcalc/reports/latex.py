"""The LaTeX writer: a complete document for pdflatex with amsmath and amssymb, in pure ASCII.

pdflatex fails on non-ASCII prose (−, ·, ⊙, subscripts), so every character outside ASCII is
spelled as a LaTeX command, decomposed to ASCII, or, failing both, named by its code point.
Names and text from the input are escaped, so they cannot break out of the document.
"""
from __future__ import annotations

import unicodedata

from matcalc.ir.nodes import Node
from matcalc.reports.model import Alert, Code, CodeBlock, Document, Heading, IndexMath, Math, Para, Steps, Strong, Table

_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%",
            "#": r"\#", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
            "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
#: non-ASCII characters the engine's prose uses, in text mode
_UNICODE_TEXT = {
    "−": "-", "·": r"$\cdot$", "⊙": r"$\odot$", "⊘": r"$\oslash$", "⊗": r"$\otimes$", "∂": r"$\partial$",
    "ᵀ": r"$^{\top}$", "‖": r"$\|$", "≈": r"$\approx$", "≤": r"$\le$", "≥": r"$\ge$", "→": r"$\to$",
    "×": r"$\times$", "✓": r"$\checkmark$", "✗": r"$\times$", "—": "---", "–": "--", "′": "'", "Σ": r"$\Sigma$",
    "δ": r"$\delta$", "σ": r"$\sigma$", "λ": r"$\lambda$", "ω": r"$\omega$", "∘": r"$\circ$", "⌊": r"$\lfloor$",
    "⌋": r"$\rfloor$", "⟨": r"$\langle$", "⟩": r"$\rangle$", "∑": r"$\sum$", "…": r"\ldots{}", "²": r"$^2$",
    "³": r"$^3$", "⁻": r"$^-$", "¹": r"$^1$", "≠": r"$\ne$", "∈": r"$\in$", "𝟏": r"$\mathbf{1}$", "𝟎": r"$\mathbf{0}$",
    "“": "``", "”": "''", "‘": "`", "’": "'", "∣": r"$\mid$",
}
_UNICODE_MATH = {k: (v[1:-1] if v.startswith("$") and v.endswith("$") else v) for k, v in _UNICODE_TEXT.items()}
_UNICODE_MATH.update({"−": "-", "—": r"\text{---}", "…": r"\ldots"})


def _fallback(ch: str, table: dict, in_math: bool) -> str:
    if ch in table:
        return table[ch]
    from matcalc.printing.latex import _GREEK
    if ch in _GREEK:
        return _GREEK[ch] + " " if in_math else f"${_GREEK[ch]}$"
    plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    if plain:
        return plain
    code = f"U+{ord(ch):04X}"
    return rf"\text{{[{code}]}}" if in_math else f"[{code}]"


def latex_text(text: str) -> str:
    """Prose (or a name) as ASCII LaTeX text: specials escaped, non-ASCII spelled out."""
    out = []
    for ch in str(text):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ord(ch) < 128:
            out.append(ch if ch.isprintable() or ch == "\n" else " ")
        else:
            out.append(_fallback(ch, _UNICODE_TEXT, False))
    return "".join(out)


def ascii_math(latex: str) -> str:
    """A LaTeX math string with any non-ASCII character (from a name in the input) spelled out."""
    if latex.isascii():
        return latex
    return "".join(ch if ord(ch) < 128 else _fallback(ch, _UNICODE_MATH, True) for ch in latex)


def node_latex(root: Node, differentials: frozenset = frozenset()) -> str:
    """The LaTeX printer's output, with directions ``dX`` written \\mathrm{d}X."""
    from matcalc.ir.nodes import fold, op_of
    from matcalc.printing.latex import LATEX_RULES, latex_name, to_latex
    from matcalc.printing.text import ATOM
    if not differentials:
        return to_latex(root)

    def visit(node, kids):
        if op_of(node) == "var" and node.name in differentials:
            return rf"\mathrm{{d}}{latex_name(node.name[1:])}", ATOM
        return LATEX_RULES[op_of(node)](node, kids)
    return fold(root, visit)[0]


def math_latex(m: Math) -> str:
    out = []
    for p in m.parts:
        if isinstance(p, Node):
            out.append(node_latex(p, m.differentials))
        elif isinstance(p, IndexMath):
            out.append(p.latex)
        else:
            out.append(p.latex)
    return ascii_math(" ".join(out))


def _code(text: str) -> str:
    return r"\texttt{" + latex_text(text) + "}"


def inline(items) -> str:
    out = []
    for it in items:
        if isinstance(it, Math):
            out.append(f"${math_latex(it)}$")
        elif isinstance(it, Code):
            out.append(_code(it.text))
        elif isinstance(it, Strong):
            out.append(r"\textbf{" + latex_text(it.text) + "}")
        else:
            out.append(latex_text(it))
    return "".join(out)


def _display(m: Math) -> str:
    return "\\[\n" + math_latex(m) + "\n\\]"


def _verbatim(text: str) -> str:
    lines = [latex_text(line) or "~" for line in text.splitlines()] or ["~"]
    return "\\begin{flushleft}\\ttfamily\\small\n" + "\\\\\n".join(lines) + "\n\\end{flushleft}"


def _step(it) -> str:
    verdict = (r"$\checkmark$" if it.ok else r"\textbf{FAILED} $\times$") + \
        (f" {it.error:.1e}" if it.error is not None else "") + (f" ({latex_text(it.note)})" if it.note else "")
    rule = ""
    if it.rule_name or it.rule_title:
        rule = ": ".join(x for x in (r"\texttt{" + latex_text(it.rule_name) + "}" if it.rule_name else "",
                                     latex_text(it.rule_title)) if x)
        if it.identity is not None:
            rule += f", ${math_latex(it.identity)}$"
        elif it.identity_text:
            rule += ", " + _code(it.identity_text)
        if it.cite:
            rule += f" ({latex_text(it.cite)})"
    detail = f" ({latex_text(it.detail_word)} ${math_latex(it.detail)}$)" if it.detail is not None else ""
    if it.where:
        detail += ", where " + ", ".join(f"${math_latex(w)}$" for w in it.where)
    body = f"\\item[{it.number}.] $\\displaystyle {math_latex(it.formula)}${detail}\\\\\n{{\\small {rule}{' --- ' if rule else ''}{verdict}}}"
    return body


def render(doc: Document) -> str:
    lines = [r"\documentclass[10pt]{article}", r"\usepackage[margin=2cm]{geometry}",
             r"\usepackage{amsmath,amssymb}", r"\allowdisplaybreaks", r"\setlength{\parindent}{0pt}",
             r"\setlength{\parskip}{4pt}", r"\begin{document}", r"\section*{" + latex_text(doc.title) + "}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            lines.append(("\\subsection*{" if b.level == 2 else "\\subsubsection*{") + latex_text(b.text) + "}")
        elif isinstance(b, Para):
            lines.append(inline(b.items) + "\n")
        elif isinstance(b, Alert):
            lines.append(r"\fbox{\parbox{0.95\linewidth}{\textbf{" + inline(b.items) + "}}}\n")
        elif isinstance(b, Math):
            lines.append(_display(b))
        elif isinstance(b, CodeBlock):
            lines.append(_verbatim(b.text))
        elif isinstance(b, Table):
            cols = len(b.header)
            width = f"{0.95 / cols:.3f}\\linewidth"
            spec = "|".join([f"p{{{width}}}"] * cols)
            lines.append("{\\small\\begin{flushleft}\\begin{tabular}{|" + spec + "|}\\hline")
            lines.append(" & ".join(r"\textbf{" + latex_text(h) + "}" for h in b.header) + r"\\\hline")
            for row in b.rows:
                lines.append(" & ".join(inline(cell) for cell in row) + r"\\\hline")
            lines.append(r"\end{tabular}\end{flushleft}}")
        elif isinstance(b, Steps):
            lines.append(r"\paragraph{" + latex_text(b.title) + "}")
            lines.append(r"\begin{itemize}")
            lines.extend(_step(it) for it in b.items)
            lines.append(r"\end{itemize}")
    lines.append(r"\end{document}")
    out = "\n".join(lines) + "\n"
    assert out.isascii()
    return out
