"""The embedded AWS emulator: a moto server on loopback, as a child process.

A child process (not a thread) so Ctrl-C and test teardown can always stop it,
and so its CPU work does not contend with ours for the GIL.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# Credentials moto accepts; never real ones.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
EMULATOR_ACCOUNT_ID = "123456789012"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def is_moto(endpoint: str, timeout: float = 1.0) -> bool:
    """True when a moto server answers at endpoint."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class EmulatorError(RuntimeError):
    pass


@dataclass
class Emulator:
    host: str = "127.0.0.1"
    port: int = 4566
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> "Emulator":
        if port_open(self.host, self.port):
            raise EmulatorError(
                f"port {self.port} on {self.host} is already in use "
                f"(another `webhookctl dev`? stop it, or pick another port)"
            )
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = {**os.environ, **EMULATOR_CREDENTIALS, **self.env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,  # our Ctrl-C handling stops it; the terminal's SIGINT does not race us
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorError(f"the emulator exited at start (code {self.process.returncode})")
            if is_moto(self.endpoint, timeout=0.5):
                return self
            time.sleep(0.05)
        self.stop()
        raise EmulatorError(f"the emulator did not answer on {self.endpoint} within {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
