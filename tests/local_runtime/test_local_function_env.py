"""The deployed function's environment, applied in-process; handlers imported fresh."""
from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from local_runtime.emulator import EMULATOR_CREDENTIALS
from local_runtime.function_env import (EnvironmentConflict, FunctionConfig, for_function, on_emulator, LambdaContext, applied_environment,
                                        function_environment, get_function_config, load_handler,
                                        merge_environments, providers_environment)


@pytest.mark.emulator
def test_environment_comes_from_the_deployed_function(emulator):
    ep = emulator.endpoint
    iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1")
    role = iam.create_role(RoleName="fe-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", "def handler(e, c): return None\n")
    boto3.client("lambda", endpoint_url=ep, region_name="us-east-1").create_function(
        FunctionName="fe-ingest", Runtime="python3.12", Role=role["Role"]["Arn"], Handler="handlers.ingest.handler",
        Code={"ZipFile": buf.getvalue()}, MemorySize=256, Timeout=10,
        Environment={"Variables": {"TABLE_NAME": "t", "AWS_ENDPOINT_URL": "https://elsewhere.example"}})
    cfg = get_function_config(ep, "fe-ingest")
    assert cfg.handler == "handlers.ingest.handler" and cfg.memory_mb == 256 and cfg.timeout_s == 10
    env = function_environment(ep, cfg)
    assert env["TABLE_NAME"] == "t"
    assert env["AWS_ENDPOINT_URL"] == ep  # the emulator wins over a deployed endpoint
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert {k: env[k] for k in EMULATOR_CREDENTIALS} == EMULATOR_CREDENTIALS
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fe-ingest" and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    ctx = cfg.context("req-1")
    assert ctx.aws_request_id == "req-1" and ctx.memory_limit_in_mb == "256"
    assert ctx.invoked_function_arn.endswith(":function:fe-ingest")
    assert 9000 < ctx.get_remaining_time_in_millis() <= 10000


def test_applied_environment_restores_exactly(monkeypatch):
    monkeypatch.setenv("WH_KEEP", "old")
    monkeypatch.delenv("WH_NEW", raising=False)
    with applied_environment({"WH_KEEP": "new", "WH_NEW": "x"}):
        assert os.environ["WH_KEEP"] == "new" and os.environ["WH_NEW"] == "x"
    assert os.environ["WH_KEEP"] == "old" and "WH_NEW" not in os.environ


def test_merge_keeps_what_the_functions_share_and_refuses_a_shared_conflict():
    a = {"AWS_ENDPOINT_URL": "http://e", "TABLE_NAME": "t", "AWS_READ_TIMEOUT": "1.35",
         "AWS_LAMBDA_FUNCTION_NAME": "ingest"}
    b = {"AWS_ENDPOINT_URL": "http://e", "EVENT_BUS_NAME": "bus", "AWS_READ_TIMEOUT": "2.9",
         "AWS_LAMBDA_FUNCTION_NAME": "process"}
    # The handlers' settings are each invocation's own (for_function), never the process's.
    assert merge_environments(a, b) == {"AWS_ENDPOINT_URL": "http://e"}
    with pytest.raises(EnvironmentConflict, match="AWS_ENDPOINT_URL"):
        merge_environments(a, {"AWS_ENDPOINT_URL": "http://elsewhere"})


def test_each_function_reads_its_own_settings_in_one_process():
    from handlers.contract import Settings

    def read(event, context):
        return Settings.from_env().sdk_read_timeout_seconds, Settings.from_env().table_name

    ingest = for_function(read, {"AWS_READ_TIMEOUT": "1.35", "TABLE_NAME": "t"})
    process = for_function(read, {"AWS_READ_TIMEOUT": "2.9", "TABLE_NAME": "t"})
    assert (ingest({}, None), process({}, None)) == ((1.35, "t"), (2.9, "t"))
    assert Settings.from_env().sdk_read_timeout_seconds == Settings().sdk_read_timeout_seconds  # outside: unchanged


def test_a_freshly_imported_handler_reads_its_own_settings(monkeypatch):
    """dev loads ingest with fresh=True (a cold start): the wrapper must set what that fresh import reads."""
    for name in [n for n in sys.modules if n == "handlers" or n.startswith("handlers.")]:
        monkeypatch.setitem(sys.modules, name, sys.modules[name])  # put the test session's modules back after
    read = load_handler("handlers.contract.function_environment", fresh=True)  # the fresh module's reader
    handler = for_function(lambda event, context: read().get("AWS_READ_TIMEOUT"), {"AWS_READ_TIMEOUT": "7.5"})
    assert handler({}, None) == "7.5"


def test_load_handler_imports_fresh(tmp_path, monkeypatch):
    pkg = tmp_path / "fe_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("import os\nVALUE = os.environ.get('FE_VALUE')\n"
                                "def handler(event, context):\n    return VALUE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with applied_environment({"FE_VALUE": "one"}):
        assert load_handler("fe_pkg.mod.handler")({}, None) == "one"
    with applied_environment({"FE_VALUE": "two"}):
        assert load_handler("fe_pkg.mod.handler")({}, None) == "two"  # module code ran again
        assert load_handler("fe_pkg.mod.handler", fresh=False)({}, None) == "two"
    for bad in ("nodots", "fe_pkg.mod.missing"):
        with pytest.raises((ValueError, ImportError)):
            load_handler(bad)
    sys.modules.pop("fe_pkg", None), sys.modules.pop("fe_pkg.mod", None)


