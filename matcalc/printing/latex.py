"""Standard mathematical notation in LaTeX: Xᵀ as X^{\\top}, X⁻¹, ⊙, ‖x‖₂, tr, det, σ, …"""
from __future__ import annotations

import functools
import re
import unicodedata
from typing import Mapping, Optional

from matcalc.ir.nodes import ALL_OPS, Node, Num, Var, op_of, postorder, variables
from matcalc.ir.shapes import is_vector, narrowed
from matcalc.printing.notation import register_functions, register_superscripts
from matcalc.printing.text import ATOM, POSTFIX, PRODUCT, SUM, UNARY, _number, open_constants
from matcalc.tables import registrar

LATEX_RULES: dict = {}


printer = registrar(LATEX_RULES)


def _p(kid, level: int) -> str:
    text, prec = kid
    return text if prec >= level else rf"\left({text}\right)"


# ---------------------------------------------------------------- names: pure ASCII, typeset
# Greek capitals without a TeX command are upright Latin look-alikes (as TeX sets Greek capitals).
_GREEK_CAPITAL_LATIN = dict(zip("ALPHA BETA EPSILON ZETA ETA IOTA KAPPA MU NU OMICRON RHO TAU CHI".split(),
                                "ABEZHIKMNOPTX"))
_GREEK_SMALL = set("ALPHA BETA GAMMA DELTA EPSILON ZETA ETA THETA IOTA KAPPA LAMDA MU NU XI PI RHO SIGMA TAU "
                   "UPSILON PHI CHI PSI OMEGA".split())
_GREEK_CAPITAL = set("GAMMA DELTA THETA LAMDA XI PI SIGMA UPSILON PHI PSI OMEGA".split())
_GREEK_SYMBOLS = {"ϑ": r"\vartheta", "ϕ": r"\varphi", "ϖ": r"\varpi", "ϱ": r"\varrho", "ϵ": r"\varepsilon",
                  "ς": r"\varsigma", "ο": "o"}
_LETTERLIKE = {"ℓ": r"\ell", "ℏ": r"\hbar", "ı": r"\imath", "ȷ": r"\jmath", "ß": r"\text{\ss}",
               "æ": r"\text{\ae}", "Æ": r"\text{\AE}", "ø": r"\text{\o}", "Ø": r"\text{\O}", "œ": r"\text{\oe}",
               "Œ": r"\text{\OE}", "ł": r"\text{\l}", "Ł": r"\text{\L}", "_": r"\_"}
_ACCENTS = {"\u0300": r"\grave", "\u0301": r"\acute", "\u0302": r"\hat", "\u0303": r"\tilde", "\u0304": r"\bar",
            "\u0305": r"\bar", "\u0306": r"\breve", "\u0307": r"\dot", "\u0308": r"\ddot",
            "\u030a": r"\mathring", "\u030c": r"\check", "\u20d7": r"\vec"}


def _code(c: str) -> str:
    """A character TeX has no ASCII spelling for (without more packages), shown by its code point."""
    return rf"\text{{U+{ord(c):04X}}}"


