"""Framing over a socket: round trips, deadlines, closed peers, size caps, and draining a pipe."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time

import numpy as np
import pytest
import torch

from autograder import clock
from autograder.sandbox import protocol
from autograder.sandbox.codec import HandleRef

MB = 1 << 20


def send_later(sock, value, delay=0.0, **kwargs) -> threading.Thread:
    """Send from a thread, so a reply bigger than the socket buffer can cross."""

    def run():
        time.sleep(delay)
        protocol.send(sock, value, **kwargs)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def soon(seconds=5.0) -> float:
    return clock.monotonic() + seconds


def test_send_and_recv_round_trip(pair):
    a, b = pair
    value = {"ok": [1, 2.5, "three", None, (True,)], "t": torch.arange(6.0).reshape(2, 3), "n": np.int32(4)}
    protocol.send(a, value)
    result = protocol.recv(b, max_bytes=MB, deadline=soon())
    assert result["ok"] == value["ok"] and result["n"] == 4
    assert torch.equal(result["t"], value["t"])


def test_frames_arrive_in_order_and_separately(pair):
    a, b = pair
    for i in range(3):
        protocol.send(a, {"i": i})
    assert [protocol.recv(b, max_bytes=MB, deadline=soon())["i"] for _ in range(3)] == [0, 1, 2]


def test_handles_pass_through_send_and_recv(pair):
    a, b = pair
    protocol.send(a, [object()], to_handle=lambda value: HandleRef(id=9, type="thing"))
    result = protocol.recv(b, max_bytes=MB, deadline=soon(), make_handle=lambda body: ("handle", body["id"]))
    assert result == [("handle", 9)]


def test_a_large_tensor_crosses_intact(pair):
    a, b = pair
    tensor = torch.randn(2 * MB, generator=torch.Generator().manual_seed(0))  # 8 MB of float32
    sender = send_later(a, {"t": tensor})
    result = protocol.recv(b, max_bytes=64 * MB, deadline=soon(30))
    sender.join(5)
    assert torch.equal(result["t"], tensor)


def test_a_reply_with_many_buffers_crosses(pair):
    """More buffers than sendmsg takes at once (IOV_MAX is 1024 on Linux)."""
    a, b = pair
    value = [torch.full((3,), float(i)) for i in range(1500)]
    sender = send_later(a, value)
    result = protocol.recv(b, max_bytes=64 * MB, deadline=soon(30))
    sender.join(5)
    assert len(result) == 1500 and all(torch.equal(r, v) for r, v in zip(result, value))


def test_no_reply_before_the_deadline_raises_channel_timeout(pair):
    _, b = pair
    started = time.monotonic()
    with pytest.raises(protocol.ChannelTimeout):
        protocol.recv_frame(b, max_bytes=MB, deadline=clock.monotonic() + 0.1)
    assert 0.05 < time.monotonic() - started < 2


def test_a_partial_frame_then_silence_raises_channel_timeout(pair):
    a, b = pair
    a.sendall(struct.pack("<Q", 100) + b"only part")
    with pytest.raises(protocol.ChannelTimeout):
        protocol.recv_frame(b, max_bytes=MB, deadline=clock.monotonic() + 0.1)


def test_a_deadline_in_the_past_raises_at_once(pair):
    a, b = pair
    protocol.send(a, 1)
    with pytest.raises(protocol.ChannelTimeout):
        protocol.recv_frame(b, max_bytes=MB, deadline=clock.monotonic() - 1)


def test_the_deadline_is_read_from_the_clock_module(pair, monkeypatch):
    _, b = pair
    monkeypatch.setattr(clock, "monotonic", lambda: 1000.0)
    with pytest.raises(protocol.ChannelTimeout):
        protocol.recv_frame(b, max_bytes=MB, deadline=999.0)


def test_a_closed_peer_raises_channel_closed(pair):
    a, b = pair
    a.close()
    with pytest.raises(protocol.ChannelClosed):
        protocol.recv_frame(b, max_bytes=MB, deadline=soon())


def test_a_peer_closing_mid_frame_raises_channel_closed(pair):
    a, b = pair
    a.sendall(struct.pack("<Q", 100) + b"half")
    a.close()
    with pytest.raises(protocol.ChannelClosed):
        protocol.recv_frame(b, max_bytes=MB, deadline=soon())


def test_a_length_over_the_cap_raises_before_allocating(pair):
    a, b = pair
    a.sendall(struct.pack("<Q", 1 << 62))  # allocating this would raise MemoryError instead
    with pytest.raises(protocol.FrameTooLarge, match="limit"):
        protocol.recv_frame(b, max_bytes=MB, deadline=soon())


def test_a_frame_exactly_at_the_cap_is_accepted(pair):
    a, b = pair
    protocol.send(a, "x" * 100)
    length = struct.unpack("<Q", b.recv(8, socket.MSG_PEEK))[0]
    assert len(protocol.recv_frame(b, max_bytes=length, deadline=soon())) == length
    protocol.send(a, "x" * 100)
    with pytest.raises(protocol.FrameTooLarge):
        protocol.recv_frame(b, max_bytes=length - 1, deadline=soon())


def test_a_pipe_is_drained_while_waiting(pair):
    a, b = pair
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"printed by the student\n")
    got: list[bytes] = []

    def on_readable(fd):
        data = os.read(fd, 65536)
        got.append(data)
        return bool(data)

    try:
        sender = send_later(a, {"ok": 1}, delay=0.2)
        assert protocol.recv(b, max_bytes=MB, deadline=soon(), drain=[read_fd], on_readable=on_readable) == {"ok": 1}
        sender.join(5)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert got == [b"printed by the student\n"]


def test_a_pipe_at_end_of_file_is_watched_no_longer(pair):
    a, b = pair
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"bye")
    os.close(write_fd)
    calls: list[bytes] = []

    def on_readable(fd):
        data = os.read(fd, 65536)
        calls.append(data)
        return bool(data)

    try:
        sender = send_later(a, "done", delay=0.2)
        assert protocol.recv(b, max_bytes=MB, deadline=soon(), drain=[read_fd], on_readable=on_readable) == "done"
        sender.join(5)
    finally:
        os.close(read_fd)
    assert calls == [b"bye", b""]  # one read at end of file, then no busy loop on it


def test_the_default_drain_reads_and_discards(pair):
    a, b = pair
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"x" * 1000)
    try:
        sender = send_later(a, 7, delay=0.1)
        assert protocol.recv(b, max_bytes=MB, deadline=soon(), drain=[read_fd]) == 7
        sender.join(5)
        os.set_blocking(read_fd, False)
        with pytest.raises(BlockingIOError):  # the grader read it all
            os.read(read_fd, 10)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_flooding_pipe_does_not_defeat_the_deadline(pair):
    _, b = pair
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"flood")  # stays readable: on_readable below never reads it
    try:
        with pytest.raises(protocol.ChannelTimeout):
            protocol.recv_frame(b, max_bytes=MB, deadline=clock.monotonic() + 0.1, drain=[read_fd],
                                on_readable=lambda fd: True)
    finally:
        os.close(read_fd)
        os.close(write_fd)