def test_local_context():
    ctx = LambdaContext.local("ingest", timeout_s=3)
    assert ctx.function_name == "ingest" and ctx.function_version == "$LATEST"
    assert ctx.log_group_name == "/aws/lambda/ingest"
    assert FunctionConfig.from_api({"FunctionName": "f", "FunctionArn": "arn"}).variables == {}


# -- the provider table file (contract.PROVIDERS_FILE_NAME at the zip root) ----------------------


def _zip(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _deployed(data: bytes, name: str = "webhooks-local-ingest") -> FunctionConfig:
    import base64
    import hashlib

    return FunctionConfig(name=name, arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                          handler="handlers.ingest.handler", code_sha256=base64.b64encode(hashlib.sha256(data).digest()).decode())


TABLE = b'{"stripe": {"scheme": "stripe", "secret_id": "webhooks-local/providers/stripe"}}'


def test_the_deployed_zip_s_provider_table_becomes_the_handlers_file(tmp_path):
    import hashlib

    from handlers.contract import PROVIDERS_FILE_NAME

    data = _zip({"handlers/ingest.py": b"", PROVIDERS_FILE_NAME: TABLE})
    build = tmp_path / "cdktf.out" / ".build"
    build.mkdir(parents=True)
    (build / f"handlers-{hashlib.sha256(data).hexdigest()[:16]}.zip").write_bytes(data)
    (build / "handlers-0000000000000000.zip").write_bytes(_zip({PROVIDERS_FILE_NAME: b"{}"}))  # another deploy's
    env = providers_environment(_deployed(data), build, tmp_path / ".webhookctl" / "providers")
    (path,) = env.values()
    assert list(env) == ["PROVIDERS_FILE"] and Path(path).is_absolute()
    assert Path(path).read_bytes() == TABLE
    assert hashlib.sha256(data).hexdigest()[:16] in Path(path).name


def test_a_zip_with_the_same_prefix_but_other_bytes_is_not_used(tmp_path):
    import hashlib

    from handlers.contract import PROVIDERS_FILE_NAME

    data = _zip({PROVIDERS_FILE_NAME: TABLE})
    (tmp_path / f"handlers-{hashlib.sha256(data).hexdigest()[:16]}.zip").write_bytes(_zip({PROVIDERS_FILE_NAME: b"{}"}))
    assert providers_environment(_deployed(data), tmp_path, tmp_path / "out") == {}


def test_the_zip_is_found_in_the_emulator_s_journal_when_the_build_folder_lacks_it(tmp_path):
    import base64

    from handlers.contract import PROVIDERS_FILE_NAME
    from local_runtime.journal import ControlJournal

    data = _zip({PROVIDERS_FILE_NAME: TABLE})
    body = json.dumps({"FunctionName": "x", "Code": {"ZipFile": base64.b64encode(data).decode()}}).encode()
    ControlJournal(tmp_path).append({"method": "POST", "path": "/2015-03-31/functions",
                                     "body_b64": base64.b64encode(body).decode()})
    env = providers_environment(_deployed(data), tmp_path / "no-build", tmp_path / "out", journal=tmp_path)
    assert Path(env["PROVIDERS_FILE"]).read_bytes() == TABLE


def test_a_zip_without_the_table_leaves_providers_in_the_environment(tmp_path):
    import hashlib

    data = _zip({"handlers/ingest.py": b""})
    (tmp_path / f"handlers-{hashlib.sha256(data).hexdigest()[:16]}.zip").write_bytes(data)
    assert providers_environment(_deployed(data), tmp_path, tmp_path / "out") == {}


def test_on_the_emulator_the_time_budget_keeps_its_proportions():
    """The emulator is slower than AWS: the function's timeout and its SDK timeouts stretch together."""
    from handlers.contract import Settings, sdk_call_seconds

    deployed = FunctionConfig(name="p", arn="arn", handler="h", timeout_s=30,
                              variables={"AWS_CONNECT_TIMEOUT": "0.35", "AWS_READ_TIMEOUT": "1.06",
                                         "AWS_MAX_ATTEMPTS": "3", "TABLE_NAME": "t"})
    local = on_emulator(deployed, factor=10)
    assert local.timeout_s == 300 and local.variables["TABLE_NAME"] == "t"
    assert (local.variables["AWS_CONNECT_TIMEOUT"], local.variables["AWS_READ_TIMEOUT"]) == ("3.5", "10.6")
    assert local.variables["AWS_MAX_ATTEMPTS"] == "3"  # the same retries, each with room to answer
    here, there = Settings.from_env(local.variables), Settings.from_env(deployed.variables)
    worst = lambda s: sdk_call_seconds(s.sdk_connect_timeout_seconds, s.sdk_read_timeout_seconds, s.sdk_max_attempts)
    assert worst(here) <= local.timeout_s and worst(there) <= deployed.timeout_s
