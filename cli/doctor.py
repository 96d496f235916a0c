"""`webhookctl doctor`: is this machine ready for the environment? Each failed check says what to do."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass

from . import terraform
from .workspace import Workspace

# S3-native state locking (use_lockfile) needs Terraform 1.10; the project is tested on 1.11.
MIN_TERRAFORM = (1, 11)
MIN_NODE = 18


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out.stdout + out.stderr)
    return match.group(0) if match else None


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, sys.version.split()[0], "" if ok else "install Python 3.11 or newer")


def check_node() -> Check:
    if not shutil.which("node"):
        return Check("node", False, "not found", "install Node.js 20 (cdktf's jsii runtime), e.g. apt-get install nodejs")
    version = _version(["node", "--version"]) or "unknown"
    ok = version != "unknown" and int(version.split(".")[0]) >= MIN_NODE
    return Check("node", ok, version, "" if ok else f"Node.js {MIN_NODE}+ is required; Node 20 is tested")


def check_terraform() -> Check:
    if not shutil.which("terraform"):
        return Check("terraform", False, "not found",
                     "install Terraform 1.11+ (https://developer.hashicorp.com/terraform/install)")
    version = _version(["terraform", "version"]) or "unknown"
    parts = tuple(int(x) for x in version.split(".")[:2]) if version != "unknown" else (0, 0)
    ok = parts >= MIN_TERRAFORM
    wanted = ".".join(map(str, MIN_TERRAFORM))
    return Check("terraform", ok, version, "" if ok else
                 f"Terraform {wanted}+ is required (S3 state locking needs 1.10+): "
                 "https://developer.hashicorp.com/terraform/install")


def check_provider() -> Check:
    mirror = terraform.find_mirror()
    if mirror:
        return Check("aws provider", True, f"{terraform.PROVIDER_VERSION} from the local mirror {mirror}")
    return Check("aws provider", True,
                 f"{terraform.PROVIDER_VERSION} will be downloaded from registry.terraform.io on first init",
                 "no internet? point WEBHOOKCTL_PROVIDER_MIRROR at a folder holding "
                 f"{terraform.PROVIDER_SOURCE}/{terraform.PROVIDER_VERSION}/")


def check_environment(ws: Workspace) -> Check:
    if ws.env.is_emulated:
        from local_runtime.emulator import is_moto

        ok = is_moto(ws.env.emulator_endpoint)
        return Check("emulator", ok, f"{'running' if ok else 'not running'} at {ws.env.emulator_endpoint}",
                     "" if ok else "start it with `webhookctl emulator start`, or run `webhookctl dev`")
    from .aws import session

    sess = session(ws)
    if sess.get_credentials() is None:
        return Check("aws credentials", False, "none found",
                     "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    try:
        from botocore.config import Config

        ident = sess.client("sts", config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1}))
        arn = ident.get_caller_identity()["Arn"]
        return Check("aws credentials", True, arn)
    except Exception as exc:  # any failure here is the user's to see, in one line
        return Check("aws credentials", False, f"found but rejected: {str(exc).splitlines()[0]}",
                     "refresh them (aws sso login / new keys) and retry")


def check_apigateway_role(ws: Workspace) -> Check:
    """The account's API Gateway CloudWatch role: without it the stage's logs fail to deploy."""
    from .bootstrap import apigateway_logging_role_arn

    try:
        arn = apigateway_logging_role_arn(ws)
    except Exception as exc:  # any failure here is the user's to see, in one line
        return Check("apigateway logging role", False, f"could not read it: {str(exc).splitlines()[0]}",
                     "check the credentials can call apigateway:GET on /account")
    if arn is None:
        return Check("apigateway logging role", False, f"none set in {ws.env.region}",
                     f"run `webhookctl bootstrap --env {ws.env.name}`")
    return Check("apigateway logging role", True, arn)


def run_checks(ws: Workspace) -> list[Check]:
    checks = [check_python(), check_node(), check_terraform(), check_provider(), check_environment(ws)]
    if not ws.env.is_emulated and checks[-1].ok:  # only with working credentials
        checks.append(check_apigateway_role(ws))
    return checks


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]