def _symbol(c: str) -> str:
    """One character of a name (after NFD) as ASCII TeX."""
    if c in _LETTERLIKE:
        return _LETTERLIKE[c]
    if c.isascii():
        return c
    if c in _GREEK_SYMBOLS:
        return _GREEK_SYMBOLS[c]
    name = unicodedata.name(c, "")
    if name.startswith("GREEK SMALL LETTER ") and name[19:] in _GREEK_SMALL:
        return "\\" + name[19:].lower().replace("lamda", "lambda")
    if name.startswith("GREEK CAPITAL LETTER ") and name[21:] in _GREEK_CAPITAL_LATIN:
        return rf"\mathrm{{{_GREEK_CAPITAL_LATIN[name[21:]]}}}"
    if name.startswith("GREEK CAPITAL LETTER ") and name[21:] in _GREEK_CAPITAL:
        return "\\" + name[21:].capitalize().replace("Lamda", "Lambda")
    tag, _, rest = unicodedata.decomposition(c).partition(" ")
    if tag == "<font>":                      # 𝐱, 𝑥, ℋ, …: a letter in a mathematical style
        base = _symbol(chr(int(rest, 16)))
        style = name.removeprefix("MATHEMATICAL ").split(" SMALL ")[0].split(" CAPITAL ")[0]
        capital = " CAPITAL " in f" {name} "
        if style in ("ITALIC", "PLANCK CONSTANT"):
            return base
        if style == "BOLD":
            return rf"\mathbf{{{base}}}" if base.isascii() and len(base) == 1 else rf"\boldsymbol{{{base}}}"
        if style == "BOLD ITALIC":
            return rf"\boldsymbol{{{base}}}"
        if style in ("SCRIPT", "BOLD SCRIPT") and capital:
            return rf"\mathcal{{{base}}}"
        if style.startswith("SANS-SERIF") and len(base) == 1:
            return rf"\mathsf{{{base}}}"
        if style == "MONOSPACE" and len(base) == 1:
            return rf"\mathtt{{{base}}}"
        return _code(c)
    if c.isdecimal():
        return str(unicodedata.decimal(c))
    return _code(c)


#: Greek letter → TeX command (used by matcalc.reports.latex for prose).
_GREEK = {c: _symbol(c) for c in map(chr, range(0x391, 0x3FF))
          if unicodedata.name(c, "").startswith("GREEK") and _symbol(c).startswith("\\") and "U+" not in _symbol(c)}


def _atoms(text: str) -> tuple[list, list, list]:
    """The symbols of ``text``, and its Unicode sub- and superscripts (``α₁``, ``xᵢ``, ``σ²``)."""
    atoms, sub, sup = [], [], []
    for c in unicodedata.normalize("NFD", text):
        if c in _ACCENTS:
            if atoms:
                atoms[-1] = f"{_ACCENTS[c]}{{{atoms[-1]}}}"
            else:
                atoms.append(_code(c))
            continue
        tag, _, rest = unicodedata.decomposition(c).partition(" ")
        if tag in ("<sub>", "<super>"):
            (sub if tag == "<sub>" else sup).append(_symbol(chr(int(rest, 16))))
            continue
        atoms.append(_symbol(c))
    return atoms, sub, sup


def _join(atoms) -> str:
    """Symbols side by side; a space ends a control word before a letter (``\\lambda x``)."""
    out = ""
    for a in atoms:
        if re.search(r"\\[A-Za-z]+$", out) and a[:1].isalpha():
            out += " "
        out += a
    return out


def _name(name: str, word: str) -> str:
    base, sep, rest = name.partition("_")
    subs = []
    if sep and base and rest and "__" not in rest and not rest.startswith("_") and not rest.endswith("_"):
        subs.append(_name(rest, r"\mathrm"))          # W_out → W_{\mathrm{out}}, a_b_c → a_{b_{c}}
    elif sep:
        base = name                                   # stray underscores are printed: x_ → x\_
    else:
        m = re.fullmatch(r"(.*?[^0-9])([0-9]+)", name)  # W1 → W_{1}, h10 → h_{10}
        if m:
            base, subs = m.group(1), [m.group(2)]
    atoms, sub, sup = _atoms(base)
    text = _join(atoms)
    if len(atoms) > 1 and not all(a.isdigit() for a in atoms):
        text = f"{word}{{{text}}}"
    subscript = ",".join(s for s in [_join(sub)] + subs if s)
    if subscript:
        text += f"_{{{subscript}}}"
    if sup:
        # braced, so a transpose cannot double it; the empty group ends amsmath's accent look-ahead,
        # which otherwise reads the transpose's ^ as a second superscript of \hat{w}^{1}
        text = f"{{{text}^{{{_join(sup)}}}{{}}}}"
    return text


