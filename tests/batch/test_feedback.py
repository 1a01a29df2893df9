"""Feedback files: the Markdown of test outputs as HTML, escaped."""

from __future__ import annotations

from autograder.batch.feedback import markdown_to_html


def test_markdown_of_test_outputs():
    text = ("**Invalid submission:** a <b> tag\n\n- first `x < 1`\n- second\n\nYour code raised:\n\n```\n"
            "Traceback <here>\n  File \"m.py\"\n```\nafter")
    assert markdown_to_html(text) == (
        "<p><strong>Invalid submission:</strong> a &lt;b&gt; tag</p>\n"
        "<ul><li>first <code>x &lt; 1</code></li><li>second</li></ul>\n"
        "<p>Your code raised:</p>\n"
        "<pre><code>Traceback &lt;here&gt;\n  File &quot;m.py&quot;</code></pre>\n"
        "<p>after</p>")
