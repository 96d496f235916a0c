"""Terraform (and synth) stop with webhookctl: process groups, signals, and the local state's lock."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cli import terraform
from cli.errors import WebhookctlError
from local_runtime.emulator import pid_alive

ROOT = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).parent / "fixtures" / "fake_terraform.py"


@pytest.fixture
def fake_path(tmp_path):
    """A PATH whose `terraform` is the fake (tests/cli/fixtures/fake_terraform.py)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "terraform"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE} \"$@\"\n")
    wrapper.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def as_a_shell_starts_it() -> None:
    """In the child before exec: SIGINT at its default, as a shell starts a foreground command. An
    ignored SIGINT survives exec (signal(7)), and Python then installs no KeyboardInterrupt. Under
    xdist the two SIGINT tests twice waited out their 20 s: the stuck child's /proc status showed
    SIGINT and SIGQUIT ignored, inherited from its worker: the pair glibc's system(3) ignores in
    its caller while it waits, so most likely another thread of the worker was inside one."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def run_webhookctl_terraform(tmp_path, fake_path, **env) -> tuple[subprocess.Popen, int, int]:
    """A process that runs `terraform apply` through cli.terraform.run; returns it and the fake's (pid, child pid)."""
    pids, signals = tmp_path / "pids", tmp_path / "signals"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from cli import terraform
        terraform.run(["apply"], Path({str(tmp_path)!r}), dict(os.environ), on_line=print)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env={
        **os.environ, "PATH": fake_path, "FAKE_TF_PIDS": str(pids), "FAKE_TF_SIGNALS": str(signals), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=as_a_shell_starts_it)
    deadline = time.monotonic() + 20
    while not (pids.exists() and pids.read_text().endswith("\n")):
        assert time.monotonic() < deadline, "the fake terraform never started"
        time.sleep(0.05)
    tf_pid, child_pid = map(int, pids.read_text().split())
    return proc, tf_pid, child_pid


def gone(*pids: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(pid_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_terraform_politely_and_its_whole_group(tmp_path, fake_path, sig):
    proc, tf_pid, child_pid = run_webhookctl_terraform(tmp_path, fake_path)
    # The terminal's Ctrl-C reaches webhookctl only: Terraform runs in its own process group.
    assert os.getpgid(tf_pid) == tf_pid != os.getpgid(proc.pid)
    proc.send_signal(sig)
    proc.wait(20)
    assert gone(tf_pid, child_pid)
    assert (tmp_path / "signals").read_text() == "SIGINT\n"  # asked first, as Ctrl-C asks Terraform


def test_a_terraform_that_ignores_the_interrupt_is_killed_after_the_grace_period(tmp_path, fake_path):
    proc, tf_pid, child_pid = run_webhookctl_terraform(tmp_path, fake_path, FAKE_TF_IGNORE_INT="1",
                                                       WEBHOOKCTL_STOP_GRACE_SECONDS="0.5")
    proc.send_signal(signal.SIGINT)
    proc.wait(20)
    assert gone(tf_pid, child_pid)
    assert (tmp_path / "signals").read_text() == "SIGINT\nSIGTERM\n"


def test_terraform_gets_sigterm_when_webhookctl_is_killed_outright(tmp_path, fake_path):
    proc, tf_pid, child_pid = run_webhookctl_terraform(tmp_path, fake_path)
    proc.kill()  # SIGKILL: no handler runs in webhookctl
    proc.wait(10)
    assert gone(tf_pid, child_pid)
    assert (tmp_path / "signals").read_text() == "SIGTERM\n"  # PR_SET_PDEATHSIG


# -- the local state's lock ---------------------------------------------------------------------

HOLD_LOCK = textwrap.dedent("""
    import fcntl, sys, time
    f = open(sys.argv[1], "r+")
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what Terraform's local backend takes (fcntl F_SETLK)
    print("locked", flush=True)
    time.sleep(300)
""")


@pytest.fixture
def state(tmp_path) -> Path:
    path = tmp_path / "webhooks-local.tfstate"
    path.write_text("{}")
    return path


def hold_lock(state: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(state)], stdout=subprocess.PIPE,
                              start_new_session=True)
    assert holder.stdout.readline() == b"locked\n"
    return holder


def test_a_lock_note_left_by_a_dead_run_is_removed(tmp_path, state):
    info = tmp_path / f".{state.name}.lock.info"
    info.write_text('{"ID": "x", "Who": "someone"}')
    said = []
    terraform.release_stale_lock(tmp_path, state, said.append)
    assert not info.exists() and said == [
        f"terraform: removed the lock note of a run that died ({info.name}); nobody held the lock"]


def test_a_lock_held_by_a_live_process_is_refused_naming_it(tmp_path, state):
    holder = hold_lock(state)
    try:
        assert terraform.lock_holder(state) == holder.pid
        with pytest.raises(WebhookctlError, match=rf"locked by pid {holder.pid} \(.*python.*\), which is still "
                                                  r"running: wait for it to finish, or stop it"):
            terraform.release_stale_lock(tmp_path, state, print)
        assert pid_alive(holder.pid)  # never released behind a live holder's back
    finally:
        holder.kill()
        holder.wait()


def test_a_terraform_orphaned_by_a_crashed_webhookctl_is_stopped_and_the_lock_goes(tmp_path, state):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = hold_lock(state)
    (tmp_path / terraform.RUN_RECORD).write_text(
        f'{{"pid": {holder.pid}, "parent": {dead.pid}, "parent_started": "0"}}')
    said = []
    try:
        terraform.release_stale_lock(tmp_path, state, said.append)
        holder.wait(10)
        assert terraform.lock_holder(state) is None
        assert said == [f"terraform: the state is locked by Terraform pid {holder.pid}, left running by a webhookctl "
                        f"that died; stopping it"]
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
