"""What Jupyter shows for matcalc objects: text/plain, text/latex and text/markdown, no MathML.

JupyterLab prefers text/markdown and renders it, and text/latex, offline; its sanitizer strips
MathML out of text/html once a notebook is saved, so no HTML is offered.  A
:class:`~matcalc.errors.MatcalcError` shows its caret message, not a traceback.
"""
from __future__ import annotations


def derivative_bundle(d) -> dict:
    """The mimebundle of a :class:`~matcalc.calculus.derivative.Derivative`: the result, its
    layout, and the symmetric convention where there is one."""
    from matcalc.reports.latex import ascii_math
    from matcalc.reports.markdown import md_text
    from matcalc.reports.model import partial
    latex = ascii_math(d.latex())
    if d.node is not None:
        latex = partial("f", d.wrt.name, 1 if d.form == "vec" else d.order, vec=d.form == "vec").latex + " = " + latex
    notes = [d.layout] + ([f"symmetric {d.wrt.name}: {d.convention}"] if d.convention else [])
    plain = repr(d) + "".join(f"\n  {n}" for n in notes)
    markdown = f"$$\n{latex}\n$$\n\n" + "\n\n".join(md_text(n) for n in notes) + "\n"
    return {"text/plain": plain, "text/latex": f"$\\displaystyle {latex}$", "text/markdown": markdown}


def report_bundle(report) -> dict:
    """The mimebundle of a :class:`~matcalc.reports.Report`: the whole document as Markdown and
    LaTeX (its body), and its title and verification summary as text."""
    from matcalc.reports.latex import render as tex
    from matcalc.reports.markdown import render as md
    from matcalc.reports.model import Alert, Para
    head = next((b for b in report.doc.blocks if isinstance(b, (Para, Alert))), None)
    summary = "".join(str(getattr(i, "text", i)) for i in head.items) if head else ""
    document = tex(report.doc)
    body = document.split("\\begin{document}", 1)[-1].rsplit("\\end{document}", 1)[0]
    return {"text/plain": f"{report.doc.title}\n{summary}", "text/latex": body.strip(),
            "text/markdown": md(report.doc)}


def render_traceback(error) -> list:
    """IPython's hook for exceptions: the message with its caret, one line per list item."""
    return [f"{type(error).__name__}: {line}" if k == 0 else line
            for k, line in enumerate(str(error).splitlines() or [""])]
