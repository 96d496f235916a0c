"""main.py, the cdktf app: environment variables and errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_synthesizes_every_environment(synth_outdir):
    manifest = json.loads((synth_outdir / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == ["webhooks-dev", "webhooks-local", "webhooks-prod"]
    for name in manifest["stacks"]:
        stack = synth_outdir / "stacks" / name
        doc = json.loads((stack / "cdk.tf.json").read_text())
        [zip_path] = {f["filename"] for f in doc["resource"]["aws_lambda_function"].values()}
        assert (stack / zip_path).is_file()  # one asset, shared by both functions


def test_each_stacks_zip_holds_its_provider_table(synth_outdir):
    from config import load
    from constructs_lib.packaging import provider_table_bytes
    from handlers.contract import PROVIDERS_FILE_NAME

    config = load(ROOT / "webhookctl.toml")
    for env in config.environments:
        stack = synth_outdir / "stacks" / config.stack_name(env)
        doc = json.loads((stack / "cdk.tf.json").read_text())
        [zip_path] = {f["filename"] for f in doc["resource"]["aws_lambda_function"].values()}
        with zipfile.ZipFile(stack / zip_path) as archive:
            assert archive.read(PROVIDERS_FILE_NAME) == provider_table_bytes(config.providers, config.stack_name(env))
        assert all("PROVIDERS" not in f["environment"]["variables"]
                   for f in doc["resource"]["aws_lambda_function"].values())


def test_one_environment_synthesizes_byte_identical_to_all_of_them(synth_outdir, tmp_path):
    """The stack of X does not depend on which other stacks the app holds (no unresolved token is hashed)."""
    for env in ("local", "prod"):
        outdir = tmp_path / env  # as deep below tmp as synth_outdir: the local backend's relative path matches
        proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "WEBHOOKCTL_ENV": env, "CDKTF_OUTDIR": str(outdir)})
        assert proc.returncode == 0, proc.stderr
        alone = (outdir / "stacks" / f"webhooks-{env}" / "cdk.tf.json").read_bytes()
        together = (synth_outdir / "stacks" / f"webhooks-{env}" / "cdk.tf.json").read_bytes()
        if env == "local":  # the state path is relative to the output folder
            alone, together = (_without_backend(d) for d in (alone, together))
        assert alone == together, env


def test_webhookctl_synth_writes_the_same_stack_as_main_py(synth_outdir, tmp_path):
    shutil.copy(ROOT / "webhookctl.toml", tmp_path / "webhookctl.toml")
    webhookctl = Path(sys.executable).parent / "webhookctl"
    proc = subprocess.run([str(webhookctl), "synth", "--env", "prod", "--config", str(tmp_path / "webhookctl.toml")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    written = (tmp_path / "cdktf.out" / "stacks" / "webhooks-prod" / "cdk.tf.json").read_bytes()
    assert written == (synth_outdir / "stacks" / "webhooks-prod" / "cdk.tf.json").read_bytes()


def test_a_limit_aws_would_refuse_fails_synth_in_one_error_line(tmp_path):
    """main.py turns a construct's ValidationError into `Error: ...` and exit 1, not a traceback."""
    code = (
        "import sys; sys.argv = ['main.py']\n"
        "import constructs_lib.queue as queue\n"
        "queue.QUEUE_DEFAULTS = {**queue.QUEUE_DEFAULTS, 'max_message_size': 2048}  # smaller than a pointer\n"
        "import main; raise SystemExit(main.main())\n"
    )
    env = {**os.environ, "WEBHOOKCTL_ENV": "prod", "CDKTF_OUTDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    # Node's own end-of-life banner (printed by jsii as b'!! ...' lines) aside, one line: the error.
    [line] = [line for line in proc.stderr.strip().splitlines() if not line.startswith("b'!!")]
    assert line.startswith("Error: Queue 'ingest-queue': the queue's max_message_size 2048 is under the largest message")


def _without_backend(data: bytes) -> bytes:
    doc = json.loads(data)
    doc["terraform"].pop("backend")
    return json.dumps(doc, sort_keys=True).encode()


def test_unknown_environment_is_one_error_line(tmp_path):
    env = {**os.environ, "WEBHOOKCTL_ENV": "nope", "CDKTF_OUTDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: unknown environment 'nope' (known: dev, local, prod)"
    assert not (tmp_path / "stacks").exists()


def test_missing_config_is_one_error_line(tmp_path):
    env = {**os.environ, "WEBHOOKCTL_CONFIG": str(tmp_path / "none.toml"), "CDKTF_OUTDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: ") and "none.toml: no such file" in proc.stderr
