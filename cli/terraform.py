"""The one seam through which webhookctl runs Terraform.

Everything that starts the `terraform` binary goes through `terraform_argv`
and `run`, so tests can assert the exact argv and environment.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from .errors import WebhookctlError

PROVIDER_SOURCE = "registry.terraform.io/hashicorp/aws"
PROVIDER_VERSION = "5.100.0"

# Folders searched for a filesystem mirror holding registry.terraform.io/hashicorp/aws/5.100.0/.
# WEBHOOKCTL_PROVIDER_MIRROR wins; then the usual Terraform plugin folders.
_MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)


class TerraformMissing(WebhookctlError):
    pass


def find_mirror(candidates: Iterable[str] | None = None) -> Path | None:
    """The folder that holds the aws provider mirror, or None (use the registry)."""
    env = os.environ.get("WEBHOOKCTL_PROVIDER_MIRROR")
    search = [env] if env else []
    search += list(candidates if candidates is not None else _MIRROR_CANDIDATES)
    for folder in search:
        root = Path(folder).expanduser()
        if (root / PROVIDER_SOURCE / PROVIDER_VERSION).is_dir():
            return root
    return None


def cli_config_text(mirror: Path | None) -> str:
    """A Terraform CLI config: the mirror for hashicorp/aws when there is one, the registry otherwise."""
    if mirror is None:
        return "# no local provider mirror found: providers come from the registry\n"
    return (
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{PROVIDER_SOURCE}"]\n  }}\n'
        f'  direct {{\n    exclude = ["{PROVIDER_SOURCE}"]\n  }}\n'
        "}\n"
    )


def write_cli_config(folder: Path, mirror: Path | None = None) -> Path:
    """Write the CLI config into `folder` (only when it changed) and return its path."""
    mirror = find_mirror() if mirror is None else mirror
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "terraform.rc"
    text = cli_config_text(mirror)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def terraform_binary() -> str:
    found = shutil.which("terraform")
    if not found:
        raise TerraformMissing(
            "terraform not found on PATH: install Terraform 1.11 or newer "
            "(https://developer.hashicorp.com/terraform/install) and try again"
        )
    return found


def terraform_env(cli_config: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CHECKPOINT_DISABLE": "1",  # never phone home
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
    )
    # Share downloaded/linked providers across stacks and runs.
    env.setdefault("TF_PLUGIN_CACHE_DIR", str(cli_config.parent / "plugin-cache"))
    Path(env["TF_PLUGIN_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
    if extra:
        env.update(extra)
    return env


def run(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    *,
    capture: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess:
    """Run `terraform ARGS` in cwd. Streams output line by line to on_line, or captures it."""
    argv = [terraform_binary(), *args]
    if capture:
        return subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, text=True)
    proc = subprocess.Popen(
        argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if on_line:
            on_line(line.rstrip("\n"))
    code = proc.wait()
    return subprocess.CompletedProcess(argv, code, "".join(lines), "")
