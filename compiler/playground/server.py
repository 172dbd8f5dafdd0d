"""The playground's HTTP server: the page, its script and style, and the JSON API.

The standard library's ThreadingHTTPServer is enough for one partner's browser (the
page keeps one request in flight), and keeps the compiler free of web dependencies.
It binds to loopback unless told otherwise, and then answers only requests addressed
to loopback names (so a web page cannot reach it through DNS rebinding); the API takes
only `application/json`, which no other origin's page can send without a preflight
this server never grants. Nothing is written to disk.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from ..paths import UsageError
from . import api
from .worker import TRY_SECONDS, TryProcess

STATIC = {  # path -> (file in static/, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/playground.js": ("playground.js", "text/javascript; charset=utf-8"),
    "/playground.css": ("playground.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
# Everything the page loads comes from this server: a stray external URL fails loudly.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class PlaygroundServer(ThreadingHTTPServer):
    daemon_threads = True  # a browser's idle keep-alive connection never blocks Ctrl-C

    def __init__(
        self,
        address: tuple[str, int],
        manifests: Optional[Path],
        try_seconds: float = TRY_SECONDS,
    ) -> None:
        self.manifests = manifests
        self.tries = TryProcess(try_seconds)
        self.static = {
            path: (read_static(name), kind) for path, (name, kind) in STATIC.items()
        }
        host = address[0]
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.loopback = is_loopback(host)

    def server_close(self) -> None:
        super().server_close()
        self.tries.close()

    @property
    def url(self) -> str:
        address, port = self.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


class Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"
    server_version = "segment-sync-playground"
    timeout = 30  # seconds a client may take to send its request
    # The headers and the body are two writes: without TCP_NODELAY the second waits
    # for the client's delayed ACK of the first, 40 ms on Linux, on every answer.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if not self.addressed_to_us():
            return
        path = self.path.split("?", 1)[0]
        if path in self.server.static:
            content, kind = self.server.static[path]
            self.send(200, content, kind)
        elif path == "/api/integrations":
            document = api.shipped(self.server.manifests)
            document["limits"] = api.limits()
            self.send_json(200, document)
        elif path == "/api/try":
            self.send_json(405, {"error": "POST the manifest and the body here"})
        else:
            self.send_json(404, {"error": f"no {path} here; the playground is at /"})

    def do_POST(self) -> None:
        # Until the body is read, a refusal closes the connection: the unread bytes
        # would otherwise be taken for the next request.
        self.close_connection = True
        if not self.addressed_to_us():
            return
        if self.path != "/api/try":
            self.send_json(404, {"error": f"no {self.path} here; POST to /api/try"})
            return
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            self.send_json(415, {"error": "send the request as application/json"})
            return
        raw = self.request_body()
        if raw is None:
            return
        self.close_connection = self.headers.get("Connection", "").lower() == "close"
        answer = self.server.tries.answer(raw)  # in a child, stopped if too slow
        self.send(answer.status, answer.encoded(), "application/json")

    def refuse_method(self) -> None:
        self.send_json(405, {"error": f"{self.command} is not served here"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = refuse_method

    def request_body(self) -> Optional[bytes]:
        """The request's bytes, or None once a 4xx has been sent."""
        length = self.headers.get("Content-Length")
        if length is None:
            self.send_json(411, {"error": "send a Content-Length"})
            return None
        if not length.isdigit():
            self.send_json(400, {"error": f"Content-Length {length!r} is not a size"})
            return None
        if int(length) > api.MAX_REQUEST:  # its bytes are never read
            refusal = api.request_too_big(int(length))
            self.send_json(refusal.status, {"error": refusal.message})
            return None
        return self.rfile.read(int(length))

    def addressed_to_us(self) -> bool:
        """False (after a 403) for a request naming another host while on loopback."""
        if not self.server.loopback:
            return True
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() in LOOPBACK_NAMES:
            return True
        self.send_json(
            403,
            {"error": f"this playground answers {self.server.url} only, not {host!r}"},
        )
        return False

    def send_json(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        self.send(status, body, "application/json")

    def send(self, status: int, body: bytes, kind: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the page went away
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a request per keystroke is not news."""


def read_static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start(
    host: str,
    port: int,
    manifests: Optional[Path],
    try_seconds: float = TRY_SECONDS,
) -> PlaygroundServer:
    """The server, bound and listening (not yet serving); UsageError if it cannot."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: a port is 0 to 65535 (0 picks a free one)")
    if not try_seconds > 0:
        raise UsageError(f"--try-seconds {try_seconds:g}: give a time above 0")
    try:
        return PlaygroundServer((host, port), manifests, try_seconds)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"--port {port} is in use: pick another (--port 0 picks a free one)"
            ) from None
        raise UsageError(
            f"--host {host} --port {port}: {exc.strerror or exc}"
        ) from None


def serve(
    host: str, port: int, manifests: Optional[Path], try_seconds: float = TRY_SECONDS
) -> int:
    server = start(host, port, manifests, try_seconds)
    server.tries.start()  # its imports now, not on the page's first try
    if not server.loopback:
        print(
            f"playground: listening on {host}, not loopback: anyone who reaches it can "
            "run manifests on this machine",
            file=sys.stderr,
        )
    shown = manifests if manifests is not None else "none (no manifests/ folder here)"
    try:  # from the first line on, Ctrl-C is the way to stop, not an error
        print(f"playground: {server.url}  (shipped integrations: {shown}; "
              "Ctrl-C stops it)", flush=True)  # fmt: skip
        server.serve_forever()
    except KeyboardInterrupt:
        print("playground: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
