"""A loopback stand-in for API Gateway (REST API, Lambda proxy integration).

moto stores the deployed API but does not invoke it, so `webhookctl dev`
serves the ingest routes itself: every request becomes the exact proxy event
(payload format 1.0) API Gateway sends to Lambda, the injected handler runs
in-process, and its proxy response becomes the HTTP response. What API
Gateway answers on its own (unknown route, wrong method, body over 10 MB,
handler crash) is answered here the same way, never by the handler.

Binary bodies. A REST API base64-encodes the body (isBase64Encoded true) only
when the request Content-Type matches one of the API's binaryMediaTypes;
otherwise it passes the body as text, and bytes that are not UTF-8 are
mangled. Here: a Content-Type matching `binary_media_types` (same wildcard
rules: `*/*`, `type/*`) is base64-encoded as on AWS; a body that is not valid
UTF-8 is also base64-encoded (where AWS would corrupt it) because a webhook
signature is computed over exact bytes and a local run must not invent a
failure AWS would hide differently. Any other body is passed as text.
Responses: a proxy response with isBase64Encoded true is decoded to bytes when
the request's Accept header or the response Content-Type matches
`binary_media_types` (AWS's rule); otherwise the base64 text is sent as is.

Headers are passed as received (case and repeats preserved: `headers` holds
the last value, `multiValueHeaders` all of them), plus what API Gateway adds
in front of an integration: X-Forwarded-For (appended), X-Forwarded-Port,
X-Forwarded-Proto (`http` here) and X-Amzn-Trace-Id. The server accepts both
`/webhooks/stripe` and the stage-prefixed `/local/webhooks/stripe`;
`requestContext.path` is the path as requested (as AWS gives it for the
execute-api URL and for a custom domain), so schemes that sign the URL
(Twilio, Square) verify either way.

Not emulated: authorizers, API keys, usage plans, request validation, the 29 s
integration timeout (a slow handler is logged, not cut off), stage variables.
"""
from __future__ import annotations

import base64
import email.utils
import fnmatch
import json
import logging
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_runtime.emulator import EMULATOR_ACCOUNT_ID
from local_runtime.function_env import LambdaContext

log = logging.getLogger("webhookctl.api_gateway")

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's hard payload quota
INTEGRATION_TIMEOUT_S = 29.0
DEFAULT_ROUTES = (("/webhooks/{provider}", ("POST",)), ("/webhook", ("POST",)))

Handler = Callable[[dict, Any], Any]
ContextFactory = Callable[[str], Any]


