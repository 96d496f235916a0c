"""The in-process stand-in for a deployed Lambda function's runtime.

moto stores functions but does not run them, so `webhookctl dev` runs the
handlers in this process. This module gives them what Lambda would: the
environment variables the deployed function has (read back from the
emulator's Lambda API, so the stack stays the single source of truth), the
emulator endpoint and credentials, a Lambda-like context object, and the
handler itself, imported by its Lambda handler string.

os.environ is process-wide and the ingest and process handlers run in the
same process on different threads. What both functions share (the emulator
endpoint, credentials, region) is applied once for the whole session
(`merge_environments`, which refuses a shared key the two set differently);
each invocation then runs inside its own function's variables
(`for_function`, over `contract.invocation_environment`), so the handlers'
settings, which differ between functions by design, are each function's own.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib
import io
import json
import os
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handlers.contract import PROVIDERS_FILE_NAME, Settings
from local_runtime.emulator import EMULATOR_ACCOUNT_ID, EMULATOR_CREDENTIALS

DEFAULT_REGION = "us-east-1"

# Variables the Lambda runtime sets per function; they necessarily differ
# between two functions and are left out of a merged environment.
PER_FUNCTION_KEYS = frozenset(
    {
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "_HANDLER",
    }
)


class EnvironmentConflict(ValueError):
    """Two functions set the same variable to different values."""


@dataclass(frozen=True)
class FunctionConfig:
    """What the runtime needs from `lambda get_function_configuration`."""

    name: str
    arn: str
    handler: str
    memory_mb: int = 128
    timeout_s: int = 3
    variables: Mapping[str, str] = field(default_factory=dict)
    code_sha256: str = ""  # base64 SHA-256 of the deployed zip, as Lambda reports it

    @classmethod
    def from_api(cls, cfg: Mapping[str, Any]) -> "FunctionConfig":
        return cls(
            name=cfg["FunctionName"],
            arn=cfg["FunctionArn"],
            handler=cfg.get("Handler") or "",
            memory_mb=int(cfg.get("MemorySize") or 128),
            timeout_s=int(cfg.get("Timeout") or 3),
            variables=dict((cfg.get("Environment") or {}).get("Variables") or {}),
            code_sha256=cfg.get("CodeSha256") or "",
        )

    def context(self, request_id: str | None = None) -> "LambdaContext":
        return LambdaContext.for_function(self, request_id)


def _lambda_client(endpoint: str, region: str):
    import boto3

    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=EMULATOR_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


# The emulator is one Python process: under a load it answers in hundreds of milliseconds, even
# seconds, where AWS answers in milliseconds. The deployed function's timeout and its SDK timeouts
# are sized for AWS (contract.sdk_settings). In-process, both are stretched by the same factor, so
# the handlers' time budget keeps its proportions and a slow emulator never turns into an SDK
# retry (a retried PutEvents whose first call had succeeded publishes the event twice).
EMULATOR_TIME_FACTOR = 10
_SDK_TIMEOUT_KEYS = (Settings.variable("sdk_connect_timeout_seconds"), Settings.variable("sdk_read_timeout_seconds"))


def on_emulator(function: "FunctionConfig", factor: int = EMULATOR_TIME_FACTOR) -> "FunctionConfig":
    """The deployed function's configuration with its timeouts stretched for the emulator."""
    variables = dict(function.variables)
    for key in _SDK_TIMEOUT_KEYS:
        if key in variables:
            try:
                variables[key] = f"{float(variables[key]) * factor:g}"
            except ValueError:
                pass  # the handler keeps its default, as on Lambda
    return dataclasses.replace(function, timeout_s=function.timeout_s * factor, variables=variables)


def get_function_config(
    endpoint: str, function_name: str, region: str = DEFAULT_REGION, *, client: Any = None
) -> FunctionConfig:
    """The deployed function's configuration, from the emulator's Lambda API."""
    client = client or _lambda_client(endpoint, region)
    return FunctionConfig.from_api(client.get_function_configuration(FunctionName=function_name))


