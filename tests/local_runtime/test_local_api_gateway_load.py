"""The loopback API Gateway under bursts, slow clients and hostile framing (issue 9 items 6 and 8)."""
from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time

import pytest

from local_runtime.api_gateway import ApiGatewayServer
from local_runtime_helpers import Recorder

ACCEPTED = {"statusCode": 202, "headers": {"Content-Type": "application/json"}, "body": '{"status": "queued"}'}


def slow(seconds: float, response=ACCEPTED):
    def handler(event, context):
        time.sleep(seconds)
        return response
    return handler


def raw_exchange(port: int, data: bytes, *, read_timeout: float = 5.0, close_write: bool = False) -> bytes:
    """Send bytes, read until the server closes the connection. A server that still holds it open
    after read_timeout (waiting for an EOF the client never sends, say) fails the test."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
        except TimeoutError:
            pytest.fail(f"the server kept the connection open for {read_timeout} s; it had sent {reply[:200]!r}")
        return reply


def post(port: int, body: bytes = b"{}", timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/webhooks/stripe", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_a_burst_beyond_the_workers_gets_429s_and_never_a_reset():
    # GIVEN 2 workers and room for 4 more connections, each request taking 0.3 s
    with ApiGatewayServer(slow(0.3), workers=2, queue=4) as srv:
        results: list[tuple[int, dict, bytes] | Exception] = []
        lock = threading.Lock()

        def one() -> None:
            try:
                outcome = post(srv.port)
            except Exception as exc:  # noqa: BLE001 - a reset would land here and fail the test below
                outcome = exc
            with lock:
                results.append(outcome)

        # WHEN 50 connections arrive at once
        threads = [threading.Thread(target=one) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # THEN every one got an HTTP answer: accepted, or API Gateway's throttle answer
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    statuses = sorted(r[0] for r in results)
    assert set(statuses) == {202, 429}
    assert statuses.count(202) >= 6 and statuses.count(429) == srv.rejected
    throttled = next(r for r in results if r[0] == 429)
    assert json.loads(throttled[2]) == {"message": "Too Many Requests"}
    assert throttled[1]["Retry-After"] == "1" and throttled[1]["x-amzn-ErrorType"] == "TooManyRequestsException"


def test_the_same_delivery_sent_20_times_at_once_is_never_reset():
    stub = Recorder(ACCEPTED)
    with ApiGatewayServer(stub) as srv:
        outcomes = []
        threads = [threading.Thread(target=lambda: outcomes.append(post(srv.port, b'{"id": "evt_1"}')[0]))
                   for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert outcomes == [202] * 20 and len(stub.calls) == 20


def test_headers_without_the_body_get_408_and_free_their_worker():
    stub = Recorder(ACCEPTED)
    with ApiGatewayServer(stub, workers=2, queue=0, body_timeout_s=0.5) as srv:
        holders = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(2)]
        for s in holders:  # both workers now wait for 10 bytes that never come
            s.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        replies = []
        for s in holders:
            s.settimeout(5)
            reply = b""
            while chunk := s.recv(4096):  # the server closes after its 408
                reply += chunk
            replies.append(reply)
            s.close()
        # the workers are free again: a normal request is served
        assert post(srv.port)[0] == 202
    for reply in replies:
        assert reply.startswith(b"HTTP/1.1 408") and b'{"message":"Request Timeout"}' in reply
    assert len(stub.calls) == 1


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout():
    with ApiGatewayServer(Recorder(ACCEPTED), header_timeout_s=0.3) as srv:
        reply = raw_exchange(srv.port, b"")  # closed by the server, or the test fails
    assert reply == b""


def test_headers_sent_a_byte_at_a_time_still_hit_the_deadline():
    drip = 400  # bytes, one each 0.05 s: each well inside a per-read timeout, the whole 40x the deadline
    with ApiGatewayServer(Recorder(ACCEPTED), header_timeout_s=0.5) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"POST /webhooks/stripe HTTP/1.1\r\n")
            sent, reply = 0, b""
            while sent < drip and not select.select([s], [], [], 0.05)[0]:
                try:
                    s.sendall(b"X")
                except OSError:
                    break
                sent += 1
            try:
                while chunk := s.recv(4096):
                    reply += chunk
            except OSError:
                pass
    # Answered while bytes were still arriving in time: a per-read timeout alone would never answer.
    assert reply.startswith(b"HTTP/1.1 408") and sent < drip


def test_an_idle_keep_alive_connection_is_closed():
    with ApiGatewayServer(Recorder(ACCEPTED), keepalive_s=0.3) as srv:
        reply = raw_exchange(srv.port, b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    # one answer, then the server closed the idle connection itself (no Connection: close asked)
    assert reply.startswith(b"HTTP/1.1 202") and reply.endswith(b'{"status": "queued"}')


@pytest.mark.parametrize("body,why", [
    (b"-1\r\n" + b"x" * 100_000, "negative size: read to EOF before"),
    (b"+5\r\nhello\r\n0\r\n\r\n", "signed size"),
    (b"0x5\r\nhello\r\n0\r\n\r\n", "0x prefix"),
    (b" \r\nhello\r\n0\r\n\r\n", "empty size"),
    (b"5\r\nhelloXX0\r\n\r\n", "chunk not followed by CRLF"),
    (b"1" * 20 + b"\r\n", "size longer than 16 hex digits"),
])
def test_malformed_chunk_sizes_are_400_and_nothing_reaches_the_handler(body, why):
    stub = Recorder(ACCEPTED)
    with ApiGatewayServer(stub) as srv:
        # answered and closed at once: raw_exchange fails if the server waits for an EOF
        reply = raw_exchange(srv.port, b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert reply.startswith(b"HTTP/1.1 400"), why
    assert stub.calls == []


def test_chunks_are_counted_against_the_cap_as_they_arrive():
    stub = Recorder(ACCEPTED)
    with ApiGatewayServer(stub, max_payload_bytes=1000) as srv:
        # One chunk announced past the cap: refused before its bytes are read.
        reply = raw_exchange(srv.port, b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n" + b"FFFFFFFF\r\n")
        assert reply.startswith(b"HTTP/1.1 413") and b'{"message":"Request Too Long"}' in reply
        # Many small chunks adding up past the cap.
        reply = raw_exchange(srv.port, b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n" + b"64\r\n" + b"x" * 100 + b"\r\n" * 1
                             + (b"64\r\n" + b"x" * 100 + b"\r\n") * 10)
        assert reply.startswith(b"HTTP/1.1 413")
    assert stub.calls == []


@pytest.mark.parametrize("headers", [
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Content-Length: +5\r\n",
])
def test_ambiguous_framing_is_400(headers):
    stub = Recorder(ACCEPTED)
    with ApiGatewayServer(stub) as srv:
        reply = raw_exchange(srv.port, b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\nhello")
    assert reply.startswith(b"HTTP/1.1 400") and stub.calls == []


def test_a_handler_slower_than_the_integration_timeout_gets_504():
    release = threading.Event()

    def stuck(event, context):  # ends only once the client has its answer
        release.wait(30)
        return ACCEPTED

    with ApiGatewayServer(stuck, integration_timeout_s=0.2) as srv:
        try:
            # answered at the timeout, not when the handler ended: else this read times out
            status, headers, body = post(srv.port, timeout=10)
        finally:
            release.set()
    assert status == 504 and json.loads(body) == {"message": "Endpoint request timed out"}


def test_a_response_over_lambda_s_6_mb_is_502():
    big = {"statusCode": 200, "body": "x" * (6 * 1024 * 1024)}
    with ApiGatewayServer(Recorder(big)) as srv:
        status, _, body = post(srv.port)
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}