@functools.lru_cache(maxsize=1 << 16)
def latex_name(name: str) -> str:
    """A variable's name as pure-ASCII TeX: ``x_0`` → ``x_{0}``, ``W1`` → ``W_{1}``, ``α₁`` →
    ``\\alpha_{1}``, ``ℓ`` → ``\\ell``, ``W_out`` → ``W_{\\mathrm{out}}``, ``loss`` → ``\\mathit{loss}``.
    A character with no ASCII spelling prints as its code point, never raw."""
    return _name(name, r"\mathit")


@printer("var")
def latex_var(node, kids):
    return latex_name(node.name), ATOM


@printer("num")
def latex_num(node, kids):
    """``2``, ``-0.5``, ``1 \\cdot 10^{-5}`` (a product: a power of it is parenthesised), ``\\infty``."""
    text = _number(node.value)
    if text in ("inf", "-inf", "nan"):
        return {"inf": r"\infty", "-inf": r"-\infty", "nan": r"\mathrm{NaN}"}[text], (UNARY if "-" in text else ATOM)
    if "e" in text:
        mant, _, ex = text.partition("e")
        return rf"{mant} \cdot 10^{{{int(ex)}}}", PRODUCT
    return text, (UNARY if node.value < 0 else ATOM)


@printer("eye")
def latex_eye(node, kids):
    """I; a 1×1 identity is the number 1 (printing it as I would read as n×n)."""
    return ("1", ATOM) if node.shape == (1, 1) else ("I", ATOM)


@printer("fill")
def latex_fill(node, kids):
    """𝟏, 𝟎, c·𝟏; a row is 𝟏ᵀ; a 1×1 fill is its number."""
    return _fill(node, "")


def _fill(node, sub: str):
    if node.shape == (1, 1):
        return latex_num(Num(node.value), ())
    v = node.value
    one = (r"\mathbf{0}" if v == 0 else r"\mathbf{1}") + sub
    if node.shape[0] == 1:
        one += r"^{\top}"
    if v in (0, 1):
        return one, (POSTFIX if node.shape[0] == 1 else ATOM)
    if v == -1:
        return f"-{one}", UNARY
    num, prec = latex_num(Num(v), ())
    return rf"{num} \cdot {one}", (UNARY if num.startswith("-") else PRODUCT)


def _dim(d) -> str:
    return str(d) if isinstance(d, int) else " ".join(latex_name(part) for part in str(d).split("*"))


def latex_sized(node):
    """A constant whose size the rest of the formula does not fix, with its size, as the text
    prints eye(n) or matrix(1, m, n): I_{n}, 1_{n}, 1_{n}^T, 1_{m x n}."""
    r, k = node.shape
    if node.op == "eye":
        return rf"I_{{{_dim(r)}}}", ATOM
    if r == 1 or k == 1:
        return _fill(node, f"_{{{_dim(k if r == 1 else r)}}}")
    return _fill(node, rf"_{{{_dim(r)} \times {_dim(k)}}}")


# ⊙, ⊘ and ⊗ next to juxtaposition (or each other) are always parenthesised: A ⊙ B C would
# read as A ⊙ (B C) whichever way the IR groups it.
_CIRCLED = ("hadamard", "ediv", "kron")


def _operand(node, k: int, kid, level: int, apart: tuple) -> str:
    text = _p(kid, level)
    if op_of(node.args[k]) in apart and not text.startswith(r"\left("):
        text = rf"\left({text}\right)"
    return text


def _signed(text: str) -> str:
    """A right operand that starts with a minus sign is parenthesised: a - (-b), A (-B)."""
    return rf"\left({text}\right)" if text.startswith("-") else text


def _infix(symbol: str, prec: int):
    def latex_infix(node, kids):
        a, b = kids
        return f"{_p(a, prec)}{symbol}{_signed(_p(b, prec + 1))}", prec
    return latex_infix


def _circled(symbol: str):
    def latex_circled(node, kids):
        apart = ("mul", "scale") + tuple(o for o in _CIRCLED if o != node.op)
        left = _operand(node, 0, kids[0], PRODUCT if node.op != "kron" else POSTFIX, apart)
        right = _operand(node, 1, kids[1], PRODUCT + 1 if node.op != "kron" else POSTFIX, apart + (node.op,))
        return f"{left}{symbol}{_signed(right)}", PRODUCT
    return latex_circled


