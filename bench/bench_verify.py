"""Verification cost per scheme: a valid request, and a forged one at the 1 MB body limit.

    .venv/bin/python bench/bench_verify.py [--rounds 30]

For every scheme of the registry (a provider per scheme, two active secrets as
`secrets set --keep-previous` leaves them; Discord's are two public keys):

- valid: `handlers.schemes.verify` of the scheme's sample, signed (microseconds, CPU);
- forged, verify only: its worst forged shape at 1 MB, well-formed headers with a wrong
  MAC (or Ed25519 signature, or token), fresh timestamp (microseconds, CPU);
- forged, through ingest: the same request as an API Gateway event through
  `handlers.ingest.handler` under moto (in-process), which is what a flood costs: the event's
  base64 body decoded, the provider looked up, the secrets cached, the answer built.

The worst forged shapes: a 1 MB JSON value for every scheme; for Graph, whose clientState is
inside the body and so parsed before anything is known, the worst collections (1 MB of `{}`,
1 MB of numbers, 1,000 notifications with big values), each bounded before json.loads.

Baseline: the cheapest scheme's forged request through ingest, in the same run; target: no
scheme above 10x it. `time.process_time`, `--rounds` requests per measurement, median of 3.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY_LIMIT = 1_048_576
TARGET_RATIO = 10.0
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # records_table: the records table as the stack makes it
sys.path.insert(0, str(ROOT / "tests" / "handlers"))


def _secrets(name: str) -> list[str]:
    from handlers.schemes import ed25519

    if name == "standard":  # whsec_ + base64: the spec's published test secret, and a made-up previous one
        from scheme_vectors import VECTORS

        previous = "whsec_" + base64.b64encode(b"previous-secret-of-32-bytes-long").decode()
        return [VECTORS["standard"][0].secrets[0], previous]
    if name == "discord":
        return [ed25519.public_from_seed(bytes([n]) * 32).hex() for n in (1, 2)]
    return [f"{name}-newest-secret", f"{name}-previous-secret"]


def _attacker(name: str) -> str:
    return {"standard": "whsec_" + "A" * 43, "discord": "ed25519-seed:" + "66" * 32}.get(name, "attacker-guess")


def _options(name: str) -> dict:
    from handlers.schemes import REGISTRY

    options = {o.name: o.example for o in REGISTRY[name].options}
    return {"header": "X-Webhook-Signature"} if name == "hmac-sha256" else options


def _forged_bodies(name: str) -> dict[str, bytes]:
    big = {"json 1 MB value": b'{"v": "' + b"x" * (BODY_LIMIT - 9) + b'"}'}
    if name != "msgraph":
        return big
    item = b'{"clientState":"guess","changeType":"created","resource":"' + b"r" * 1000 + b'"}'
    return {
        "graph: one notification, 1 MB value": b'{"value":[{"clientState":"guess","v":"' + b"x" * (BODY_LIMIT - 60)
                                                 + b'"}]}',
        "graph: 1 MB of {}": (b'{"value":[' + b",".join([b"{}"] * 350_000) + b"]}")[:BODY_LIMIT],
        "graph: 1 MB of numbers": b'{"value":[{"clientState":"guess","a":[' + b",".join([b"1"] * 500_000) + b"]}]}",
        "graph: 1,000 notifications": b'{"value":[' + b",".join([item] * 1000) + b"]}",
    }


def _signed(name: str, body: bytes, secret: str, url: str, content_type: str) -> dict[str, str]:
    from handlers.schemes import sign

    headers = sign(name, body, secret, _options(name), url=url, now=time.time())
    return {"Content-Type": content_type, **headers}


def _cpu(fn, rounds: int) -> float:
    """Median over 3 runs of CPU seconds per call."""
    runs = []
    for _ in range(3):
        started = time.process_time()
        for _ in range(rounds):
            fn()
        runs.append((time.process_time() - started) / rounds)
    return statistics.median(runs)


def _verify_costs(name: str, rounds: int) -> dict:
    from handlers.schemes import REGISTRY, prepare_body, verify
    from handlers.schemes.base import SignatureError

    entry, secrets, url = REGISTRY[name], _secrets(name), f"https://{HOST}/prod/webhooks/{name}"
    sample = entry.sample()
    signer = secrets[0] if name != "discord" else "ed25519-seed:" + "01" * 32
    body = prepare_body(name, sample.body, signer)
    target = entry.post_url(url, body, sample.content_type)
    headers = _signed(name, body, signer, target, sample.content_type)
    verify(name, body, headers, secrets, _options(name), url=target)  # warm: key tables, caches
    valid = _cpu(lambda: verify(name, body, headers, secrets, _options(name), url=target), rounds * 10)

    worst, shape = 0.0, ""
    for label, forged in _forged_bodies(name).items():
        forged_headers = _signed(name, b"{}", _attacker(name), target, "application/json")

        def attempt():
            try:
                verify(name, forged, forged_headers, secrets, _options(name), url=target)
            except SignatureError:
                return
            raise AssertionError(f"{name}: a forged request verified")
        cost = _cpu(attempt, rounds)
        if cost >= worst:
            worst, shape = cost, label
    return {"scheme": name, "valid_us": valid * 1e6, "forged_us": worst * 1e6, "shape": shape}


def _through_ingest(names: list[str], rounds: int) -> dict[str, tuple[float, list[int]]]:
    """CPU ms per forged 1 MB request through ingest.handler, per scheme (its worst shape)."""
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    import handler_harness as h
    from handlers import aws, ingest, secrets

    results = {}
    with mock_aws():
        aws.reset()
        secrets.reset()
        pipeline = h.Pipeline()
        table = {}
        for name in names:
            table[name] = {"scheme": name, "ordering_key": "provider", "tolerance_seconds": 300,
                           "secret_id": f"bench/providers/{name}", **_options(name)}
            pipeline.sm.create_secret(Name=table[name]["secret_id"],
                                      SecretString=json.dumps({"secrets": _secrets(name)}))
        os.environ.update(pipeline.env(), PROVIDERS_FILE=str(pipeline.write_providers(table)),
                          SECRET_REFRESH_SECONDS="3600")
        sys.stdout = open(os.devnull, "w")  # the handlers' JSON logs and EMF lines
        try:
            for name in names:
                worst: tuple[float, list[int]] = (0.0, [])
                for forged in _forged_bodies(name).values():
                    headers = _signed(name, b"{}", _attacker(name), h.url_for(name), "application/json")
                    event = h.api_event(name, forged, headers, base64_body=True)
                    statuses = {ingest.handler(event, None)["statusCode"] for _ in range(2)}
                    cost = _cpu(lambda: statuses.add(ingest.handler(event, None)["statusCode"]), rounds)
                    if cost >= worst[0]:
                        worst = (cost, sorted(statuses))
                results[name] = worst
        finally:
            sys.stdout = sys.__stdout__
    return results


def table(rows: list[dict], ingest_costs: dict[str, tuple[float, list[int]]]) -> str:
    cheapest = min(cost for cost, _ in ingest_costs.values())
    cheapest_name = min(ingest_costs, key=lambda n: ingest_costs[n][0])
    lines = [f"| scheme | µs / valid request (verify) | µs / forged 1 MB (verify) | worst forged shape | "
             f"ms / forged 1 MB through ingest | answer | ratio to cheapest ({cheapest_name}, "
             f"{cheapest * 1000:.2f} ms) | target <= {TARGET_RATIO:g}x |",
             "|---|---:|---:|---|---:|---|---:|---|"]
    for row in sorted(rows, key=lambda r: -ingest_costs[r["scheme"]][0]):
        cost, statuses = ingest_costs[row["scheme"]]
        ratio = cost / cheapest
        lines.append(f"| {row['scheme']} | {row['valid_us']:.0f} | {row['forged_us']:.0f} | {row['shape']} | "
                     f"{cost * 1000:.2f} | {'/'.join(map(str, statuses))} | {ratio:.2f} | "
                     f"{'met' if ratio <= TARGET_RATIO else 'MISSED'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    from handlers.schemes import REGISTRY

    names = list(REGISTRY)
    rows = [_verify_costs(name, args.rounds) for name in names]
    print(table(rows, _through_ingest(names, args.rounds)))


if __name__ == "__main__":
    main()
