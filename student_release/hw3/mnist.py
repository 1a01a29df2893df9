"""MNIST for hw2: read the published idx and binarized-MNIST files, binarise, download, or generate look-alikes.

Two datasets, in their published formats:

- MNIST (LeCun et al. 1998): `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
  `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, plain or gzipped (`.gz`). An idx
  file starts with a big-endian header: images `2051, N, 28, 28`, labels `2049, N`
  (four-byte integers), then the uint8 pixels (row-major) or labels. 60,000 training and
  10,000 test images of grey levels 0..255.
- Binarized MNIST (Larochelle & Murray 2011, a fixed stochastic binarisation):
  `binarized_mnist_{train,valid,test}.amat`, one image per line, 784 space-separated 0/1
  (50,000 / 10,000 / 10,000 lines).

The sizes are read from the headers and counted from the lines, never assumed.

    >>> images, labels = load_mnist("data/mnist", "train")   # uint8 (N, 1, 28, 28), int64 (N,)
    >>> x = dynamic_binarize(images, torch.Generator().manual_seed(0))  # float 0/1, new each epoch
    >>> splits = load_binarized_mnist("data/mnist")          # {'train': uint8 0/1 (N, 1, 28, 28), ...}
    >>> download("data/mnist")                              # once, where the internet is reachable

`download` fetches each file from the official mirrors and checks its published MD5 and
SHA-256 before keeping it. Without the real files, `write_mnist` and `write_binarized_mnist`
write generated digit-like images in exactly these formats (`synthetic_digits`), so every
loader and experiment runs unchanged. A missing or damaged file is a `DatasetError` that
names the file and says what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

ROWS = COLS = 28
PIXELS = ROWS * COLS
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049  # 0x00000803: unsigned bytes, 3 dims; 0x00000801: 1 dim
SPLITS = ("train", "test")  # MNIST's idx files; "test" is the t10k pair
BINARIZED_SPLITS = ("train", "valid", "test")
PREFIX = {"train": "train", "test": "t10k"}
CHUNK = 1 << 20

# Published checksums of the gzipped idx files: MD5 from torchvision (torchvision/datasets/mnist.py,
# MNIST.resources), SHA-256 and size from TensorFlow Datasets (tensorflow_datasets/url_checksums/mnist.txt).
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": dict(md5="f68b3c2dcbeaaa9fbdd348bbdeb94873", size=9912422,
                                       sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": dict(md5="d53e105ee54ea40749a09fcbcd1e9432", size=28881,
                                       sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": dict(md5="9fb629c4189551a2d022fa330f9573f3", size=1648877,
                                      sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": dict(md5="ec29112dd5afa0611ce80d1b7f02629c", size=4542,
                                      sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
MNIST_MIRRORS = (  # tried in order; torchvision's S3 copy, then TensorFlow's, then the original site
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# Binarized MNIST: SHA-256 and size from TensorFlow Datasets (url_checksums/binarized_mnist.txt); no MD5
# is published. Each line is 784 digits, 783 spaces and a newline: 1568 bytes.
BINARIZED_FILES = {
    "binarized_mnist_train.amat": dict(size=78400000,
                                       sha256="ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d"),
    "binarized_mnist_valid.amat": dict(size=15680000,
                                       sha256="1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2"),
    "binarized_mnist_test.amat": dict(size=15680000,
                                      sha256="e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c"),
}
BINARIZED_MIRRORS = ("http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",)


class DatasetError(Exception):
    """A dataset file is missing or damaged, or could not be downloaded; the message says which."""


# --- file names --------------------------------------------------------------------------


def _check_split(split: str, known: Sequence[str]) -> None:
    if split not in known:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(known)})")


def idx_names(split: str) -> tuple[str, str]:
    """The (images, labels) file names of an MNIST split, without `.gz`."""
    _check_split(split, SPLITS)
    return f"{PREFIX[split]}-images-idx3-ubyte", f"{PREFIX[split]}-labels-idx1-ubyte"


def amat_path(root: str | Path, split: str) -> Path:
    _check_split(split, BINARIZED_SPLITS)
    return Path(root) / f"binarized_mnist_{split}.amat"


def find_idx(root: str | Path, name: str) -> Path:
    """`root/name` if it exists, else `root/name.gz`; a DatasetError naming both if neither does."""
    plain = Path(root) / name
    for path in (plain, plain.with_name(name + ".gz")):
        if path.is_file():
            return path
    raise DatasetError(f"{plain} (or {plain.name}.gz) is missing: put MNIST's idx files in {plain.parent} "
                       f"or run `python mnist.py {plain.parent}` to download them")


def _read_bytes(path: Path, how: str) -> bytes:
    """The file's bytes, gunzipped when they start with gzip's magic number."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing: {how}") from None
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read: {exc}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path} is damaged: not a complete gzip file ({exc}); download it again") from None
    return data


