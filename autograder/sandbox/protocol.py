"""Framing over a stream socket: an 8-byte length, then one codec frame.

The receiving side caps the length before allocating, and waits with a deadline so a
silent or dead peer turns into an exception rather than a hang. While it waits it can
drain other file descriptors (the sandbox's captured stdout) through ``on_readable``.
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
from collections.abc import Callable, Sequence
from typing import Any

from autograder import clock
from autograder.sandbox import codec

_LENGTH = struct.Struct("<Q")
_MAX_CHUNKS = 512  # sendmsg refuses more than IOV_MAX (1024 on Linux) buffers at once


class ChannelClosed(ConnectionError):
    """The peer closed the connection (it exited or was killed)."""


class ChannelTimeout(TimeoutError):
    """No complete frame arrived before the deadline."""


class FrameTooLarge(ValueError):
    """The peer announced a frame over the size cap."""


def send(sock: socket.socket, value: Any, to_handle: Callable | None = None) -> None:
    chunks = codec.encode(value, to_handle)
    total = sum(c.nbytes for c in chunks)
    pending = [memoryview(_LENGTH.pack(total)), *chunks]
    while pending:
        sent = sock.sendmsg(pending[:_MAX_CHUNKS])
        while pending and sent >= pending[0].nbytes:
            sent -= pending[0].nbytes
            pending.pop(0)
        if pending and sent:
            pending[0] = pending[0][sent:]


def recv_frame(
    sock: socket.socket,
    *,
    max_bytes: int,
    deadline: float | None = None,
    drain: Sequence[int] = (),
    on_readable: Callable[[int], None] | None = None,
) -> bytearray:
    """Read one frame; ``deadline`` is a :func:`clock.monotonic` time, None = wait forever."""
    reader = _Reader(sock, deadline, drain, on_readable)
    try:
        (length,) = _LENGTH.unpack(reader.read(_LENGTH.size))
        if length > max_bytes:
            raise FrameTooLarge(f"a reply of {length} bytes is over the {max_bytes}-byte limit")
        return reader.read(length)
    finally:
        reader.close()


class _Reader:
    def __init__(self, sock, deadline, drain, on_readable):
        self.sock = sock
        self.deadline = deadline
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ)
        for fd in drain:
            self.selector.register(fd, selectors.EVENT_READ)
        self.on_readable = on_readable

    def close(self) -> None:
        self.selector.close()

    def read(self, n: int) -> bytearray:
        buffer = bytearray(n)
        view = memoryview(buffer)
        got = 0
        while got < n:
            self.wait()
            try:
                count = self.sock.recv_into(view[got:], n - got, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            if count == 0:
                raise ChannelClosed("the sandbox closed the connection")
            got += count
        return buffer

    def wait(self) -> None:
        while True:
            timeout = None if self.deadline is None else self.deadline - clock.monotonic()
            if timeout is not None and timeout <= 0:
                raise ChannelTimeout("no reply before the deadline")
            for key, _ in self.selector.select(timeout):
                if key.fileobj is self.sock:
                    return
                reader = self.on_readable or (lambda fd: bool(os.read(fd, 65536)))
                if not reader(key.fd):  # end of file: stop watching it
                    self.selector.unregister(key.fd)


def recv(sock: socket.socket, *, max_bytes: int, deadline: float | None = None,
         make_handle: Callable | None = None, **drain: Any) -> Any:
    return codec.decode(recv_frame(sock, max_bytes=max_bytes, deadline=deadline, **drain), make_handle)
