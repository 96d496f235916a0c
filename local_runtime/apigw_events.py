"""API Gateway (REST API, Lambda proxy integration) as pure functions: routes, events, responses.

No sockets here (as SAM CLI's `local/apigw/event_constructor.py`): the HTTP
server in `local_runtime.api_gateway` parses a request, and this module turns
it into the exact proxy event (payload format 1.0) API Gateway sends to
Lambda, turns the function's proxy response back into status, headers and
body, and knows API Gateway's own answers (gateway responses).

Binary bodies (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html):
a request whose Content-Type matches one of the API's `binaryMediaTypes`
(exact, or a `*` wildcard such as `*/*` or `image/*`) reaches the function
base64-encoded, with `isBase64Encoded: true`; any other body is passed as
UTF-8 text, and bytes that are not UTF-8 are replaced (U+FFFD), as AWS
mangles them: a signature over such a body then fails here as it would on
AWS. The deployed API and this one read the same list,
`handlers.contract.BINARY_MEDIA_TYPES`. A response with `isBase64Encoded:
true` is decoded to bytes when the request's first Accept type or the
response's Content-Type matches the list; otherwise its base64 text is sent.

Headers are passed as received (case and repeats preserved: `headers` holds
the last value, `multiValueHeaders` all of them), plus what API Gateway adds
in front of an integration: X-Forwarded-For (appended), X-Forwarded-Port,
X-Forwarded-Proto (`http` here) and X-Amzn-Trace-Id. `requestContext.path`
is the path as requested, stage prefix included or not (as AWS gives it for
the execute-api URL and for a custom domain), so schemes that sign the URL
(Twilio, Square) verify either way.
"""
from __future__ import annotations

import base64
import fnmatch
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from handlers.contract import AWS_LIMITS, BINARY_MEDIA_TYPES, EMULATOR_ACCOUNT_ID

DEFAULT_ROUTES = (("/webhooks/{provider}", ("POST",)), ("/webhook", ("POST",)))


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


@dataclass(frozen=True)
class Resolution:
    """Where a request lands: a route and its path parameters, or what is missing."""

    route: Route | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    missing: str | None = None  # "resource" (no such path) or "method" (path exists, method does not)

    @property
    def found(self) -> bool:
        return self.route is not None


def resolve(routes: Sequence[Route], stage: str, path: str, method: str) -> Resolution:
    """The route for path and method; also accepts the stage-prefixed URL AWS serves."""
    candidates = [path]
    prefix = f"/{stage}/"
    if path.startswith(prefix):
        candidates.append(path[len(prefix) - 1:])
    resource_exists = False
    for candidate in candidates:
        for route in routes:
            params = route.match(candidate)
            if params is None:
                continue
            resource_exists = True
            if route.allows(method):
                return Resolution(route, params)
    return Resolution(missing="method" if resource_exists else "resource")


def media_type_matches(content_type: str | None, patterns: Iterable[str]) -> bool:
    """API Gateway's binaryMediaTypes match: exact type or a `*` wildcard."""
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return any(fnmatch.fnmatchcase(mime, p.strip().lower()) for p in patterns)


def first_accept_matches(accept: str | None, patterns: Sequence[str]) -> bool:
    """API Gateway "uses the first Accept header" type to decide a binary response."""
    if not accept:
        return False
    return media_type_matches(accept.split(",", 1)[0], patterns)


# --------------------------------------------------------------------------- requests → events


@dataclass(frozen=True)
class Api:
    """The deployed API as the proxy event describes it."""

    stage: str = "local"
    api_id: str = "local"
    region: str = "us-east-1"
    account_id: str = EMULATOR_ACCOUNT_ID
    binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES
    forwarded_headers: bool = True

    @property
    def domain(self) -> str:
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"


@dataclass(frozen=True)
class HttpRequest:
    """What the HTTP server read: nothing in here knows about sockets."""

    method: str
    raw_path: str  # path and query, as on the request line
    header_items: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    server_port: int | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received: float = field(default_factory=time.time)


