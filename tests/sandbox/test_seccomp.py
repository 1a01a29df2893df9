"""The workers' seccomp filter on the real kernel: every check runs in a forked child, never in pytest's process.

Each refusal is checked against an unfiltered child first where the kernel itself might
refuse (no CAP_NET_RAW, io_uring disabled), so that a pass means the filter refused.
"""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autograder.sandbox import seccomp

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
X86_64 = platform.machine() == "x86_64"
REPOSITORY = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(platform.machine() not in seccomp.ARCHES, reason="no syscall table for this machine")


def in_child(body: Callable[[], Any]) -> tuple[dict | None, int]:
    """Run ``body`` in a forked child; its reply ({"value"}, {"error": traceback}, None if it died) and wait status."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            try:
                reply = {"value": body()}
            except BaseException:  # noqa: BLE001 - the traceback goes back to the test
                reply = {"error": traceback.format_exc()}
            os.write(write, json.dumps(reply).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    return (json.loads(text) if text else None), status


def value_of(body: Callable[[], Any]) -> Any:
    reply, status = in_child(body)
    assert reply is not None, f"the child died: wait status {status:#x}"
    assert "error" not in reply, reply["error"]
    return reply["value"]


def filtered(check: Callable[[], Any]) -> Any:
    """What ``check`` returns in a child that installed the filter first."""

    def body() -> Any:
        note = seccomp.install()
        assert note is None, note
        return check()

    return value_of(body)


def raw_syscall(number: int, *args: int) -> int:
    """-errno or the result, as the kernel answered (no Python wrapper in between)."""
    result = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
    return -ctypes.get_errno() if result == -1 else result


def syscalls() -> dict[str, int]:
    return seccomp.ARCHES[platform.machine()].syscalls


def open_socket(family: int) -> str:
    kind = socket.SOCK_RAW if family == socket.AF_PACKET else socket.SOCK_DGRAM
    try:
        socket.socket(family, kind).close()
        return "opened"
    except OSError as error:
        return type(error).__name__


def seccomp_mode(task: str = "self") -> int:
    status = Path(f"/proc/{task}/status").read_text()
    return int(re.search(r"^Seccomp:\s+(\d+)", status, re.M).group(1))


FAMILIES = {"AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6, "AF_NETLINK": socket.AF_NETLINK,
            "AF_PACKET": socket.AF_PACKET}  # fmt: skip


@pytest.mark.parametrize("name", FAMILIES)
def test_socket_families_but_unix_are_refused(name):
    family = FAMILIES[name]
    if value_of(lambda: open_socket(family)) != "opened":
        pytest.skip(f"{name} cannot be opened here even without the filter")
    assert filtered(lambda: open_socket(family)) == "PermissionError"


def test_unix_sockets_and_pairs_still_work():
    def check():
        a, b = socket.socketpair()
        a.sendall(b"ping")
        return [open_socket(socket.AF_UNIX), b.recv(4).decode()]

    assert filtered(check) == ["opened", "ping"]


def test_family_is_compared_on_its_low_32_bits():
    """The kernel reads the family as an int: bits above 32 neither hide AF_INET nor spoil AF_UNIX."""
    number = syscalls()["socket"]

    def check():
        unix = raw_syscall(number, socket.AF_UNIX | 1 << 32, socket.SOCK_STREAM, 0)
        return [unix >= 0, raw_syscall(number, socket.AF_INET | 1 << 32, socket.SOCK_STREAM, 0)]

    assert filtered(check) == [True, -errno.EPERM]


def io_uring_setup() -> int:
    params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
    return raw_syscall(syscalls()["io_uring_setup"], 4, ctypes.addressof(params))


def test_io_uring_setup_is_refused():
    if value_of(io_uring_setup) < 0:
        pytest.skip("io_uring_setup fails here even without the filter")
    assert filtered(io_uring_setup) == -errno.EPERM


# kexec_* are left out: should the filter fail, root would unload the crash kernel.
LIVE = [name for name in seccomp.REFUSED if not name.startswith("kexec")]


def test_other_refused_syscalls_answer_eperm():
    numbers = syscalls()
    assert filtered(lambda: {name: raw_syscall(numbers[name], 0, 0, 0, 0, 0) for name in LIVE}) == {
        name: -errno.EPERM for name in LIVE}


def test_namespaces_cannot_be_made_by_clone_either():
    numbers = syscalls()
    new_user = 0x10000000

    def check():
        cloned = raw_syscall(numbers["clone"], new_user | signal.SIGCHLD, 0, 0, 0, 0)
        if cloned == 0:  # the filter let it through: this is the clone, it must not run the test on
            os._exit(0)
        return [raw_syscall(numbers["unshare"], new_user), cloned, raw_syscall(numbers["clone3"], 0, 0)]

    assert filtered(check) == [-errno.EPERM, -errno.EPERM, -errno.ENOSYS]


@pytest.mark.skipif(not X86_64, reason="x32 is an x86-64 syscall table")
def test_x32_syscalls_are_refused():
    number = seccomp.X32_SYSCALL_BIT | syscalls()["socket"]
    assert filtered(lambda: raw_syscall(number, socket.AF_INET, socket.SOCK_STREAM, 0)) == -errno.EPERM


def i386_socket() -> int:
    """socket(AF_INET, SOCK_STREAM) through the i386 table (``int 0x80``, number 359), which a filter
    that does not check the architecture would read as x86-64's syscall 359."""
    code = bytes.fromhex("53" "b867010000" "bb02000000" "b901000000" "31d2" "cd80" "5b" "c3")
    # push rbx; mov eax, 359; mov ebx, AF_INET; mov ecx, SOCK_STREAM; xor edx, edx; int 0x80; pop rbx; ret
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()


