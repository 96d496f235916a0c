"""Fixtures shared by every test folder.

Expensive things happen once per session (per xdist worker that needs them): one
synth of every environment (~4 s, ~700 MiB: bench/README.md), one emulator, one
applied `local` stack. Tests that need Terraform or the emulator carry the
`terraform` / `emulator` markers, and those over ~30 s `slow`: `pytest -m "not slow"`
is the fast loop; CI runs everything.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import fuzz_budget  # noqa: F401  (loads the Hypothesis profile: HYPOTHESIS_PROFILE, default `dev`)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tests never talk to real AWS: fake credentials, no metadata lookups.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["CHECKPOINT_DISABLE"] = "1"


def _share_botocore_data_loader() -> None:
    """One botocore data loader for every session the tests create.

    Handlers build each client from a new `boto3.session.Session()` (as a Lambda cold start
    does) and the tests reset those clients before every test, so each test re-read and
    re-parsed botocore's endpoints, partitions and service-model JSON (~0.1 s a client:
    `pytest tests/handlers` took 137 s without this and 34 s with it, same machine, one after
    the other, 2026-12-01). botocore caches that data per loader instance
    (`botocore.loaders.instance_cache`) and already shares it between all clients of one
    session; sharing the loader between sessions keyed by its search path changes nothing
    else. Test-only: the handlers are untouched.
    """
    import functools

    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)


_share_botocore_data_loader()


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: two workers per core. The suite waits more than it computes (emulator and HTTP
    round trips, pollers, Terraform's fixed provider waits): on 2 cores the fast loop took 70 s on
    4 workers and 97 s on 2, one after the other (bench/README.md). `-n N` still wins.
    https://pytest-xdist.readthedocs.io/en/stable/distribution.html
    """
    return 2 * (os.cpu_count() or 1) if config.option.numprocesses == "auto" else None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Keep each module on one xdist worker, and start the costly modules first.

    pyproject's addopts run the suite on `-n auto --dist loadgroup`: a group runs whole, in file
    order, on one worker. A module without an explicit `xdist_group` mark is its own group, so its
    module-scoped fixtures (an emulator, a `dev`, an applied stack) are set up once, as without
    xdist; modules that share a session fixture name one group (`applied-local-stack`). Modules
    with `slow` tests go first: the workers then end together instead of one finishing a
    Terraform apply alone (`--no-loadscope-reorder` keeps this order). A test marked
    `destroys_stack` runs after every other costly test, so after all of its group.
    https://pytest-xdist.readthedocs.io/en/stable/distribution.html
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))
    costly = {item.get_closest_marker("xdist_group").args[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (item.get_closest_marker("xdist_group").args[0] not in costly,
                                 item.get_closest_marker("destroys_stack") is not None))


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


def _running_emulator():
    from local_runtime.emulator import Emulator, free_port

    with Emulator(port=free_port()) as emu:
        yield emu


@pytest.fixture(scope="session")
def emulator():
    """A moto server on a free loopback port for the whole session."""
    yield from _running_emulator()


@pytest.fixture(scope="module")
def own_emulator():
    """A moto server of the module's own: the stacks it deploys never meet other modules' resources."""
    yield from _running_emulator()


@pytest.fixture(scope="session")
def applied_local_stack(tmp_path_factory):
    """The `local` stack deployed once per session (tests/applied_stack.py); the test marked
    `destroys_stack` destroys it."""
    from applied_stack import applied

    with applied(ROOT, tmp_path_factory.mktemp("applied-local")) as stack:
        yield stack


@pytest.fixture(scope="session")
def synth_outdir(tmp_path_factory) -> Path:
    """`python main.py` once per session into a temporary cdktf.out (every environment)."""
    outdir = tmp_path_factory.mktemp("cdktf.out")
    env = {**os.environ, "CDKTF_OUTDIR": str(outdir)}
    env.pop("WEBHOOKCTL_ENV", None)
    proc = subprocess.run(
        [sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"synth failed:\n{proc.stdout}\n{proc.stderr}"
    return outdir
