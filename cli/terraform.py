"""The one seam through which webhookctl runs Terraform.

Everything that starts the `terraform` binary goes through `run`, so tests
can assert the exact argv and environment. Terraform runs in its own process
group (`cli.children`): Ctrl-C or SIGTERM to webhookctl stops it and its
provider plugin, Terraform first (it finishes the operation in progress,
saves its state and releases the state lock), then the group.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from . import children
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
        proc = children.popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with children.running(proc):
            out, err = proc.communicate()
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)
    proc = children.popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1)
    record_run(Path(cwd), proc.pid)
    lines: list[str] = []
    assert proc.stdout is not None
    with children.running(proc):
        for line in proc.stdout:
            lines.append(line)
            if on_line:
                on_line(line.rstrip("\n"))
        code = proc.wait()
    return subprocess.CompletedProcess(argv, code, "".join(lines), "")


# --------------------------------------------------------------------------- the local state's lock
# Terraform's local backend locks the state file with fcntl (F_SETLK) and writes who holds it to
# `.<state>.lock.info`. The kernel drops an fcntl lock when its holder dies, so a dead holder
# cannot keep the state locked; what can is a holder still alive after webhookctl died (a
# Terraform orphaned by a crash), and what stays behind is the info file. `run` records each
# Terraform it starts, so such an orphan is provably ours.

RUN_RECORD = ".webhookctl-terraform.json"


def lock_holder(state: Path) -> int | None:
    """The pid holding an fcntl lock on `state` (from /proc/locks), or None."""
    try:
        inode = state.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) > 5 and parts[1] != "->" and parts[5].rsplit(":", 1)[-1] == str(inode):
            return int(parts[4])
    return None


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def record_run(folder: Path, pid: int) -> None:
    """Note which Terraform this webhookctl started in `folder` (for `release_stale_lock`)."""
    me = os.getpid()
    doc = {"pid": pid, "parent": me, "parent_started": _start_time(me)}
    (folder / RUN_RECORD).write_text(json.dumps(doc))


def release_stale_lock(folder: Path, state: Path, log: Callable[[str], None]) -> None:
    """Clear what a crash left on the local state's lock; refuse (one line) a lock a live run holds.

    - nobody holds the lock: a leftover `.lock.info` is removed (the lock itself died with its holder);
    - a Terraform this project's webhookctl started holds it, and that webhookctl is gone: it is an
      orphan of a crash; it is stopped (politely first, so it saves its state) and the lock goes;
    - anything else holds it: WebhookctlError naming the holder.
    """
    info = state.with_name(f".{state.name}.lock.info")
    holder = lock_holder(state) if state.exists() else None
    if holder is None:
        if info.exists():
            info.unlink(missing_ok=True)
            log(f"terraform: removed the lock note of a run that died ({info.name}); nobody held the lock")
        return
    if _our_orphan(folder, holder):
        log(f"terraform: the state is locked by Terraform pid {holder}, left running by a webhookctl that "
            f"died; stopping it")
        _stop_orphan(holder)
        return
    from local_runtime.emulator import process_command

    raise WebhookctlError(f"the state {state.name} is locked by pid {holder} ({process_command(holder)}), which "
                          f"is still running: wait for it to finish, or stop it")


def _our_orphan(folder: Path, holder: int) -> bool:
    try:
        doc = json.loads((folder / RUN_RECORD).read_text())
    except (OSError, ValueError):
        return False
    parent_alive = _start_time(doc["parent"]) is not None and _start_time(doc["parent"]) == doc["parent_started"]
    return doc.get("pid") == holder and not parent_alive


def _stop_orphan(pid: int) -> None:
    """SIGINT to its group (Terraform saves its state and unlocks), SIGKILL after the grace period."""
    import signal
    import time

    from local_runtime.emulator import pid_alive

    for sig, wait in ((signal.SIGINT, children.GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.1)
