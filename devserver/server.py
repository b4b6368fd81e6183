"""The HTTP front of ``make dev``: plays API Gateway for the template's functions.

Each request is read, turned into an API Gateway REST event and handed to the function the
template routes it to (``devserver.dispatch.Dispatcher``, in this process), and the function's
answer is written back. What API Gateway itself would refuse (a body over 10 MB) is refused here.

The request log on stderr is one line per request: method, path without query string, status
and duration. Headers and bodies are never logged: they carry API keys and SCIM tokens."""

from __future__ import annotations

import json
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from devserver.dispatch import Dispatcher, HttpResponse

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
IDLE_CONNECTION_SECONDS = 60  # a keep-alive connection's thread ends after this long unused
# Framing headers are the server's job: it writes its own from the body it actually sends.
_FRAMING_HEADERS = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})


def _gateway_answer(status: int, message: str) -> HttpResponse:
    """An answer of API Gateway itself, in its ``{"message": …}`` shape."""
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())


class ApiGatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    server_version = "scim-provisioning-devserver"
    timeout = IDLE_CONNECTION_SECONDS
    server: DevHttpServer

    def _serve(self) -> None:
        started = time.perf_counter()
        response = self._answer()
        self._send(response)
        elapsed_ms = (time.perf_counter() - started) * 1000
        sys.stderr.write(f"{self.command} {urlsplit(self.path).path} {response.status} {elapsed_ms:.1f} ms\n")

    def __getattr__(self, name: str) -> Any:
        """``do_<method>`` for every method, however spelled (HEAD, TRACE, PROPFIND, get): each
        goes to the template's routes like any other, so that the function answers it in its
        API's dialect (a 405 with Allow) instead of http.server's HTML page 501."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _refuse(self, status: int, message: str) -> HttpResponse:
        """Answer without reading the body: the connection cannot be reused after that."""
        self.close_connection = True
        return _gateway_answer(status, message)

    def _answer(self) -> HttpResponse:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._refuse(411, "Content-Length is required")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return self._refuse(400, "Invalid Content-Length")
        if length > MAX_BODY_BYTES:
            return self._refuse(413, "Request Too Long")
        body = self.rfile.read(length) if length else None
        try:
            return self.server.dispatcher.handle(
                self.command,
                self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
        except Exception:
            # What a crashed Lambda looks like behind API Gateway; the traceback is for the developer.
            traceback.print_exc()
            return _gateway_answer(502, "Internal server error")

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in _FRAMING_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer is its headers only (RFC 9110 §9.3.2)
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: ``_serve`` logs each request once it is answered, without its query string."""


class DevHttpServer(ThreadingHTTPServer):
    """One daemon thread per connection; a deep accept queue so that a burst of clients is
    queued rather than reset; shutdown does not wait for idle keep-alive connections."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        super().__init__(address, ApiGatewayRequestHandler)