# --- MNIST idx files ---------------------------------------------------------------------


def read_idx_images(path: str | Path) -> torch.Tensor:
    """The images of one idx3 file: uint8 (N, 1, 28, 28), grey levels 0 (background) .. 255."""
    path = Path(path)
    data = _read_bytes(path, f"run `python mnist.py {path.parent}` to download MNIST")
    if len(data) < 16:
        raise DatasetError(f"{path} is damaged: {len(data)} bytes, shorter than the 16-byte idx header; "
                           "download it again")
    magic, n, rows, cols = struct.unpack(">iiii", data[:16])
    if magic != IMAGES_MAGIC:
        raise DatasetError(f"{path} is not an MNIST images file: magic number {magic}, expected {IMAGES_MAGIC} "
                           "(a labels file, or another format?); check the file name or download it again")
    if (rows, cols) != (ROWS, COLS):
        raise DatasetError(f"{path} holds {rows}x{cols} images, expected {ROWS}x{COLS}: not MNIST")
    _check_length(path, data, 16, n, PIXELS, "images")
    return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).view(n, 1, ROWS, COLS)


def read_idx_labels(path: str | Path) -> torch.Tensor:
    """The labels of one idx1 file: int64 (N,), digits 0..9."""
    path = Path(path)
    data = _read_bytes(path, f"run `python mnist.py {path.parent}` to download MNIST")
    if len(data) < 8:
        raise DatasetError(f"{path} is damaged: {len(data)} bytes, shorter than the 8-byte idx header; "
                           "download it again")
    magic, n = struct.unpack(">ii", data[:8])
    if magic != LABELS_MAGIC:
        raise DatasetError(f"{path} is not an MNIST labels file: magic number {magic}, expected {LABELS_MAGIC} "
                           "(an images file, or another format?); check the file name or download it again")
    _check_length(path, data, 8, n, 1, "labels")
    labels = torch.frombuffer(bytearray(data[8:]), dtype=torch.uint8).long()
    if labels.numel() and int(labels.max()) > 9:
        raise DatasetError(f"{path} is damaged: label {int(labels.max())} at index {int(labels.argmax())} "
                           "is not a digit; download it again")
    return labels


def _check_length(path: Path, data: bytes, header: int, n: int, item: int, what: str) -> None:
    expected = header + n * item
    if n < 0 or len(data) < expected:
        raise DatasetError(f"{path} is truncated: its header says {n} {what} ({expected} bytes) but it holds "
                           f"{len(data)} bytes; download it again")
    if len(data) > expected:
        raise DatasetError(f"{path} is damaged: {len(data) - expected} bytes follow the {n} {what} its header "
                           "announces; download it again")


def load_mnist(root: str | Path, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 1, 28, 28), labels int64 (N,)) of MNIST's `split` ("train" or "test") in `root`."""
    image_name, label_name = idx_names(split)
    image_path, label_path = find_idx(root, image_name), find_idx(root, label_name)
    images, labels = read_idx_images(image_path), read_idx_labels(label_path)
    if len(images) != len(labels):
        raise DatasetError(f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels: "
                           "the files come from different sets; download them again")
    return images, labels


# --- binarized MNIST (.amat) ---------------------------------------------------------------


def read_amat(path: str | Path) -> torch.Tensor:
    """The images of one binarized-MNIST `.amat` file: uint8 0/1, (N, 1, 28, 28), N = its number of lines."""
    path = Path(path)
    data = _read_bytes(path, f"put binarized_mnist_*.amat in {path.parent} or run "
                             f"`python mnist.py {path.parent}` to download them")
    line = 2 * PIXELS  # "d d ... d\n": 784 digits, 783 spaces, a newline
    if data and len(data) % line == 0:  # the published layout: check it all at once
        rows = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(-1, line)
        digits, gaps = rows[:, 0::2], rows[:, 1::2]
        if bool(((digits == ord("0")) | (digits == ord("1"))).all()) and bool((gaps[:, :-1] == ord(" ")).all()) \
                and bool((gaps[:, -1] == ord("\n")).all()):
            return (digits - ord("0")).view(-1, 1, ROWS, COLS).contiguous()
    return _parse_amat_lines(path, data)  # any other spacing, or an error to locate


