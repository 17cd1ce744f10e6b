"""Make the README's screenshot of a report, through the browser test's own code path.

    python scripts/report_screenshot.py            # writes docs/report-seed.png

It writes the seed report with ``matcalc report --example seed -o <tmp>/seed.html``, opens it
with :func:`matcalc.reports.browser.open_page` (headless Chromium over the DevTools pipe, no
network), checks what the browser test checks, and saves the top of the page as a PNG.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from matcalc.reports.browser import open_page
from matcalc.shell.cli import main as matcalc

TARGET = Path(__file__).resolve().parent.parent / "docs" / "report-seed.png"


def make(target: Path = TARGET, width: int = 860, height: int = 900) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "seed.html"
        if matcalc(["report", "--example", "seed", "-o", str(page)]) != 0:
            raise SystemExit("the seed report failed its verification")
        facts = open_page(page, width=width, height=height, screenshot=True)
    problems = facts.foreign_requests + ([] if facts.layout.get("empty") == 0 and facts.layout.get("flat") == 0
                                         else [f"layout: {facts.layout}"])
    if problems:
        raise SystemExit(f"the page did not render as the browser test requires: {problems}")
    target.write_bytes(facts.screenshot)
    return target


if __name__ == "__main__":
    out = make(*(Path(a) for a in sys.argv[1:2]))
    print(f"{out}: {out.stat().st_size / 1024:.0f} KiB")
