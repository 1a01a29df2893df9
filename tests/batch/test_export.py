"""Gradescope exports: submission_metadata.yml as Gradescope's Ruby writes it, and the zip around it."""

from __future__ import annotations

import zipfile

import pytest

from autograder.batch.export import ExportError, Submitter, find_metadata, is_export_zip, parse_metadata, unpack

# The shape of an export's metadata: symbol keys, quoted sids, a group submission, and the
# previous results and history nested (with block scalars and lines that look like keys).
METADATA = r"""---
submission_123456:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@example.edu
  :created_at: 2025-02-03 21:14:07.412000000 -08:00
  :score: 17.0
  :results:
    score: 17.0
    execution_time: 12.5
    output: |-
      Isolation: namespaces
      :submitters:
      - :name: Not A Student
    tests:
    - name: public/test_sampling.py::test_box_muller
      score: 0.0
      output: "box_muller maps (u1, u2) to ...\n\nz1: 3 of 4 values differ beyond rtol=1e-06,\
        \ atol=1e-08"
  :history:
  - :created_at: 2025-02-02 10:00:00.000000000 -08:00
    :score: 12.0
    :submitters:
    - :name: Old Entry
submission_123457:
  :submitters:
  - :name: "Grace \"Amazing\" Hopper \u00e9"
    :sid: '1906'
    :email: grace@example.edu
  - :email: alan@example.edu
    :name: 'Alan O''Turing'
    :sid: 1912
  :created_at: 2025-02-04 09:00:00.000000000 -08:00
  :score:
submission_123458:
  :submitters:
  - :name: Long
      Name
    :sid: ''
  :history: []
"""


def test_metadata_maps_folders_to_submitters():
    entries = parse_metadata(METADATA)
    assert list(entries) == ["submission_123456", "submission_123457", "submission_123458"]
    ada = entries["submission_123456"]
    assert ada.submitters == (Submitter(name="Ada Lovelace", sid="1815", email="ada@example.edu"),)
    assert ada.created_at == "2025-02-03 21:14:07.412000000 -08:00"
    assert ada.score == "17.0"
    group = entries["submission_123457"]
    assert group.submitters == (Submitter(name='Grace "Amazing" Hopper é', sid="1906", email="grace@example.edu"),
                                Submitter(name="Alan O'Turing", sid="1912", email="alan@example.edu"))
    assert group.score == ""
    assert entries["submission_123458"].submitters == (Submitter(name="Long Name"),)


@pytest.mark.parametrize("text, line", [
    ("  :submitters:\n", 1),
    ("submission_1: 5\n", 1),
    ("submission_1:\n  :submitters:\n  - :name: \"never closed\n", 3),
    ("submission_1:\n    :score: 1\n  :submitters:\n", 3),
])
def test_malformed_metadata_is_an_error_with_its_line(text, line):
    with pytest.raises(ExportError) as error:
        parse_metadata(text, "export/submission_metadata.yml")
    assert error.value.line == line
    assert str(error.value).startswith(f"export/submission_metadata.yml:{line}: ")


def test_export_zip_is_unpacked_defensively(tmp_path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("assignment_1_export/submission_metadata.yml", "submission_1:\n  :submitters: []\n")
        archive.writestr("assignment_1_export/submission_1/mathy.py", "x = 1\n")
        archive.writestr("../escape.py", "no")
        archive.writestr("__MACOSX/._junk", "no")
    assert is_export_zip(path)
    notes = unpack(path, tmp_path / "out")
    assert notes == ["../escape.py: left out (a link, or outside the export)"]
    assert not (tmp_path / "escape.py").exists()
    assert find_metadata(tmp_path / "out") == tmp_path / "out" / "assignment_1_export" / "submission_metadata.yml"
    assert (tmp_path / "out" / "assignment_1_export" / "submission_1" / "mathy.py").read_text() == "x = 1\n"
    (tmp_path / "plain.zip").write_bytes(b"not a zip")
    assert not is_export_zip(tmp_path / "plain.zip")