def _parse_amat_lines(path: Path, data: bytes) -> torch.Tensor:
    """Line by line, so that a bad line is named: whitespace-separated 0/1, 784 per line."""
    lines = data.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()  # the newline that ends the last line
    if not lines:
        raise DatasetError(f"{path} is empty; download it again")
    images = torch.empty(len(lines), PIXELS, dtype=torch.uint8)
    for number, line in enumerate(lines, start=1):
        values = line.split()
        if len(values) != PIXELS:
            raise DatasetError(f"{path}, line {number}: {len(values)} values, expected {PIXELS} "
                               "(a truncated or damaged file); download it again")
        bad = next((v for v in values if v not in (b"0", b"1")), None)
        if bad is not None:
            raise DatasetError(f"{path}, line {number}: value {bad.decode('latin-1')!r} is not 0 or 1; "
                               "download it again")
        images[number - 1] = torch.tensor([v == b"1" for v in values], dtype=torch.uint8)
    return images.view(-1, 1, ROWS, COLS)


def load_binarized_mnist(root: str | Path, splits: Sequence[str] = BINARIZED_SPLITS) -> dict[str, torch.Tensor]:
    """{split: uint8 0/1 images (N, 1, 28, 28)} from `binarized_mnist_{split}.amat` in `root`."""
    return {split: read_amat(amat_path(root, split)) for split in splits}


# --- grey levels and binarisation ----------------------------------------------------------


def to_float(images: torch.Tensor) -> torch.Tensor:
    """Grey levels as float32 in [0, 1] (uint8 / 255; float input is returned as float32)."""
    return images.float() / 255 if images.dtype == torch.uint8 else images.float()


