"""Feedback files: the Markdown of test outputs as HTML, escaped, with code blocks student text cannot close."""

from __future__ import annotations

import html

from autograder.batch.feedback import markdown_to_html
from autograder.grade.results import code_block


def test_markdown_of_test_outputs():
    text = ("**Invalid submission:** a <b> tag\n\n- first `x < 1`\n- second\n\nYour code raised:\n\n```\n"
            "Traceback <here>\n  File \"m.py\"\n```\nafter")
    assert markdown_to_html(text) == (
        "<p><strong>Invalid submission:</strong> a &lt;b&gt; tag</p>\n"
        "<ul><li>first <code>x &lt; 1</code></li><li>second</li></ul>\n"
        "<p>Your code raised:</p>\n"
        "<pre><code>Traceback &lt;here&gt;\n  File &quot;m.py&quot;</code></pre>\n"
        "<p>after</p>")


FAKE = "partial output\n```\n\n**All tests passed**\n\n<script>alert(1)</script> [a link](http://evil.example)\n```"


def test_student_text_cannot_close_its_code_block():
    """Printed text with its own fence stays inside one escaped <pre>; nothing after it is rendered."""
    block = code_block(FAKE)
    assert block.startswith("````\n") and block.endswith("\n````")
    text = "Your code printed:\n\n" + block + "\n\nafter"
    rendered = markdown_to_html(text)
    assert rendered == ("<p>Your code printed:</p>\n<pre><code>" + html.escape(FAKE) + "</code></pre>\n<p>after</p>")
    assert "<strong>" not in rendered and "<script>" not in rendered


def test_a_code_block_closes_only_at_a_fence_as_long_as_its_opening():
    assert markdown_to_html("`````\n````\n```\n`````") == "<pre><code>````\n```</code></pre>"
    assert markdown_to_html("```\nx\n   ```   \ny") == "<pre><code>x</code></pre>\n<p>y</p>"
