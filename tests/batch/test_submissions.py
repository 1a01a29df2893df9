"""Finding submissions: ids from names, collisions, stray files, a zipped folder, an unpacked export."""

from __future__ import annotations

import zipfile

import pytest

from autograder.batch.submissions import BatchError, find_submissions, safe_id


def test_one_submission_per_entry_with_safe_unique_ids(tmp_path):
    folder = tmp_path / "subs"
    (folder / "alice").mkdir(parents=True)
    (folder / "alice" / "mathy.py").write_text("x = 1\n")
    (folder / "alice.py").write_text("x = 1\n")
    (folder / "bob smith (late).zip").write_bytes(b"PK")
    (folder / "carol.ipynb").write_text("{}")
    (folder / "readme.txt").write_text("hi")
    (folder / ".DS_Store").write_text("")
    (folder / "__MACOSX").mkdir()
    (folder / "out").mkdir()
    found = find_submissions(folder, tmp_path / "scratch", exclude=folder / "out")
    assert [(s.student, s.name) for s in found.submissions] == [
        ("alice", "alice"), ("alice_py", "alice.py"), ("bob_smith_late", "bob smith (late).zip"),
        ("carol", "carol.ipynb"), ("readme", "readme.txt")]
    assert found.notes == ("readme.txt: graded as an invalid submission (not a folder, .zip, .py or .ipynb)",)
    assert not found.export
    assert all(s.path.is_absolute() and s.sha256 for s in found.submissions)


def test_a_zip_of_a_folder_of_submissions(tmp_path):
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hw1 submissions/dan.py", "x = 1\n")
        archive.writestr("hw1 submissions/erin/mathy.py", "x = 2\n")
    found = find_submissions(path, tmp_path / "scratch")
    assert [s.student for s in found.submissions] == ["dan", "erin"]


def test_an_unpacked_export_uses_sids(tmp_path):
    (tmp_path / "export" / "submission_7").mkdir(parents=True)
    (tmp_path / "export" / "submission_7" / "mathy.py").write_text("x = 1\n")
    (tmp_path / "export" / "submission_metadata.yml").write_text(
        "submission_7:\n  :submitters:\n  - :name: Zoe\n    :sid: 'A-9 9'\n    :email: z@x.edu\n")
    found = find_submissions(tmp_path / "export", tmp_path / "scratch")
    assert found.export
    [submission] = found.submissions
    assert (submission.student, submission.name, submission.submitters[0].email) == ("A-9_9", "submission_7",
                                                                                      "z@x.edu")


def test_safe_ids_and_errors(tmp_path):
    assert safe_id("../../etc/passwd") == "etc_passwd"
    assert safe_id("...") == "submission"
    with pytest.raises(BatchError, match="no such folder"):
        find_submissions(tmp_path / "missing", tmp_path)
    (tmp_path / "one.py").write_text("")
    with pytest.raises(BatchError, match="Gradescope export"):
        find_submissions(tmp_path / "one.py", tmp_path)
