"""Fingerprints of submitted code, to flag identical submissions in the gradebook.

Two submissions have the same fingerprint when their module files hold the same tokens:
comments, blank lines and spacing do not count. Notebooks are compared through the module
staging made of their code cells. A fingerprint is a hash; no code is kept.
"""

from __future__ import annotations

import hashlib
import io
import tokenize
from collections.abc import Sequence
from pathlib import Path

SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
MARKERS = {tokenize.NEWLINE: "\n", tokenize.INDENT: "<indent>", tokenize.DEDENT: "<dedent>"}


def normalise(source: str) -> str:
    """The code's tokens, one space apart; comments and layout dropped."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # unfinished code: compare its lines without spacing
        lines = (line.split("#", 1)[0].split() for line in source.splitlines())
        return "\n".join(" ".join(words) for words in lines if words)
    kept = [MARKERS.get(t.type, t.string) for t in tokens if t.type not in SKIPPED]
    return " ".join(kept)


def fingerprint(folder: Path, files: Sequence[str]) -> str | None:
    """The hash of the normalised ``files`` found in ``folder``; None when none is there."""
    digest = hashlib.sha256()
    found = False
    for name in sorted(files):
        path = folder / name
        if not path.is_file():
            continue
        found = True
        text = path.read_bytes().decode("utf-8", "replace")
        digest.update(f"{name}\0{normalise(text)}\0".encode())
    return digest.hexdigest()[:16] if found else None


def content_hash(path: Path) -> str:
    """The hash of a submission exactly as handed in (a file, or a folder's files and names)."""
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
    elif path.is_dir():
        for item in sorted(path.rglob("*")):
            relative = item.relative_to(path).as_posix()
            if item.is_symlink():
                digest.update(f"link\0{relative}\0{item.readlink()}\0".encode())
            elif item.is_file():
                digest.update(f"file\0{relative}\0{item.stat().st_size}\0".encode())
                with open(item, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        digest.update(chunk)
    return digest.hexdigest()
