"""report.html: one valid, self-contained page with its plots embedded, saying what failed and for whom."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Checker(HTMLParser):
    """Fails on any tag closed out of order or left open; collects images and links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        self.doctype = False

    def handle_decl(self, decl):
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes.get("src", ""))
        for name in ("src", "href"):
            if attributes.get(name, "").startswith(("http:", "https:", "//", "file:")):
                self.external.append(attributes[name])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'} at {self.getpos()}")
        else:
            self.stack.pop()


def check_html(text: str) -> Checker:
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert checker.doctype, "no <!DOCTYPE html>"
    assert checker.errors == []
    assert checker.stack == [], f"left open: {checker.stack}"
    assert checker.external == [], "the page must not depend on anything outside it"
    return checker


def test_report_is_valid_html_with_embedded_plots(mixed_batch):
    _, _, out = mixed_batch
    text = (out / "report.html").read_text(encoding="utf-8")
    checker = check_html(text)
    assert len(checker.images) == 3  # score histogram, pass rate per test, time per test
    for src in checker.images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert re.search(r"<title>[^<]+batch report</title>", text)
    assert "<script" not in text


def test_report_groups_failures_and_lists_the_rest(mixed_batch):
    _, _, out = mixed_batch
    text = (out / "report.html").read_text(encoding="utf-8")
    groups = text[text.index("Failures grouped by message"):text.index("Not graded normally")]
    row = re.search(r"<tr><td class=\"num\"><b>1</b></td><td><code>test_double</code></td><td>wrong answer</td>"
                    r"<td>double\(x\) must return 2 \* x</td><td class=\"muted\">wrong</td></tr>", groups)
    assert row, groups
    assert "1 unchanged starter-code submission(s) are left out" in groups  # blank fails everything
    assert ">blank<" not in groups
    assert "SIGSEGV" in groups and "timed out after 2 s" in groups
    assert "not a readable zip file" not in groups  # invalid submissions are listed once, below
    rest = text[text.index("Not graded normally"):]
    for student in ("broken", "crash", "notebook", "slow"):
        assert f"<td>{student}</td>" in rest
    assert "Slowest submissions" in text
    identical = text[text.index("Identical submissions"):]
    assert "good, good_copy, good_nb" in identical and "starter code" in identical


def test_feedback_pages_are_valid_html(mixed_batch):
    _, _, out = mixed_batch
    for page in sorted((out / "feedback").glob("*.html")):
        check_html(page.read_text(encoding="utf-8"))