printer("add")(_infix(" + ", SUM))
printer("sub")(_infix(" - ", SUM))
printer("hadamard")(_circled(r" \odot "))
printer("ediv")(_circled(r" \oslash "))
printer("kron")(_circled(r" \otimes "))


@printer("mul", "scale")
def latex_mul(node, kids):
    """Juxtaposition, with a \\cdot where a number would run into the next factor."""
    a, b = kids
    left, right = _operand(node, 0, a, PRODUCT, _CIRCLED), _signed(_operand(node, 1, b, UNARY, _CIRCLED))
    sep = r" \cdot " if right[:1].isdigit() else " "
    return f"{left}{sep}{right}", PRODUCT


@printer("div")
def latex_div(node, kids):
    return rf"\frac{{{kids[0][0]}}}{{{kids[1][0]}}}", ATOM


@printer("neg")
def latex_neg(node, kids):
    return "-" + _signed(_p(kids[0], UNARY)), UNARY


def _base(node, kid) -> str:
    """The base of a superscript: an atom, or parenthesised (a fraction too: (a/b)ᵀ, not a/bᵀ)."""
    if kid[1] == ATOM and op_of(node.args[0]) != "div":
        return kid[0]
    return rf"\left({kid[0]}\right)"


# Xᵀ, Xᵏ, X^{∘k}, X⁻¹ (the ops of matcalc.printing.notation.SUPERSCRIPTS)
register_superscripts(printer, lambda node, kids, sup: f"{_base(node, kids[0])}^{{{sup}}}", {
    "transpose": lambda kids: r"\top",
    "pow": lambda kids: kids[1][0],
    "epow": lambda kids: rf"\circ {kids[1][0]}",
    "inv": lambda kids: "-1",
})


def _function(command: str):
    def latex_function(node, kids):
        return rf"{command}\left({kids[0][0]}\right)", ATOM
    return latex_function


# \exp, \det, … where TeX has the command, else \operatorname{tr}, …
register_functions(printer, _function, lambda word, tex: f"\\{word}" if tex else rf"\operatorname{{{word}}}",
                   {"sigmoid": r"\sigma", "logdet": r"\log\det"})


@printer("sqrt")
def latex_sqrt(node, kids):
    return rf"\sqrt{{{kids[0][0]}}}", ATOM


@printer("abs")
def latex_abs(node, kids):
    return rf"\left\lvert {kids[0][0]} \right\rvert", ATOM


@printer("norm1", "norm2")
def latex_norm(node, kids):
    """‖x‖₁, ‖x‖₂, and ‖X‖_F for the Frobenius norm of a matrix."""
    arg = node.args[0].shape
    sub = "1" if node.op == "norm1" else ("2" if is_vector(arg) or 1 in arg else "F")
    return rf"\left\lVert {kids[0][0]} \right\rVert_{{{sub}}}", ATOM


assert set(LATEX_RULES) == set(ALL_OPS), set(ALL_OPS) ^ set(LATEX_RULES)


def to_latex(root: Node, shared: bool = False, names: Optional[Mapping[str, str]] = None) -> str:
    """The expression in LaTeX (math mode, without the surrounding ``$``); pure ASCII.

    With ``shared``, as :func:`to_latex_shared`: repeated subexpressions named once.  ``names``:
    TeX for some variables, instead of :func:`latex_name` (``dX`` as ``\\mathrm{d}X``)."""
    if shared:
        return to_latex_shared(root)
    root = narrowed(root)
    order = list(postorder(root))
    sized = open_constants(root) if any(op_of(n) in ("eye", "fill") for n in order) else set()
    uses: dict[int, int] = {}
    for node in order:
        for c in node.children():
            uses[id(c)] = uses.get(id(c), 0) + 1
    done: dict[int, tuple] = {}
    for node in order:        # fold, letting go of each child's text once its last parent has it
        kids = node.children()
        if names and isinstance(node, Var) and node.name in names:
            done[id(node)] = names[node.name], ATOM
            continue
        if id(node) in sized:
            done[id(node)] = latex_sized(node)
            continue
        done[id(node)] = LATEX_RULES[op_of(node)](node, tuple(done[id(c)] for c in kids))
        for c in kids:
            uses[id(c)] -= 1
            if not uses[id(c)]:
                del done[id(c)]
    return wrap_lines(done[id(root)][0])


