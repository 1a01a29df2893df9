"""A seccomp filter for student code: no sockets but AF_UNIX, no io_uring, no kernel-wide tools.

Defence in depth under the isolation levels of ``isolation.py``: at the ``rlimits`` level
there is no network namespace, so without this filter student code can open TCP sockets;
with a namespace, AF_NETLINK, AF_PACKET, io_uring, eBPF and user namespaces are still
kernel attack surface that a Python/torch worker never needs. ``install()`` runs in the
sandbox's loader (:func:`autograder.sandbox.isolation.confine_loader`), after its rlimits
and uid drop, before student code is imported; every test's worker is forked from it.

The filter is classic BPF assembled here and loaded through ctypes. ``libseccomp.so.2``
exists on the development machines, but this module does not use it: the Gradescope and
container images need not ship it, its Python binding is a separate package, and the
program is about forty instructions that read in full below. Syscall numbers come from
the kernel headers (``asm/unistd_64.h``, ``asm-generic/unistd.h``); syscalls numbered
425 and up are the same on every architecture.

Refused with EPERM (so Python raises PermissionError) unless said otherwise:

- ``socket``/``socketpair`` of any family but AF_UNIX: the network, netlink (routing,
  netfilter), packet sockets; a worker talks to its server over an inherited Unix socket.
- ``io_uring_*``: a second syscall path that seccomp does not see, and a rich source of
  kernel bugs.
- ``ptrace``, ``process_vm_readv/writev``, ``pidfd_getfd``: reading or writing another
  process of the same uid (at the ``rlimits`` level as non-root: the grader itself).
- ``bpf``, ``perf_event_open``, ``userfaultfd``: kernel attack surface and side channels;
  userfaultfd mainly serves to widen kernel race windows in exploits.
- ``kexec_load``, ``kexec_file_load``: replacing the kernel, should a worker still be root.
- ``mount``, ``umount2``, ``pivot_root`` and the new mount API: changing the file system
  view the sandbox built, should a worker still hold CAP_SYS_ADMIN.
- ``unshare``, ``setns``, and ``clone`` with a namespace flag: a user namespace gives
  unprivileged code root-only kernel interfaces; setns could re-enter the host's
  network. ``clone3`` passes its flags in memory a filter cannot read, so it answers
  ENOSYS, on which glibc falls back to ``clone`` (what container runtimes do).
- ``keyctl``, ``add_key``, ``request_key``: kernel keyrings are not namespaced; they
  would let a submission leave data for another, or read keys of the uid it runs under.
- x32 syscalls (x86-64 numbers with bit 30 set): a second syscall table beside the one
  checked here.

A syscall of a foreign architecture (i386 through ``int 0x80`` on x86-64, arm32 on
aarch64) kills the process: its numbers mean other syscalls, and nothing legitimate in a
worker makes one. Everything else is allowed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from dataclasses import dataclass

PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 22, 38
SECCOMP_MODE_FILTER = 2  # prctl(PR_SET_SECCOMP, ...)
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1  # seccomp(...)
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000

BPF_LD_W_ABS, BPF_JEQ, BPF_JGE, BPF_JSET, BPF_RET = 0x20, 0x15, 0x35, 0x45, 0x06  # with BPF_K operands
# struct seccomp_data {int nr; u32 arch; u64 instruction_pointer; u64 args[6];}; little-endian on both arches
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0_LOW = 0, 4, 16

AF_UNIX = 1
X32_SYSCALL_BIT = 0x40000000
CLONE_NAMESPACES = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET

REFUSED = (
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    "bpf", "perf_event_open", "userfaultfd",
    "kexec_load", "kexec_file_load",
    "mount", "umount2", "pivot_root",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "unshare", "setns",
    "keyctl", "add_key", "request_key",
)  # fmt: skip
_SHARED = {  # the same number on every architecture (Linux 5.1 and later)
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "clone3": 435, "pidfd_getfd": 438, "mount_setattr": 442,
}  # fmt: skip


@dataclass(frozen=True)
class Arch:
    """What the filter needs to know about one architecture."""

    audit: int  # AUDIT_ARCH_* as the kernel puts it in seccomp_data.arch
    syscalls: dict[str, int]
    has_x32: bool = False


ARCHES = {
    "x86_64": Arch(0xC000003E, has_x32=True, syscalls=_SHARED | {
        "socket": 41, "socketpair": 53, "clone": 56, "ptrace": 101, "pivot_root": 155, "mount": 165,
        "umount2": 166, "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
        "perf_event_open": 298, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "seccomp": 317,
        "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
    }),
    "aarch64": Arch(0xC00000B7, syscalls=_SHARED | {
        "umount2": 39, "mount": 40, "pivot_root": 41, "unshare": 97, "kexec_load": 104, "ptrace": 117,
        "socket": 198, "socketpair": 199, "add_key": 217, "request_key": 218, "keyctl": 219, "clone": 220,
        "perf_event_open": 241, "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271, "seccomp": 277,
        "bpf": 280, "userfaultfd": 282, "kexec_file_load": 294,
    }),
}  # fmt: skip

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def install(machine: str | None = None) -> str | None:
    """Filter this process and all its threads (TSYNC); None when done, else a note saying what fell short.

    ``machine`` is ``platform.machine()`` unless given. Never raises for a kernel or an
    architecture without seccomp: the note is shown with the isolation level instead.
    """
    machine = machine or platform.machine()
    arch = ARCHES.get(machine)
    if arch is None:
        return f"no seccomp filter: no syscall table for machine {machine!r}"
    program = assemble(filter_program(arch))
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)):
        return f"no seccomp filter: PR_SET_NO_NEW_PRIVS failed ({os.strerror(ctypes.get_errno())})"
    synced = _libc.syscall(ctypes.c_long(arch.syscalls["seccomp"]), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                           ctypes.c_long(SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(program))
    if synced == 0:
        return None
    why = f"thread {synced} has a filter of its own" if synced > 0 else os.strerror(ctypes.get_errno())
    if set_thread_filter(program) == 0:
        return f"seccomp filter covers this thread and those it starts, not threads already running (TSYNC: {why})"
    return f"no seccomp filter: seccomp() failed ({why}), prctl(PR_SET_SECCOMP) too ({os.strerror(ctypes.get_errno())})"


def set_thread_filter(program: SockFprog) -> int:
    """prctl(PR_SET_SECCOMP): the calling thread only (0 on success, errno in ctypes.get_errno())."""
    return _libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(program),
                       ctypes.c_ulong(0), ctypes.c_ulong(0))


def filter_program(arch: Arch) -> list[tuple]:
    """The filter as ``(code, k, jump_if_true, jump_if_false)`` lines and ``("label", name)`` targets."""
    nr = arch.syscalls
    lines: list[tuple] = [
        (BPF_LD_W_ABS, OFFSET_ARCH, None, None),
        (BPF_JEQ, arch.audit, None, "kill"),
        (BPF_LD_W_ABS, OFFSET_NR, None, None),
    ]
    if arch.has_x32:
        lines.append((BPF_JGE, X32_SYSCALL_BIT, "eperm", None))
    lines += [(BPF_JEQ, nr["socket"], "family", None), (BPF_JEQ, nr["socketpair"], "family", None),
              (BPF_JEQ, nr["clone"], "clone", None), (BPF_JEQ, nr["clone3"], "enosys", None)]
    lines += [(BPF_JEQ, nr[name], "eperm", None) for name in REFUSED]
    return lines + [
        (BPF_RET, SECCOMP_RET_ALLOW, None, None),
        ("label", "family"),
        (BPF_LD_W_ABS, OFFSET_ARG0_LOW, None, None),  # the low 32 bits: the kernel reads family as an int
        (BPF_JEQ, AF_UNIX, "allow", "eperm"),
        ("label", "clone"),
        (BPF_LD_W_ABS, OFFSET_ARG0_LOW, None, None),  # clone's flags (first argument on both arches)
        (BPF_JSET, CLONE_NAMESPACES, "eperm", "allow"),
        ("label", "allow"),
        (BPF_RET, SECCOMP_RET_ALLOW, None, None),
        ("label", "eperm"),
        (BPF_RET, SECCOMP_RET_ERRNO | errno.EPERM, None, None),
        ("label", "enosys"),
        (BPF_RET, SECCOMP_RET_ERRNO | errno.ENOSYS, None, None),
        ("label", "kill"),
        (BPF_RET, SECCOMP_RET_KILL_PROCESS, None, None),
    ]


def assemble(lines: list[tuple]) -> SockFprog:
    """Resolve labels into classic BPF's forward jump offsets (0-255 instructions ahead)."""
    instructions = [line for line in lines if line[0] != "label"]
    where, count = {}, 0
    for line in lines:
        if line[0] == "label":
            where[line[1]] = count
        else:
            count += 1
    array = (SockFilter * len(instructions))()
    for index, (code, k, if_true, if_false) in enumerate(instructions):
        array[index] = SockFilter(code, _offset(where, index, if_true), _offset(where, index, if_false), k)
    return SockFprog(len(instructions), array)


def _offset(where: dict[str, int], index: int, label: str | None) -> int:
    if label is None:
        return 0
    offset = where[label] - index - 1
    if not 0 <= offset <= 255:
        raise ValueError(f"BPF jump to {label!r} is {offset} instructions ahead (0 to 255 allowed)")
    return offset
