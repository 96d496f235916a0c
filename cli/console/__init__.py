"""`webhookctl console`: the pipeline at a glance and every delivery one click away, in a browser.

`server` serves `static/` (plain JS, no build step, nothing from a CDN) and the JSON of `api`,
whose endpoints call the functions the CLI commands call. 127.0.0.1 only, behind a token.
"""
from __future__ import annotations

import threading
from typing import Callable

from ..workspace import Workspace

Log = Callable[[str], None]


def serve(ws: Workspace, *, port: int, open_browser: bool, log: Log, out: Log,
          stop_event: threading.Event | None = None) -> None:
    """Serve until Ctrl-C (or stop_event); print the URL with its token, Jupyter style."""
    from .server import start

    console = start(ws, port=port, log=log)
    out(f"webhookctl console for environment '{ws.env.name}' ({ws.stack}):\n\n    {console.url}\n\n"
        "Open that URL (it carries this run's token). Ctrl-C stops the console.")
    if open_browser:
        import webbrowser

        webbrowser.open(console.url)
    try:
        stop_event = stop_event or threading.Event()
        while not stop_event.wait(0.5):  # a timed wait: Ctrl-C is seen at once
            pass
    except KeyboardInterrupt:
        log("console: interrupted")
    finally:
        console.stop()
        log("console: stopped")
