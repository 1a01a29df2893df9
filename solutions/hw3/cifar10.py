"""CIFAR-10 for hw3 (given): read the published python batches without running them, download them, write look-alikes.

The python version of CIFAR-10 (Krizhevsky 2009) unpacks into `cifar-10-batches-py/`:
`data_batch_1` .. `data_batch_5` (training), `test_batch` and `batches.meta`. Each batch is
a Python 2 pickle (protocol 2, written by cPickle) of a dict:

    'data'        numpy uint8 array (N, 3072): per image 1024 red, 1024 green, 1024 blue
                  values, each channel row-major 32 x 32
    'labels'      list of N ints in 0..9
    'batch_label' str, e.g. 'training batch 1 of 5'
    'filenames'   list of N str

and `batches.meta` holds {'num_cases_per_batch', 'label_names', 'num_vis'}. Keys and strings
are Python 2 byte strings (SHORT_BINSTRING / BINSTRING opcodes); read with
`encoding='latin1'` they come back as str, and the array's raw bytes come back as a latin1
str that numpy would re-encode.

    >>> images, labels = load_cifar10("data", "train")   # uint8 (N, 3, 32, 32), int64 (N,)
    >>> x = to_unit_range(images)                        # float32 in [-1, 1], like the generators
    >>> download("data")                                 # once, where the internet is reachable

A pickle can run any code while it loads, so batches are read by `BatchUnpickler`, which
resolves only the three globals that these files reference (numpy's `_reconstruct`,
`ndarray` and `dtype`, for the 'data' array) and rebuilds the array itself from the raw bytes:
nothing named in the file is ever called. Anything else (a hostile file, a damaged one, a
pickle of something else) is a `DatasetError` that names the file. N is read from each file.

`download` fetches the official archive, checks its size, MD5 and SHA-256 before unpacking,
and extracts only the seven expected files. `write_batch`, `write_meta` and `write_cifar10`
write files in exactly the published format (for tests, and to try everything offline).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import struct
import tarfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
META = "batches.meta"
SPLITS = {"train": TRAIN_BATCHES, "test": TEST_BATCHES}
CHANNELS, HEIGHT, WIDTH = 3, 32, 32
PIXELS = CHANNELS * HEIGHT * WIDTH  # 3072 values per image in the file
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# The official archive: MD5 as published on https://www.cs.toronto.edu/~kriz/cifar.html (and in
# torchvision's datasets/cifar.py, `tgz_md5`); SHA-256 as in Keras' datasets/cifar10.py (`file_hash`).
ARCHIVE = "cifar-10-python.tar.gz"
URLS = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
ARCHIVE_SIZE = 170_498_071
MEMBERS = (*TRAIN_BATCHES, *TEST_BATCHES, META)  # the files kept from the archive (not readme.html)
CHUNK = 1 << 20


class DatasetError(Exception):
    """A dataset file is missing, damaged or refused, or could not be downloaded; the message says which."""


# -----------------------------------------------------------------------------
# Reading: a restricted unpickler that only understands what CIFAR-10 batches contain.

class _Refused(pickle.UnpicklingError):
    """The file asked for something a CIFAR-10 batch never contains."""


class _NDArrayType:
    """Stands for the global numpy.ndarray: only a marker passed to `_reconstruct`, never callable."""


_NDARRAY = _NDArrayType()


class _DType:
    """Stands for numpy.dtype('u1') while unpickling; checks the state the file gives it."""

    def __setstate__(self, state) -> None:
        # numpy's dtype state, e.g. (3, '|', None, None, None, -1, -1, 0): (version, byte order, subarray,
        # names, fields, elsize, alignment, flags); older and newer numpy add or drop entries at the ends.
        # The stand-in does not use it: 'u1' was already checked. A structured dtype (fields) is refused.
        if not (isinstance(state, tuple) and all(v is None or type(v) in (int, str, bytes) for v in state)):
            raise _Refused("the array's dtype is not plain uint8")


class _Array:
    """Stands for the numpy array while unpickling: checks its state and keeps a uint8 numpy array."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state) -> None:
        # numpy's ndarray state: (version, shape, dtype, is_fortran, raw bytes)
        if not (isinstance(state, tuple) and len(state) == 5):
            raise _Refused("the array's state is not (version, shape, dtype, fortran, data)")
        version, shape, dtype, fortran, data = state
        if version != 1 or not isinstance(dtype, _DType) or fortran not in (False, True, 0, 1):
            raise _Refused("the array is not a uint8 array")
        if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)):
            raise _Refused(f"the array's shape {shape!r} is not a tuple of sizes")
        raw = data.encode("latin1") if isinstance(data, str) else data  # latin1: each char is one byte
        if not isinstance(raw, bytes) or len(raw) != math.prod(shape):
            raise _Refused(f"the array holds {len(raw) if isinstance(raw, bytes) else 'no'} bytes for shape {shape}")
        self.array = np.frombuffer(raw, dtype=np.uint8).reshape(shape, order="F" if fortran else "C")


