"""Fingerprints: the same code under other comments and spacing is the same; other code is not."""

from __future__ import annotations

from autograder.batch.fingerprint import content_hash, fingerprint, normalise

CODE = "def double(x):\n    '''Twice x.'''\n    return 2 * x\n"


def test_comments_blank_lines_and_spacing_do_not_count():
    assert normalise(CODE) == normalise("# mine!\ndef double( x ):  # here\n\n    '''Twice x.'''\n    return 2*x\n\n")
    assert normalise(CODE) != normalise(CODE.replace("2 * x", "3 * x"))
    assert normalise(CODE) != normalise(CODE.replace("'''Twice x.'''", "'''Double.'''"))  # strings are code
    assert normalise("def f(:\n  (") == "def f(:\n("  # unfinished code still compares, by its words


def test_fingerprint_of_the_module_files(tmp_path):
    for name, code in {"a": CODE, "b": CODE + "\n# the end\n", "c": CODE.replace("2", "3")}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "mathy.py").write_text(code)
        (tmp_path / name / "notes.txt").write_text(name)  # not a module of the assignment
    prints = {name: fingerprint(tmp_path / name, ["mathy.py"]) for name in "abc"}
    assert prints["a"] == prints["b"] != prints["c"]
    assert fingerprint(tmp_path / "a", ["other.py"]) is None


def test_content_hash_sees_any_change(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "mathy.py").write_text(CODE)
    before = content_hash(tmp_path / "s")
    (tmp_path / "s" / "mathy.py").write_text(CODE + "# a comment\n")
    assert content_hash(tmp_path / "s") != before
    (tmp_path / "f.py").write_text(CODE)
    assert content_hash(tmp_path / "f.py") == content_hash(tmp_path / "f.py")
