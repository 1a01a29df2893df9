"""Case 15 of THREATS.md: on a GPU, an out-of-memory error or a huge allocation stays with its submission.

The hostile submission asks for more memory than any GPU has, and holds 90% of what is free
in a module global; the honest one graded next on the same GPU still scores full marks, and
the memory the hostile sandbox held is free again once its grading ends.
"""

from __future__ import annotations

import pytest
import torch

from tests.adversarial.toy import grade_files, toy_course

pytestmark = [pytest.mark.gpu, pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: case 15 needs a GPU")]

NAMES = ["huge", "hold"]
HONEST = '''
import torch


def huge(x):
    return (2 * x.cuda()).cpu()


def hold(x):
    return (2 * x.cuda()).cpu()
'''
HOSTILE = '''
import torch

HELD = []


def huge(x):
    return torch.empty(1 << 46, dtype=torch.uint8, device="cuda")  # 64 TiB


def hold(x):
    free, _ = torch.cuda.mem_get_info()
    HELD.append(torch.empty(int(free * 0.9), dtype=torch.uint8, device="cuda"))
    return x
'''


def test_gpu_out_of_memory_does_not_reach_the_next_submission(tmp_path, check_results):
    course = toy_course(tmp_path / "course", NAMES, key=HONEST, memory_mb=8192)
    free_before, _ = torch.cuda.mem_get_info()
    hostile = grade_files(course, tmp_path / "hostile", {"attack.py": HOSTILE}, check_results, device="cuda")
    assert hostile.data["score"] == 0
    assert "OutOfMemoryError" in hostile.output("huge") or "out of memory" in hostile.output("huge")
    free_after, _ = torch.cuda.mem_get_info()
    assert free_after > free_before - (1 << 30), f"{(free_before - free_after) >> 20} MB still held"
    honest = grade_files(course, tmp_path / "honest", {"attack.py": HONEST}, check_results, device="cuda")
    assert honest.data["score"] == len(NAMES), honest.data["tests"]
