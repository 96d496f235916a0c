"""The console's HTTP server: the standard library's ThreadingHTTPServer, on 127.0.0.1 only.

Why no framework: six JSON endpoints and three static files; http.server is in the standard
library and keeps `webhookctl` free of a web stack. Every request must:

- name this server in its Host header (127.0.0.1:PORT or localhost:PORT): a page on another site
  cannot reach it through DNS rebinding (a name of theirs resolving to 127.0.0.1);
- carry the token `console` printed (`secrets.token_urlsafe(32)`, compared with
  `hmac.compare_digest`): the static files take it from the URL (`?token=`, the link printed, as
  Jupyter's), the API only from the `X-Webhookctl-Token` header the app sends on each fetch, so a
  link or a form on another page can never call it;
- use the endpoint's method: replay and redrive are POST only (405 otherwise), so with the header
  rule a cross-site request cannot trigger them (a custom header needs a CORS preflight, which this
  server never grants).

Every response carries a strict Content-Security-Policy (no inline script or style, nothing from
elsewhere), `nosniff`, `no-referrer` and `no-store`.
"""
from __future__ import annotations

import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from ..errors import WebhookctlError
from ..workspace import Workspace

HOST = "127.0.0.1"  # never 0.0.0.0: the console reads payloads and replays them
DEFAULT_PORT = 8787
TOKEN_HEADER = "X-Webhookctl-Token"
TOKEN_PLACEHOLDER = "__WEBHOOKCTL_TOKEN__"
MAX_BODY = 64 * 1024  # an action's JSON body is a few bytes
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"), "/app.css": ("app.css", "text/css; charset=utf-8")}

Log = Callable[[str], None]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def static_file(name: str) -> bytes:
    return resources.files("cli.console").joinpath("static", name).read_bytes()


class ConsoleServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow request never keeps `dev` from stopping
    allow_reuse_address = True

    def __init__(self, ws: Workspace, port: int, token: str, log: Log):
        self.ws, self.token, self.log = ws, token, log
        super().__init__((HOST, port), ConsoleHandler)
        self.port = self.server_address[1]
        self.allowed_hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?token={self.token}"


class ConsoleHandler(BaseHTTPRequestHandler):
    server: ConsoleServer
    server_version = "webhookctl-console"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's names)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def _other_method(self) -> None:
        self._handle(self.command)  # Host and token first, then 405

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other_method  # noqa: N815

    def end_headers(self) -> None:
        """Every response, errors from http.server itself included, carries the security headers."""
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        pass  # the token is in the URL of every static request: never logged

    # ------------------------------------------------------------------ the checks, then the answer

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        if self.headers.get("Host", "") not in self.server.allowed_hosts:
            return self._json(403, {"error": "this console answers only at 127.0.0.1 or localhost on its own port"})
        is_static = url.path in STATIC
        if not self._token_ok(query if is_static and method == "GET" else None):
            return self._json(403, {"error": "a valid console token is required: open the URL `webhookctl console` "
                                             "printed"})
        if is_static:
            return self._static(method, url.path)
        self._api(method, url.path, query)

    def _token_ok(self, query: dict[str, list[str]] | None) -> bool:
        given = self.headers.get(TOKEN_HEADER)
        if given is None and query is not None and len(query.get("token", [])) == 1:
            given = query["token"][0]
        return given is not None and hmac.compare_digest(given.encode("utf-8"), self.server.token.encode("utf-8"))

    def _static(self, method: str, path: str) -> None:
        if method != "GET":
            return self._json(405, {"error": f"{method} is not allowed here"}, {"Allow": "GET"})
        name, content_type = STATIC[path]
        body = static_file(name)
        if name == "index.html":  # the page hands the token to its script and asset links
            body = body.replace(TOKEN_PLACEHOLDER.encode(), self.server.token.encode("ascii"))
        self._send(200, body, content_type)

    def _api(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        from . import api

        endpoint, captures, allowed = api.route(method, path)
        if endpoint is None:
            if allowed:
                return self._json(405, {"error": f"{path} takes {' or '.join(allowed)}"}, {"Allow": ", ".join(allowed)})
            return self._json(404, {"error": f"no such endpoint: {path}"})
        try:
            body = self._read_body() if method == "POST" else {}
            doc = endpoint(self.server.ws, api.Request(match=captures, query=query, body=body))
        except WebhookctlError as exc:
            return self._json(api.status_for(exc), {"error": exc.message})
        except Exception as exc:  # the page shows one line, as the CLI does
            self.server.log(f"console: {method} {path} failed: {type(exc).__name__}: {exc}")
            return self._json(502 if _is_aws_error(exc) else 500, {"error": f"{type(exc).__name__}: {exc}"})
        self._json(200, doc)

    def _read_body(self) -> dict[str, Any]:
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            raise WebhookctlError(f"the request body must be JSON of at most {MAX_BODY} bytes")
        raw = self.rfile.read(int(length))
        try:
            doc = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise WebhookctlError("the request body is not JSON") from None
        if not isinstance(doc, dict):
            raise WebhookctlError("the request body must be a JSON object")
        return doc

    def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(doc, default=str).encode("utf-8")  # in insertion order: the page shows it so
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _is_aws_error(exc: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, (BotoCoreError, ClientError))


@dataclass
class Console:
    """A running console: its server and the thread serving it."""

    server: ConsoleServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start(ws: Workspace, *, port: int = DEFAULT_PORT, token: str | None = None, log: Log = lambda line: None) -> Console:
    """Serve the console on 127.0.0.1:port (0: any free port) in a daemon thread."""
    try:
        server = ConsoleServer(ws, port, token or new_token(), log)
    except OSError as exc:
        raise WebhookctlError(f"the console cannot listen on {HOST}:{port} ({exc.strerror}): pass --port "
                              "(0 picks a free one)") from None
    # A short poll: `stop()` (at dev's Ctrl-C) waits for the loop to notice, 0.5 s by default.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="webhookctl-console",
                              daemon=True)
    thread.start()
    return Console(server=server, thread=thread)
