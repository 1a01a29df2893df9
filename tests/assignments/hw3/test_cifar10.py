"""hw3's provided CIFAR-10 module: the restricted reader of the python batches, the Python 2 writer, the download.

cifar10.py is imported by path from assignments/hw3 (a homework file, not part of the
autograder package). Test files are generated in the published format by cifar10's own
writer, whose opcodes are checked here against what Python 2's cPickle wrote. The
download is tested against an HTTP server on 127.0.0.1 started here; every other
connection is refused for the whole module, so no test can reach the internet.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import pickle
import pickletools
import tarfile

import numpy as np
import pytest
import torch

from tests.conftest import REPO, import_homework

HW3 = REPO / "assignments" / "hw3"
cifar10 = import_homework("hw3", "cifar10")

pytestmark = pytest.mark.usefixtures("loopback_only")  # tests/assignments/conftest.py


def batch(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    return cifar10.synthetic_images(labels, g), labels


def opcodes(data: bytes) -> list[tuple[str, object]]:
    return [(op.name, arg) for op, arg, _ in pickletools.genops(data)]


# --- the format: round trip, layout, opcodes -----------------------------------------------


def test_round_trip(tmp_path):
    folder = cifar10.write_cifar10(tmp_path, per_batch=23, seed=1)
    assert sorted(p.name for p in folder.iterdir()) == sorted(cifar10.MEMBERS)
    images, labels = cifar10.load_cifar10(tmp_path, "train")
    assert images.dtype == torch.uint8 and tuple(images.shape) == (5 * 23, 3, 32, 32)  # N read from the files
    assert labels.dtype == torch.int64 and tuple(labels.shape) == (5 * 23,)
    test_images, test_labels = cifar10.load_cifar10(tmp_path, "test")
    assert tuple(test_images.shape) == (23, 3, 32, 32) and tuple(test_labels.shape) == (23,)
    assert cifar10.load_label_names(tmp_path) == list(cifar10.CLASSES)
    written_images, written_labels = batch(37, seed=2)
    path = cifar10.write_batch(tmp_path / "one", written_images, written_labels, "training batch 1 of 5")
    got_images, got_labels = cifar10.read_batch(path)
    assert torch.equal(got_images, written_images) and torch.equal(got_labels, written_labels)


def test_pixel_layout_is_the_published_one(tmp_path):
    """Row i of 'data' holds 1024 red, then 1024 green, then 1024 blue values, each plane row-major."""
    images = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    images[1, 0, 0, 1] = 7  # red, row 0, column 1
    images[1, 1, 2, 3] = 9  # green, row 2, column 3
    images[1, 2, 31, 31] = 11  # blue, last pixel
    path = cifar10.write_batch(tmp_path / "b", images, torch.tensor([3, 5]), "b")
    raw = pickle.loads(path.read_bytes(), encoding="latin1")["data"]  # trusted here: written by this test
    assert raw.shape == (2, 3072) and raw.dtype == np.uint8
    assert raw[1, 1] == 7 and raw[1, 1024 + 2 * 32 + 3] == 9 and raw[1, 3071] == 11 and raw.sum() == 27
    assert torch.equal(cifar10.read_batch(path)[0], images)


def test_writer_emits_python2_opcodes(tmp_path):
    images, labels = batch(300)  # 300 labels and filenames: more than 256 memo entries, LONG_BINPUT
    path = cifar10.write_batch(tmp_path / "b", images, labels, "training batch 1 of 5")
    data = path.read_bytes()
    ops = opcodes(data)
    names = {name for name, _ in ops}
    assert ops[0] == ("PROTO", 2) and ops[-1] == ("STOP", None)
    assert {"SHORT_BINSTRING", "BINSTRING", "GLOBAL", "REDUCE", "BUILD", "LONG_BINPUT"} <= names
    assert not names & {"BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE", "BINBYTES",
                        "SHORT_BINBYTES", "BINBYTES8", "STACK_GLOBAL", "FRAME", "MEMOIZE"}  # Python 3 only
    assert [arg for name, arg in ops if name == "GLOBAL"] == [
        "numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"]  # the array, as numpy 1 pickled it
    binstrings = [arg for name, arg in ops if name == "BINSTRING"]
    assert [len(s) for s in binstrings] == [300 * 3072]  # the pixels, one latin1 byte string
    # Loaded with encoding='latin1' the keys are str, with encoding='bytes' bytes: as for the real files.
    plain = pickle.loads(data, encoding="latin1")
    assert list(plain) == ["data", "labels", "batch_label", "filenames"]
    assert plain["batch_label"] == "training batch 1 of 5" and plain["labels"] == labels.tolist()
    assert isinstance(plain["data"], np.ndarray) and np.array_equal(plain["data"], images.reshape(300, -1).numpy())
    assert list(pickle.loads(data, encoding="bytes"))[:2] == [b"data", b"labels"]
    # Python 3's own pickler cannot write this: str become unicode, and protocol 2 pickles bytes by a global
    python3 = {name for name, _ in opcodes(pickle.dumps({"data": b"\x00", "batch_label": "x"}, protocol=2))}
    assert "BINUNICODE" in python3 and "SHORT_BINSTRING" not in python3


def test_meta_file(tmp_path):
    path = cifar10.write_meta(tmp_path / "batches.meta", 10000)
    plain = pickle.loads(path.read_bytes(), encoding="latin1")
    assert plain == {"num_cases_per_batch": 10000, "label_names": list(cifar10.CLASSES), "num_vis": 3072}
    assert {name for name, _ in opcodes(path.read_bytes())} & {"GLOBAL", "BINUNICODE"} == set()


def test_python3_pickles_of_the_same_dict_are_read_too(tmp_path):
    """A batch re-saved by Python 3 and numpy 2 (protocol 4) references numpy._core: still only the three globals."""
    images, labels = batch(5)
    content = {"data": images.reshape(5, -1).numpy(), "labels": labels.tolist(), "batch_label": "x", "filenames": []}
    path = tmp_path / "p4"
    path.write_bytes(pickle.dumps(content, protocol=4))
    got_images, got_labels = cifar10.read_batch(path)
    assert torch.equal(got_images, images) and torch.equal(got_labels, labels)


# --- refusing what is not a CIFAR-10 batch -------------------------------------------------


class _RunsCode:
    """Unpickling this runs `exec`, which writes the marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').write('ran')",)


