"""A loopback stand-in for API Gateway (REST API, Lambda proxy integration): the HTTP side.

moto stores the deployed API but does not invoke it, so `webhookctl dev`
serves the ingest routes itself. This module reads HTTP; `local_runtime.
apigw_events` builds the proxy event, maps the function's response back and
holds API Gateway's own answers. Like API Gateway, and never by the handler:
unknown route or method 403, body over 10 MB 413, handler crash or malformed
or oversized (6 MB) response 502, handler slower than 29 s 504.

Under load (issue: 50 concurrent connections used to get 25 TCP resets):
- the listen backlog is `backlog` (512), not socketserver's 5;
- `workers` threads serve connections, and up to `queue` more wait for one;
  beyond that a connection is answered at once `429 Too Many Requests` with
  `Retry-After` (API Gateway's THROTTLED response), never reset: the answer
  is written, our side shut down, and what the client sent is drained before
  the socket closes (closing with unread bytes would send a RST);
- every read has a deadline: `header_timeout_s` from the first byte of a
  request to the end of its headers (and for the first request line after
  connecting), `body_timeout_s` for the body, `keepalive_s` of idleness
  between requests; a slow request gets 408 and its connection is closed,
  so a client that sends headers and no body holds a worker for
  `body_timeout_s`, not forever;
- chunked bodies: each chunk size must be 1-16 hex digits and each chunk end
  in CRLF; bytes are counted against the 10 MB cap as they arrive (a chunk
  announced past the cap is refused before it is read); Content-Length and
  Transfer-Encoding together, or any other transfer coding, are 400.

Not emulated: authorizers, API keys, usage plans, request validation, stage
variables, the stage's rate and burst throttle (saturation of the local
workers is what answers 429).
"""
from __future__ import annotations

import concurrent.futures
import email.utils
import io
import logging
import re
import selectors
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from handlers.contract import AWS_LIMITS, BINARY_MEDIA_TYPES
from local_runtime import apigw_events as events
from local_runtime.apigw_events import (  # noqa: F401  (re-exported for callers of the old module)
    DEFAULT_ROUTES, Api, GatewayResponse, HttpRequest, Resolution, Route, media_type_matches,
)
from local_runtime.emulator import EMULATOR_ACCOUNT_ID
from local_runtime.function_env import LambdaContext

log = logging.getLogger("webhookctl.api_gateway")

MAX_PAYLOAD_BYTES = AWS_LIMITS.api_gateway_payload_bytes
INTEGRATION_TIMEOUT_S = float(AWS_LIMITS.api_gateway_integration_timeout_seconds)
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_READ_PIECE = 64 * 1024

Handler = Callable[[dict, Any], Any]
ContextFactory = Callable[[str], Any]


