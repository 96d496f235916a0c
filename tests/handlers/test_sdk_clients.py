"""The handlers' boto3 clients take their timeouts and attempts from Settings, and
`Deadline` lets a step start only while its worst case still fits."""
from __future__ import annotations

from handlers import aws
from handlers.contract import SDK_RESERVE_SECONDS, Settings


def test_clients_use_the_settings_timeouts_and_attempts(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONNECT_TIMEOUT", "0.3")
    monkeypatch.setenv("AWS_READ_TIMEOUT", "0.7")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    config = aws.client("dynamodb").meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.3, 0.7)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}  # the first attempt included
    assert aws.client("dynamodb") is aws.client("dynamodb")  # created once, reused


class Context:
    def __init__(self, remaining_ms: int):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_deadline_allows_calls_while_their_worst_case_ends_before_the_reserve():
    settings = Settings(sdk_connect_timeout_seconds=0.5, sdk_read_timeout_seconds=1.5, sdk_max_attempts=2)
    worst = 2 * 2.0 + 1  # two attempts of 2 s and one backoff of up to 1 s
    edge = int((2 * worst + SDK_RESERVE_SECONDS) * 1000)
    assert aws.Deadline(Context(edge), settings).call_seconds == worst
    assert aws.Deadline(Context(edge), settings).allows(2)
    assert not aws.Deadline(Context(edge - 1), settings).allows(2)
    assert aws.Deadline(Context(edge - 1), settings).allows(1)
    assert aws.Deadline(None, settings).allows(1000)  # no Lambda context: no deadline
    assert aws.Deadline(object(), settings).allows(1000)