@pytest.mark.parametrize("where", ["top", "inside_data", "as_label"])
def test_hostile_file_is_refused_and_not_run(tmp_path, where):
    marker = tmp_path / "marker"
    payload = _RunsCode(str(marker))
    content = {"top": payload,
               "inside_data": {"data": payload, "labels": [1]},
               "as_label": {"labels": [payload], "data": np.zeros((1, 3072), np.uint8)}}[where]
    data = pickle.dumps(content, protocol=2)
    path = tmp_path / "data_batch_1"
    path.write_bytes(data)
    with pytest.raises(cifar10.DatasetError, match="refused") as error:
        cifar10.read_batch(path)
    assert str(path) in str(error.value) and "builtin__.exec" in str(error.value)  # protocol 2: Python 2 names
    assert not marker.exists(), "the hostile pickle ran while being refused"
    pickle.loads(data)  # the payload is live: a plain unpickler runs it
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("module, name", [
    ("posix", "system"), ("os", "system"), ("builtins", "eval"), ("numpy", "load"),
    ("numpy.core.multiarray", "scalar"), ("_codecs", "encode"), ("copyreg", "_reconstructor"),
    ("numpy.core.numeric", "_frombuffer"),
])  # fmt: skip
def test_only_the_three_numpy_globals_resolve(tmp_path, module, name):
    path = tmp_path / "test_batch"
    path.write_bytes(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b").")  # GLOBAL, EMPTY_TUPLE, STOP
    with pytest.raises(cifar10.DatasetError, match=f"refused.*{module}.{name}") as error:
        cifar10.read_batch(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("stream, problem", [
    (b"\x80\x02cnumpy\nndarray\nK\x05\x85R.", "damaged"),  # ndarray((5,)): the marker is not callable
    (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01O\x87R.", "refused"),
    (b"\x80\x02cnumpy\ndtype\nU\x02f8K\x00K\x01\x87R.", "refused"),  # float64: not in CIFAR-10
    (b"\x80\x02cnumpy\ndtype\nU\x01OK\x00K\x01\x87R.", "refused"),  # object arrays would hold pickled objects
    (b"\x80\x02cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|N}NK\x01K\x01K\x00tb.", "refused"),  # fields
])  # fmt: skip
def test_allowed_globals_accept_only_their_cifar_arguments(tmp_path, stream, problem):
    path = tmp_path / "data_batch_2"
    path.write_bytes(stream)
    with pytest.raises(cifar10.DatasetError, match=problem) as error:
        cifar10.read_batch(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("cut", [1, 2, 40, 200, 2000, -300, -2])
def test_truncated_file_is_a_clear_error(tmp_path, cut):
    images, labels = batch(4)
    full = cifar10.write_batch(tmp_path / "full", images, labels, "b").read_bytes()
    path = tmp_path / "data_batch_3"
    path.write_bytes(full[:cut])
    with pytest.raises(cifar10.DatasetError, match="damaged|refused") as error:
        cifar10.read_batch(path)
    assert str(path) in str(error.value)


def _write_content(path, content) -> None:
    path.write_bytes(cifar10.py2_pickle(content))


@pytest.mark.parametrize("content, problem", [
    ({"labels": [1]}, "no 'data'"),
    ({"data": np.zeros((2, 3072), np.uint8)}, "no 'labels'"),
    ({"data": np.zeros((2, 100), np.uint8), "labels": [1, 2]}, r"\(N, 3072\)"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [1]}, "list of 2 ints"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [1, 10]}, "in 0..9"),
    ({"data": "not an array", "labels": [1]}, "must be a uint8 array"),
])  # fmt: skip
def test_mistyped_batch_is_a_clear_error(tmp_path, content, problem):
    path = tmp_path / "data_batch_4"
    _write_content(path, content)
    with pytest.raises(cifar10.DatasetError, match=problem) as error:
        cifar10.read_batch(path)
    assert str(path) in str(error.value)


def test_pickle_of_something_else_is_a_clear_error(tmp_path):
    path = tmp_path / "data_batch_5"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(cifar10.DatasetError, match="not a CIFAR-10 file") as error:
        cifar10.read_batch(path)
    assert str(path) in str(error.value)
    path.write_bytes(b"\x89PNG\r\n\x1a\n not a pickle at all")  # NEWFALSE, then PERSID
    with pytest.raises(cifar10.DatasetError, match="refused"):
        cifar10.read_batch(path)
    path.write_bytes(b"hello, world")  # BINGET of a memo entry that does not exist
    with pytest.raises(cifar10.DatasetError, match="damaged"):
        cifar10.read_batch(path)


def test_missing_file_is_named(tmp_path):
    folder = cifar10.write_cifar10(tmp_path, per_batch=10)
    (folder / "data_batch_4").unlink()
    with pytest.raises(cifar10.DatasetError, match=r"data_batch_4 is missing.*download"):
        cifar10.load_cifar10(tmp_path, "train")
    with pytest.raises(ValueError, match="unknown split"):
        cifar10.load_cifar10(tmp_path, "valid")


def test_to_unit_range():
    got = cifar10.to_unit_range(torch.tensor([0, 255, 51], dtype=torch.uint8))
    assert got.dtype == torch.float32 and torch.allclose(got, torch.tensor([-1.0, 1.0, -0.6]))


# --- downloading ---------------------------------------------------------------------------


def make_archive(source_folder, *, drop: tuple[str, ...] = (), extra: dict[str, bytes] | None = None,
                 link: str | None = None) -> bytes:
    """A .tar.gz laid out like cifar-10-python.tar.gz (cifar-10-batches-py/..., readme.html)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in cifar10.MEMBERS:
            if name in drop:
                continue
            if name == link:  # a symbolic link instead of the file
                info = tarfile.TarInfo(f"{cifar10.FOLDER}/{name}")
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
                continue
            tar.add(source_folder / name, arcname=f"{cifar10.FOLDER}/{name}")
        for name, data in {f"{cifar10.FOLDER}/readme.html": b"<html></html>", **(extra or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def checks(archive: bytes) -> dict:
    return dict(md5=hashlib.md5(archive).hexdigest(), sha256=hashlib.sha256(archive).hexdigest(), size=len(archive))


def test_download_checks_and_unpacks(tmp_path, server):
    served, url = server
    source = cifar10.write_cifar10(tmp_path / "source", per_batch=12, seed=3)
    archive = make_archive(source, extra={"../../escape.txt": b"not extracted", f"{cifar10.FOLDER}/extra": b"x"})
    (served / cifar10.ARCHIVE).write_bytes(archive)
    root = tmp_path / "data"
    folder = cifar10.download(root, urls=[f"{url}/{cifar10.ARCHIVE}"], **checks(archive))
    assert sorted(p.name for p in folder.iterdir()) == sorted(cifar10.MEMBERS)  # no readme, no extra, no .part
    assert sorted(p.name for p in root.iterdir()) == [cifar10.FOLDER]  # the archive is gone
    assert not list(tmp_path.rglob("escape.txt"))
    for name in cifar10.MEMBERS:
        assert (folder / name).read_bytes() == (source / name).read_bytes()
    assert torch.equal(cifar10.load_cifar10(root, "test")[0], cifar10.load_cifar10(tmp_path / "source", "test")[0])


@pytest.mark.parametrize("wrong", ["md5", "sha256", "size"])
def test_download_rejects_a_bad_checksum_and_removes_it(tmp_path, server, wrong):
    served, url = server
    archive = make_archive(cifar10.write_cifar10(tmp_path / "source", per_batch=10))
    (served / cifar10.ARCHIVE).write_bytes(archive)
    expected = checks(archive)
    expected[wrong] = {"md5": "0" * 32, "sha256": "0" * 64, "size": len(archive) + 1}[wrong]
    root = tmp_path / "data"
    with pytest.raises(cifar10.DatasetError, match="checksum mismatch") as error:
        cifar10.download(root, urls=[f"{url}/{cifar10.ARCHIVE}"], **expected)
    assert "deleted" in str(error.value)
    assert list(root.iterdir()) == []  # no partial download, no archive, no batch


def test_download_stops_at_more_bytes_than_expected(tmp_path, server):
    served, url = server
    archive = make_archive(cifar10.write_cifar10(tmp_path / "source", per_batch=10))
    (served / cifar10.ARCHIVE).write_bytes(archive)
    root = tmp_path / "data"
    with pytest.raises(cifar10.DatasetError, match="more than the expected"):
        cifar10.download(root, urls=[f"{url}/{cifar10.ARCHIVE}"], **{**checks(archive), "size": 100})
    assert list(root.iterdir()) == []


def test_download_falls_back_and_reports_every_failure(tmp_path, server):
    served, url = server
    archive = make_archive(cifar10.write_cifar10(tmp_path / "source", per_batch=10))
    (served / "mirror").mkdir()
    (served / "mirror" / cifar10.ARCHIVE).write_bytes(archive)
    folder = cifar10.download(tmp_path / "a", urls=[f"{url}/missing.tar.gz", f"{url}/mirror/{cifar10.ARCHIVE}"],
                              **checks(archive))
    assert all((folder / name).is_file() for name in cifar10.MEMBERS)
    with pytest.raises(cifar10.DatasetError) as error:
        cifar10.download(tmp_path / "b", urls=[f"{url}/missing.tar.gz", "http://192.0.2.1/c.tar.gz"], **checks(archive))
    message = str(error.value)
    assert "missing.tar.gz" in message and "404" in message
    assert "192.0.2.1" in message and "only 127.0.0.1 is allowed" in message  # refused here, never sent
    assert not any((tmp_path / "b").iterdir())


@pytest.mark.parametrize("damage", ["member_missing", "member_is_a_link", "not_a_tar"])
def test_download_rejects_an_archive_without_the_files(tmp_path, server, damage):
    served, url = server
    source = cifar10.write_cifar10(tmp_path / "source", per_batch=10)
    archive = {"member_missing": lambda: make_archive(source, drop=("test_batch",)),
               "member_is_a_link": lambda: make_archive(source, link="data_batch_1"),
               "not_a_tar": lambda: b"<html>an error page</html>"}[damage]()
    (served / cifar10.ARCHIVE).write_bytes(archive)
    root = tmp_path / "data"
    with pytest.raises(cifar10.DatasetError, match="cannot unpack|not a regular file"):
        cifar10.download(root, urls=[f"{url}/{cifar10.ARCHIVE}"], **checks(archive))
    assert not (root / cifar10.ARCHIVE).exists()
    assert not list(root.rglob("*.part")) and not list(root.rglob("data_batch_*"))


def test_download_skips_when_present(tmp_path):
    folder = cifar10.write_cifar10(tmp_path, per_batch=10)
    assert cifar10.download(tmp_path, urls=["http://192.0.2.1/never.tar.gz"]) == folder  # not contacted


def test_published_archive_constants():
    assert cifar10.URLS == ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)
    assert cifar10.ARCHIVE_MD5 == "c58f30108f718f92721af3b95e74349a"  # the CIFAR page; torchvision's tgz_md5
    assert cifar10.ARCHIVE_SHA256 == "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # Keras
    assert cifar10.ARCHIVE_SIZE == 170_498_071
    assert cifar10.MEMBERS == ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                               "test_batch", "batches.meta")
