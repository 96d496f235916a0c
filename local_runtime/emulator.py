"""The embedded AWS emulator, seen from the command that runs it: start, find again, stop.

The emulator is a child process (`local_runtime.emulator_server`: moto plus
our patches), not a thread, so its CPU work does not contend with ours for
the GIL, and in its own session, so a terminal's Ctrl-C reaches the command
first and the command stops it in order (handlers, then emulator).

Being in its own session, it outlives a command killed with SIGKILL. That is
on purpose: it holds the data, and with a persist folder it also writes it
all to disk. The command records what it started in a runtime file
(`.webhookctl/emulator-<env>.json`: pid, port, persist folder, a token), so
the next `webhookctl dev` re-attaches to it and `webhookctl emulator stop`
finds it. Anything else on the port is refused, naming what holds it.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handlers.contract import EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS  # noqa: F401  (re-exported)

IDENTITY_PATH = "/webhookctl/identity"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def is_moto(endpoint: str, timeout: float = 1.0) -> bool:
    """True when a moto server answers at endpoint.

    Asks for moto's dashboard page: `/moto-api/data.json` answers 500 once a
    Lambda event source mapping exists (moto 5.2.1), which a deployed stack has.
    """
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=timeout) as resp:
            return resp.status == 200 and b"moto" in resp.read(4096).lower()
    except (urllib.error.URLError, OSError, ValueError):
        return False


def identity(endpoint: str, timeout: float = 1.0) -> dict[str, Any] | None:
    """What a webhookctl emulator says about itself (pid, token, persist folder, restore report)."""
    try:
        with urllib.request.urlopen(f"{endpoint}{IDENTITY_PATH}", timeout=timeout) as resp:
            doc = json.loads(resp.read())
            return doc if isinstance(doc, dict) else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def port_holder(host: str, port: int) -> str:
    """Who listens on host:port, as far as /proc tells this user: "pid 123 (python3 -m http.server)"."""
    inodes = _listening_inodes(port)
    if not inodes:
        return "another process"
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (pid_dir / "fd").iterdir()}
        except OSError:
            continue  # gone, or not ours to look at
        if any(f"socket:[{inode}]" in links for inode in inodes):
            return f"pid {pid_dir.name} ({process_command(int(pid_dir.name))})"
    return "a process of another user"


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (state 0A) in /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                found.add(cols[9])
    return found


def process_command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(raw.decode(errors="replace").replace("\0", " ").split())[:160]  # one line


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not alive for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class EmulatorError(RuntimeError):
    pass


def _default_log(port: int) -> Path:
    return Path(tempfile.gettempdir()) / f"webhookctl-emulator-{port}.log"


@dataclass
class Emulator:
    host: str = "127.0.0.1"
    port: int = 4566
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    # Ids moto would draw at random (API Gateway ids, the Secrets Manager ARN suffix, event
    # source mapping UUIDs) derived from names instead, so replaying the journal gives back
    # the ids Terraform state holds (local_runtime.moto_patches).
    deterministic_ids: bool = False
    # Journal everything to this folder and restore from it at start (local_runtime.journal).
    persist_dir: Path | None = None
    # Enforce the AWS limits moto lets through (local_runtime.moto_patches).
    strict: bool = True
    # Where the command that started it records it, so another command can find it again.
    runtime_file: Path | None = None
    started_by_command: str = "dev"  # "dev" (stops it on exit) or "emulator start" (leaves it running)
    process: subprocess.Popen | None = None
    pid: int | None = None  # set for a started or re-attached emulator
    token: str = ""

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "local_runtime.emulator_server", "-H", self.host, "-p", str(self.port),
                "--token", self.token]
        if self.persist_dir is not None:
            argv += ["--persist", str(self.persist_dir)]
        if self.deterministic_ids:
            argv.append("--deterministic-ids")
        if not self.strict:
            argv.append("--lenient")
        return argv

    def start(self, timeout: float = 60.0) -> "Emulator":
        if port_open(self.host, self.port):
            raise EmulatorError(f"port {self.port} on {self.host} is held by {port_holder(self.host, self.port)}: "
                                f"stop it, or set another emulator_endpoint for this environment")
        self.log_path = self.log_path or _default_log(self.port)
        self.token = self.token or secrets.token_hex(8)
        env = {**os.environ, **EMULATOR_CREDENTIALS, **self.env}
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv(), stdout=log, stderr=log, env=env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.process.pid
        try:
            self._wait_ready(timeout)
        except BaseException:  # Ctrl-C while it starts: it must not outlive us
            self.stop()
            raise
        self._write_runtime_file()
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise EmulatorError(f"the emulator exited at start (code {code}): {self.log_tail()}")
            if is_moto(self.endpoint, timeout=0.5):
                return
            time.sleep(0.05)
        raise EmulatorError(f"the emulator did not answer on {self.endpoint} within {timeout:.0f} s: "
                            f"{self.log_tail()}")

    def log_tail(self, lines: int = 8) -> str:
        """The end of the emulator's log, on one line (what it said before it died)."""
        try:
            text = Path(self.log_path).read_text(errors="replace") if self.log_path else ""
        except OSError:
            return f"(no log at {self.log_path})"
        tail = [line.strip() for line in text.strip().splitlines()[-lines:] if line.strip()]
        return " | ".join(tail) + f" (log: {self.log_path})" if tail else f"(its log {self.log_path} is empty)"

    def identity(self) -> dict[str, Any] | None:
        return identity(self.endpoint)

    @property
    def running(self) -> bool:
        return self.pid is not None and pid_alive(self.pid)

    # -- the runtime file ----------------------------------------------------
    def _write_runtime_file(self) -> None:
        if self.runtime_file is None:
            return
        self.runtime_file.parent.mkdir(parents=True, exist_ok=True)
        doc = {"pid": self.pid, "host": self.host, "port": self.port, "token": self.token,
               "persist": str(self.persist_dir.resolve()) if self.persist_dir else None,
               "log": str(self.log_path), "started_by": os.getpid(), "command": self.started_by_command,
               "started_at": time.time()}
        tmp = self.runtime_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(self.runtime_file)

    @classmethod
    def attach(cls, runtime_file: Path, persist_dir: Path | None = None) -> "Emulator | None":
        """The emulator the runtime file describes, when it is alive and proves it is that one."""
        try:
            doc = json.loads(runtime_file.read_text())
            pid, host, port, token = int(doc["pid"]), doc["host"], int(doc["port"]), doc["token"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not pid_alive(pid):
            return None
        found = identity(f"http://{host}:{port}")
        if not found or found.get("token") != token or found.get("pid") != pid:
            return None
        if persist_dir is not None and found.get("persist") != str(persist_dir.resolve()):
            return None
        return cls(host=host, port=port, log_path=Path(doc.get("log") or _default_log(port)),
                   persist_dir=persist_dir, runtime_file=runtime_file, pid=pid, token=token,
                   deterministic_ids=True, started_by_command=doc.get("command") or "dev")

    def claim(self) -> None:
        """Record this process as the emulator's owner (a re-attached emulator)."""
        self._write_runtime_file()

    # -- stopping ------------------------------------------------------------
    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM its process group, SIGKILL after `timeout`; forget the runtime file."""
        pid, proc = self.pid, self.process
        self.pid = self.process = None
        if self.runtime_file is not None:
            self.runtime_file.unlink(missing_ok=True)
        if pid is None:
            return
        _stop_group(pid, proc, timeout)

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _stop_group(pid: int, proc: subprocess.Popen | None, timeout: float) -> None:
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        if _wait_gone(pid, proc, wait):
            break
    if proc is not None:
        proc.poll()


def _wait_gone(pid: int, proc: subprocess.Popen | None, timeout: float) -> bool:
    if proc is not None:
        try:
            proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False
