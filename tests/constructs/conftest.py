"""cdktf `Testing` fixtures: the stack is built and synthesized once per session per environment."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Synth:
    """A synthesized stack (parsed cdk.tf.json) with small query helpers."""

    def __init__(self, text: str):
        self.text = text
        self.doc: dict[str, Any] = json.loads(text)

    def resources(self, rtype: str) -> dict[str, dict[str, Any]]:
        return self.doc.get("resource", {}).get(rtype, {})

    def one(self, rtype: str, **match: Any) -> dict[str, Any]:
        """The single resource of that type whose attributes equal `match`."""
        found = [r for r in self.resources(rtype).values() if all(r.get(k) == v for k, v in match.items())]
        assert len(found) == 1, f"expected one {rtype} with {match}, found {len(found)}"
        return found[0]

    def count(self) -> int:
        return sum(len(v) for v in self.doc.get("resource", {}).values())

    def policies_of(self, function_path: str) -> list[dict[str, Any]]:
        """Every statement of the inline role policies of one function."""
        statements = []
        for key, policy in self.resources("aws_iam_role_policy").items():
            if key.startswith(f"{function_path}_"):
                statements += json.loads(policy["policy"])["Statement"]
        return statements


@pytest.fixture(scope="session")
def cdktf_testing():
    from cdktf import Testing

    return Testing


@pytest.fixture(scope="session")
def config():
    import config as config_mod

    return config_mod.load(ROOT / "webhookctl.toml")


@pytest.fixture(scope="session")
def stacks(cdktf_testing, config) -> dict[str, Any]:
    """One Testing app holding the local and prod stacks (the dev stack is prod without protection)."""
    from constructs_lib.stack import WebhookStack

    app = cdktf_testing.app()
    return {
        env: WebhookStack(app, config.stack_name(env), config=config, environment=config.environment(env), project_root=ROOT)
        for env in ("local", "prod")
    }


@pytest.fixture(scope="session")
def local(cdktf_testing, stacks) -> Synth:
    return Synth(cdktf_testing.synth(stacks["local"]))


@pytest.fixture(scope="session")
def prod(cdktf_testing, stacks) -> Synth:
    return Synth(cdktf_testing.synth(stacks["prod"]))


@pytest.fixture()
def scratch(cdktf_testing):
    """A fresh empty stack for one construct under test (cheap: the jsii runtime is already up)."""
    from cdktf import TerraformStack

    app = cdktf_testing.app()
    return TerraformStack(app, "scratch")


@pytest.fixture(scope="session")
def aws():
    from constructs_lib.iam import AwsContext

    return AwsContext(account_id="111122223333", region="eu-west-1")


@pytest.fixture(scope="session")
def synthesize(cdktf_testing):
    """synthesize(stack) -> Synth."""
    return lambda stack: Synth(cdktf_testing.synth(stack))
