"""Fixtures of the homeworks' data tests: every connection but loopback refused, and a local HTTP server.

A data module's test file uses them with ``pytestmark = pytest.mark.usefixtures("loopback_only")``
(so no test can reach the internet) and the ``server`` fixture for its checksummed download.
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading

import pytest


@pytest.fixture
def loopback_only(monkeypatch):
    """Refuse every connection that is not to 127.0.0.1, so a test that would go online fails instead."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # urllib would send even 127.0.0.1 through a proxy
    connect = socket.socket.connect

    def guarded(self, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost"):
            raise OSError(f"test tried to reach {address[0]}: only 127.0.0.1 is allowed")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def server(tmp_path):
    """(folder it serves, base URL) of a quiet HTTP server on 127.0.0.1 running in a thread."""
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
