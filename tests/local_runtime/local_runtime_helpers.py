"""Shared helpers for the local runtime tests (imported by path, no package)."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def assert_same_shape(ours: Any, ref: Any, maps: set[str] = frozenset(), path: str = "$") -> None:
    """Same keys (for fixed structures) and same JSON types, recursively.

    Paths in `maps` are free-form maps (headers, attributes): their keys may
    differ, but every value must have the type of the reference's values.
    """
    if ref is None:
        assert ours is None, f"{path}: expected null, got {ours!r}"
        return
    if isinstance(ref, bool):
        assert isinstance(ours, bool), f"{path}: expected bool, got {ours!r}"
        return
    if isinstance(ref, (int, float)):
        assert isinstance(ours, (int, float)) and not isinstance(ours, bool), f"{path}: expected number, got {ours!r}"
        return
    if isinstance(ref, str):
        assert isinstance(ours, str), f"{path}: expected string, got {ours!r}"
        return
    if isinstance(ref, list):
        assert isinstance(ours, list), f"{path}: expected list, got {ours!r}"
        if ref and ours:
            for i, item in enumerate(ours):
                assert_same_shape(item, ref[0], maps, f"{path}[{i}]")
        return
    assert isinstance(ours, dict), f"{path}: expected object, got {ours!r}"
    if path in maps:
        sample = next(iter(ref.values()), None)
        for key, value in ours.items():
            if sample is not None:
                assert_same_shape(value, sample, maps, f"{path}.*")
        return
    assert set(ours) == set(ref), (
        f"{path}: keys differ: missing {sorted(set(ref) - set(ours))}, extra {sorted(set(ours) - set(ref))}"
    )
    for key in ref:
        assert_same_shape(ours[key], ref[key], maps, f"{path}.{key}")


class Recorder:
    """A stub handler that captures (event, context) and returns `response`."""

    def __init__(self, response: Any = None):
        self.calls: list[tuple[dict, Any]] = []
        self.response = response
        self.called = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, event: dict, context: Any) -> Any:
        with self._lock:
            self.calls.append((event, context))
        self.called.set()
        return self.response(event) if callable(self.response) else self.response

    @property
    def events(self) -> list[dict]:
        return [e for e, _ in self.calls]


def failing_handler(event: dict, context: Any) -> Any:
    raise RuntimeError("boom: the stub handler failed on purpose")


def live_threads(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]