def _reconstruct(subtype, shape, code) -> _Array:
    """numpy.core.multiarray._reconstruct(ndarray, (0,), 'b'), as numpy pickles every array."""
    if subtype is not _NDARRAY or shape != (0,) or code not in ("b", b"b"):
        raise _Refused("unexpected arguments to numpy's _reconstruct")
    return _Array()


def _dtype(code, align, copy) -> _DType:
    """numpy.dtype('u1', 0, 1): the only dtype in CIFAR-10 batches."""
    if code not in ("u1", b"u1") or align not in (0, False) or copy not in (1, True):
        raise _Refused(f"dtype {code!r} is not uint8")
    return _DType()


class BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches: the only globals it resolves are numpy's _reconstruct, ndarray and dtype.

    They resolve to the stand-ins above, so what the file names is never imported or called.
    Python 2 pickles of numpy arrays name `numpy.core.multiarray._reconstruct`; numpy 2 writes
    `numpy._core.multiarray._reconstruct`: both are accepted.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _dtype,
    }

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise _Refused(f"it refers to {module}.{name}, which CIFAR-10 batches never do") from None

    def persistent_load(self, pid):
        raise _Refused("it uses persistent ids, which CIFAR-10 batches never do")


def read_pickle(path: str | Path) -> dict:
    """The dict in a CIFAR-10 pickle file (str keys), read with `BatchUnpickler`; arrays as `_Array`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing: put CIFAR-10's {FOLDER} folder in {path.parent.parent} "
                           f"or run `python cifar10.py {path.parent.parent}` to download it") from None
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read: {exc}") from None
    try:
        content = BatchUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _Refused as exc:
        raise DatasetError(f"{path} was refused and nothing in it was run: {exc}") from None
    except Exception as exc:  # truncated or garbled: EOFError, UnpicklingError, ValueError, TypeError, ...
        raise DatasetError(f"{path} is damaged (not a complete CIFAR-10 pickle: {type(exc).__name__}: {exc}); "
                           "download it again") from None
    if not isinstance(content, dict) or not all(isinstance(key, str) for key in content):
        raise DatasetError(f"{path} is not a CIFAR-10 file: it holds {type(content).__name__}, not a dict of str keys")
    return content


def read_batch(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one batch file; N comes from the file."""
    path = Path(path)
    content = read_pickle(path)
    missing = [key for key in ("data", "labels") if key not in content]
    if missing:
        raise DatasetError(f"{path} is not a CIFAR-10 batch: no {' or '.join(repr(k) for k in missing)}")
    data, labels = content["data"], content["labels"]
    if not isinstance(data, _Array) or data.array is None or data.array.ndim != 2 or data.array.shape[1] != PIXELS:
        shape = data.array.shape if isinstance(data, _Array) and data.array is not None else type(data).__name__
        raise DatasetError(f"{path}: 'data' must be a uint8 array (N, {PIXELS}), got {shape}")
    n = data.array.shape[0]
    if not (isinstance(labels, list) and len(labels) == n and all(type(y) is int and 0 <= y < len(CLASSES)
                                                                    for y in labels)):
        raise DatasetError(f"{path}: 'labels' must be a list of {n} ints in 0..{len(CLASSES) - 1}")
    images = torch.from_numpy(data.array.reshape(n, CHANNELS, HEIGHT, WIDTH).copy())  # channel planes, row-major
    return images, torch.tensor(labels, dtype=torch.int64)


def batch_paths(root: str | Path, split: str) -> list[Path]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    return [Path(root) / FOLDER / name for name in SPLITS[split]]