class ApiGatewayServer:
    """Serve the proxy routes on 127.0.0.1 and invoke `handler` in-process.

    `start()` binds (port 0 picks a free one: read `.port` / `.url`), serves in
    a thread, and returns self; `stop()` closes the socket, ends every
    connection and joins the threads. Also a context manager.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        routes: Iterable[Route | tuple[str, Sequence[str]]] = DEFAULT_ROUTES,
        stage: str = "local",
        api_id: str = "local",
        region: str = "us-east-1",
        account_id: str = EMULATOR_ACCOUNT_ID,
        binary_media_types: Sequence[str] = BINARY_MEDIA_TYPES,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        context_factory: ContextFactory | None = None,
        function_name: str = "ingest",
        providers: Sequence[str] = (),
        forwarded_headers: bool = True,
        workers: int = 16,
        queue: int = 64,
        backlog: int = 512,
        keepalive_s: float = 5.0,
        header_timeout_s: float = 10.0,
        body_timeout_s: float = 30.0,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
    ):
        self.handler = handler
        self.host = host
        self.requested_port = port
        self.routes = [r if isinstance(r, Route) else Route(r[0], tuple(r[1])) for r in routes]
        self.api = Api(stage=stage, api_id=api_id, region=region, account_id=account_id,
                       binary_media_types=tuple(binary_media_types), forwarded_headers=forwarded_headers)
        self.max_payload_bytes = max_payload_bytes
        self.context_factory = context_factory or (
            lambda request_id: LambdaContext.local(function_name, region, 3, request_id)
        )
        self.providers = tuple(providers)
        self.workers, self.queue, self.backlog = workers, queue, backlog
        self.keepalive_s, self.header_timeout_s, self.body_timeout_s = keepalive_s, header_timeout_s, body_timeout_s
        self.integration_timeout_s = integration_timeout_s
        self.rejected = 0  # connections answered 429 at accept
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def stage(self) -> str:
        return self.api.stage

    @property
    def binary_media_types(self) -> tuple[str, ...]:
        return self.api.binary_media_types

    # -- lifecycle ---------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "ApiGatewayServer":
        if self._httpd is not None:
            return self
        gateway = self

        class _Bound(_RequestHandler):
            gw = gateway

        self._httpd = _Server((self.host, self.requested_port), _Bound, self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"api-gateway:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        httpd, self._httpd = self._httpd, None
        thread, self._thread = self._thread, None
        if httpd is None:
            return
        httpd.shutdown()  # returns once serve_forever has exited (poll_interval 0.1 s)
        httpd.server_close()
        httpd.close_all(timeout)
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> "ApiGatewayServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- routing -------------------------------------------------------------
    def resolve(self, path: str, method: str) -> Resolution:
        return events.resolve(self.routes, self.api.stage, path, method)

    def provider_urls(self) -> dict[str, str]:
        return {p: f"{self.url}/webhooks/{p}" for p in self.providers}


class _Server(socketserver.TCPServer):
    """Accept on one thread; serve on a bounded pool; answer 429 beyond it."""

    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, gw: ApiGatewayServer):
        self.request_queue_size = gw.backlog
        self.gw = gw
        self._slots = threading.BoundedSemaphore(gw.workers + gw.queue)
        self._pool = concurrent.futures.ThreadPoolExecutor(gw.workers, thread_name_prefix="api-gateway-worker")
        self.invoker = concurrent.futures.ThreadPoolExecutor(gw.workers, thread_name_prefix="lambda-ingest")
        self._open: set[socket.socket] = set()
        self._running: set[concurrent.futures.Future] = set()
        self._open_lock = threading.Lock()
        self._lingering = _Lingerer()
        super().__init__(address, handler)

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.gw.rejected += 1
            self._lingering.reject(request, events.THROTTLED)
            return
        with self._open_lock:
            self._open.add(request)
        try:
            future = self._pool.submit(self._serve, request, client_address)
        except RuntimeError:  # shutting down
            self._release(request)
            return
        with self._open_lock:
            self._running.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future) -> None:
        with self._open_lock:
            self._running.discard(future)

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one connection's failure never stops the server
            log.debug("connection from %s failed", client_address, exc_info=True)
        finally:
            self._release(request)

    def _release(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(request)
        self.shutdown_request(request)
        self._slots.release()

    def close_all(self, timeout: float) -> None:
        """End every connection (a worker blocked reading one wakes up), then the pools."""
        with self._open_lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RD)  # a request being answered still gets its answer
                except OSError:
                    pass
            running = list(self._running)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.invoker.shutdown(wait=False, cancel_futures=True)
        concurrent.futures.wait(running, timeout)  # requests in a handler finish, up to `timeout`
        self._lingering.close()


class _Lingerer:
    """Answer a connection we will not serve, and close it without a reset.

    The answer is written at once (HTTP lets a server answer before reading the
    request), our side is shut down, and one thread drains what the client
    sent until it closes too (or 2 s pass): a socket closed with unread bytes
    would send a TCP RST instead of a FIN.
    """

    def __init__(self, drain_s: float = 2.0):
        self.drain_s = drain_s
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def reject(self, sock: socket.socket, response: GatewayResponse) -> None:
        status, headers, body = response.render()
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
        head += [f"{k}: {v}" for k, v in headers]
        head += [f"x-amzn-RequestId: {uuid.uuid4()}", f"Date: {email.utils.formatdate(usegmt=True)}",
                 f"Content-Length: {len(body)}", "Connection: close", "", ""]
        try:
            sock.settimeout(1.0)
            sock.sendall("\r\n".join(head).encode("latin-1") + body)
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
        except OSError:
            sock.close()
            return
        with self._lock:
            if self._closed:
                sock.close()
                return
            self._selector.register(sock, selectors.EVENT_READ, time.monotonic() + self.drain_s)
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="api-gateway-lingerer", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                keys = list(self._selector.get_map().values())
            if not keys:
                time.sleep(0.05)
                continue
            for key, _ in self._selector.select(timeout=0.1):
                self._read(key)
            now = time.monotonic()
            for key in keys:
                if key.data < now:
                    self._drop(key.fileobj)

    def _read(self, key: selectors.SelectorKey) -> None:
        try:
            if key.fileobj.recv(_READ_PIECE):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._drop(key.fileobj)

    def _drop(self, sock: Any) -> None:
        with self._lock:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for key in list(self._selector.get_map().values()):
                key.fileobj.close()
            self._selector.close()


_REASONS = {400: "Bad Request", 403: "Forbidden", 408: "Request Timeout", 413: "Payload Too Large",
            429: "Too Many Requests", 502: "Bad Gateway", 504: "Gateway Timeout"}


class _DeadlineIO(socket.SocketIO):
    """A socket reader that gives up at `deadline` (monotonic), however slowly the bytes trickle in."""

    deadline: float | None = None

    def readinto(self, b: Any) -> int | None:  # type: ignore[override]
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("read deadline passed")
            self._sock.settimeout(remaining)
        return super().readinto(b)


class _Refused(Exception):
    """A request API Gateway answers itself; `close` when the connection cannot be reused."""

    def __init__(self, response: GatewayResponse, close: bool = True):
        super().__init__(response.message)
        self.response, self.close = response, close


class _RequestHandler(BaseHTTPRequestHandler):
    gw: ApiGatewayServer
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "webhookctl-local-apigw"
    sys_version = ""

    def setup(self) -> None:
        self.connection = self.request
        self._reader = _DeadlineIO(self.connection, "rb")
        self.rfile = io.BufferedReader(self._reader, _READ_PIECE)
        self.wfile = socketserver._SocketWriter(self.connection)  # type: ignore[attr-defined]
        self._requests = 0

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet: one debug line per request
        log.debug("%s - %s", self.address_string(), fmt % args)

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's, with a deadline on each phase of the read."""
        gw = self.gw
        self._reader.deadline = time.monotonic() + (gw.keepalive_s if self._requests else gw.header_timeout_s)
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, OSError):
            self.close_connection = True  # idle: a quiet close, as any server does
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        self._reader.deadline = time.monotonic() + gw.header_timeout_s
        try:
            if len(self.raw_requestline) > 65536:
                raise _Refused(events.GatewayResponse(414, "Request-URI Too Long", "BadRequestException"))
            if not self.parse_request():  # reads the headers; answers malformed ones itself
                return
            self._serve()
        except TimeoutError:
            self._refuse(_Refused(events.REQUEST_TIMEOUT), str(uuid.uuid4()))
        except _Refused as refused:
            self._refuse(refused, str(uuid.uuid4()))
        self._requests += 1
        try:
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    # -- request body ------------------------------------------------------
    def _read_body(self) -> bytes:
        self._reader.deadline = time.monotonic() + self.gw.body_timeout_s
        cap = self.gw.max_payload_bytes
        transfer = [v.strip().lower() for v in self.headers.get_all("Transfer-Encoding") or []]
        lengths = set(self.headers.get_all("Content-Length") or [])
        if transfer and lengths:  # request smuggling's favourite ambiguity
            raise _Refused(events.bad_request("Content-Length and Transfer-Encoding together"))
        if transfer:
            if transfer != ["chunked"]:
                raise _Refused(events.bad_request("Unsupported Transfer-Encoding"))
            return self._read_chunked(cap)
        if not lengths:
            return b""  # HTTP/1.1: a request with neither has no body
        if len(lengths) > 1 or not next(iter(lengths)).strip().isdigit():
            raise _Refused(events.bad_request("Invalid Content-Length"))
        size = int(next(iter(lengths)))
        if size > cap:
            raise _Refused(events.REQUEST_TOO_LARGE)  # and do not drain 10 MB+ we will not use
        return self._read_exactly(size)

    def _read_exactly(self, size: int) -> bytes:
        parts, left = [], size
        while left:
            piece = self.rfile.read(min(left, _READ_PIECE))
            if not piece:
                raise _Refused(events.bad_request("Incomplete request body"))
            parts.append(piece)
            left -= len(piece)
        return b"".join(parts)

    def _read_chunked(self, cap: int) -> bytes:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1026)
            size_field = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_field):
                raise _Refused(events.bad_request("Invalid chunked body"))
            size = int(size_field, 16)
            if size == 0:
                self._read_trailers()
                return b"".join(parts)
            total += size
            if total > cap:
                raise _Refused(events.REQUEST_TOO_LARGE)  # refused before the chunk is read
            parts.append(self._read_exactly(size))
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _Refused(events.bad_request("Invalid chunked body"))

    def _read_trailers(self) -> None:
        for _ in range(100):
            line = self.rfile.readline(8193)
            if line in (b"\r\n", b"\n", b""):
                return
            if not line.endswith(b"\n"):
                break
        raise _Refused(events.bad_request("Invalid chunked trailer"))

    def _drain_small(self) -> None:
        """Consume a small body of a request refused before its body was read (keep-alive stays in sync)."""
        length = self.headers.get("Content-Length")
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        if length and length.strip().isdigit() and int(length) <= 65536 and not chunked:
            self._reader.deadline = time.monotonic() + self.gw.body_timeout_s
            self.rfile.read(int(length))
        elif length or chunked:
            self.close_connection = True

    # -- dispatch ----------------------------------------------------------
    def _serve(self) -> None:
        gw = self.gw
        request_id = str(uuid.uuid4())
        method = self.command.upper()
        path = urlsplit(self.path).path
        if method == "GET" and path == "/":
            self._drain_small()
            self._send(200, [("Content-Type", "application/json")], _root(gw), request_id)
            return
        resolution = gw.resolve(path, method)
        if not resolution.found:
            self._drain_small()
            raise _Refused(events.MISSING_AUTHENTICATION_TOKEN, close=False)
        request = HttpRequest(method=method, raw_path=self.path, header_items=list(self.headers.items()),
                              body=self._read_body(), source_ip=self.client_address[0],
                              protocol=self.request_version, server_port=self.server.server_address[1],
                              request_id=request_id)
        event = events.build_event(gw.api, resolution.route, resolution.params, request)
        self._send(*self._invoke(event, request_id), request_id)

    def _invoke(self, event: dict, request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
        gw = self.gw
        future = self.server.invoker.submit(gw.handler, event, gw.context_factory(request_id))
        try:
            result = future.result(timeout=gw.integration_timeout_s)
            return events.proxy_response(result, event, gw.binary_media_types)
        except concurrent.futures.TimeoutError:
            log.warning("the handler took over %.0f s: API Gateway answers 504 (the handler keeps running)",
                        gw.integration_timeout_s)
            return events.INTEGRATION_TIMEOUT.render()
        except Exception:  # noqa: BLE001 - API Gateway turns any failure into a 502
            sys.stderr.write(f"[api-gateway {request_id}] handler failed:\n{traceback.format_exc()}")
            sys.stderr.flush()
            return events.INTEGRATION_FAILURE.render()

    # -- responses ---------------------------------------------------------
    def _refuse(self, refused: _Refused, request_id: str) -> None:
        if refused.close:
            self.close_connection = True
        self._send(*refused.response.render(), request_id)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, request_id: str) -> None:
        try:
            self.connection.settimeout(self.gw.body_timeout_s)  # a client that never reads is dropped too
            self.send_response(status)
            names = {k.lower() for k, _ in headers}
            for name, value in headers:
                if name.lower() in ("content-length", "connection", "transfer-encoding", "date", "server"):
                    continue
                self.send_header(name, value)
            if "content-type" not in names:
                self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-RequestId", request_id)
            self.send_header("Date", email.utils.formatdate(usegmt=True))
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def send_response(self, code: int, message: str | None = None) -> None:
        # No implicit Server/Date headers from the base class: _send writes its own.
        self.log_request(code)
        self.send_response_only(code, message)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed request lines and headers (parse_request): a JSON 400 like API Gateway's."""
        self.close_connection = True
        self._send(*events.GatewayResponse(code, message or "Bad Request", "BadRequestException").render(),
                   str(uuid.uuid4()))


def _root(gw: ApiGatewayServer) -> bytes:
    import json

    return json.dumps({"message": "webhookctl local API Gateway", "stage": gw.stage,
                       "routes": [r.resource for r in gw.routes], "providers": gw.provider_urls()}).encode()
