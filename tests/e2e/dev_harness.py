"""Running `webhookctl dev` as a user does, and loading it as providers do (imported by path, no package)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from handlers.signatures import sign

WEBHOOKCTL = str(Path(sys.executable).parent / "webhookctl")
READY_TIMEOUT = 400
LOAD_SECRET = "e2e-load-stripe-secret"


class Dev:
    """A `webhookctl dev` child process in a project folder."""

    def __init__(self, project: Path, port: int):
        self.project, self.port = project, port
        self.log_path = project / f"dev-{time.monotonic_ns()}.log"
        self.out = open(self.log_path, "w+")
        self.proc = subprocess.Popen(
            [WEBHOOKCTL, "dev", "--port", str(port), "--visibility-timeout", "1", "--no-self-test"],
            cwd=project, stdout=self.out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own group, as a terminal gives it: `kill -9 -PGID` reaches it alone
        )

    def text(self) -> str:
        self.out.flush()
        return self.log_path.read_text()

    def story(self) -> str:
        """What dev said about itself, then the end of its output: enough to see why it failed."""
        text = self.text()
        said = [line for line in text.splitlines() if line.startswith(("dev:", "Error:"))]
        return "\n".join(said) + "\n---\n" + text[-3000:]

    def wait_for(self, needle: str, timeout: float = READY_TIMEOUT) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if needle in self.text():
                return time.monotonic() - started
            if self.proc.poll() is not None:
                raise AssertionError(f"webhookctl dev exited before {needle!r}:\n{self.story()}")
            time.sleep(0.2)
        self.kill()
        raise AssertionError(f"webhookctl dev: no {needle!r} in {timeout} s:\n{self.story()}")

    def wait_ready(self) -> float:
        return self.wait_for("is ready in")

    def wait_for_child(self, needle: str, timeout: float = 120) -> int:
        """The pid of a child of dev whose command line contains needle (Terraform, the emulator)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid, command in children_of(self.proc.pid):
                if needle in command:
                    return pid
            if self.proc.poll() is not None:
                raise AssertionError(f"webhookctl dev exited before a child {needle!r}:\n{self.text()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"no child {needle!r} of webhookctl dev in {timeout} s:\n{self.text()[-3000:]}")

    def interrupt(self, timeout: float = 90) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """kill -9 of dev's own process group (not the emulator: it runs in a session of its own)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)


def committed_config(project_root: Path, extra_providers: str = "") -> str:
    """The committed webhookctl.toml on a free emulator port, its http route on a free local port."""
    from local_runtime.emulator import free_port

    text = (project_root / "webhookctl.toml").read_text().replace("127.0.0.1:4566", f"127.0.0.1:{free_port()}")
    text = text.replace("127.0.0.1:3140/orders", f"127.0.0.1:{free_port()}/orders")
    return text.replace("\n[limits]", extra_providers + "\n[limits]", 1) if extra_providers else text


def serve_dev(project: Path):
    """`webhookctl dev` in `project`, ready, until the generator is closed (a module fixture's body)."""
    from local_runtime.emulator import free_port

    running = Dev(project, free_port())
    running.wait_ready()
    yield running
    if running.proc.poll() is None:
        running.interrupt()


def children_of(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, ValueError, IndexError):
            continue
    return found


def project_processes(project: Path) -> list[str]:
    """Every live process working in, or naming, the project folder (dev, Terraform, providers, emulator)."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if state != "Z" and (cwd.startswith(str(project)) or str(project) in command):
            found.append(f"{entry.name}: {command[:150]} (cwd {cwd})")
    return found


def emulator_pid(project: Path, env: str = "local") -> int:
    return int(json.loads((project / ".webhookctl" / f"emulator-{env}.json").read_text())["pid"])


# --------------------------------------------------------------------------- load


@dataclass
class Load:
    """What providers saw: accepted ids, every status, and requests that got no answer."""

    accepted: set[str] = field(default_factory=set)
    statuses: list[int] = field(default_factory=list)
    no_answer: list[tuple[bytes, dict]] = field(default_factory=list)  # (body, headers) to redeliver
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, doc: dict, seconds: float) -> None:
        with self.lock:
            self.statuses.append(status)
            self.latencies.append(seconds)
            if status == 202:
                self.accepted.add(doc["webhook_id"])


def signed_stripe(customer: str, n: int, tag: str) -> tuple[bytes, dict]:
    body = json.dumps({"id": f"evt_{tag}_{customer}_{n}", "type": "charge.succeeded",
                       "data": {"object": {"customer": customer, "amount": n}}}).encode()
    return body, {"Content-Type": "application/json", **sign("stripe", body, LOAD_SECRET, {})}


def deliver(port: int, body: bytes, headers: dict, load: Load, conn: http.client.HTTPConnection | None = None,
            timeout: float = 60) -> http.client.HTTPConnection | None:
    """POST one webhook; a request that gets no answer (reset, refused, closed) is kept for redelivery."""
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.request("POST", "/local/webhooks/stripe", body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        with load.lock:
            load.no_answer.append((body, headers))
        return None
    load.record(resp.status, json.loads(raw) if raw else {}, time.perf_counter() - started)
    if resp.getheader("Connection", "").lower() == "close":
        conn.close()
        return None
    return conn


def senders(port: int, load: Load, *, count: int, senders: int = 8, tag: str,
            stop: threading.Event | None = None) -> list[threading.Thread]:
    """`senders` providers, each its own customer (FIFO group), keep-alive, `count` webhooks in all."""
    def one(s: int) -> None:
        conn = None
        for n in range(count // senders + (1 if s < count % senders else 0)):
            if stop is not None and stop.is_set():
                return
            body, headers = signed_stripe(f"cus_{tag}_{s}", n, tag)
            conn = deliver(port, body, headers, load, conn)

    threads = [threading.Thread(target=one, args=(s,), daemon=True) for s in range(senders)]
    for t in threads:
        t.start()
    return threads


def warm_up(port: int, timeout: float = 15) -> None:
    """Until one load webhook is accepted: ingest re-reads a changed secret at most every few seconds."""
    deadline = time.monotonic() + timeout
    while True:
        probe = Load()
        body, headers = signed_stripe("cus_warm_up", time.time_ns(), "warm")
        deliver(port, body, headers, probe)
        if probe.statuses == [202]:
            return
        assert time.monotonic() < deadline, f"the load secret was never accepted: {probe.statuses}"
        time.sleep(1)


def burst(port: int, load: Load, *, connections: int, tag: str) -> None:
    """`connections` new connections at once, one webhook each."""
    gate = threading.Barrier(connections)

    def one(i: int) -> None:
        body, headers = signed_stripe(f"cus_{tag}_burst", i, tag)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        gate.wait()
        deliver(port, body, headers, load, conn)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