def load_cifar10(root: str | Path, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of a split under root/cifar-10-batches-py.

    "train" is data_batch_1 .. data_batch_5 in order, "test" is test_batch.
    """
    batches = [read_batch(path) for path in batch_paths(root, split)]
    return torch.cat([images for images, _ in batches]), torch.cat([labels for _, labels in batches])


def load_label_names(root: str | Path) -> list[str]:
    """The class names from batches.meta ('airplane', 'automobile', ...)."""
    path = Path(root) / FOLDER / META
    names = read_pickle(path).get("label_names")
    if not (isinstance(names, list) and all(isinstance(name, str) for name in names)):
        raise DatasetError(f"{path}: 'label_names' must be a list of str")
    return names


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels 0..255 -> float32 in [-1, 1] (x / 127.5 - 1), the range of the generators' tanh."""
    return images.to(torch.float32) / 127.5 - 1.0


# -----------------------------------------------------------------------------
# Writing files in the published format (Python 2 cPickle, protocol 2), for tests.

class _Py2Pickler:
    """Writes the opcodes Python 2's cPickle wrote for CIFAR-10's dicts of str, int, list and uint8 arrays.

    Python 3's pickle cannot: it writes str as unicode (BINUNICODE) and bytes through
    `_codecs.encode`, so its files would load differently. Strings here are Python 2 byte
    strings (SHORT_BINSTRING, or BINSTRING when 256 bytes or longer), encoded latin1.
    """

    BATCH = 1000  # cPickle's batch size for APPENDS / SETITEMS

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.memo = 0

    def put(self) -> None:  # memoize the top of the stack, as cPickle does (indices from 1)
        self.memo += 1
        self.out += b"q" + bytes([self.memo]) if self.memo < 256 else b"r" + struct.pack("<I", self.memo)

    def integer(self, value: int) -> None:
        if 0 <= value < 256:
            self.out += b"K" + bytes([value])  # BININT1
        elif 0 <= value < 65536:
            self.out += b"M" + struct.pack("<H", value)  # BININT2
        else:
            self.out += b"J" + struct.pack("<i", value)  # BININT

    def string(self, value: str | bytes, memoize: bool = True) -> None:
        raw = value.encode("latin1") if isinstance(value, str) else value
        if len(raw) < 256:
            self.out += b"U" + bytes([len(raw)]) + raw  # SHORT_BINSTRING
        else:
            self.out += b"T" + struct.pack("<I", len(raw)) + raw  # BINSTRING
        if memoize:
            self.put()

    def global_(self, module: str, name: str) -> None:
        self.out += b"c" + f"{module}\n{name}\n".encode("ascii")  # GLOBAL
        self.put()

    def sequence(self, items: Sequence) -> None:
        self.out += b"]"  # EMPTY_LIST
        self.put()
        for start in range(0, len(items), self.BATCH):
            self.out += b"("  # MARK
            for item in items[start : start + self.BATCH]:
                self.value(item)
            self.out += b"e"  # APPENDS

    def mapping(self, items: dict) -> None:
        self.out += b"}"  # EMPTY_DICT
        self.put()
        pairs = list(items.items())
        for start in range(0, len(pairs), self.BATCH):
            self.out += b"("
            for key, value in pairs[start : start + self.BATCH]:
                self.value(key)
                self.value(value)
            self.out += b"u"  # SETITEMS

    def array(self, array: np.ndarray) -> None:
        """numpy's reduce: _reconstruct(ndarray, (0,), 'b') then BUILD with (1, shape, dtype('u1'), False, bytes)."""
        self.global_("numpy.core.multiarray", "_reconstruct")
        self.global_("numpy", "ndarray")
        self.integer(0)
        self.out += b"\x85"  # TUPLE1: (0,)
        self.string("b", memoize=False)
        self.out += b"\x87R"  # TUPLE3, REDUCE
        self.put()
        self.out += b"("  # the state tuple
        self.integer(1)
        for size in array.shape:
            self.integer(size)
        self.out += {1: b"\x85", 2: b"\x86", 3: b"\x87"}[array.ndim]
        self.global_("numpy", "dtype")
        self.string("u1", memoize=False)
        self.integer(0)
        self.integer(1)
        self.out += b"\x87R"  # dtype('u1', 0, 1)
        self.put()
        # its state (3, '|', None, None, None, -1, -1, 0), then BUILD
        self.out += b"(" + b"K\x03" + b"U\x01|" + b"NNN" + b"J\xff\xff\xff\xff" * 2 + b"K\x00" + b"tb"
        self.out += b"\x89"  # NEWFALSE: not Fortran-ordered
        self.string(np.ascontiguousarray(array, dtype=np.uint8).tobytes(), memoize=False)
        self.out += b"tb"  # TUPLE, BUILD

    def value(self, value) -> None:
        if isinstance(value, np.ndarray):
            self.array(value)
        elif isinstance(value, bool) or not isinstance(value, (int, str, bytes, list, tuple, dict)):
            raise TypeError(f"CIFAR-10 files hold no {type(value).__name__}")
        elif isinstance(value, int):
            self.integer(value)
        elif isinstance(value, (str, bytes)):
            self.string(value)
        elif isinstance(value, dict):
            self.mapping(value)
        else:
            self.sequence(list(value))

    def finish(self) -> bytes:
        return bytes(self.out + b".")  # STOP


def py2_pickle(content: dict) -> bytes:
    """`content` (str keys; str, int, list and uint8 numpy values) pickled as Python 2's cPickle did."""
    pickler = _Py2Pickler()
    pickler.mapping(content)
    return pickler.finish()


def write_batch(path: str | Path, images: torch.Tensor, labels: torch.Tensor, batch_label: str,
                filenames: Sequence[str] | None = None) -> Path:
    """Write images uint8 (N, 3, 32, 32) and labels (N,) as a CIFAR-10 batch file; returns its path."""
    if images.dtype != torch.uint8 or tuple(images.shape[1:]) != (CHANNELS, HEIGHT, WIDTH):
        raise ValueError(f"images must be uint8 (N, {CHANNELS}, {HEIGHT}, {WIDTH}), "
                         f"got {images.dtype} {tuple(images.shape)}")
    n = images.shape[0]
    if filenames is None:
        filenames = [f"{CLASSES[y]}_{i:05d}.png" for i, y in enumerate(labels.tolist())]
    content = {  # the key order of the published files
        "data": images.reshape(n, PIXELS).numpy(),
        "labels": [int(y) for y in labels.tolist()],
        "batch_label": batch_label,
        "filenames": list(filenames),
    }
    path = Path(path)
    path.write_bytes(py2_pickle(content))
    return path


def write_meta(path: str | Path, num_cases_per_batch: int, label_names: Sequence[str] = CLASSES) -> Path:
    path = Path(path)
    content = {"num_cases_per_batch": num_cases_per_batch, "label_names": list(label_names), "num_vis": PIXELS}
    path.write_bytes(py2_pickle(content))
    return path


def synthetic_images(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """uint8 (N, 3, 32, 32) images whose class shows: a class colour, stripes of a class frequency, noise."""
    n = labels.shape[0]
    k = labels.to(torch.float32).view(n, 1, 1, 1)
    hue = torch.arange(CHANNELS, dtype=torch.float32).view(1, CHANNELS, 1, 1)
    colour = 0.5 + 0.4 * torch.cos(2 * math.pi * (k / len(CLASSES) + hue / CHANNELS))  # (N, 3, 1, 1)
    rows = torch.arange(HEIGHT, dtype=torch.float32).view(1, 1, HEIGHT, 1)
    cols = torch.arange(WIDTH, dtype=torch.float32).view(1, 1, 1, WIDTH)
    stripes = 0.25 * torch.sin(2 * math.pi * ((k % 5) + 1) * (rows + (k >= 5) * cols) / HEIGHT)  # (N, 1, 32, 32)
    noise = 0.1 * torch.randn(n, CHANNELS, HEIGHT, WIDTH, generator=generator)
    return ((colour + stripes + noise).clamp(0, 1) * 255).round().to(torch.uint8)


def write_cifar10(root: str | Path, per_batch: int = 100, seed: int = 0) -> Path:
    """A CIFAR-10 look-alike under root/cifar-10-batches-py: 5 training batches, a test batch (per_batch
    synthetic images each, classes balanced) and batches.meta; returns the folder."""
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    names = [(name, f"training batch {i + 1} of 5") for i, name in enumerate(TRAIN_BATCHES)]
    for name, batch_label in names + [("test_batch", "testing batch 1 of 1")]:
        labels = torch.arange(per_batch) % len(CLASSES)
        labels = labels[torch.randperm(per_batch, generator=g)]
        write_batch(folder / name, synthetic_images(labels, g), labels, batch_label)
    write_meta(folder / META, per_batch)
    return folder


# -----------------------------------------------------------------------------
# Downloading the official archive.

def download(root: str | Path, *, urls: Sequence[str] = URLS, md5: str = ARCHIVE_MD5,
             sha256: str | None = ARCHIVE_SHA256, size: int | None = ARCHIVE_SIZE, timeout: float = 60.0) -> Path:
    """Download the archive into `root`, check it, unpack the seven files into root/cifar-10-batches-py.

    The archive is written to `root/cifar-10-python.tar.gz.part` and checked (size, MD5,
    SHA-256) before anything is unpacked: one that does not match is deleted and the next
    URL tried. Only the expected regular files are extracted, each through a `.part` file,
    by name (no path from the archive is ever used). Nothing is downloaded when all seven
    files are present; the archive is removed once unpacked. Returns the folder.
    """
    root = Path(root)
    folder = root / FOLDER
    if all((folder / name).is_file() for name in MEMBERS):
        return folder
    root.mkdir(parents=True, exist_ok=True)
    archive = root / ARCHIVE
    problems = []
    for url in urls:
        try:
            _fetch(url, archive, md5=md5, sha256=sha256, size=size, timeout=timeout)
            break
        except DatasetError as exc:
            problems.append(str(exc))
    else:
        raise DatasetError("could not download CIFAR-10:\n  " + "\n  ".join(problems))
    try:
        _unpack(archive, folder)
    finally:
        archive.unlink(missing_ok=True)
    return folder


def _fetch(url: str, target: Path, *, md5: str, sha256: str | None, size: int | None, timeout: float) -> None:
    """Download `url` to `target` through a `.part` file, or raise DatasetError and leave nothing."""
    partial = target.with_name(target.name + ".part")
    digests = {"MD5": hashlib.md5(), "SHA-256": hashlib.sha256()}
    length = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as sink:
            while chunk := response.read(CHUNK):
                length += len(chunk)
                if size is not None and length > size:
                    raise DatasetError(f"{url}: more than the expected {size} bytes; the download was deleted")
                for digest in digests.values():
                    digest.update(chunk)
                sink.write(chunk)
    except DatasetError:
        partial.unlink(missing_ok=True)
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:  # HTTPError is a URLError
        partial.unlink(missing_ok=True)
        raise DatasetError(f"{url}: {exc}") from None
    expected = {"MD5": md5, "SHA-256": sha256}
    wrong = [f"{kind} {digest.hexdigest()}, expected {expected[kind]}" for kind, digest in digests.items()
             if expected[kind] is not None and digest.hexdigest() != expected[kind]]
    if size is not None and length != size:
        wrong.insert(0, f"{length} bytes, expected {size}")
    if wrong:
        partial.unlink()
        raise DatasetError(f"{url}: checksum mismatch ({'; '.join(wrong)}); the download was deleted")
    os.replace(partial, target)


def _unpack(archive: Path, folder: Path) -> None:
    """Copy the seven expected files out of the (checked) archive; nothing else is extracted."""
    folder.mkdir(parents=True, exist_ok=True)
    partials = [folder / f"{name}.part" for name in MEMBERS]
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name, partial in zip(MEMBERS, partials):
                member = tar.getmember(f"{FOLDER}/{name}")
                if not member.isfile():
                    raise DatasetError(f"{archive}: {member.name} is not a regular file")
                with tar.extractfile(member) as source, open(partial, "wb") as sink:
                    while chunk := source.read(CHUNK):
                        sink.write(chunk)
            for name, partial in zip(MEMBERS, partials):
                os.replace(partial, folder / name)
    except (KeyError, tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(f"{archive}: cannot unpack ({exc})") from None
    finally:
        for partial in partials:
            partial.unlink(missing_ok=True)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Download CIFAR-10 (python version) into a folder.")
    parser.add_argument("folder")
    args = parser.parse_args()
    where = download(args.folder)
    for split in SPLITS:
        images, labels = load_cifar10(args.folder, split)
        print(f"{split}: {tuple(images.shape)} images, {labels.bincount().tolist()} per class, in {where}")