def resource_id(route: Route) -> str:
    """Stable per resource, like API Gateway's 6-character resource ids."""
    return uuid.uuid5(uuid.NAMESPACE_URL, route.resource).hex[:6]


def build_event(api: Api, route: Route, params: Mapping[str, str], request: HttpRequest) -> dict[str, Any]:
    """The REST API proxy event (payload format 1.0) for one request."""
    split = urlsplit(request.raw_path)
    path = split.path
    prefix = f"/{api.stage}/"
    if path.startswith(prefix) and route.match(path[len(prefix) - 1:]) is not None:
        path = path[len(prefix) - 1:]
    items = list(request.header_items)
    if api.forwarded_headers:
        items = forwarded(items, request.source_ip, request.server_port, request.received)
    headers, multi_headers = _headers(items)
    query, multi_query = _query(split.query)
    body, is_b64 = event_body(request.body, _get(headers, "content-type"), api.binary_media_types)
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(params) or None,
        "stageVariables": None,
        "requestContext": _request_context(api, route, request, split.path, _get(headers, "user-agent")),
        "body": body,
        "isBase64Encoded": is_b64,
    }


def event_body(body: bytes, content_type: str | None, binary_media_types: Sequence[str]) -> tuple[str | None, bool]:
    """(body, isBase64Encoded) by API Gateway's rule (module docstring)."""
    if not body:
        return None, False
    if media_type_matches(content_type, binary_media_types):
        return base64.b64encode(body).decode("ascii"), True
    return body.decode("utf-8", errors="replace"), False


