"""The emulator process: `python -m local_runtime.emulator_server -H HOST -p PORT [--persist DIR]`.

moto's server with our patches (`moto_patches`), and, with --persist, the
journals (`journal`) that let it come back after a crash: at start it
restores itself from them (`restore`) before it binds its port, so a client
that reaches it sees either nothing or everything.

It also answers three requests of its own, beside moto's API:
- `GET /webhookctl/identity`: who it is (pid, persist folder, token) and how
  its restore went; `webhookctl dev` and `emulator stop` use it to tell their
  own emulator from anything else on the port;
- `POST /webhookctl/reset`: moto's reset, keeping the data plane aside in
  `pending/` instead of losing it (dev's fallback when the emulator and the
  Terraform state disagree);
- `POST /webhookctl/restore-pending`: put the pending data back into
  whatever resources now exist (after the next deploy); what still has no
  resource stays pending.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("webhookctl.emulator")

IDENTITY_PATH = "/webhookctl/identity"
RESET_PATH = "/webhookctl/reset"
RESTORE_PENDING_PATH = "/webhookctl/restore-pending"
_SKIPPED_HEADERS = {"HTTP_HOST", "CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING"}


class Journaling:
    """WSGI middleware: the control-plane journal, and our own three endpoints."""

    def __init__(self, app: Callable, journals: "Journals | None", identity: dict[str, Any]):
        self.app = app
        self.identity = identity
        self.control = journals.control if journals else None
        self.data = journals.data if journals else None
        self.pending = journals.pending if journals else None

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET").upper()
        if path == IDENTITY_PATH:
            return _json(start_response, 200, self.identity)
        if path in (RESET_PATH, RESTORE_PENDING_PATH) and method == "POST":
            return self._own(path, start_response)
        if self.control is None or method in ("GET", "HEAD", "OPTIONS"):
            return self.app(environ, start_response)
        entry = _entry(environ)
        status: list[int] = []

        def capture(status_line: str, headers: list, exc_info: Any = None) -> Any:
            status.append(int(status_line.split(" ", 1)[0]))
            return start_response(status_line, headers, exc_info)

        result = self.app(environ, capture)  # moto has done its work once this returns
        if status and status[0] < 400:
            self._journal(entry)
        return result

    def _journal(self, entry: dict[str, Any]) -> None:
        from local_runtime.journal import classify, for_journal

        verdict = classify(entry)
        if verdict == "control":
            self.control.append(for_journal(entry))
        elif entry["path"] == "/moto-api/reset":
            self.control.clear()
            self.data.clear()

    def _own(self, path: str, start_response: Callable) -> Any:
        if self.control is None:
            return _json(start_response, 400, {"error": "this emulator was started without --persist"})
        if path == RESET_PATH:
            return _json(start_response, 200, reset_keeping_data(self.control, self.data, self.pending))
        return _json(start_response, 200, restore_pending(self.data, self.pending))


def reset_keeping_data(control: Any, data: Any, pending: Any) -> dict[str, Any]:
    """moto's reset; the data plane moves to pending/ (restored after the next deploy)."""
    from moto.moto_api._internal.models import moto_api_backend

    with data.lock:
        data.move_into(pending)
        control.clear()
        moto_api_backend.reset()
    return {"pending": pending.counts()}


def restore_pending(data: Any, pending: Any) -> dict[str, Any]:
    from local_runtime.restore import restore_data

    if pending.empty():
        return {"restored": {}, "missing": []}
    with data.lock:
        report = restore_data(pending, sink=data, remove_restored=True)
    return {"restored": dict(report.restored), "missing": report.missing}


def _entry(environ: dict) -> dict[str, Any]:
    """The request as the journal keeps it; the WSGI input is replaced by the bytes read."""
    from werkzeug.wsgi import get_input_stream

    body = get_input_stream(environ).read()  # de-chunked by werkzeug; no length and not chunked: no body
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
    headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items()
               if k.startswith("HTTP_") and k not in _SKIPPED_HEADERS}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return {"method": environ.get("REQUEST_METHOD", "GET").upper(), "path": environ.get("PATH_INFO", "/"),
            "query": environ.get("QUERY_STRING", ""), "headers": headers, "body": body}


def _json(start_response: Callable, status: int, doc: Any) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response(f"{status} {'OK' if status < 400 else 'Bad Request'}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Journals:
    """The three folders of one persist folder, shared by the restore, the hooks and the middleware."""

    def __init__(self, persist: Path):
        from local_runtime.journal import ControlJournal, DataJournal, prepare

        prepare(persist)
        self.control = ControlJournal(persist)
        self.data = DataJournal(persist)
        self.pending = DataJournal(persist, "pending")


def restore(app: Callable, journals: Journals, base_url: str) -> dict[str, Any]:
    """Replay the control journal and put the data back, before the port opens."""
    from local_runtime.restore import replay_control, restore_data

    started = time.monotonic()
    replay = replay_control(app, journals.control.entries(), base_url)
    data = restore_data(journals.data)
    pending = restore_pending(journals.data, journals.pending)
    for error in replay.errors[:10]:
        log.warning("replay: %s", error)
    return {"control_calls": replay.calls, "control_errors": replay.errors[:20],
            "data": dict(data.restored), "data_missing": data.missing[:20], "pending": pending,
            "seconds": round(time.monotonic() - started, 3)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_runtime.emulator_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--persist", type=Path, help="journal folder: restore from it, then keep it")
    parser.add_argument("--token", default="", help="echoed by /webhookctl/identity")
    parser.add_argument("--deterministic-ids", action="store_true")
    parser.add_argument("--lenient", action="store_true", help="do not enforce the AWS limits moto skips")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from local_runtime import moto_patches

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    moto_patches.check_moto_version()
    moto_patches.install_server_fixes(deterministic_ids=args.deterministic_ids)
    if not args.lenient:
        moto_patches.install_strict_limits()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    app = DomainDispatcherApplication(create_backend_app)
    identity: dict[str, Any] = {"pid": os.getpid(), "token": args.token, "started_at": time.time(),
                                "persist": str(args.persist.resolve()) if args.persist else None}
    journals = Journals(args.persist) if args.persist else None
    if journals is not None:
        log.info("restoring from %s", args.persist)
        identity["restore"] = restore(app, journals, f"http://{args.host}:{args.port}")
        log.info("restored from %s: %s", args.persist, json.dumps(identity["restore"]))
        moto_patches.install_journal_hooks(journals.data)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, Journaling(app, journals, identity), threaded=True)


if __name__ == "__main__":
    main()
