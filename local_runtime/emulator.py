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
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from handlers.contract import EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS  # noqa: F401  (re-exported)


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


class EmulatorError(RuntimeError):
    pass


@dataclass
class Emulator:
    host: str = "127.0.0.1"
    port: int = 4566
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    # Ids moto would draw at random (API Gateway APIs, resources, deployments;
    # the Secrets Manager ARN suffix; event source mapping UUIDs) derived from
    # the resource's name instead, so replaying a recording (local_runtime.
    # snapshot) gives back the ids Terraform state holds.
    deterministic_ids: bool = False
    # Where moto's recorder writes (MOTO_RECORDER_FILEPATH); default: a file in
    # the temp folder, never moto's own `./moto_recording` in someone's checkout.
    recording_path: Path | None = None

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
        # Always our entry point: moto plus the fixes below (main()).
        module = "local_runtime.emulator"
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env["WEBHOOKCTL_DETERMINISTIC_IDS"] = "1" if self.deterministic_ids else ""
        recording = self.recording_path or Path(tempfile.gettempdir()) / f"webhookctl-moto-{self.port}.recording"
        env["MOTO_RECORDER_FILEPATH"] = str(recording)
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "-H", self.host, "-p", str(self.port)],
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


def install_deterministic_ids() -> None:
    """Make moto derive the ids it would draw at random from names, in this process.

    An id is sha256(service, resource kind, account, region, name, n) where n
    counts earlier ids issued for the same name, so re-creating the same
    resources in the same order (a replay) yields the same ids whatever else
    happened in between, and two resources never share one.
    """
    import hashlib
    import string
    import threading
    import uuid

    from moto.utilities.id_generator import moto_id_manager

    lock = threading.Lock()
    issued: dict[str, int] = {}
    alphabet = string.ascii_lowercase + string.digits

    def digest(key: str) -> bytes:
        with lock:
            n = issued.get(key, 0)
            issued[key] = n + 1
        return hashlib.sha256(f"{key}#{n}".encode()).digest()

    def from_name(context) -> str | None:
        ident = context.get("resource_identifier")
        if ident is None:
            return None
        raw = digest(ident.unique_identifier)
        if ident.service == "secretsmanager":  # the 6-letter ARN suffix
            suffix = "".join(string.ascii_letters[b % 52] for b in raw[:6])
            return f"arn:aws:secretsmanager:{ident.region}:{ident.account_id}:secret:{ident.name}-{suffix}"
        return "".join(alphabet[b % 36] for b in raw[:10])  # API Gateway's 10-character ids

    moto_id_manager.add_id_source(from_name)

    from moto.awslambda import models as lambda_models

    original_init = lambda_models.EventSourceMapping.__init__

    def esm_init(self, spec):  # type: ignore[no-untyped-def]
        original_init(self, spec)
        key = f"{self.account_id}.{self.region}.lambda.esm.{self.function_name}.{self.event_source_arn}"
        self.uuid = str(uuid.UUID(bytes=digest(key)[:16], version=4))
        self.arn = lambda_models.make_event_source_mapping_arn(self.region, self.account_id, self.uuid)

    lambda_models.EventSourceMapping.__init__ = esm_init


def install_raw_s3_bodies() -> None:
    """Keep an S3 object's bytes when its Content-Type is a form (moto 5.2.1 server bug).

    Flask parses an `application/x-www-form-urlencoded` body into `request.form`
    and `request.data` comes back empty, so moto stored a Twilio webhook's
    archived payload as 0 bytes (and botocore then rejected its checksum).
    For a PUT (S3 never takes form fields there) cache the raw bytes for
    `request.data` and show moto an empty form.
    """
    from moto.s3.responses import S3Response
    from werkzeug.datastructures import ImmutableMultiDict

    original = S3Response.setup_class

    def setup_class(self, request, full_url, headers, *args, **kwargs):  # type: ignore[no-untyped-def]
        if (getattr(request, "method", None) == "PUT" and hasattr(request, "get_data")
                and (request.content_type or "").startswith("application/x-www-form-urlencoded")):
            request.get_data(cache=True, parse_form_data=False)
            request.form = ImmutableMultiDict()
            request.files = ImmutableMultiDict()
        return original(self, request, full_url, headers, *args, **kwargs)

    S3Response.setup_class = setup_class


def main(argv: list[str] | None = None) -> None:
    """`python -m local_runtime.emulator -H HOST -p PORT`: moto's server with our fixes."""
    install_raw_s3_bodies()
    from local_runtime.http_targets import install_moto_fixes  # input templates and connection secrets as on AWS

    install_moto_fixes()
    if os.environ.get("WEBHOOKCTL_DETERMINISTIC_IDS"):
        install_deterministic_ids()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main()
