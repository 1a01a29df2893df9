"""hw2's provided data module: the MNIST idx and binarized-MNIST loaders, binarisation, writers, download.

mnist.py is imported by path from assignments/hw2 (a homework file, not part of the
autograder package). Every file read here is written by the module's own writers or by
hand, in the published formats. The download is tested against an HTTP server on
127.0.0.1 started here; every other connection is refused, so no test can reach the internet.
"""

from __future__ import annotations

import gzip
import hashlib
import struct

import pytest
import torch

from tests.conftest import REPO, import_homework

HW2 = REPO / "assignments" / "hw2"
mnist = import_homework("hw2", "mnist")

pytestmark = pytest.mark.usefixtures("loopback_only")  # tests/assignments/conftest.py


def images_header(n: int, rows: int = 28, cols: int = 28, magic: int = 2051) -> bytes:
    return struct.pack(">iiii", magic, n, rows, cols)


def checksums(data: bytes) -> dict:
    return dict(md5=hashlib.md5(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest(), size=len(data))


# --- idx files ---------------------------------------------------------------------------


def test_reads_a_hand_made_idx_file(tmp_path):
    pixels = bytes(range(256)) * 6 + bytes(32)  # 2 images of 784 bytes, written by hand, big-endian header
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02"
                                                      + b"\x00\x00\x00\x1c" * 2 + pixels)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x02\x07\x00")
    images, labels = mnist.load_mnist(tmp_path, "test")
    assert images.dtype == torch.uint8 and images.shape == (2, 1, 28, 28)
    assert images[0, 0, 0, :3].tolist() == [0, 1, 2] and images[0, 0, 9, 5].item() == 257 % 256  # row-major
    assert images.reshape(-1).tolist() == list(pixels)
    assert labels.dtype == torch.int64 and labels.tolist() == [7, 0]


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    paths = mnist.write_mnist(tmp_path, sizes={"train": 300, "test": 50}, seed=3, gz=gz)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        name + (".gz" if gz else "") for split in mnist.SPLITS for name in mnist.idx_names(split))
    for index, split in enumerate(("train", "test")):
        images, labels = mnist.load_mnist(tmp_path, split)
        expected_images, expected_labels = mnist.synthetic_digits({"train": 300, "test": 50}[split], 3000 + index)
        assert torch.equal(images, expected_images) and torch.equal(labels, expected_labels)
        assert paths[split][0].read_bytes()[:2] == (b"\x1f\x8b" if gz else b"\x00\x00")


def test_gzip_is_recognised_by_content(tmp_path):
    images, _ = mnist.synthetic_digits(5, seed=0)
    mnist.write_idx_images(tmp_path / "a.gz", images)
    (tmp_path / "a.gz").rename(tmp_path / "train-images-idx3-ubyte")  # gzipped under the plain name
    assert torch.equal(mnist.read_idx_images(tmp_path / "train-images-idx3-ubyte"), images)


def test_plain_file_is_preferred_to_gz(tmp_path):
    images, _ = mnist.synthetic_digits(4, seed=0)
    mnist.write_idx_images(tmp_path / "train-images-idx3-ubyte", images)
    mnist.write_idx_images(tmp_path / "train-images-idx3-ubyte.gz", images[:2])
    assert mnist.find_idx(tmp_path, "train-images-idx3-ubyte").name == "train-images-idx3-ubyte"


def test_missing_idx_file_is_named(tmp_path):
    mnist.write_idx_images(tmp_path / "train-images-idx3-ubyte.gz", mnist.synthetic_digits(3)[0])
    with pytest.raises(mnist.DatasetError, match=r"train-labels-idx1-ubyte \(or train-labels-idx1-ubyte.gz\) "
                                                 r"is missing.*python mnist.py"):
        mnist.load_mnist(tmp_path, "train")


