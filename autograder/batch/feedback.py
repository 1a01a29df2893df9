"""Feedback a student can read: ``feedback/<student>.md`` and ``.html``, from their results file.

Both say the score, the status and its reason, each test's score, and why each failed
test failed (the same messages Gradescope would show). Tests whose visibility is
``hidden`` show their score only. Test outputs are Markdown; the HTML turns the few
constructs they use (paragraphs, lists, code blocks, inline code, bold) into tags, and
escapes all text. A code block ends only at a fence at least as long as the one that opened
it, as in CommonMark: student text is fenced by :func:`autograder.grade.results.code_block`.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from autograder.batch import store
from autograder.batch.analysis import Record, row_status, short_name, test_docs

FENCE = re.compile(r" {0,3}(`{3,})")  # an opening fence; it closes at a line of as many backticks or more

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#1d2430}
h1{font-size:1.4rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem;margin:1.4rem 0 .3rem}
.sub{color:#5b6575}.score{font-size:1.3rem;font-weight:600}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem .6rem;border-bottom:1px solid #e3e7ee;text-align:left}
td.num,th.num{text-align:right;white-space:nowrap}.passed{color:#17803d}.failed{color:#b42318}
pre{background:#f5f7fa;border:1px solid #e3e7ee;border-radius:4px;padding:.6rem;overflow-x:auto;font-size:13px}
code{font-size:13px}.note{background:#fff7e6;border-left:4px solid #f0a020;padding:.4rem .8rem}
"""


def _score(value: float) -> str:
    return f"{value:g}"


def _title(record: Record, assignment_title: str) -> str:
    return f"{assignment_title}: feedback for {record.student}"


def _visible(test: dict) -> bool:
    return test.get("visibility") != "hidden"


def markdown(record: Record, assignment_title: str, points: float, docs: dict[str, str]) -> str:
    data = record.data or {}
    status, reason = row_status(record, docs)
    maximum = data.get("extra_data", {}).get("max_score", points)
    lines = [f"# {_title(record, assignment_title)}", "",
             f"Submission: `{record.submission.name}`", "",
             f"**Score: {_score(record.score)} / {_score(maximum)}** ({status})", ""]
    if reason and status != "graded":
        lines += [f"> {reason}", ""]
    if data.get("output"):
        lines += [str(data["output"]).strip(), ""]
    if record.tests:
        lines += ["| # | Test | Score | Result |", "|---|---|---|---|"]
        for test in record.tests:
            result = "passed" if test.get("status") == "passed" else "failed"
            lines.append(f"| {test.get('number', '')} | {short_name(test['name'])} | "
                         f"{_score(test.get('score', 0))} / {_score(test.get('max_score', 0))} | {result} |")
        lines.append("")
        failed = [t for t in record.tests if t.get("status") != "passed"]
        if failed:
            lines += ["## What to look at", ""]
        for test in failed:
            lines += [f"### {test.get('number', '')} {short_name(test['name'])} "
                      f"({_score(test.get('score', 0))} / {_score(test.get('max_score', 0))})", ""]
            lines += [str(test.get("output", "")).strip() if _visible(test) else "_Details of this test are hidden._",
                      ""]
    return "\n".join(lines).rstrip() + "\n"


def page(record: Record, assignment_title: str, points: float, docs: dict[str, str]) -> str:
    data = record.data or {}
    status, reason = row_status(record, docs)
    maximum = data.get("extra_data", {}).get("max_score", points)
    title = html.escape(_title(record, assignment_title))
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n"
             f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>",
             f"<p class=\"sub\">Submission: <code>{html.escape(record.submission.name)}</code></p>",
             f"<p class=\"score\">Score: {_score(record.score)} / {_score(maximum)} "
             f"<span class=\"sub\">({html.escape(status)})</span></p>"]
    if reason and status != "graded":
        parts.append(f"<p class=\"note\">{html.escape(reason)}</p>")
    if data.get("output"):
        parts.append(markdown_to_html(str(data["output"])))
    if record.tests:
        rows = []
        for test in record.tests:
            passed = test.get("status") == "passed"
            rows.append(f"<tr><td>{html.escape(str(test.get('number', '')))}</td>"
                        f"<td>{html.escape(short_name(test['name']))}</td>"
                        f"<td class=\"num\">{_score(test.get('score', 0))} / {_score(test.get('max_score', 0))}</td>"
                        f"<td class=\"{'passed' if passed else 'failed'}\">{'passed' if passed else 'failed'}</td></tr>")
        parts.append("<table>\n<tr><th>#</th><th>Test</th><th class=\"num\">Score</th><th>Result</th></tr>\n"
                     + "\n".join(rows) + "\n</table>")
        failed = [t for t in record.tests if t.get("status") != "passed"]
        if failed:
            parts.append("<h2>What to look at</h2>")
        for test in failed:
            parts.append(f"<h3>{html.escape(str(test.get('number', '')))} {html.escape(short_name(test['name']))} "
                         f"({_score(test.get('score', 0))} / {_score(test.get('max_score', 0))})</h3>")
            parts.append(markdown_to_html(str(test.get("output", ""))) if _visible(test)
                         else "<p><em>Details of this test are hidden.</em></p>")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def markdown_to_html(text: str) -> str:
    """The Markdown that test outputs use: paragraphs, ``-`` lists, fenced code, `code`, **bold**."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    lines = text.splitlines()
    index = 0

    def flush() -> None:
        if paragraph:
            out.append("<p>" + "<br>\n".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
            items.clear()

    while index < len(lines):
        line = lines[index]
        opening = FENCE.match(line)
        if opening:
            flush()
            closing = re.compile(rf" {{0,3}}`{{{len(opening.group(1))},}} *")
            end = index + 1
            while end < len(lines) and not closing.fullmatch(lines[end]):
                end += 1
            out.append("<pre><code>" + html.escape("\n".join(lines[index + 1:end])) + "</code></pre>")
            index = end + 1
            continue
        if not line.strip():
            flush()
        elif re.match(r"\s*[-*] ", line):
            if paragraph:
                flush()
            items.append(re.sub(r"^\s*[-*] ", "", line))
        else:
            if items:
                flush()
            paragraph.append(line.strip())
        index += 1
    flush()
    return "\n".join(out)


def _inline(text: str) -> str:
    pieces = re.split(r"(`[^`]+`)", text)
    result = []
    for piece in pieces:
        if len(piece) > 1 and piece.startswith("`") and piece.endswith("`"):
            result.append(f"<code>{html.escape(piece[1:-1])}</code>")
        else:
            escaped = html.escape(piece)
            result.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped))
    return "".join(result)


def write_all(records: list[Record], folder: Path, *, assignment_title: str, points: float) -> None:
    docs = test_docs(records)
    for record in records:
        store.write_text(folder / f"{record.student}.md", markdown(record, assignment_title, points, docs))
        store.write_text(folder / f"{record.student}.html", page(record, assignment_title, points, docs))
