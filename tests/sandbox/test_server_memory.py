"""The sandbox server's heap sits in transparent huge pages, so forking a worker per test copies
a few dozen page-table entries for torch's heap rather than tens of thousands."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.config import SandboxLimits
from autograder.sandbox.client import Sandbox

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _glibc() -> tuple[int, ...]:
    name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    return tuple(int(part) for part in version.split(".")) if name == "glibc" else ()


@pytest.mark.skipif(not THP.exists() or "[never]" in THP.read_text(),
                    reason="this kernel has transparent huge pages off")
@pytest.mark.skipif(_glibc() < (2, 35), reason="glibc before 2.35 has no glibc.malloc.hugetlb tunable")
def test_server_heap_is_in_huge_pages(tmp_path: Path):
    folder = tmp_path / "submission"
    folder.mkdir()
    sandbox = Sandbox(submission=folder, workdir=tmp_path / "sandbox", limits=SandboxLimits(), device="cpu")
    try:
        sandbox.wait_ready()  # torch is imported
        rollup = Path(f"/proc/{sandbox.server.process.pid}/smaps_rollup").read_text()
        sizes = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:]}
        assert sizes["AnonHugePages"] >= sizes["Anonymous"] // 3, sizes
    finally:
        sandbox.kill()