@pytest.mark.parametrize("content, problem", [
    (images_header(2, magic=2049) + bytes(2 * 784), "magic number 2049, expected 2051"),
    (images_header(2) + bytes(2 * 784 - 1), "truncated: its header says 2 images"),
    (images_header(2) + bytes(2 * 784 + 5), "5 bytes follow the 2 images"),
    (images_header(2, 32, 32) + bytes(2 * 1024), "32x32 images, expected 28x28"),
    (images_header(1)[:10], "shorter than the 16-byte idx header"),
    (b"", "shorter than the 16-byte idx header"),
    (gzip.compress(images_header(1) + bytes(784))[:-12], "not a complete gzip file"),
])
def test_damaged_images_file_is_named(tmp_path, content, problem):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(mnist.DatasetError, match=problem) as error:
        mnist.read_idx_images(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("content, problem", [
    (struct.pack(">ii", 2051, 3) + bytes(3), "magic number 2051, expected 2049"),
    (struct.pack(">ii", 2049, 3) + bytes(2), "truncated: its header says 3 labels"),
    (struct.pack(">ii", 2049, 3) + bytes([1, 2, 10]), "label 10 at index 2 is not a digit"),
    (b"\x00\x00\x08", "shorter than the 8-byte idx header"),
])
def test_damaged_labels_file_is_named(tmp_path, content, problem):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(mnist.DatasetError, match=problem) as error:
        mnist.read_idx_labels(path)
    assert str(path) in str(error.value)


def test_images_and_labels_must_agree_in_number(tmp_path):
    images, labels = mnist.synthetic_digits(10, seed=1)
    mnist.write_idx_images(tmp_path / "train-images-idx3-ubyte", images)
    mnist.write_idx_labels(tmp_path / "train-labels-idx1-ubyte", labels[:9])
    with pytest.raises(mnist.DatasetError, match="10 images but .* 9 labels") as error:
        mnist.load_mnist(tmp_path, "train")
    assert "train-images-idx3-ubyte" in str(error.value) and "train-labels-idx1-ubyte" in str(error.value)


def test_unknown_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown split"):
        mnist.load_mnist(tmp_path, "valid")  # MNIST's idx files have no validation split
    with pytest.raises(ValueError, match="unknown split"):
        mnist.amat_path(tmp_path, "dev")


# --- binarized MNIST ---------------------------------------------------------------------


def test_reads_a_hand_made_amat_file(tmp_path):
    first = ["0"] * 784
    first[29] = "1"  # row 1, column 1
    second = ["1"] * 784
    path = tmp_path / "binarized_mnist_valid.amat"
    path.write_text(" ".join(first) + "\n" + " ".join(second) + "\n")
    images = mnist.read_amat(path)
    assert images.dtype == torch.uint8 and images.shape == (2, 1, 28, 28)
    assert images[0].sum().item() == 1 and images[0, 0, 1, 1].item() == 1 and images[1].sum().item() == 784


def test_amat_with_other_spacing_reads_the_same(tmp_path):
    bits = mnist.threshold(mnist.synthetic_digits(3, seed=2)[0]).to(torch.uint8)
    path = tmp_path / "binarized_mnist_test.amat"
    path.write_text("".join("  ".join(map(str, row)) + " \r\n" for row in bits.reshape(3, -1).tolist()))
    assert torch.equal(mnist.read_amat(path), bits)


def test_amat_round_trip(tmp_path):
    sizes = {"train": 200, "valid": 40, "test": 30}
    paths = mnist.write_binarized_mnist(tmp_path, sizes=sizes, seed=1)
    splits = mnist.load_binarized_mnist(tmp_path)
    assert list(splits) == ["train", "valid", "test"]
    for split, images in splits.items():
        assert images.shape == (sizes[split], 1, 28, 28) and set(images.unique().tolist()) == {0, 1}
        assert paths[split].stat().st_size == sizes[split] * 1568  # the published layout, byte for byte
        mnist.write_amat(tmp_path / "again.amat", images)
        assert (tmp_path / "again.amat").read_bytes() == paths[split].read_bytes()


@pytest.mark.parametrize("line, problem", [
    (" ".join(["0"] * 783), "line 2: 783 values, expected 784"),
    (" ".join(["0"] * 785), "line 2: 785 values, expected 784"),
    (" ".join(["0"] * 783 + ["2"]), "line 2: value '2' is not 0 or 1"),
    (" ".join(["0"] * 783 + ["0.5"]), "line 2: value '0.5' is not 0 or 1"),
])
def test_damaged_amat_line_is_named(tmp_path, line, problem):
    path = tmp_path / "binarized_mnist_train.amat"
    path.write_text(" ".join(["1"] * 784) + "\n" + line + "\n" + " ".join(["0"] * 784) + "\n")
    with pytest.raises(mnist.DatasetError, match=problem) as error:
        mnist.read_amat(path)
    assert str(path) in str(error.value)


def test_truncated_and_missing_amat_files_are_named(tmp_path):
    path = tmp_path / "binarized_mnist_train.amat"
    path.write_bytes(b"0 1 " * 200)  # cut off in the first line
    with pytest.raises(mnist.DatasetError, match="line 1: 400 values") as error:
        mnist.read_amat(path)
    assert str(path) in str(error.value)
    path.write_bytes(b"")
    with pytest.raises(mnist.DatasetError, match="is empty"):
        mnist.read_amat(path)
    mnist.write_amat(path, torch.zeros(2, 784))
    with pytest.raises(mnist.DatasetError, match=r"binarized_mnist_valid\.amat is missing.*python mnist.py"):
        mnist.load_binarized_mnist(tmp_path)


# --- grey levels, binarisation, generated digits ---------------------------------------------


def test_to_float_and_threshold():
    images = torch.tensor([0, 127, 128, 255], dtype=torch.uint8).view(1, 1, 2, 2)
    x = mnist.to_float(images)
    assert x.dtype == torch.float32 and torch.equal(x.view(-1), torch.tensor([0, 127, 128, 255]) / 255.0)
    assert mnist.threshold(images).view(-1).tolist() == [0.0, 0.0, 1.0, 1.0]
    assert mnist.threshold(images, level=0.9).view(-1).tolist() == [0.0, 0.0, 0.0, 1.0]


def test_dynamic_binarisation_is_bernoulli_of_the_grey_levels():
    images = torch.tensor([0, 51, 204, 255], dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 1, 28, 28)
    images = images.repeat(50, 1, 1, 1)  # (200, 1, 28, 28): 39,200 pixels of each level
    x = mnist.dynamic_binarize(images, torch.Generator().manual_seed(0))
    assert x.dtype == torch.float32 and x.shape == images.shape and set(x.unique().tolist()) <= {0.0, 1.0}
    means = x.view(50, 4, -1).mean(dim=(0, 2))
    assert means[0] == 0 and means[3] == 1
    assert abs(means[1] - 0.2) < 0.01 and abs(means[2] - 0.8) < 0.01  # standard error 0.002
    again = mnist.dynamic_binarize(images, torch.Generator().manual_seed(0))
    other = mnist.dynamic_binarize(images, torch.Generator().manual_seed(1))
    assert torch.equal(x, again) and not torch.equal(x, other)  # the generator decides, nothing else


def test_synthetic_digits_look_like_mnist():
    images, labels = mnist.synthetic_digits(500, seed=0)
    assert images.dtype == torch.uint8 and images.shape == (500, 1, 28, 28) and labels.shape == (500,)
    assert set(labels.tolist()) == set(range(10))
    grey = mnist.to_float(images)
    assert 0.07 < grey.mean() < 0.2  # MNIST: 0.13
    assert int(images.max()) == 255 and bool(((images > 0) & (images < 255)).any())  # anti-aliased edges
    assert grey[:, :, :2].sum() == 0 and grey[:, :, -2:].sum() == 0  # an empty border, like MNIST's
    same, _ = mnist.synthetic_digits(500, seed=0)
    assert torch.equal(images, same) and not torch.equal(images, mnist.synthetic_digits(500, seed=1)[0])
    means = torch.stack([grey[labels == d].mean(0) for d in range(10)])  # ten distinct class templates
    assert torch.cdist(means.view(10, -1), means.view(10, -1)).add(100 * torch.eye(10)).min() > 2.0


def test_write_amat_refuses_grey_levels(tmp_path):
    with pytest.raises(ValueError, match="0/1 images"):
        mnist.write_amat(tmp_path / "x.amat", mnist.synthetic_digits(2)[0])


# --- downloading -------------------------------------------------------------------------


def serve_mnist(folder, sizes=None):
    """Write generated .gz idx files into `folder`; {name: checksums} as the published table would list them."""
    mnist.write_mnist(folder, sizes=sizes or {"train": 40, "test": 10}, seed=5)
    return {path.name: checksums(path.read_bytes()) for path in sorted(folder.iterdir())}


def test_download_checks_and_keeps_the_files(tmp_path, server):
    folder, url = server
    files = serve_mnist(folder)
    assert sorted(files) == sorted(mnist.MNIST_FILES)
    root = tmp_path / "data"
    paths = mnist.download(root, mirrors=[f"{url}/"], files=files)
    assert sorted(p.name for p in root.iterdir()) == sorted(mnist.MNIST_FILES)  # no .part left
    assert all(paths[name].read_bytes() == (folder / name).read_bytes() for name in files)
    images, labels = mnist.load_mnist(root, "train")
    assert images.shape == (40, 1, 28, 28) and labels.shape == (40,)


def test_download_rejects_a_bad_checksum_and_removes_it(tmp_path, server):
    folder, url = server
    files = serve_mnist(folder)
    name = "train-images-idx3-ubyte.gz"
    files[name] = dict(files[name], md5="0" * 32)  # sha256 and size still match: MD5 alone must refuse it
    root = tmp_path / "data"
    with pytest.raises(mnist.DatasetError, match="checksum mismatch") as error:
        mnist.download(root, mirrors=[url], files=files)
    assert f"could not download {name}" in str(error.value) and "deleted" in str(error.value)
    assert name not in [p.name for p in root.iterdir()] and not list(root.glob("*.part"))


@pytest.mark.parametrize("field, value", [("sha256", "0" * 64), ("size", 1)])
def test_download_checks_sha256_and_size(tmp_path, server, field, value):
    folder, url = server
    files = {name: dict(sums, **{field: value}) for name, sums in serve_mnist(folder).items()}
    root = tmp_path / "data"
    with pytest.raises(mnist.DatasetError, match="checksum mismatch"):
        mnist.download(root, mirrors=[url], files=files)
    assert list(root.iterdir()) == []


def test_download_falls_back_to_the_next_mirror(tmp_path, server):
    folder, url = server
    (folder / "good").mkdir()
    (folder / "bad").mkdir()
    files = serve_mnist(folder / "good")
    for name in files:  # a mirror that serves different bytes under the same names
        (folder / "bad" / name).write_bytes(b"<html>moved</html>")
    root = tmp_path / "data"
    paths = mnist.download(root, mirrors=[f"{url}/missing", f"{url}/bad", f"{url}/good"], files=files)
    assert all(p.read_bytes() == (folder / "good" / p.name).read_bytes() for p in paths.values())


def test_download_reports_every_failure(tmp_path, server):
    _, url = server
    files = {"t10k-labels-idx1-ubyte.gz": dict(md5="0" * 32)}
    with pytest.raises(mnist.DatasetError) as error:
        mnist.download(tmp_path / "data", mirrors=[url, "http://192.0.2.1/mnist"], files=files)
    message = str(error.value)
    assert "t10k-labels-idx1-ubyte.gz" in message and "404" in message
    assert "192.0.2.1" in message and "only 127.0.0.1 is allowed" in message  # refused here, never sent
    assert not any((tmp_path / "data").iterdir())


def test_download_binarized(tmp_path, server):
    folder, url = server
    mnist.write_binarized_mnist(folder, sizes={"train": 20, "valid": 5, "test": 5})
    files = {p.name: dict(sha256=hashlib.sha256(p.read_bytes()).hexdigest()) for p in folder.iterdir()}
    assert sorted(files) == sorted(mnist.BINARIZED_FILES)
    mnist.download(tmp_path, "binarized", mirrors=[url], files=files)
    assert {s: len(x) for s, x in mnist.load_binarized_mnist(tmp_path).items()} == {"train": 20, "valid": 5, "test": 5}


def test_download_skips_files_present(tmp_path):
    mnist.write_mnist(tmp_path, sizes={"train": 3, "test": 2}, gz=False)  # unpacked copies count as present
    paths = mnist.download(tmp_path, mirrors=["http://192.0.2.1/never"])  # not contacted
    assert sorted(p.name for p in paths.values()) == sorted(n for s in mnist.SPLITS for n in mnist.idx_names(s))


def test_published_constants():
    for table in (mnist.MNIST_FILES, mnist.BINARIZED_FILES):
        for sums in table.values():
            assert len(sums["sha256"]) == 64 and int(sums["sha256"], 16) >= 0 and sums["size"] > 0
    assert all(len(sums["md5"]) == 32 for sums in mnist.MNIST_FILES.values())
    assert all(size["size"] % 1568 == 0 for size in mnist.BINARIZED_FILES.values())  # whole lines
    assert mnist.MNIST_FILES["train-images-idx3-ubyte.gz"]["md5"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"  # torchvision
    assert all(url.endswith("/") for url in mnist.MNIST_MIRRORS + mnist.BINARIZED_MIRRORS)


@pytest.mark.slow
def test_full_size_files_load_quickly(tmp_path):
    """MNIST's real sizes (60,000 + 10,000; 50,000 amat lines) load in seconds through the fast paths."""
    images = torch.randint(0, 256, (60_000, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    mnist.write_idx_images(tmp_path / "train-images-idx3-ubyte.gz", images)
    mnist.write_idx_labels(tmp_path / "train-labels-idx1-ubyte.gz", torch.arange(60_000) % 10)
    bits = mnist.threshold(images[:50_000])
    mnist.write_amat(tmp_path / "binarized_mnist_train.amat", bits)
    loaded, labels = mnist.load_mnist(tmp_path, "train")
    assert torch.equal(loaded, images) and labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert (tmp_path / "binarized_mnist_train.amat").stat().st_size == 78_400_000  # the published file's size
    assert torch.equal(mnist.read_amat(tmp_path / "binarized_mnist_train.amat"), bits.to(torch.uint8))
