"""The synth cache: skip the ~10 s synth when nothing that feeds it changed, and say so."""
from __future__ import annotations

import json
import textwrap

import pytest

FAKE_APP = textwrap.dedent('''
    import json, os, pathlib
    out = pathlib.Path(os.environ["CDKTF_OUTDIR"]) / "stacks" / ("webhooks-" + os.environ["WEBHOOKCTL_ENV"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "cdk.tf.json").write_text(json.dumps({"config": os.environ["WEBHOOKCTL_CONFIG"]}))
    runs = pathlib.Path(os.environ["CDKTF_OUTDIR"]).parent / "runs.txt"
    runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
''')


@pytest.fixture
def app(project):
    (project / "main.py").write_text(FAKE_APP)
    (project / "handlers").mkdir()
    (project / "handlers" / "ingest.py").write_text("x = 1\n")
    return project


def runs(project) -> int:
    path = project / "runs.txt"
    return len(path.read_text()) if path.exists() else 0


def test_second_synth_is_skipped_with_one_line(run_cli, app):
    first = run_cli("synth")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == str(app / "cdktf.out/stacks/webhooks-local/cdk.tf.json")
    second = run_cli("synth", "--json")
    assert json.loads(second.stdout)["cached"] is True
    assert second.stderr.strip() == "synth: webhooks-local is up to date (inputs unchanged), skipped"
    assert runs(app) == 1


@pytest.mark.parametrize("change", ["config", "handler", "new_handler_file"])
def test_any_input_change_resynthesizes(run_cli, app, change):
    assert run_cli("synth").exit_code == 0
    if change == "config":
        path = app / "webhookctl.toml"
        path.write_text(path.read_text().replace("record_ttl_days = 90", "record_ttl_days = 30"))
    elif change == "handler":
        (app / "handlers" / "ingest.py").write_text("x = 2\n")
    else:
        (app / "handlers" / "extra.py").write_text("")
    result = run_cli("synth", "--json")
    assert json.loads(result.stdout)["cached"] is False
    assert runs(app) == 2


def test_environments_are_cached_separately_and_force_resynthesizes(run_cli, app):
    assert run_cli("synth").exit_code == 0
    assert run_cli("synth", "--env", "dev").exit_code == 0
    assert runs(app) == 2
    assert run_cli("synth", "--env", "dev").exit_code == 0
    assert runs(app) == 2
    assert run_cli("synth", "--force").exit_code == 0
    assert runs(app) == 3


def test_failing_synth_is_one_error_line(run_cli, app):
    (app / "main.py").write_text("raise SystemExit('Error: routes[0].target: must be logs')\n")
    result = run_cli("synth")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: synth of webhooks-local failed: routes[0].target: must be logs"
    )