def _get(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _headers(items: Sequence[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in items:
        # Same header repeated with different case: API Gateway keeps one key.
        existing = next((k for k in multi if k.lower() == name.lower()), name)
        multi.setdefault(existing, []).append(value)
        headers[existing] = value  # the last value, as API Gateway does
    return headers, multi


def _query(query: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        multi.setdefault(key, []).append(value)
        single[key] = value
    return single, multi


def _request_context(api: Api, route: Route, request: HttpRequest, requested_path: str,
                     user_agent: str | None) -> dict[str, Any]:
    return {
        "resourceId": resource_id(route),
        "resourcePath": route.resource,
        "httpMethod": request.method,
        "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode("ascii")[:16],
        "requestTime": datetime.fromtimestamp(request.received, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        # The path as the client requested it: stage-prefixed like the execute-api URL, or
        # bare like a custom domain mapping. Schemes that sign the URL rebuild it from here.
        "path": requested_path,
        "accountId": api.account_id,
        "protocol": request.protocol,
        "stage": api.stage,
        "domainPrefix": api.api_id,
        "requestTimeEpoch": int(request.received * 1000),
        "requestId": request.request_id,
        "identity": {
            "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
            "sourceIp": request.source_ip, "principalOrgId": None, "accessKey": None,
            "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None, "userArn": None,
            "userAgent": user_agent, "user": None,
        },
        "domainName": api.domain,
        "apiId": api.api_id,
    }


def forwarded(items: list[tuple[str, str]], source_ip: str, port: int | None, now: float) -> list[tuple[str, str]]:
    """The headers API Gateway adds in front of every integration request."""
    lower = {k.lower() for k, _ in items}
    out = [(k, f"{v}, {source_ip}" if k.lower() == "x-forwarded-for" else v) for k, v in items]
    if "x-forwarded-for" not in lower:
        out.append(("X-Forwarded-For", source_ip))
    if "x-forwarded-port" not in lower and port is not None:
        out.append(("X-Forwarded-Port", str(port)))
    if "x-forwarded-proto" not in lower:
        out.append(("X-Forwarded-Proto", "http"))
    if "x-amzn-trace-id" not in lower:
        out.append(("X-Amzn-Trace-Id", f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}"))
    return out


# --------------------------------------------------------------------------- responses


class BadProxyResponse(ValueError):
    """The function answered something API Gateway cannot map: it answers 502."""


def proxy_response(result: Any, event: Mapping[str, Any], binary_media_types: Sequence[str],
                   max_bytes: int = AWS_LIMITS.lambda_response_bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Map a Lambda proxy response to (status, headers, body); BadProxyResponse when API Gateway would 502."""
    if not isinstance(result, Mapping):
        raise BadProxyResponse(f"malformed Lambda proxy response: expected an object, got {type(result).__name__}")
    unknown = set(result) - {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if unknown:
        raise BadProxyResponse(f"malformed Lambda proxy response: unexpected keys {sorted(unknown)}")
    size = _response_size(result)
    if size > max_bytes:  # Lambda itself refuses it; API Gateway answers 502
        raise BadProxyResponse(f"the Lambda response is {size} bytes, over Lambda's {max_bytes}-byte limit")
    status = _status(result.get("statusCode", 200))
    merged = _response_headers(result)
    return status, merged, _response_body(result, event, merged, binary_media_types)


def _response_size(result: Mapping[str, Any]) -> int:
    try:
        return len(json.dumps(result).encode("utf-8"))
    except (TypeError, ValueError):
        raise BadProxyResponse("malformed Lambda proxy response: not JSON") from None


def _status(value: Any) -> int:
    try:
        status = int(value)
    except (TypeError, ValueError):
        raise BadProxyResponse(f"malformed Lambda proxy response: statusCode {value!r}") from None
    if not 100 <= status <= 599:
        raise BadProxyResponse(f"malformed Lambda proxy response: statusCode {status}")
    return status


def _response_headers(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """headers and multiValueHeaders merged; a key in both takes the multi values."""
    multi = {str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
             for k, vs in (result.get("multiValueHeaders") or {}).items()}
    merged = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()
              if not any(str(k).lower() == m.lower() for m in multi)]
    for k, vs in multi.items():
        merged.extend((k, v) for v in vs)
    return merged


def _response_body(result: Mapping[str, Any], event: Mapping[str, Any], headers: list[tuple[str, str]],
                   binary_media_types: Sequence[str]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise BadProxyResponse(f"malformed Lambda proxy response: body must be a string, got {type(body).__name__}")
    if result.get("isBase64Encoded"):
        accept = _get(event.get("headers") or {}, "accept")
        resp_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        if first_accept_matches(accept, binary_media_types) or media_type_matches(resp_type, binary_media_types):
            return base64.b64decode(body)
    return body.encode("utf-8")


# --------------------------------------------------------------------------- API Gateway's own answers
# Gateway response types and their default status codes:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    message: str
    error_type: str
    retry_after: int | None = None

    def render(self) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", self.error_type)]
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        return self.status, headers, json.dumps({"message": self.message}, separators=(",", ":")).encode()


MISSING_AUTHENTICATION_TOKEN = GatewayResponse(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
REQUEST_TOO_LARGE = GatewayResponse(413, "Request Too Long", "RequestTooLongException")
BAD_REQUEST = GatewayResponse(400, "Bad Request", "BadRequestException")
# THROTTLED: what a client of an API over its throttle gets; Retry-After tells it when to come back.
THROTTLED = GatewayResponse(429, "Too Many Requests", "TooManyRequestsException", retry_after=1)
INTEGRATION_FAILURE = GatewayResponse(502, "Internal server error", "InternalServerErrorException")
INTEGRATION_TIMEOUT = GatewayResponse(504, "Endpoint request timed out", "IntegrationTimeout")
# Not an API Gateway response (its front end closes slow connections): a plain HTTP 408.
REQUEST_TIMEOUT = GatewayResponse(408, "Request Timeout", "RequestTimeoutException")


def bad_request(message: str) -> GatewayResponse:
    return GatewayResponse(400, message, "BadRequestException")
