"""WikiText-2 (word level): read the published wiki.{train,valid,test}.tokens files, or download them.

The files (Merity et al. 2016) are UTF-8 text, one paragraph or heading per line; every
line starts with a space, headings look like ' = Title = ', rare words are already
replaced by `<unk>`, and numbers are split as '1 @,@ 000' and '3 @.@ 5'. With
`line.split() + ['<eos>']` per line they hold 2,088,628 (train), 217,646 (valid) and
245,569 (test) tokens, and the training split has 33,278 distinct words.

    >>> splits = load_wikitext("data/wikitext-2")   # {'train': [...lines...], ...}
    >>> download("data/wikitext-2")                 # once, where the internet is reachable

`download` fetches the official archive, checks its SHA-256 before unpacking anything, and
keeps only the three files. A missing, unreadable or truncated file is a `DatasetError`
that names the file and says what to do.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

SPLITS = ("train", "valid", "test")
ARCHIVE = "wikitext-2-v1.zip"
ARCHIVE_SHA256 = "92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c"
MIRRORS = (  # tried in order
    "https://wikitext.smerity.com/wikitext-2-v1.zip",
    "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
)
MEMBER = "wikitext-2/wiki.{split}.tokens"  # where each split lies inside the archive
CHUNK = 1 << 20


class DatasetError(Exception):
    """A dataset file is missing or damaged, or could not be downloaded; the message says which."""


def split_path(root: str | Path, split: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    return Path(root) / f"wiki.{split}.tokens"


def read_lines(path: str | Path) -> list[str]:
    """The lines of one `.tokens` file, without their newline characters.

    Only '\\n' ends a line (the text may hold other Unicode line separators inside a line).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing: put WikiText-2's wiki.*.tokens files in {path.parent} "
                           f"or run `python wikitext.py {path.parent}` to download them") from None
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is damaged: not UTF-8 text (byte {exc.start}); download it again") from None
    if not text.endswith("\n"):
        raise DatasetError(f"{path} is damaged: it is empty or its last line is cut off; download it again")
    return text[:-1].split("\n")


def load_wikitext(root: str | Path, splits: Sequence[str] = SPLITS) -> dict[str, list[str]]:
    """{split: lines} for the `wiki.{split}.tokens` files in `root`."""
    return {split: read_lines(split_path(root, split)) for split in splits}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(root: str | Path, *, urls: Sequence[str] = MIRRORS, sha256: str = ARCHIVE_SHA256,
             timeout: float = 60.0) -> dict[str, Path]:
    """Download the archive into `root`, check it, unpack the three splits; returns their paths.

    The archive is written to `root/wikitext-2-v1.zip.part` while it downloads and checked
    against `sha256` before anything is unpacked: a download that does not match (a
    broken transfer, an error page, a changed file) is deleted and the next URL is tried.
    Splits already present are left alone only if all three are; the archive is removed
    once unpacked.
    """
    root = Path(root)
    paths = {split: split_path(root, split) for split in SPLITS}
    if all(p.is_file() for p in paths.values()):
        return paths
    root.mkdir(parents=True, exist_ok=True)
    archive = root / ARCHIVE
    problems = []
    for url in urls:
        try:
            _fetch(url, archive, sha256, timeout)
            break
        except DatasetError as exc:
            problems.append(str(exc))
    else:
        raise DatasetError("could not download WikiText-2:\n  " + "\n  ".join(problems))
    try:
        _unpack(archive, paths)
    finally:
        archive.unlink(missing_ok=True)
    return paths


def _fetch(url: str, target: Path, sha256: str, timeout: float) -> None:
    """Download `url` to `target` through a `.part` file, or raise DatasetError and leave nothing."""
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as sink:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                sink.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:  # HTTPError is a URLError
        partial.unlink(missing_ok=True)
        raise DatasetError(f"{url}: {exc}") from None
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise DatasetError(f"{url}: checksum mismatch (SHA-256 {digest.hexdigest()}, expected {sha256}); "
                           "the download was deleted")
    os.replace(partial, target)


def _unpack(archive: Path, paths: dict[str, Path]) -> None:
    """Copy the three splits out of the (checked) archive; nothing else is extracted."""
    try:
        with zipfile.ZipFile(archive) as z:
            for split, path in paths.items():
                partial = path.with_name(path.name + ".part")
                with z.open(MEMBER.format(split=split)) as source, open(partial, "wb") as sink:
                    while chunk := source.read(CHUNK):
                        sink.write(chunk)
                os.replace(partial, path)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        for path in paths.values():
            path.with_name(path.name + ".part").unlink(missing_ok=True)
        raise DatasetError(f"{archive}: cannot unpack ({exc})") from None


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Download WikiText-2 (word level) into a folder.")
    parser.add_argument("folder")
    args = parser.parse_args()
    for name, file in download(args.folder).items():
        print(f"{name}: {file} ({len(read_lines(file))} lines)")
