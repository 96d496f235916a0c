"""webhookctl.toml documents every scheme in a commented example that the config loader accepts."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from config import parse
from handlers.schemes import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
ACTIVE = {"stripe", "github", "shopify", "slack", "standard", "twilio", "paddle", "square", "hmac-sha256"}


def commented_examples() -> dict:
    text = (ROOT / "webhookctl.toml").read_text()
    block = text[text.index("# More schemes"):text.index("\n[limits]")]
    uncommented = "\n".join(line[2:] for line in block.splitlines() if re.match(r"^# (\[|[a-z0-9_]+ = )", line))
    uncommented = uncommented.replace('"<sha256 hex of the Verify Token>"', '"' + "ab" * 32 + '"')
    return tomllib.loads(uncommented)["providers"]


def test_every_scheme_not_active_has_a_commented_example_that_loads():
    examples = commented_examples()
    assert {p["scheme"] for p in examples.values()} == set(REGISTRY) - ACTIVE
    config = parse({"project": "p", "providers": examples, "environments": {"local": {}}})
    assert sorted(p.scheme for p in config.providers.values()) == sorted(set(REGISTRY) - ACTIVE)


def test_every_option_of_every_scheme_is_shown():
    examples = commented_examples()
    for name, entry in REGISTRY.items():
        if name in ACTIVE:
            continue
        shown = {key for p in examples.values() if p["scheme"] == name for key in p}
        assert entry.option_names <= shown, name
