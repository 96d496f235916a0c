"""Forged-request cost: worst-case CPU per forged request, per scheme, at the body limit.

    .venv/bin/python bench/bench_forged.py [--requests 20] [--compare PATH]

A forged request needs no secret, so anyone can send a flood of them; each must
be cheap to reject. For every provider of the committed config (one per
scheme), each forged shape below goes through `handlers.ingest.handler` under
moto (in-process), `--requests` times, and `time.process_time` gives the CPU
per request. A scheme's cost is its worst shape. The baseline is the median
scheme, measured in the same run; target: no scheme above 10x the median.

Forged shapes, all at the 1 MB body limit, with well-formed signature headers
(right shape and length, fresh timestamp, wrong MAC), two active secrets (what
`secrets set --keep-previous` keeps), and for URL-signed schemes a Host with a
port and a query with a space (the most URL spellings ingest tries):
  json 1 MB value | form, most parameters (262,000) | form, parameters at the
  bound (1,000 of ~1 kB) | twilio: JSON body with bodySHA256 in the URL.

The secret re-read after a failed signature is rate-limited (5 s per provider);
it is set to an hour here so the loop measures the steady state of a flood.

`--compare PATH`: also run the same measurement on another checkout (e.g.
`git archive <commit> | tar -x -C /tmp/before`), in a subprocess, and print
its table too.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY_LIMIT = 1_048_576
TARGET_RATIO = 10.0
HOST = "abc123.execute-api.us-east-1.amazonaws.com:8443"
QUERY = {"note": "a b"}


def _bodies() -> dict[str, tuple[bytes, str]]:
    most = b"&".join(b"a=%d" % (i % 10) for i in range(262_000))[:BODY_LIMIT]
    per = BODY_LIMIT // 1000 - 8
    at_bound = b"&".join(b"p%04d=" % i + b"v" * per for i in range(1000))
    return {
        "json 1 MB value": (b'{"v": "' + b"x" * (BODY_LIMIT - 9) + b'"}', "application/json"),
        "form, 262,000 parameters": (most, "application/x-www-form-urlencoded"),
        "form, 1,000 parameters of ~1 kB": (at_bound, "application/x-www-form-urlencoded"),
    }


def _events(h, provider: str, config: dict) -> dict[str, dict]:
    """The forged requests for one provider, as API Gateway events."""
    import hashlib
    from urllib.parse import urlencode

    from handlers.signatures import sign

    secret = "attacker-guess" if config["scheme"] != "standard" else "whsec_" + "A" * 43
    url = f"https://{HOST}/prod/webhooks/{provider}?{urlencode(QUERY)}"
    events = {}
    for shape, (body, content_type) in _bodies().items():
        headers = sign(config["scheme"], b"a=1", secret, config, url=url, now=time.time())
        headers["Content-Type"] = content_type
        events[shape] = _with_host(h.api_event(provider, body, headers, query=QUERY))
    if config["scheme"] == "twilio":
        body = _bodies()["json 1 MB value"][0]
        query = {**QUERY, "bodySHA256": hashlib.sha256(b"something else").hexdigest()}
        headers = {**sign("twilio", b"a=1", secret, config, url=url), "Content-Type": "application/json"}
        events["json, bodySHA256 in the URL"] = _with_host(h.api_event(provider, body, headers, query=query))
    return events


def _with_host(event: dict) -> dict:
    event["headers"]["Host"] = event["multiValueHeaders"]["Host"] = HOST
    return event


def measure(requests: int) -> list[dict]:
    """CPU seconds per forged request, per provider and shape (this process's `handlers`)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))  # records_table: the records table as the stack makes it
    sys.path.insert(0, str(ROOT / "tests" / "handlers"))
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    import handler_harness as h
    from handlers import aws, ingest, secrets

    rows = []
    with mock_aws():
        aws.reset()
        secrets.reset()
        pipeline = h.Pipeline()
        os.environ.update(pipeline.env(), SECRET_REFRESH_SECONDS="3600")
        sys.stdout = open(os.devnull, "w")  # the handlers' JSON logs and EMF lines
        try:
            for provider, config in sorted(pipeline.providers.items()):
                previous = "whsec_cHJldmlvdXMtc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmc=" if config["scheme"] == "standard" \
                    else h.SECRETS[provider] + "-previous"
                pipeline.set_secret(provider, [h.SECRETS[provider], previous])
                for shape, event in _events(h, provider, config).items():
                    rows.append(_run(ingest, provider, config["scheme"], shape, event, requests))
        finally:
            sys.stdout = sys.__stdout__
    return rows


def _run(ingest, provider: str, scheme: str, shape: str, event: dict, requests: int) -> dict:
    statuses = {ingest.handler(event, None)["statusCode"] for _ in range(2)}  # warm: secrets cached
    started = time.process_time()
    for _ in range(requests):
        statuses.add(ingest.handler(event, None)["statusCode"])
    cpu = (time.process_time() - started) / requests
    return {"provider": provider, "scheme": scheme, "shape": shape, "cpu_ms": cpu * 1000,
            "statuses": sorted(statuses)}


def table(rows: list[dict], title: str) -> str:
    worst: dict[str, dict] = {}
    for row in rows:
        if row["scheme"] not in worst or row["cpu_ms"] > worst[row["scheme"]]["cpu_ms"]:
            worst[row["scheme"]] = row
    median = statistics.median(r["cpu_ms"] for r in worst.values())
    lines = [f"{title}", "", f"| scheme | worst forged shape | answer | CPU ms / request | ratio to median "
             f"({median:.2f} ms) | target <= {TARGET_RATIO:g}x |", "|---|---|---|---:|---:|---|"]
    for scheme, row in sorted(worst.items(), key=lambda item: -item[1]["cpu_ms"]):
        ratio = row["cpu_ms"] / median
        lines.append(f"| {scheme} | {row['shape']} | {'/'.join(map(str, row['statuses']))} | "
                     f"{row['cpu_ms']:.2f} | {ratio:.2f} | {'met' if ratio <= TARGET_RATIO else 'MISSED'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--compare", type=Path, help="another checkout to measure the same way")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the --compare subprocess
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.requests)))
        return
    rows = measure(args.requests)
    print(table(rows, f"This checkout ({ROOT}), {args.requests} requests per shape:"))
    print("\nEvery shape, CPU ms per request:\n")
    for row in rows:
        print(f"- {row['scheme']}: {row['shape']}: {row['cpu_ms']:.2f} ({'/'.join(map(str, row['statuses']))})")
    if args.compare:
        script = args.compare / "bench" / "bench_forged.py"
        script.parent.mkdir(exist_ok=True)
        script.write_text(Path(__file__).read_text())
        out = subprocess.run([sys.executable, str(script), "--json", "--requests", str(args.requests)],
                             capture_output=True, text=True, check=True, cwd=args.compare)
        print("\n" + table(json.loads(out.stdout), f"Compared checkout ({args.compare}):"))


if __name__ == "__main__":
    main()