def dynamic_binarize(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """x ~ Bernoulli(grey level / 255) per pixel, drawn from `generator`: float32 0/1, same shape.

    Drawn afresh each epoch this is "dynamic" binarisation (more data, less overfitting than
    one fixed draw); NLLs on it are not comparable with those on the static binarized MNIST.
    """
    probs = to_float(images)
    return torch.bernoulli(probs, generator=generator)


def threshold(images: torch.Tensor, level: float = 0.5) -> torch.Tensor:
    """x = 1 where the grey level / 255 exceeds `level`: a deterministic binarisation, float32 0/1."""
    return (to_float(images) > level).float()


# --- generated look-alikes -----------------------------------------------------------------

_LOOP = [(math.cos(a), math.sin(a)) for a in torch.linspace(0, 2 * math.pi, 13).tolist()]


def _loop(cx: float, cy: float, rx: float, ry: float) -> list[tuple[float, float]]:
    return [(cx + rx * x, cy + ry * y) for x, y in _LOOP]


# Each digit as polylines in a box [-1, 1]^2 (x to the right, y down).
STROKES = {
    0: [_loop(0.0, 0.0, 0.5, 0.82)],
    1: [[(-0.25, -0.55), (0.05, -0.85), (0.05, 0.85)]],
    2: [[(-0.5, -0.45), (-0.2, -0.82), (0.25, -0.82), (0.5, -0.45), (0.3, -0.1), (-0.5, 0.8), (0.55, 0.8)]],
    3: [[(-0.45, -0.7), (0.1, -0.85), (0.45, -0.55), (0.0, -0.05), (0.5, 0.35), (0.1, 0.8), (-0.5, 0.65)]],
    4: [[(0.25, 0.85), (0.25, -0.85), (-0.55, 0.3), (0.55, 0.3)]],
    5: [[(0.45, -0.82), (-0.35, -0.82), (-0.42, -0.1), (0.2, -0.18), (0.48, 0.25), (0.2, 0.75), (-0.48, 0.65)]],
    6: [[(0.35, -0.85), (-0.3, -0.2), (-0.42, 0.4), (0.0, 0.82), (0.42, 0.45), (0.2, 0.0), (-0.38, 0.22)]],
    7: [[(-0.5, -0.8), (0.55, -0.8), (-0.1, 0.85)]],
    8: [_loop(0.0, -0.42, 0.34, 0.38), _loop(0.0, 0.38, 0.42, 0.45)],
    9: [_loop(0.0, -0.38, 0.4, 0.42), [(0.4, -0.38), (0.22, 0.85)]],
}


def _segments(digit: int) -> torch.Tensor:
    """(S, 2, 2): the end points of the strokes of `digit`, segment by segment."""
    return torch.tensor([(a, b) for line in STROKES[digit] for a, b in zip(line, line[1:])])


def synthetic_digits(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n digit-like grey images, uint8 (n, 1, 28, 28), and their labels int64 (n,), from `seed`.

    Each is one of ten stroke templates under a random affine map (scale, rotation, shear,
    shift) drawn with a random pen width and anti-aliased edges, centred in a 20x20 box like
    MNIST's. They are not MNIST, but they have its format, range and rough statistics, so a
    model that works on them runs unchanged on the real files.
    """
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=generator)
    u = torch.rand(n, 6, generator=generator)
    scale = 0.8 + 0.25 * u[:, 0]
    angle, shear = 0.35 * (u[:, 1] - 0.5), 0.4 * (u[:, 2] - 0.5)
    shift = 0.24 * (u[:, 3:5] - 0.5)  # (n, 2)
    width = 0.09 + 0.08 * u[:, 5]  # half the pen width, in box units (1 unit = 10 pixels)
    cos, sin = torch.cos(angle), torch.sin(angle)
    linear = scale[:, None, None] * torch.stack([torch.stack([cos, shear - sin], -1),
                                                 torch.stack([sin, cos], -1)], -2)  # (n, 2, 2)
    centre = (torch.arange(ROWS) - (ROWS - 1) / 2) / 10  # pixel centres in box units
    gy, gx = torch.meshgrid(centre, centre, indexing="ij")
    gx, gy = gx.reshape(1, 1, PIXELS), gy.reshape(1, 1, PIXELS)  # pixel p = row * 28 + column
    ink = torch.empty(n, PIXELS)
    for digit in range(10):
        rows = (labels == digit).nonzero().squeeze(1)
        for part in rows.split(1024):  # bounded memory: (1024, S, 784) floats at a time
            ends = torch.einsum("nij,sej->nsei", linear[part], _segments(digit)) + shift[part, None, None]
            ax, ay = ends[..., 0, 0, None], ends[..., 0, 1, None]  # (m, S, 1): segment starts
            dx, dy = ends[..., 1, 0, None] - ax, ends[..., 1, 1, None] - ay
            t = (((gx - ax) * dx + (gy - ay) * dy) / (dx * dx + dy * dy).clamp_min(1e-12)).clamp(0, 1)
            squared = ((gx - ax - t * dx) ** 2 + (gy - ay - t * dy) ** 2).amin(dim=1)  # (m, P) nearest stroke
            ink[part] = ((width[part, None] - squared.sqrt()) / 0.1 + 0.5).clamp(0, 1)  # a one-pixel soft edge
    images = (255 * ink).round().to(torch.uint8).view(n, 1, ROWS, COLS)
    return images, labels


# --- writers (files in exactly the published formats) ---------------------------------------


def _write(path: Path, data: bytes) -> Path:
    """Gzipped when the name ends in `.gz` (mtime 0: the same bytes every time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def write_idx_images(path: str | Path, images: torch.Tensor) -> Path:
    """Write uint8 images (N, 1, 28, 28) or (N, 28, 28) as an idx3 file (gzipped if `path` ends in .gz)."""
    images = images.reshape(-1, ROWS, COLS).to(torch.uint8).contiguous()
    return _write(Path(path), struct.pack(">iiii", IMAGES_MAGIC, len(images), ROWS, COLS) + images.numpy().tobytes())


def write_idx_labels(path: str | Path, labels: torch.Tensor) -> Path:
    labels = labels.reshape(-1).to(torch.uint8).contiguous()
    return _write(Path(path), struct.pack(">ii", LABELS_MAGIC, len(labels)) + labels.numpy().tobytes())


def write_amat(path: str | Path, images: torch.Tensor) -> Path:
    """Write 0/1 images (N, ..., 784 pixels in all) as a binarized-MNIST `.amat` file, one image per line."""
    bits = images.reshape(len(images), PIXELS).to(torch.uint8)
    if bool((bits > 1).any()):
        raise ValueError("write_amat needs 0/1 images: binarise them first")
    rows = torch.full((len(bits), 2 * PIXELS), ord(" "), dtype=torch.uint8)
    rows[:, 0::2] = bits + ord("0")
    rows[:, -1] = ord("\n")
    return _write(Path(path), rows.numpy().tobytes())


def write_mnist(root: str | Path, sizes: Mapping[str, int] | None = None, seed: int = 0,
                gz: bool = True) -> dict[str, tuple[Path, Path]]:
    """Generated digits (`synthetic_digits`) as MNIST's four idx files in `root`: {split: (images, labels)}."""
    sizes = dict(sizes or {"train": 6000, "test": 1000})
    paths = {}
    for index, (split, n) in enumerate(sizes.items()):
        images, labels = synthetic_digits(n, seed=1000 * seed + index)
        suffix = ".gz" if gz else ""
        image_name, label_name = idx_names(split)
        paths[split] = (write_idx_images(Path(root) / (image_name + suffix), images),
                        write_idx_labels(Path(root) / (label_name + suffix), labels))
    return paths


def write_binarized_mnist(root: str | Path, sizes: Mapping[str, int] | None = None, seed: int = 0) -> dict[str, Path]:
    """Generated digits, binarised once (static, like Larochelle's), as `binarized_mnist_{split}.amat`."""
    sizes = dict(sizes or {"train": 5000, "valid": 1000, "test": 1000})
    paths = {}
    for index, (split, n) in enumerate(sizes.items()):
        images, _ = synthetic_digits(n, seed=1000 * seed + 100 + index)
        bits = dynamic_binarize(images, torch.Generator().manual_seed(1000 * seed + 200 + index))
        paths[split] = write_amat(amat_path(root, split), bits)
    return paths


# --- downloading -----------------------------------------------------------------------------


def download(root: str | Path, dataset: str = "mnist", *, mirrors: Sequence[str] | None = None,
             files: Mapping[str, Mapping] | None = None, timeout: float = 60.0) -> dict[str, Path]:
    """Download `dataset` ("mnist": the four .gz idx files; "binarized": the three .amat) into `root`.

    Each file goes to `root/NAME.part` while it downloads and is kept (renamed to NAME) only
    if its size and every published checksum match; otherwise the part file is deleted and
    the next mirror is tried. The idx files stay gzipped (the loaders read them as they
    are). Files already present are not downloaded again. Returns {name: path}.
    """
    if dataset not in ("mnist", "binarized"):
        raise ValueError(f"unknown dataset {dataset!r} (known: mnist, binarized)")
    files = files if files is not None else (MNIST_FILES if dataset == "mnist" else BINARIZED_FILES)
    mirrors = mirrors if mirrors is not None else (MNIST_MIRRORS if dataset == "mnist" else BINARIZED_MIRRORS)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, expected in files.items():
        target = root / name
        if not target.is_file() and not (name.endswith(".gz") and target.with_suffix("").is_file()):
            problems = []
            for mirror in mirrors:
                try:
                    _fetch(mirror.rstrip("/") + "/" + name, target, expected, timeout)
                    break
                except DatasetError as exc:
                    problems.append(str(exc))
            else:
                raise DatasetError(f"could not download {name}:\n  " + "\n  ".join(problems))
        paths[name] = target if target.is_file() else target.with_suffix("")
    return paths


def _fetch(url: str, target: Path, expected: Mapping, timeout: float) -> None:
    """Download `url` to `target` through a `.part` file, or raise DatasetError and leave nothing."""
    partial = target.with_name(target.name + ".part")
    digests = {name: hashlib.new(name) for name in ("md5", "sha256") if name in expected}
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as sink:
            while chunk := response.read(CHUNK):
                size += len(chunk)
                for digest in digests.values():
                    digest.update(chunk)
                sink.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:  # HTTPError is a URLError
        partial.unlink(missing_ok=True)
        raise DatasetError(f"{url}: {exc}") from None
    wrong = [f"{name} {digest.hexdigest()}, expected {expected[name]}" for name, digest in digests.items()
             if digest.hexdigest() != expected[name]]
    if "size" in expected and size != expected["size"]:
        wrong.insert(0, f"{size} bytes, expected {expected['size']}")
    if wrong:
        partial.unlink()
        raise DatasetError(f"{url}: checksum mismatch ({'; '.join(wrong)}); the download was deleted")
    os.replace(partial, target)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Download MNIST (idx, gzipped) and binarized MNIST into a folder.")
    parser.add_argument("folder")
    parser.add_argument("--only", choices=["mnist", "binarized"], help="download just one of the two")
    args = parser.parse_args()
    for which in [args.only] if args.only else ["mnist", "binarized"]:
        download(args.folder, which)
    if args.only != "binarized":
        for split in SPLITS:
            images, labels = load_mnist(args.folder, split)
            print(f"MNIST {split}: {len(images)} images, {len(labels)} labels")
    if args.only != "mnist":
        for split, images in load_binarized_mnist(args.folder).items():
            print(f"binarized MNIST {split}: {len(images)} images")
