"""Operating it, end to end on `webhookctl dev` (issue 12): one dev for the module, one provider per scheme.

In order: every catalogued event triggers and reaches `processed`, recorded with its catalogued type;
`events list --provider stripe --since 10m` shows exactly those, newest first; filters and the cursor
page through 120 more without repeats or gaps; `events show --raw` gives back the bytes that were
sent; `logs` shows a delivery's lines; `stats` counts them; `listen` forwards each event once, signed
Standard Webhooks style, loses nothing while the receiver is down for 30 s, and a kept listener resumes
by name; `--verify` names the secret that matched and fails clearly once the secret is replaced without
--keep-previous; bad input is one `Error:` line.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from cli.listen import VISIBILITY_SECONDS
from cli.main import cli
from cli.workspace import Workspace
from config import load
from dev_harness import WEBHOOKCTL, committed_config, serve_dev
from handlers.schemes import REGISTRY
from http_target_helpers import Receiver

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


@pytest.fixture(scope="module")
def project(tmp_path_factory, project_root) -> Path:
    """The committed config on a free emulator port, with a provider for every scheme it leaves commented."""
    folder = tmp_path_factory.mktemp("operate-project")
    path = folder / "webhookctl.toml"
    path.write_text(committed_config(project_root))
    have = {p.scheme for p in load(path).providers.values()}
    missing = [s for s in REGISTRY if s not in have]
    path.write_text(path.read_text() + "".join(f'\n[providers.{s}]\nscheme = "{s}"\n' for s in missing))
    return folder


@pytest.fixture(scope="module")
def dev(project):
    yield from serve_dev(project)


@pytest.fixture(scope="module")
def ws(project, dev) -> Workspace:
    return Workspace.open(project / "webhookctl.toml", "local")


@pytest.fixture(scope="module")
def sent() -> list[dict]:
    """Every delivery this module triggered, in order."""
    return []


def run(project: Path, *args: str, input: str | None = None):
    result = CliRunner().invoke(cli, list(args), input=input, env={"WEBHOOKCTL_CONFIG": str(project / "webhookctl.toml")})
    return result


def trigger(ws, sent, provider, event_type=None, **kwargs) -> dict:
    from cli.trigger import trigger as do_trigger

    result = do_trigger(ws, provider, event_type, **kwargs)
    assert result["status"] in (200, 202), result
    sent.append({"provider": provider, **result})
    return result


def wait_processed(ws, ids, timeout: float = 60) -> dict[str, dict]:
    from cli.operations import delivery_status
    from cli.stack_ops import known_outputs

    table = known_outputs(ws).table_name
    deadline, records = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        records = {wid: delivery_status(ws, wid, table) for wid in ids}
        if all(r.get("status") == "processed" for r in records.values()):
            return records
        time.sleep(0.3)
    pending = {wid: r.get("status") for wid, r in records.items() if r.get("status") != "processed"}
    raise AssertionError(f"not processed in {timeout} s: {pending}")


def test_every_catalogued_event_reaches_processed(ws, sent):
    from cli.trigger import fixtures_for

    expected = {}
    for provider, config in sorted(ws.config.providers.items()):
        for fixture in fixtures_for(config.scheme):
            result = trigger(ws, sent, provider, fixture.event_type)
            expected[result["webhook_id"]] = (provider, fixture.event_type)
    # one distinct webhook id per fixture of every provider's scheme
    assert len(expected) == sum(len(fixtures_for(c.scheme)) for c in ws.config.providers.values())
    assert {p for p, _ in expected.values()} == set(ws.config.providers)
    records = wait_processed(ws, expected)
    assert {wid: (r["provider"], r["event_type"]) for wid, r in records.items()} == expected


def test_redeliver_is_answered_duplicate(ws, sent):
    first = next(s for s in sent if s["provider"] == "stripe")
    again = trigger(ws, [], "stripe", redeliver=first["webhook_id"])
    assert again["status"] == 200 and again["duplicate"] is True and again["webhook_id"] == first["webhook_id"]


def test_events_list_shows_exactly_the_stripe_deliveries_newest_first(project, sent):
    result = run(project, "events", "list", "--provider", "stripe", "--since", "10m", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["webhook_id"] for r in rows] == [s["webhook_id"] for s in reversed(sent) if s["provider"] == "stripe"]
    times = [r["received_at"] for r in rows]
    assert times == sorted(times, reverse=True) and len(rows) == 5
    table = run(project, "events", "list", "--provider", "stripe", "--since", "10m")
    assert all(len(line) <= 100 for line in table.stdout.splitlines()) and rows[0]["webhook_id"] in table.stdout


def _page_through(project, limit: int, *filters: str) -> list[dict]:
    rows, args = [], ["events", "list", "--limit", str(limit), "--json", *filters]
    while True:
        result = run(project, *args)
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        if lines and set(lines[-1]) == {"next"}:
            rows += lines[:-1]
            assert len(lines) - 1 == limit
            args = ["events", "list", "--limit", str(limit), "--json", "--next", lines[-1]["next"]]
            continue
        return rows + lines


def test_filters_and_the_cursor_page_120_deliveries_without_repeats_or_gaps(project, ws, sent):
    kinds = [("stripe", "charge.refunded"), ("stripe", "invoice.paid"), ("github", "issues"), ("shopify", "orders/create")]
    batch = [trigger(ws, sent, *kinds[n % len(kinds)]) for n in range(120)]
    wait_processed(ws, [b["webhook_id"] for b in batch], timeout=120)
    everything = _page_through(project, 9, "--since", "15m")
    assert len(everything) == len({r["webhook_id"] for r in everything}) == len(sent)
    assert {r["webhook_id"] for r in everything} == {s["webhook_id"] for s in sent}
    assert [r["received_at"] for r in everything] == sorted((r["received_at"] for r in everything), reverse=True)
    refunds = _page_through(project, 7, "--provider", "stripe", "--type", "charge.refunded", "--status", "processed",
                            "--since", "15m")
    want = {s["webhook_id"] for s in sent if (s["provider"], s["event_type"]) == ("stripe", "charge.refunded")}
    assert len(refunds) == len(want) == 31 and {r["webhook_id"] for r in refunds} == want
    issues = _page_through(project, 4, "--provider", "github", "--type", "issues", "--since", "15m")
    assert len(issues) == len({r["webhook_id"] for r in issues}) == 31


def test_show_raw_returns_the_bytes_that_were_sent(project, ws, sent, tmp_path):
    own = tmp_path / "event.json"
    own.write_bytes(b'{"id": "evt_raw_e2e", "object": "event", "type": "charge.captured",\n "data": {"object": {}}}')
    mine = trigger(ws, sent, "stripe", file=own)
    catalogued = trigger(ws, sent, "twilio")
    wait_processed(ws, [mine["webhook_id"], catalogued["webhook_id"]])
    raw = run(project, "events", "show", mine["webhook_id"], "--raw")
    assert raw.exit_code == 0 and raw.stdout_bytes == own.read_bytes()
    form = run(project, "events", "show", catalogued["webhook_id"], "--raw")
    assert hashlib.sha256(form.stdout_bytes).hexdigest() == catalogued["body_sha256"]
    shown = json.loads(run(project, "events", "show", catalogued["webhook_id"], "--json").stdout)
    assert shown["payload"]["kind"] == "form" and shown["record"]["status"] == "processed"
    assert "x-twilio-signature" in shown["headers"]


def test_logs_show_the_lines_of_a_delivery(project, ws, sent):
    result = trigger(ws, sent, "stripe", "invoice.paid")
    [record] = wait_processed(ws, [result["webhook_id"]]).values()
    for ident in (result["webhook_id"], record["delivery_id"]):
        lines = [json.loads(line) for line in run(project, "logs", ident, "--json").stdout.splitlines()]
        assert [line["function"] for line in lines if "message" in line][:2] == ["ingest", "process"]
        ingest = next(line for line in lines if line["function"] == "ingest")
        assert ingest["webhook_id"] == result["webhook_id"] and ingest["delivery_id"] == record["delivery_id"]
    human = run(project, "logs", "ingest", record["delivery_id"])
    assert human.exit_code == 0 and "webhook accepted" in human.stdout and "process" not in human.stdout.split()


def test_stats_count_what_came_in(project, sent):
    doc = json.loads(run(project, "stats", "--since", "20m", "--json").stdout)
    counts = {row["provider"]: row for row in doc["providers"]}
    assert sum(row["total"] for row in counts.values()) == len(sent)
    assert counts["stripe"]["processed"] == sum(1 for s in sent if s["provider"] == "stripe")
    assert doc["queues"]["dlq"] == {"waiting": 0, "in_flight": 0} and doc["oldest_queued"] is None


# --------------------------------------------------------------------------- listen


def _ids(received) -> list[str]:
    return [r.json()["webhook_id"] for r in received]


class Listening:
    """`webhookctl listen` as a user runs it; stop() is Ctrl-C."""

    running: list["Listening"] = []  # stopped by the `no_listener_left` fixture, whatever the test did

    def __init__(self, project: Path, *args: str):
        Listening.running.append(self)
        self.err = project / f"listen-{time.monotonic_ns()}.err"
        self.proc = subprocess.Popen([WEBHOOKCTL, "listen", *args, "--json"], cwd=project, stdout=subprocess.PIPE,
                                     stderr=open(self.err, "w"), text=True, start_new_session=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def secret(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.err.read_text().splitlines():
                if "with the secret " in line:
                    return line.rsplit(" ", 1)[-1]
            assert self.proc.poll() is None, self.err.read_text()
            time.sleep(0.1)
        raise AssertionError(f"listen printed no secret:\n{self.err.read_text()}")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)
        return self.err.read_text()

    def output(self) -> str:
        """What it said so far (for a failing assertion): stderr, and its JSON lines once stopped."""
        return self.err.read_text() + ("" if self.proc.poll() is None else self.proc.stdout.read())


@pytest.fixture
def no_listener_left():
    yield
    while Listening.running:
        Listening.running.pop().stop()


def test_listen_forwards_each_event_once_survives_a_receiver_outage_and_resumes_by_name(project, ws, sent,
                                                                                       no_listener_left):
    receiver = Receiver().start()
    url = f"{receiver.url}/hook"
    first = Listening(project, "--forward-to", url, "--name", "e2e", "--provider", "stripe", "--keep")
    secret = first.secret()
    live = [trigger(ws, sent, "stripe", t)["webhook_id"] for t in ("payment_intent.succeeded", "charge.refunded",
                                                                    "invoice.paid", "checkout.session.completed")]
    trigger(ws, sent, "github", "push")  # not matched by --provider stripe
    assert sorted(_ids(receiver.wait_for(4, timeout=60))) == sorted(live)
    for taken in receiver.deliveries():
        assert Webhook(secret).verify(taken.body, taken.lower_headers())["provider"] == "stripe"

    receiver.stop()  # 30 s without a receiver: nothing may be lost
    during = [trigger(ws, sent, "stripe", "invoice.paid")["webhook_id"] for _ in range(3)]
    time.sleep(30)
    receiver.start()
    assert sorted(_ids(receiver.wait_for(7, timeout=60))[4:]) == sorted(during)

    stopped = first.stop()
    assert "kept queue" in stopped
    meanwhile = [trigger(ws, sent, "stripe", "charge.refunded")["webhook_id"] for _ in range(2)]
    wait_processed(ws, meanwhile)
    second = Listening(project, "--forward-to", url, "--name", "e2e", "--provider", "stripe")
    assert second.secret() == secret
    # Nothing lost means each arrives, at the latest once a receive whose answer never reached a listener
    # (a busy machine) has hidden it for VISIBILITY_SECONDS; normally they come within a second or two.
    assert sorted(_ids(receiver.wait_for(9, timeout=VISIBILITY_SECONDS + 30))[7:]) == sorted(meanwhile), second.output()
    time.sleep(2)
    assert "removed rule and queue" in second.stop()
    assert sorted(_ids(receiver.deliveries())) == sorted(live + during + meanwhile)  # each once
    receiver.stop()
    assert "e2e" not in run(project, "listen", "--cleanup", "--json").stdout


# --------------------------------------------------------------------------- verify, then errors


def test_verify_names_the_secret_and_fails_once_it_is_replaced(project, ws, sent):
    result = trigger(ws, sent, "github", "release")
    wait_processed(ws, [result["webhook_id"]])
    wid = result["webhook_id"]
    check = json.loads(run(project, "events", "show", wid, "--verify", "--json").stdout)["verification"]
    assert check["secret_index"] == 0 and check["secret"] == "the newest"
    assert run(project, "secrets", "set", "github", "--keep-previous", input="rotated-github-secret\n").exit_code == 0
    check = json.loads(run(project, "events", "show", wid, "--verify", "--json").stdout)["verification"]
    assert check["secret_index"] == 1 and check["active_secrets"] == 2
    human = run(project, "events", "show", wid, "--verify")
    assert "verified: the stored signature matches an older one still active (#2, kept by --keep-previous)" in human.stdout
    assert run(project, "secrets", "set", "github", input="replaced-github-secret\n").exit_code == 0
    failed = run(project, "events", "show", wid, "--verify")
    assert failed.exit_code == 1
    assert failed.stderr.splitlines()[-1] == (
        f"Error: {wid}: the stored signature matches none of github's 1 active secret(s): it was signed with a "
        "secret that is no longer active (replaced without --keep-previous?)")


@pytest.mark.parametrize("args,error", [
    (["events", "show", "0" * 32], "Error: no delivery 00000000000000000000000000000000 in environment 'local' "
                                   "(`webhookctl events list` shows the webhook ids)"),
    (["events", "list", "--since", "last tuesday"], "Error: 'last tuesday' is not a time: give ISO-8601 (2026-11-29, "
                                                    "2026-11-29T08:00Z) or a duration ago (45s, 30m, 1h, 2d, 1w)"),
    (["trigger", "stripe", "--set", "request.nope.deeper=1"],
     "Error: --set request.nope.deeper=1: 'nope' is not in request (its keys: id, idempotency_key)"),
    (["logs", "--since", "soon"], None),
    (["stats", "--until", "later"], None),
])
def test_bad_input_is_one_error_line(project, dev, args, error):
    result = run(project, *args)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and (errors[0] == error if error else "is not a time" in errors[0])
