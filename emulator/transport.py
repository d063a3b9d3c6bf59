"""HTTP transport: werkzeug's threaded WSGI server with keep-alive and no added latency.

werkzeug's own ``WSGIRequestHandler.run_wsgi`` closes every connection (``Connection: close``)
and, after each response, drains the socket for up to 10 ms, which would swallow the next
request of a keep-alive client. :class:`KeepAliveRequestHandler` replaces ``run_wsgi``: it reads
the request body completely *before* calling the application (so the next request on the
connection starts exactly where this one ended), buffers the response, sends it with a
``Content-Length``, and keeps the connection open unless the client asked otherwise.

Every accepted socket gets ``TCP_NODELAY``: without it Nagle's algorithm and the client's delayed
ACK add ~40 ms to each keep-alive round trip. The listen backlog is :data:`LISTEN_BACKLOG`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024
IDLE_TIMEOUT_SECONDS = 300
MAX_BODY_BYTES = 8 * 1024 * 1024


class KeepAliveRequestHandler(WSGIRequestHandler):
    """werkzeug's handler with ``TCP_NODELAY``, HTTP/1.1 keep-alive and no access log."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS  # an idle keep-alive connection is closed after this

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):  # not a TCP socket (a test's socketpair, say)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header tells the service's time: the emulator's clock, as tests move it."""
        return super().date_time_string(self.server.now() if timestamp is None else timestamp)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No per-request access log: it would cost time on every call."""

    def run_wsgi(self) -> None:
        """Serve one request: read its body, run the application, send the buffered response."""
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        body = self._read_body(environ)
        if body is None:
            self.close_connection = True
            self._send("413 REQUEST ENTITY TOO LARGE", [("Content-Type", "text/plain")], b"request body too large")
            return
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        status, headers, payload = self._call_application(environ)
        self._send(status, headers, payload)

    def _read_body(self, environ: dict[str, Any]) -> bytes | None:
        """The whole request body (de-chunked if need be); ``None`` if it is too large."""
        stream = environ["wsgi.input"]
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's DechunkedInput
            body = stream.read(MAX_BODY_BYTES + 1)
            return body if len(body) <= MAX_BODY_BYTES else None
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return None
        return stream.read(int(length)) if int(length) else b""

    def _call_application(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return written.append

        try:
            result = self.server.app(environ, start_response)
            try:
                written.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            log.exception("unhandled error in the WSGI application")
            self.close_connection = True
            return "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], b"internal error"
        return started[0], started[1], b"".join(written)

    def _send(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0":  # a 1.0 client that asked for keep-alive
            self.send_header("Connection", "keep-alive")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class EmulatorHTTPServer(ThreadedWSGIServer):
    """werkzeug's threaded server (a thread per connection) with a deeper listen backlog."""

    request_queue_size = LISTEN_BACKLOG

    def __init__(self, host: str, port: int, app: Any, now: Callable[[], float] = time.time) -> None:
        super().__init__(host, port, app, handler=KeepAliveRequestHandler)
        self.now = now