@dataclass(frozen=True)
class Route:
    """One API Gateway resource and the methods it has (`ANY` allowed)."""

    resource: str
    methods: tuple[str, ...] = ("POST",)

    def __post_init__(self) -> None:
        parts = []
        for segment in self.resource.strip("/").split("/"):
            m = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
            if m and m.group(2):
                parts.append(f"(?P<{m.group(1)}>.+)")
            elif m:
                parts.append(f"(?P<{m.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        object.__setattr__(self, "_pattern", re.compile("^/" + "/".join(parts) + "$"))
        object.__setattr__(self, "methods", tuple(m.upper() for m in self.methods))

    def match(self, path: str) -> dict[str, str] | None:
        m = self._pattern.match(path)  # type: ignore[attr-defined]
        if m is None:
            return None
        return {k: unquote(v) for k, v in m.groupdict().items()}

    def allows(self, method: str) -> bool:
        return "ANY" in self.methods or method.upper() in self.methods


def media_type_matches(content_type: str | None, patterns: Iterable[str]) -> bool:
    """API Gateway's binaryMediaTypes match: exact type or a `*` wildcard."""
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return any(fnmatch.fnmatchcase(mime, p.strip().lower()) for p in patterns)


def _accept_matches(accept: str | None, patterns: Sequence[str]) -> bool:
    if not accept:
        return False
    return any(media_type_matches(part, patterns) for part in accept.split(","))


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class ApiGatewayServer:
    """Serve the proxy routes on 127.0.0.1 and invoke `handler` in-process.

    `start()` binds (port 0 picks a free one: read `.port` / `.url`), serves in
    a daemon thread, and returns self; `stop()` closes the socket and joins the
    thread. Also a context manager.
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
        binary_media_types: Sequence[str] = (),
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        context_factory: ContextFactory | None = None,
        function_name: str = "ingest",
        providers: Sequence[str] = (),
        forwarded_headers: bool = True,
    ):
        self.handler = handler
        self.host = host
        self.requested_port = port
        self.routes = [r if isinstance(r, Route) else Route(r[0], tuple(r[1])) for r in routes]
        self.stage = stage
        self.api_id = api_id
        self.region = region
        self.account_id = account_id
        self.binary_media_types = tuple(binary_media_types)
        self.max_payload_bytes = max_payload_bytes
        self.context_factory = context_factory or (
            lambda request_id: LambdaContext.local(function_name, region, 3, request_id)
        )
        self.providers = tuple(providers)
        self.forwarded_headers = forwarded_headers
        # Stable per resource, like API Gateway's 6-character resource ids.
        self._resource_ids = {r.resource: uuid.uuid5(uuid.NAMESPACE_URL, r.resource).hex[:6] for r in self.routes}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

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

        class _Handler(_RequestHandler):
            gw = gateway

        httpd = ThreadingHTTPServer((self.host, self.requested_port), _Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=f"api-gateway:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        httpd, self._httpd = self._httpd, None
        thread, self._thread = self._thread, None
        if httpd is None:
            return
        httpd.shutdown()  # returns once serve_forever has exited (poll_interval 0.1 s)
        httpd.server_close()
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> "ApiGatewayServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- event building ----------------------------------------------------
    def resolve(self, path: str, method: str) -> tuple[Route, dict[str, str]] | None | str:
        """The route for path and method; None when no resource; "method" when the method is missing."""
        candidates = [path]
        prefix = f"/{self.stage}/"
        if path.startswith(prefix):  # also accept the stage-prefixed URL AWS serves
            candidates.append(path[len(prefix) - 1:])
        found_resource = False
        for candidate in candidates:
            for route in self.routes:
                params = route.match(candidate)
                if params is None:
                    continue
                found_resource = True
                if route.allows(method):
                    return route, params
        return "method" if found_resource else None

    def build_event(
        self,
        *,
        method: str,
        raw_path: str,
        route: Route,
        path_params: Mapping[str, str],
        header_items: Sequence[tuple[str, str]],
        body: bytes,
        source_ip: str,
        protocol: str = "HTTP/1.1",
        request_id: str | None = None,
        now: float | None = None,
        server_port: int | None = None,
    ) -> dict[str, Any]:
        """The REST API proxy event (payload format 1.0) for one request."""
        now = time.time() if now is None else now
        request_id = request_id or str(uuid.uuid4())
        split = urlsplit(raw_path)
        path = split.path
        stage_prefix = f"/{self.stage}/"
        if path.startswith(stage_prefix) and route.match(path[len(stage_prefix) - 1:]) is not None:
            path = path[len(stage_prefix) - 1:]

        header_items = list(header_items)
        if self.forwarded_headers:
            header_items = _add_forwarded(header_items, source_ip, server_port, now)
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in header_items:
            # Same header repeated with different case: API Gateway keeps one key.
            existing = next((k for k in multi_headers if k.lower() == name.lower()), name)
            multi_headers.setdefault(existing, []).append(value)
            headers[existing] = value  # the last value, as API Gateway does
        user_agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)

        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            multi_query.setdefault(key, []).append(value)
            query[key] = value

        if not body:
            event_body, is_b64 = None, False
        elif media_type_matches(content_type, self.binary_media_types):
            event_body, is_b64 = base64.b64encode(body).decode("ascii"), True
        else:
            try:
                event_body, is_b64 = body.decode("utf-8"), False
            except UnicodeDecodeError:
                event_body, is_b64 = base64.b64encode(body).decode("ascii"), True

        domain = f"{self.api_id}.execute-api.{self.region}.amazonaws.com"
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": dict(path_params) or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": self._resource_ids[route.resource],
                "resourcePath": route.resource,
                "httpMethod": method,
                "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode("ascii")[:16],
                "requestTime": datetime.fromtimestamp(now, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                # The path as the client requested it: stage-prefixed like the
                # execute-api URL, or bare like a custom domain mapping. Signature
                # schemes that sign the URL (Twilio, Square) rebuild it from here.
                "path": split.path,
                "accountId": self.account_id,
                "protocol": protocol,
                "stage": self.stage,
                "domainPrefix": self.api_id,
                "requestTimeEpoch": int(now * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": source_ip,
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": user_agent,
                    "user": None,
                },
                "domainName": domain,
                "apiId": self.api_id,
            },
            "body": event_body,
            "isBase64Encoded": is_b64,
        }

    def provider_urls(self) -> dict[str, str]:
        return {p: f"{self.url}/webhooks/{p}" for p in self.providers}


def _add_forwarded(items: list[tuple[str, str]], source_ip: str, port: int | None, now: float
                   ) -> list[tuple[str, str]]:
    """The headers API Gateway adds in front of every integration request."""
    lower = {k.lower() for k, _ in items}
    out = []
    for k, v in items:
        if k.lower() == "x-forwarded-for":
            v = f"{v}, {source_ip}"
        out.append((k, v))
    if "x-forwarded-for" not in lower:
        out.append(("X-Forwarded-For", source_ip))
    if "x-forwarded-port" not in lower and port is not None:
        out.append(("X-Forwarded-Port", str(port)))
    if "x-forwarded-proto" not in lower:
        out.append(("X-Forwarded-Proto", "http"))
    if "x-amzn-trace-id" not in lower:
        out.append(("X-Amzn-Trace-Id", f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}"))
    return out


class _GatewayError(Exception):
    def __init__(self, status: int, message: str, error_type: str):
        super().__init__(message)
        self.status, self.message, self.error_type = status, message, error_type


class _RequestHandler(BaseHTTPRequestHandler):
    gw: ApiGatewayServer
    protocol_version = "HTTP/1.1"
    server_version = "webhookctl-local-apigw"
    sys_version = ""

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet: one debug line per request
        log.debug("%s - %s", self.address_string(), fmt % args)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # -- request body ------------------------------------------------------
    def _read_body(self) -> bytes:
        cap = self.gw.max_payload_bytes
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            return self._read_chunked(cap)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""  # HTTP/1.1: a request with neither has no body
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise _GatewayError(400, "Invalid Content-Length", "BadRequestException") from None
        if n > cap:
            self.close_connection = True  # do not drain 10 MB+ we will not use
            raise _GatewayError(413, "Request Too Long", "RequestTooLongException")
        body = self.rfile.read(n)
        if len(body) < n:
            self.close_connection = True
            raise _GatewayError(400, "Incomplete request body", "BadRequestException")
        return body

    def _read_chunked(self, cap: int) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise _GatewayError(400, "Invalid chunked body", "BadRequestException") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > cap:
                self.close_connection = True
                raise _GatewayError(413, "Request Too Long", "RequestTooLongException")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)  # CRLF after the chunk

    # -- dispatch ----------------------------------------------------------
    def _serve(self) -> None:
        gw = self.gw
        request_id = str(uuid.uuid4())
        method = self.command.upper()
        path = urlsplit(self.path).path
        try:
            if method == "GET" and path == "/":
                self._drain_quietly()
                self._send_json(200, {"message": "webhookctl local API Gateway", "stage": gw.stage,
                                      "routes": [r.resource for r in gw.routes],
                                      "providers": gw.provider_urls()}, request_id)
                return
            resolved = gw.resolve(path, method)
            if not isinstance(resolved, tuple):
                self._drain_quietly()
                raise _GatewayError(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
            route, params = resolved
            body = self._read_body()
            event = gw.build_event(
                method=method, raw_path=self.path, route=route, path_params=params,
                header_items=list(self.headers.items()), body=body,
                source_ip=self.client_address[0], protocol=self.request_version, request_id=request_id,
                server_port=self.server.server_address[1],
            )
        except _GatewayError as err:
            self._send_json(err.status, {"message": err.message}, request_id, error_type=err.error_type)
            return
        self._invoke(event, request_id)

    def _drain_quietly(self) -> None:
        """Consume a small body of a request we reject, so keep-alive stays in sync."""
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= 65536:
            self.rfile.read(int(length))
        elif length or "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True

    def _invoke(self, event: dict, request_id: str) -> None:
        gw = self.gw
        started = time.monotonic()
        try:
            context = gw.context_factory(request_id)
            result = gw.handler(event, context)
            status, headers, body = _proxy_response(result, event, gw.binary_media_types)
        except Exception:  # noqa: BLE001 - API Gateway turns any failure into a 502
            sys.stderr.write(f"[api-gateway {request_id}] handler failed:\n{traceback.format_exc()}")
            sys.stderr.flush()
            self._send_json(502, {"message": "Internal server error"}, request_id,
                            error_type="InternalServerErrorException")
            return
        elapsed = time.monotonic() - started
        if elapsed > INTEGRATION_TIMEOUT_S:
            log.warning("handler took %.1f s: API Gateway would have answered 504 after %.0f s",
                        elapsed, INTEGRATION_TIMEOUT_S)
        self._send(status, headers, body, request_id)

    # -- responses ---------------------------------------------------------
    def _send_json(self, status: int, obj: Any, request_id: str, error_type: str | None = None) -> None:
        headers = [("Content-Type", "application/json")]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        self._send(status, headers, _json_bytes(obj), request_id)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, request_id: str) -> None:
        try:
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
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_response(self, code: int, message: str | None = None) -> None:
        # No implicit Server/Date headers from the base class: _send writes its own.
        self.log_request(code)
        self.send_response_only(code, message)


def _proxy_response(result: Any, event: Mapping[str, Any], binary_media_types: Sequence[str]
                    ) -> tuple[int, list[tuple[str, str]], bytes]:
    """Map a Lambda proxy response to (status, headers, body); ValueError when malformed."""
    if not isinstance(result, Mapping):
        raise ValueError(f"malformed Lambda proxy response: expected an object, got {type(result).__name__}")
    unknown = set(result) - {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if unknown:
        raise ValueError(f"malformed Lambda proxy response: unexpected keys {sorted(unknown)}")
    try:
        status = int(result.get("statusCode", 200))
    except (TypeError, ValueError):
        raise ValueError(f"malformed Lambda proxy response: statusCode {result.get('statusCode')!r}") from None
    if not 100 <= status <= 599:
        raise ValueError(f"malformed Lambda proxy response: statusCode {status}")

    # headers and multiValueHeaders merge; a key in both takes the multi values.
    multi = {str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
             for k, vs in (result.get("multiValueHeaders") or {}).items()}
    merged: list[tuple[str, str]] = []
    for k, v in (result.get("headers") or {}).items():
        if not any(str(k).lower() == m.lower() for m in multi):
            merged.append((str(k), str(v)))
    for k, vs in multi.items():
        merged.extend((k, v) for v in vs)

    body = result.get("body")
    if body is None:
        raw = b""
    elif not isinstance(body, str):
        raise ValueError(f"malformed Lambda proxy response: body must be a string, got {type(body).__name__}")
    elif result.get("isBase64Encoded"):
        req_headers = event.get("headers") or {}
        accept = next((v for k, v in req_headers.items() if k.lower() == "accept"), None)
        resp_type = next((v for k, v in merged if k.lower() == "content-type"), None)
        if _accept_matches(accept, binary_media_types) or media_type_matches(resp_type, binary_media_types):
            raw = base64.b64decode(body)
        else:
            raw = body.encode("utf-8")
    else:
        raw = body.encode("utf-8")
    return status, merged, raw
