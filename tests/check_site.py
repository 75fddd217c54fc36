"""Site check: what a reader of the rendered book must never meet. Run by `make docs` on the rendered `_docs/`.

Fails (exit 1, one line per finding) on:
- pandoc's "Could not convert TeX math" warnings in the build log;
- math that did not render: a `$` left in the page text, or an empty math span;
- absolute machine paths (/work/..., /tmp/..., /root/..., /home/...) or development wording;
- links to files outside the site;
- output lines longer than 100 characters, unless the stylesheet wraps cell output;
- NaN printed as a value in cell output;
- empty sections (a heading followed directly by another heading of the same or a higher level);
- a README.md changed by the docs build (compared with git).
"""
from __future__ import annotations
import argparse, re, subprocess, sys
from html.parser import HTMLParser
from pathlib import Path

MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root|home)/[\w.-]+")
DEV_WORDING = re.compile(r"\b(?:TODO|FIXME|XXX|helper-\d+|this session|the lead|the project's issue|the issue that asks|issue asks|(?:DESIGN|TARGETS|STYLE)\.md)\b")
NAN_VALUE = re.compile(r"(?<![\w.'\"])(?:nan|NaN)(?![\w'\"(])")


class Page(HTMLParser):
    "Collects the text of a page by kind: prose, math spans, cell output, code; links; the heading sequence."
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.prose, self.math, self.output, self.links, self.blocks, self.spans = [], [], [], [], [], [], []
    def _in(self, pred): return any(pred(t, a) for t, a in self.stack)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("h1", "h2", "h3", "h4") or tag in ("p", "pre", "table", "ul", "ol", "figure", "img", "div") and not self._in(lambda t, _: t in ("pre", "p", "table")):
            self.blocks.append(tag)
        if tag == "a" and a.get("href"): self.links.append(a["href"])
        if tag == "img" and a.get("src"): self.links.append(a["src"])
        if tag not in ("br", "img", "meta", "link", "input", "hr"): self.stack.append((tag, a))
    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag: del self.stack[i:]; break
    def handle_data(self, data):
        if self._in(lambda t, _: t in ("script", "style", "head", "nav", "title")): return
        if self._in(lambda t, a: "math" in (a.get("class") or "")): self.math.append(data); return
        if self._in(lambda t, a: "cell-output" in (a.get("class") or "")): self.output.append(data); return
        if self._in(lambda t, _: t == "pre"): return
        if self._in(lambda t, _: t == "code"): self.spans.append(data); return     # inline code in the prose
        self.prose.append(data)


def check_page(path: Path, site: Path, wraps_output: bool) -> list[str]:
    p = Page(); p.feed(path.read_text(errors="replace")); rel = path.relative_to(site)
    found, prose, out = [], " ".join(p.prose), "".join(p.output)
    if "$" in prose: found.append(f"{rel}: unrendered math, '$' in the text near {prose[max(0, prose.index('$') - 40):prose.index('$') + 40]!r}")
    for m in p.math:
        if not m.strip(r"\()[] "): found.append(f"{rel}: an empty math span")
    for text, kind in ((prose, "text"), (out, "output"), (" ".join(p.math), "math"), (" ".join(p.spans), "inline code")):
        for m in MACHINE_PATH.finditer(text): found.append(f"{rel}: machine path {m.group()!r} in the {kind}")
        for m in DEV_WORDING.finditer(text): found.append(f"{rel}: development wording {m.group()!r} in the {kind}")
    for m in NAN_VALUE.finditer(out): found.append(f"{rel}: NaN printed as a value: {out[max(0, m.start() - 50):m.end() + 10]!r}")
    if not wraps_output:
        for line in out.splitlines():
            if len(line) > 100: found.append(f"{rel}: an output line of {len(line)} characters is cut off: {line[:60]!r}...")
    for href in p.links:
        if re.match(r"^(?:[a-z]+:|#|//)", href) and not href.startswith("file:"): continue
        target = (path.parent / href.split("#")[0].split("?")[0]).resolve()
        if href.startswith("file:") or site.resolve() not in target.parents and target != site.resolve():
            found.append(f"{rel}: link to a file outside the site: {href}")
    levels = [int(b[1]) if b[0] == "h" and b[1:].isdigit() else None for b in p.blocks]
    for i, lv in enumerate(levels[:-1]):
        if lv and lv > 1 and levels[i + 1] and levels[i + 1] <= lv: found.append(f"{rel}: an empty section (heading {i})")
    if lv := (levels[-1] if levels else None):
        if lv > 1: found.append(f"{rel}: the page ends with an empty section")
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path); ap.add_argument("--log", type=Path, default=None)
    args = ap.parse_args(argv)
    pages = sorted(args.site.rglob("*.html"))
    if not pages: print(f"check_site: no HTML pages under {args.site}; build the book with `make docs`."); return 1
    css = "".join(p.read_text() for p in args.site.rglob("styles.css"))
    wraps = bool(re.search(r"cell-output[^{]*\{[^}]*white-space:\s*pre-wrap", css))
    found = [f for page in pages for f in check_page(page, args.site, wraps)]
    if args.log and args.log.exists():
        found += [f"build log: {l.strip()}" for l in args.log.read_text().splitlines() if "Could not convert TeX math" in l]
    root = args.site.resolve().parent
    if subprocess.run(["git", "diff", "--quiet", "--", "README.md"], cwd=root).returncode:
        found.append("README.md was changed by the docs build (it is generated by `make readme`)")
    for f in found: print(f)
    print(f"check_site: {len(pages)} pages, {len(found)} finding(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
