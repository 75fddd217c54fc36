"""tests/check_site.py must find each problem it promises to find, and nothing on a clean page."""
import importlib.util
from pathlib import Path
import pytest

spec = importlib.util.spec_from_file_location("check_site", Path(__file__).with_name("check_site.py"))
check_site = importlib.util.module_from_spec(spec); spec.loader.exec_module(check_site)

CLEAN = """<html><body><main><h1>Title</h1><p>Prose with <span class="math inline">\\(x^2\\)</span> and
<code>taskrel.bound</code>.</p><h2>A section</h2><p>Text.</p><div class="cell-output"><pre>1.23 ± 0.04</pre></div>
<a href="other.html">next</a></main></body></html>"""

BAD = {
    "unrendered math": "<p>the loss $R' = $ here</p>",
    "an empty math span": '<p>x <span class="math inline">\\(\\)</span></p>',
    "machine path": '<div class="cell-output"><pre>wrote /tmp/abc/x.json</pre></div>',
    "development wording 'TARGETS.md'": "<p>read off <code>paper/TARGETS.md</code></p>",
    "development wording \"the project's issue\"": "<p>as the project's issue asks</p>",
    "NaN printed as a value": '<div class="cell-output"><pre>2.48 ± nan</pre></div>',
    "link to a file outside the site": '<p><a href="../DESIGN.html">design</a></p>',
    "an empty section": "<h2>Empty</h2><h2>Next</h2><p>x</p>",
}


def page(tmp_path, body, name="p.html"):
    (tmp_path / name).write_text(body); (tmp_path / "other.html").write_text("<html></html>")
    return check_site.check_page(tmp_path / name, tmp_path, wraps_output=True)


def test_clean_page_has_no_finding(tmp_path):
    assert page(tmp_path, CLEAN) == []


@pytest.mark.parametrize("kind", list(BAD))
def test_each_problem_is_found(tmp_path, kind):
    found = page(tmp_path, CLEAN.replace("</main>", BAD[kind] + "</main>"))
    assert any(kind in f for f in found), found


def test_long_output_lines_are_found_unless_wrapped(tmp_path):
    body = CLEAN.replace("1.23 ± 0.04", "x" * 120)
    (tmp_path / "p.html").write_text(body)
    assert any("cut off" in f for f in check_site.check_page(tmp_path / "p.html", tmp_path, wraps_output=False))
    assert check_site.check_page(tmp_path / "p.html", tmp_path, wraps_output=True) == []
