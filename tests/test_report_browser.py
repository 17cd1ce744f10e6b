"""The HTML reports in a real browser: headless Chromium over the DevTools pipe.

The page must request nothing but itself, every <math> must have a layout box, fractions must be
stacked, parentheses must not have the stretchy-paren gap, and the embedded font must be the one
used.  A control page with external loads proves the recorder sees them.
"""
import pytest

from matcalc.reports import conv_report, example_report
from matcalc.reports.browser import chromium, open_page

pytestmark = pytest.mark.skipif(chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)")

#: a "(" of STIX Math at this size is about 6 px wide; Chromium's stretchy-paren gap makes it 17
PAREN_LIMIT = 10


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    out = {}
    for name, r in (("seed", example_report("seed")), ("conv", conv_report(stride=2, padding=1, dilation=2))):
        path = r.save(folder / f"{name}.html")
        out[name] = open_page(path)
    return out


@pytest.mark.parametrize("name", ["seed", "conv"])
def test_the_page_requests_nothing_but_itself(pages, name):
    facts = pages[name]
    assert facts.url in facts.requests
    assert facts.foreign_requests == []
    assert not [line for line in facts.console if "Refused" in line or "blocked" in line.lower()], facts.console


@pytest.mark.parametrize("name", ["seed", "conv"])
def test_every_math_element_is_laid_out_and_fractions_are_stacked(pages, name):
    layout = pages[name].layout
    assert layout["maths"] > 0 and layout["empty"] == 0
    assert layout["fracs"] > 0 and layout["flat"] == 0
    assert 0 < layout["widest_paren"] < PAREN_LIMIT or name == "conv"
    assert not layout["overflow"], "a long formula widened the page instead of scrolling in its box"


@pytest.mark.parametrize("name", ["seed", "conv"])
def test_the_embedded_font_is_the_one_used(pages, name):
    facts = pages[name]
    assert facts.layout["font_loaded"]
    main = max(facts.fonts, key=lambda f: f["glyphCount"])
    assert main["familyName"] == "STIX Math" and main["isCustomFont"], facts.fonts


def test_the_recorder_sees_external_loads(tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" href="http://example.com/a.css"></head>'
                    '<body><img src="https://example.org/x.png"><math><mi>x</mi></math></body></html>')
    facts = open_page(page)
    assert any("example.com" in u for u in facts.foreign_requests)
    assert any("example.org" in u for u in facts.foreign_requests)