def emulator_environment(endpoint: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """What every in-process handler needs to reach the emulator, and nothing real."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **EMULATOR_CREDENTIALS,
        # Never let botocore fall back to instance metadata or a user profile.
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def function_environment(
    endpoint: str, function: FunctionConfig | str, region: str = DEFAULT_REGION, *, client: Any = None
) -> dict[str, str]:
    """The environment the deployed function would run with, pointed at the emulator.

    Precedence: the function's own variables < the emulator variables (a
    deployed `AWS_ENDPOINT_URL` or credential never points the local run
    elsewhere) ; plus the per-function variables the Lambda runtime sets.
    """
    if isinstance(function, str):
        function = get_function_config(endpoint, function, region, client=client)
    env = {str(k): str(v) for k, v in function.variables.items()}
    env.update(emulator_environment(endpoint, region))
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "_HANDLER": function.handler,
        }
    )
    return env


# The handlers' settings (contract.Settings): each invocation reads its own function's.
SETTINGS_KEYS = frozenset(Settings.variable(f.name) for f in dataclasses.fields(Settings))


def merge_environments(*envs: Mapping[str, str]) -> dict[str, str]:
    """What several functions sharing this process have in common, for os.environ.

    Per-function runtime variables and the handlers' settings are left out (each
    invocation gets its own through `for_function`); any other key two functions
    set to different values raises EnvironmentConflict (boto3 reads those from
    the process, so a handler would silently get the other function's value).
    """
    merged: dict[str, str] = {}
    conflicts: list[str] = []
    for env in envs:
        for key, value in env.items():
            if key in PER_FUNCTION_KEYS or key in SETTINGS_KEYS:
                continue
            if key in merged and merged[key] != value:
                conflicts.append(f"{key} ({merged[key]!r} vs {value!r})")
            merged.setdefault(key, value)
    if conflicts:
        raise EnvironmentConflict("functions disagree on: " + ", ".join(conflicts))
    return merged


def for_function(handler: Callable[[Any, Any], Any], variables: Mapping[str, str]) -> Callable[[Any, Any], Any]:
    """`handler`, run in its own function's variables (as on Lambda, where each has its process)."""
    variables = dict(variables)
    # The contract module the handler reads now: load_handler(fresh=True) re-imports the handlers
    # package, and the module imported above would hold a context variable nobody reads.
    scope = importlib.import_module("handlers.contract").invocation_environment

    def invoke(event: Any, context: Any) -> Any:
        with scope(variables):
            return handler(event, context)

    invoke.__wrapped__ = handler  # type: ignore[attr-defined]
    return invoke


@contextmanager
def applied_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Apply env to os.environ; restore exactly what was there afterwards."""
    saved = {key: os.environ.get(key) for key in env}
    try:
        os.environ.update({k: str(v) for k, v in env.items()})
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def deployed_zip(code_sha256: str, build_dir: Path, journal: Path | None = None) -> bytes | None:
    """The bytes of the zip a function was deployed with, found by its CodeSha256.

    moto keeps the code but serves no download of it, so: the stack's own
    build folder (`constructs_lib.packaging` names each zip
    `handlers-<first 16 hex of its SHA-256>.zip`), else the emulator's
    control journal, which holds every CreateFunction / UpdateFunctionCode
    body. Only bytes whose SHA-256 is `code_sha256` are returned.
    """
    try:
        digest = base64.b64decode(code_sha256).hex()
    except ValueError:
        return None
    for path in sorted(build_dir.glob(f"*-{digest[:16]}.zip")):
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() == digest:
            return data
    return _zip_from_journal(digest, journal) if journal is not None else None


def _zip_from_journal(digest: str, journal: Path) -> bytes | None:
    from local_runtime.journal import ControlJournal, body_bytes

    for entry in reversed(ControlJournal(journal).entries()):
        try:
            doc = json.loads(body_bytes(entry) or b"{}")
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        # CreateFunction: {"Code": {"ZipFile": b64}}; UpdateFunctionCode: {"ZipFile": b64}
        code = doc.get("ZipFile") or (doc.get("Code") or {}).get("ZipFile")
        if isinstance(code, str):
            data = base64.b64decode(code)
            if hashlib.sha256(data).hexdigest() == digest:
                return data
    return None


def providers_environment(function: FunctionConfig, build_dir: Path, dest_dir: Path,
                          journal: Path | None = None) -> dict[str, str]:
    """{PROVIDERS_FILE: <absolute path>} when the deployed zip carries the table; else {} (PROVIDERS stays)."""
    path = providers_file(function, build_dir, dest_dir, journal)
    return {Settings.variable("providers_file"): str(path)} if path is not None else {}


def providers_file(function: FunctionConfig, build_dir: Path, dest_dir: Path,
                   journal: Path | None = None) -> Path | None:
    """The deployed function's provider table (`contract.PROVIDERS_FILE_NAME` at its zip root), as a file.

    Extracted into `dest_dir` under a name carrying the code hash, so a
    redeploy with another table never reads a stale copy. None when the zip
    is not found or carries no table (a stack that still passes PROVIDERS in
    the environment).
    """
    data = deployed_zip(function.code_sha256, build_dir, journal)
    if data is None:
        return None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if PROVIDERS_FILE_NAME not in archive.namelist():
            return None
        table = archive.read(PROVIDERS_FILE_NAME)
    digest = base64.b64decode(function.code_sha256).hex()[:16]
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"providers-{function.name}-{digest}.json"
    target.write_bytes(table)
    return target.resolve()


def load_handler(handler: str, *, fresh: bool = True) -> Callable[[Any, Any], Any]:
    """Import `package.module.function` as Lambda does and return the function.

    fresh=True drops the module and every module of its top-level package from
    sys.modules first, so module-level code (environment reads, boto3
    clients) runs again under the environment applied now: a cold start.
    """
    module_name, sep, attr = handler.rpartition(".")
    if not sep or not module_name or not attr:
        raise ValueError(f"handler must be 'module.function', got {handler!r}")
    if fresh:
        top = module_name.split(".")[0]
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]
        importlib.invalidate_caches()
    module = importlib.import_module(module_name)
    try:
        fn = getattr(module, attr)
    except AttributeError:
        raise ImportError(f"{module_name} has no attribute {attr!r} (handler {handler!r})") from None
    if not callable(fn):
        raise TypeError(f"handler {handler!r} is not callable")
    return fn


class LambdaContext:
    """The attributes and method of the Python runtime's context object."""

    def __init__(
        self,
        function_name: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int | str = 128,
        timeout_s: float = 3,
        aws_request_id: str | None = None,
        function_version: str = "$LATEST",
    ):
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        # The real runtime (awslambdaric) exposes this as a string.
        self.memory_limit_in_mb = str(memory_limit_in_mb)
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(timeout_s)

    @classmethod
    def for_function(cls, function: FunctionConfig, request_id: str | None = None) -> "LambdaContext":
        return cls(function.name, function.arn, function.memory_mb, function.timeout_s, request_id)

    @classmethod
    def local(cls, function_name: str, region: str = DEFAULT_REGION, timeout_s: float = 3,
              request_id: str | None = None) -> "LambdaContext":
        arn = f"arn:aws:lambda:{region}:{EMULATOR_ACCOUNT_ID}:function:{function_name}"
        return cls(function_name, arn, 128, timeout_s, request_id)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, request_id={self.aws_request_id!r})"