#: Deepest nesting of one printed line, in TeX groups (``\left(``, ``{``); TeX allows 255, and
#: the document, the display and the aligned block take a few.
MAX_GROUPS = 200

#: One line of output at most this long (pdflatex reads lines of up to 200,000 bytes).
LINE = 1000


def _nesting(node, k: int) -> int:
    """How many TeX groups the printer opens around child k of ``node`` (at most): none for a
    left operand printed flat (a + b + c, A B C, A ⊙ B ⊙ C), two in a numerator, else one."""
    op = op_of(node)
    if k == 0 and (op in ("add", "sub") or (_family(op) == _family(op_of(node.args[0])) and op in ("mul", "scale", "hadamard", "ediv"))):
        return 0
    return 2 if op == "div" and k == 0 else 1


def _family(op: str) -> str:
    """Products of both kinds print alike (``s A B``)."""
    return "mul" if op == "scale" else op


def wrap_lines(tex: str) -> str:
    """Long lines broken at spaces (all in math mode, where a newline is a space; never the space
    of a control space ``\\ ``)."""
    if len(tex) <= LINE:
        return tex
    out = []
    for line in tex.split("\n"):
        start, last = 0, None            # the current line begins at start; last: its latest cut so far
        for m in re.finditer(r"(?<=[^\\]) (?=\S)", line):
            if m.start() - start > LINE and last is not None:
                out.append(line[start:last])
                start, last = last + 1, None
            if m.start() - start <= LINE or last is None:
                last = m.start()
        if len(line) - start > LINE and last is not None:
            out.append(line[start:last])
            start = last + 1
        out.append(line[start:])
    return "\n".join(out)


def to_latex_shared(root: Node, min_size: int = 4) -> str:
    r"""Like :func:`to_latex`, with the repeated subexpressions of a large result named once:
    ``G,\quad \text{where}\quad \begin{aligned} t_{1} &= … \\ … \end{aligned}`` (amsmath).  The
    names are those of :func:`matcalc.printing.share.share` (the text printer's ``t1 = …``),
    chosen apart from every name that would print alike (``t_1``, ``t₁``).  An expression
    nested deeper than :data:`MAX_GROUPS` TeX groups is cut into bindings too, so that pdflatex takes it."""
    from matcalc.printing.share import share

    avoid = set()
    for name in variables(root):
        m = re.fullmatch(r"t_\{(\d+)\}", latex_name(name))
        if m:
            avoid.add(f"t{m.group(1)}")
    bindings, body = share(root, min_size, max_depth=MAX_GROUPS, nesting=_nesting, avoid=avoid)
    if not bindings:
        return to_latex(root)
    rows = " \\\\\n".join(f"{latex_name(name)} &= {to_latex(node)}" for name, node in bindings)
    return f"{to_latex(body)},\\quad \\text{{where}}\\quad\n\\begin{{aligned}}\n{rows}\n\\end{{aligned}}"


def identity_latex(rule) -> str:
    """A rule's identity (:class:`matcalc.derivation.Rule`) in LaTeX, printed like any other
    expression: ``d(A*B) = dA*B + A*dB`` as ``\\mathrm{d}\\left(A B\\right) = \\mathrm{d}A B + A \\mathrm{d}B``."""
    from matcalc.derivation import parse_identity

    parsed = parse_identity(rule)
    names = {dx.name: rf"\mathrm{{d}}{latex_name(x.name)}" for x, dx in parsed.directions}
    left, right = to_latex(parsed.left, names=names), to_latex(parsed.right, names=names)
    if rule.is_differential:
        left = rf"\mathrm{{d}}\left({left}\right)"
    return f"{left} = {right}"
