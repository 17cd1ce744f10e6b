"""Make the math font that HTML reports embed: STIX Math (Debian's fonts-stix), subset to woff2.

    apt-get install -y fonts-stix && pip install fonttools brotli
    python scripts/make_math_font.py [path/to/STIXMath-Regular.otf]

The subset keeps the OpenType MATH table and every layout feature (size variants and glyph
assemblies for stretchy operators), and the ranges matcalc's MathML uses: Latin, Greek,
punctuation, Letterlike Symbols (italic h is U+210E, there and not in the alphanumerics),
arrows, mathematical operators, technical symbols (fences) and the mathematical alphanumerics
(bold 𝟏 and 𝟎).  The result is committed as matcalc/reports/assets/math.woff2, so CI does not
rebuild it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

SOURCE = "/usr/share/fonts/opentype/stix-word/STIXMath-Regular.otf"
TARGET = Path(__file__).resolve().parent.parent / "matcalc" / "reports" / "assets" / "math.woff2"
RANGES = [(0x20, 0x7E), (0xA0, 0xFF), (0x131, 0x131), (0x237, 0x237), (0x2C6, 0x2DC), (0x300, 0x36F),
          (0x391, 0x3F6), (0x2000, 0x206F), (0x2070, 0x209F), (0x20D0, 0x20FF), (0x2100, 0x214F),
          (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2300, 0x23FF), (0x25A0, 0x25FF), (0x27C0, 0x27EF),
          (0x2980, 0x29FF), (0x2A00, 0x2AFF), (0x1D400, 0x1D7FF)]


def main(source: str = SOURCE) -> Path:
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[u for lo, hi in RANGES for u in range(lo, hi + 1)])
    subsetter.subset(font)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(TARGET), options)
    return TARGET


if __name__ == "__main__":
    out = main(*sys.argv[1:2])
    print(f"{out}: {out.stat().st_size / 1024:.0f} KiB")