@pytest.mark.skipif(not X86_64, reason="i386 emulation exists on x86-64 only")
def test_foreign_architecture_kills_the_process():
    reply, status = in_child(i386_socket)
    if reply is None or reply.get("value", -1) < 0:
        pytest.skip(f"this kernel runs no i386 syscalls (child: {reply}, status {status:#x})")
    reply, status = in_child(lambda: [seccomp.install(), i386_socket()])
    assert reply is None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS, (reply, status)


def test_filter_covers_a_thread_started_before_it():
    def check():
        installed, tried = threading.Event(), {}

        def thread():
            installed.wait()
            tried["socket"] = open_socket(socket.AF_INET)
            tried["mode"] = seccomp_mode(f"self/task/{threading.get_native_id()}")

        runner = threading.Thread(target=thread)
        runner.start()
        note = seccomp.install()
        installed.set()
        runner.join()
        return [note, tried]

    assert value_of(check) == [None, {"socket": "PermissionError", "mode": 2}]


def test_filter_survives_fork():
    def check():
        pid = os.fork()
        if pid == 0:
            os._exit(0 if open_socket(socket.AF_INET) == "PermissionError" else 1)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    assert filtered(check) == 0


def test_without_tsync_the_filter_still_covers_the_calling_thread():
    """A thread with a filter of its own makes TSYNC fail (real kernel rule): install() falls back and says so."""

    def check():
        own_filter_set, done = threading.Event(), threading.Event()

        def thread():
            libc.prctl(seccomp.PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0),
                       ctypes.c_ulong(0))
            allow_all = seccomp.assemble([(seccomp.BPF_RET, seccomp.SECCOMP_RET_ALLOW, None, None)])
            assert seccomp.set_thread_filter(allow_all) == 0, os.strerror(ctypes.get_errno())
            own_filter_set.set()
            done.wait()

        runner = threading.Thread(target=thread)
        runner.start()
        own_filter_set.wait()
        note = seccomp.install()
        done.set()
        runner.join()
        return [note, open_socket(socket.AF_INET)]

    note, opened = value_of(check)
    assert "TSYNC" in note and "has a filter of its own" in note
    assert opened == "PermissionError"


@pytest.mark.skipif(os.geteuid() != 0, reason="not root: every other test here already installs unprivileged")
def test_installs_after_the_uid_drop():
    """Where workers call it: unprivileged, so only PR_SET_NO_NEW_PRIVS makes the kernel accept a filter."""

    def check():
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        return [seccomp.install(), open_socket(socket.AF_INET)]

    assert value_of(check) == [None, "PermissionError"]


def test_unknown_machine_gives_a_note_and_no_filter():
    note, mode = value_of(lambda: [seccomp.install(machine="riscv64"), seccomp_mode()])
    assert "riscv64" in note and mode == 0


TORCH_UNDER_FILTER = """
import json, os, socket, threading
import torch
from torch.utils.data import DataLoader, TensorDataset
from autograder.sandbox import seccomp

torch.set_num_threads(2)
torch.matmul(torch.randn(512, 512), torch.randn(512, 512))  # starts the intra-op pool: threads before install
tasks = os.listdir("/proc/self/task")
note = seccomp.install()
modes = {open(f"/proc/self/task/{t}/status").read().split("Seccomp:")[1].split()[0] for t in tasks}
a = torch.randn(256, 256, requires_grad=True)
(torch.matmul(a, a) ** 2).sum().backward()
batches = [x.shape[0] for (x,) in DataLoader(TensorDataset(torch.randn(10, 3)), batch_size=4, num_workers=0)]
pid = os.fork()
if pid == 0:  # small enough to stay off the pool, which a fork child cannot use (a libgomp limit, filter or not)
    os._exit(0 if torch.matmul(torch.eye(3), torch.ones(3)).sum().item() == 3 else 1)
forked = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
sums = []
worker = threading.Thread(target=lambda: sums.append(torch.ones(5).sum().item()))
worker.start()
worker.join()
spawned = os.waitstatus_to_exitcode(os.waitpid(os.posix_spawn("/bin/true", ["true"], {}), 0)[1])  # clone3 -> clone
left, right = socket.socketpair()
print(json.dumps({"note": note, "threads before": len(tasks) > 1, "their modes": sorted(modes),
                  "grad": list(a.grad.shape), "batches": batches, "fork": forked, "thread": sums, "spawn": spawned,
                  "socketpair": left.family == socket.AF_UNIX}))
"""


def test_torch_works_under_the_filter():
    """In a fresh interpreter: torch's own threads already run when the filter goes in (as in a worker)."""
    run = subprocess.run([sys.executable, "-c", TORCH_UNDER_FILTER], cwd=REPOSITORY, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"note": None, "threads before": True, "their modes": ["2"], "grad": [256, 256],
                                      "batches": [4, 4, 2], "fork": 0, "thread": [5.0], "spawn": 0,
                                      "socketpair": True}


def header_numbers(path: str) -> dict[str, int]:
    text = Path(path).read_text()
    return {name: int(number) for name, number in re.findall(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", text)}


@pytest.mark.parametrize("machine, header", [("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
                                             ("aarch64", "/usr/include/asm-generic/unistd.h")])
def test_syscall_numbers_match_the_kernel_headers(machine, header):
    if not Path(header).exists():
        pytest.skip(f"{header} is not installed (Debian package linux-libc-dev)")
    numbers = header_numbers(header)
    assert {name: numbers.get(name) for name in seccomp.ARCHES[machine].syscalls} == seccomp.ARCHES[machine].syscalls
