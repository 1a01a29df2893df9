"""``report.html``: how the class did, on one self-contained page (plots embedded as PNG data).

Score histogram, pass rate and time per test (matplotlib), the failures grouped by message
("42 submissions: test_e_step, shape mismatch"), submissions that were not graded normally,
the slowest submissions and groups of identical code. Built from the results files and
the gradebook; unlike the gradebook it shows times.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import statistics
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from autograder.batch import store  # noqa: E402
from autograder.batch.analysis import (  # noqa: E402
    STARTER, STATUSES, Record, failure_groups, short_name, test_names,
)
from autograder.batch.progress import duration  # noqa: E402

HORIZONTAL = ({"orientation": "horizontal"} if tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 10)
              else {"vert": False})
COLORS = {"graded": "#3b6fb6", "timed out": "#e8912d", "crashed": "#c23b3b", "invalid submission": "#9aa3ae"}
STYLE = """
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2430;margin:0;background:#f4f6f9}
main{max-width:1100px;margin:0 auto;padding:1.5rem 1.5rem 4rem}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:2.2rem 0 .6rem}
.sub{color:#5b6575}.cards{display:flex;flex-wrap:wrap;gap:.7rem;margin:1rem 0}
.card{background:#fff;border:1px solid #e1e5eb;border-radius:6px;padding:.6rem .9rem;min-width:8.5rem}
.card b{display:block;font-size:1.35rem}.card span{color:#5b6575;font-size:.85rem}
.panel{background:#fff;border:1px solid #e1e5eb;border-radius:6px;padding:1rem;margin-bottom:1rem}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}@media(max-width:900px){.grid{grid-template-columns:1fr}}
img{max-width:100%;height:auto;display:block;margin:0 auto}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e8ebf0;vertical-align:top}
th{background:#f0f2f6;font-weight:600}td.num,th.num{text-align:right;white-space:nowrap}
.dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;margin-right:.35rem;vertical-align:-.05rem}
code{font-size:12.5px;background:#f0f2f6;padding:0 .2rem;border-radius:3px}.muted{color:#7a8494}
"""


def write(path: Path, *, records: Sequence[Record], book: pd.DataFrame, title: str, course: str,
          run: str = "") -> None:
    store.write_text(path, render(records=records, book=book, title=title, course=course, run=run))


def render(*, records: Sequence[Record], book: pd.DataFrame, title: str, course: str, run: str = "") -> str:
    """The page; ``run`` is a sentence about the run that wrote it (what it graded, in how long)."""
    records = sorted(records, key=lambda r: r.student)
    names = test_names(records)
    ran = [r for r in records if r.data is not None and store.status(r.data) != "invalid submission"]
    sections = [
        _header(records, book, title, course, run),
        '<div class="grid">'
        + _panel("Scores", _image(_histogram(book)))
        + _panel(f"Pass rate per test <span class=\"sub\">({len(ran)} submissions that ran)</span>",
                 _image(_pass_rates(ran, names)))
        + "</div>",
        _panel("Time per test <span class=\"sub\">(the first test of a submission also waits for its sandbox "
               "to start)</span>", _image(_test_times(ran, names))),
        _failures(records, set(book.loc[book["identical_group"] == STARTER, "student"]) if len(book) else set()),
        _not_graded(book),
        _slowest(records),
        _identical(book),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}: batch report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(s for s in sections if s) + "\n</main>\n</body>\n</html>\n")


# -- sections -------------------------------------------------------------------------


def _header(records: Sequence[Record], book: pd.DataFrame, title: str, course: str, run: str) -> str:
    counts = book["status"].value_counts() if len(book) else pd.Series(dtype=int)
    totals = book["total"].astype(float) if len(book) else pd.Series(dtype=float)
    maximum = float(book["max_score"].max()) if len(book) else 0.0
    cards = [("submissions", str(len(book)))]
    cards += [(status, str(int(counts.get(status, 0)))) for status in STATUSES]
    if len(totals):
        cards += [("mean score", f"{totals.mean():.1f} / {maximum:g}"),
                  ("median score", f"{totals.median():g} / {maximum:g}"),
                  ("full marks", str(int((totals >= maximum - 1e-9).sum())))]
    html_cards = "".join(f'<div class="card"><b>{html.escape(value)}</b><span>{_dot(label)}{html.escape(label)}'
                         f"</span></div>" for label, value in cards)
    seconds = sum(r.seconds for r in records)
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"<h1>{html.escape(title)}</h1>\n<p class=\"sub\">{html.escape(course)} · batch report written "
            f"{html.escape(when)}. {html.escape(run)} Grading time of all submissions together: "
            f"{duration(seconds)}. Scores and statuses are in <code>gradebook.csv</code>, each student's "
            f"feedback in <code>feedback/</code>.</p>\n<div class=\"cards\">{html_cards}</div>")


def _dot(label: str) -> str:
    color = COLORS.get(label)
    return f'<span class="dot" style="background:{color}"></span>' if color else ""


def _panel(heading: str, body: str) -> str:
    return f'<div class="panel"><h2 style="margin-top:0">{heading}</h2>{body}</div>'


def _failures(records: Sequence[Record], starter: set[str]) -> str:
    groups = failure_groups(records, skip=starter)
    if not groups:
        return "<h2>Failures</h2><p>No test failed (invalid submissions aside).</p>"
    rows = []
    for group in groups[:60]:
        students = ", ".join(group.students[:8]) + (f" and {len(group.students) - 8} more"
                                                     if len(group.students) > 8 else "")
        rows.append(f'<tr><td class="num"><b>{len(group.students)}</b></td><td><code>'
                    f"{html.escape(short_name(group.test))}</code></td><td>{html.escape(group.kind)}</td>"
                    f"<td>{html.escape(group.message)}</td><td class=\"muted\">{html.escape(students)}</td></tr>")
    more = f"<p class=\"muted\">{len(groups) - 60} smaller groups not shown.</p>" if len(groups) > 60 else ""
    skipped = f" {len(starter)} unchanged starter-code submission(s) are left out." if starter else ""
    return ("<h2>Failures grouped by message</h2><p class=\"sub\">Numbers in the messages are ignored when "
            f"grouping; the message shown is the first student's. Invalid submissions are listed below.{skipped}</p>"
            '<table><tr><th class="num">submissions</th><th>test</th><th>kind</th><th>message</th>'
            "<th>students</th></tr>" + "".join(rows) + "</table>" + more)


def _not_graded(book: pd.DataFrame) -> str:
    rows = book[book["status"] != "graded"] if len(book) else book
    if not len(rows):
        return ""
    body = "".join(f"<tr><td>{html.escape(str(r.student))}</td><td>{_dot(r.status)}{html.escape(r.status)}</td>"
                   f"<td>{html.escape(str(r.reason))}</td></tr>"
                   for r in rows.sort_values(["status", "student"]).itertuples())
    return ("<h2>Not graded normally</h2><table><tr><th>student</th><th>status</th><th>reason</th></tr>"
            + body + "</table>")


def _slowest(records: Sequence[Record], count: int = 10) -> str:
    timed = sorted((r for r in records if r.data is not None), key=lambda r: (-r.seconds, r.student))[:count]
    if not timed:
        return ""
    rows = []
    for record in timed:
        slowest = max(record.tests, key=lambda t: t.get("extra_data", {}).get("time_s", 0), default=None)
        test = (f"<code>{html.escape(short_name(slowest['name']))}</code> "
                f"{slowest.get('extra_data', {}).get('time_s', 0):.2f} s") if slowest else ""
        status = store.status(record.data)
        rows.append(f"<tr><td>{html.escape(record.student)}</td><td class=\"num\">{record.seconds:.1f} s</td>"
                    f"<td>{html.escape(status)}</td><td>{test}</td></tr>")
    return ("<h2>Slowest submissions</h2><table><tr><th>student</th><th class=\"num\">time</th><th>status</th>"
            "<th>slowest test</th></tr>" + "".join(rows) + "</table>")


def _identical(book: pd.DataFrame) -> str:
    if not len(book) or not (book["identical_group"] != "").any():
        return ""
    rows = []
    for label, members in book[book["identical_group"] != ""].groupby("identical_group", sort=False):
        names = ", ".join(members["student"].astype(str))
        rows.append((label != STARTER, label, len(members), names, members["total"].astype(float).iloc[0]))
    rows.sort(key=lambda r: (r[0], -r[2], r[1]))
    body = "".join(f"<tr><td>{html.escape(label)}</td><td class=\"num\">{size}</td><td class=\"num\">{score:g}</td>"
                   f"<td>{html.escape(names)}</td></tr>" for _, label, size, names, score in rows)
    return ("<h2>Identical submissions</h2><p class=\"sub\">Same code once comments, blank lines and spacing are "
            "ignored. <i>starter code</i>: unchanged from the release.</p><table><tr><th>group</th>"
            "<th class=\"num\">size</th><th class=\"num\">score</th><th>students</th></tr>" + body + "</table>")


# -- plots ----------------------------------------------------------------------------


def _image(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _histogram(book: pd.DataFrame) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(5.6, 3.4))
    maximum = float(book["max_score"].max()) if len(book) else 1.0
    width = 1.0 if maximum <= 40 else maximum / 20
    bins = [i * width - width / 2 for i in range(int(maximum / width) + 2)]
    present = [s for s in STATUSES if len(book) and (book["status"] == s).any()]
    axis.hist([book.loc[book["status"] == s, "total"].astype(float) for s in present] or [[]], bins=bins,
              stacked=True, color=[COLORS[s] for s in present] or None, label=present or None, edgecolor="white")
    axis.set_xlabel(f"total score (of {maximum:g})")
    axis.set_ylabel("submissions")
    axis.set_xlim(-width, maximum + width)
    axis.yaxis.get_major_locator().set_params(integer=True)
    if present:
        axis.legend(frameon=False, fontsize=8, ncol=len(present), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    _tidy(axis)
    return figure


def _pass_rates(records: Sequence[Record], names: Sequence[str]) -> plt.Figure:
    rates = []
    for name in names:
        results = [t for r in records for t in r.tests if t["name"] == name]
        rates.append(100.0 * sum(t.get("status") == "passed" for t in results) / len(results) if results else 0.0)
    figure, axis = plt.subplots(figsize=(5.6, max(2.2, 0.24 * len(names) + 0.8)))
    labels = [short_name(n) for n in names]
    bars = axis.barh(range(len(names)), rates, color=[_rate_color(r) for r in rates])
    axis.set_yticks(range(len(names)), labels, fontsize=7.5)
    axis.invert_yaxis()
    axis.set_xlim(0, 112)
    axis.set_xlabel("passed (%)")
    for bar, rate in zip(bars, rates):
        axis.text(bar.get_width() + 1.5, bar.get_y() + bar.get_height() / 2, f"{rate:.0f}%", va="center", fontsize=7)
    _tidy(axis)
    return figure


def _rate_color(rate: float) -> str:
    return "#c23b3b" if rate < 50 else "#e8912d" if rate < 80 else "#3b8f5a"


def _test_times(records: Sequence[Record], names: Sequence[str]) -> plt.Figure:
    times = [[float(t.get("extra_data", {}).get("time_s", 0.0)) for r in records for t in r.tests if t["name"] == name]
             for name in names]
    figure, axis = plt.subplots(figsize=(10, max(2.2, 0.24 * len(names) + 0.8)))
    if names:
        axis.boxplot([t or [0.0] for t in times], **HORIZONTAL, widths=0.6, showfliers=True,
                     flierprops={"markersize": 3, "alpha": 0.5}, medianprops={"color": "#3b6fb6"})
        axis.set_yticks(range(1, len(names) + 1), [short_name(n) for n in names], fontsize=7.5)
        axis.invert_yaxis()
        medians = [statistics.median(t) if t else 0.0 for t in times]
        right = max([max(t) for t in times if t] + [0.01])
        left = min([v for t in times for v in t if v > 0] + [right])
        logarithmic = right / left > 100  # a time-out next to tests of milliseconds would flatten every box
        label_at, limit = (right * 1.5, right * 8) if logarithmic else (right * 1.02, right * 1.18)
        for index, median in enumerate(medians, start=1):
            axis.text(label_at, index, f"median {median:.2f} s", va="center", fontsize=7, color="#5b6575")
        if logarithmic:
            axis.set_xscale("log")
            axis.set_xlim(left / 1.5, limit)
        else:
            axis.set_xlim(0, limit)
    axis.set_xlabel("seconds (log scale)" if names and logarithmic else "seconds")
    _tidy(axis)
    return figure


def _tidy(axis: plt.Axes) -> None:
    for side in ("top", "right"):
        axis.spines[side].set_visible(False)
    axis.tick_params(labelsize=8)
    axis.figure.tight_layout()
