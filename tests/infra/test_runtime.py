"""The handlers import on the Python of the Lambda runtime the stack deploys (python3.13 by default).

The project's own venv may be another Python; this finds the runtime's interpreter on the
machine, gives it the project's boto3 (pure Python, like the one Lambda's runtime ships), and
imports every handler module there. No interpreter for the runtime is a failure that says what
to install, never a silent skip: the deployed functions would run on an untested Python.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# boto3 and what it imports: all pure Python, so the venv's copies import on any Python 3.
BOTO3_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def _runtime_versions() -> set[str]:
    from config import load

    config = load(ROOT / "webhookctl.toml")
    runtimes = {f.runtime for env in config.environments.values() for f in env.functions.values()}
    return {runtime.removeprefix("python") for runtime in runtimes}


def _candidates(version: str) -> list[str]:
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = [shutil.which(f"python{version}")]
    found += sorted(glob.glob(f"{pyenv}/versions/{version}*/bin/python{version}"), reverse=True)
    found += [f"{prefix}/bin/python{version}" for prefix in ("/usr/local", "/usr", "/opt/python")]
    return list(dict.fromkeys(path for path in found if path))


def find_interpreter(version: str) -> str | None:
    """The first interpreter that runs and reports `version` (a pyenv shim may exist and not run)."""
    for path in _candidates(version):
        try:
            out = subprocess.run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return path
    return None


def _boto3_path(tmp_path: Path) -> Path:
    """A folder holding only the venv's boto3 and its dependencies (links)."""
    folder = tmp_path / "site"
    folder.mkdir()
    for name in BOTO3_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec and spec.origin, f"{name} is not installed in the project venv"
        source = Path(spec.origin)
        source = source.parent if source.name == "__init__.py" else source
        (folder / source.name).symlink_to(source)
    return folder


def test_the_config_deploys_python_3_13_by_default():
    from config.schema import DEFAULT_RUNTIME

    assert DEFAULT_RUNTIME == "python3.13"
    assert _runtime_versions() == {"3.13"}


@pytest.mark.parametrize("version", sorted(_runtime_versions()))
def test_handlers_import_on_the_lambda_runtimes_python(version, tmp_path):
    interpreter = find_interpreter(version)
    if interpreter is None:
        pytest.fail(f"no Python {version} interpreter found (looked for python{version} on PATH, under pyenv and "
                    f"in /usr/local, /usr, /opt/python): install it, e.g. `pyenv install {version}`; the stack "
                    f"deploys the functions on python{version}")
    modules = sorted(f"handlers.{p.stem}" for p in (ROOT / "handlers").glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "from handlers.contract import Settings\n"
        "assert Settings.from_env({'MAX_BODY_BYTES': '7'}).max_body_bytes == 7\n"
        "print('%d.%d' % sys.version_info[:2], len(sys.modules))\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(_boto3_path(tmp_path)), "PYTHONNOUSERSITE": "1",
           "AWS_DEFAULT_REGION": "us-east-1"}
    proc = subprocess.run([interpreter, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"handlers do not import on {interpreter}:\n{proc.stderr[-3000:]}"
    assert proc.stdout.split()[0] == version
