"""A deterministic zip of the handlers package and the stack's provider table (no cdktf import).

Same sources -> same bytes -> same asset hash and `source_code_hash`, so
Terraform replaces the Lambda code only when a handler file or the provider
table changed. The table sits at the zip root as `contract.PROVIDERS_FILE_NAME`:
Lambda allows 4 KB of environment for all variables together, which a table
in an environment variable outgrows at about 25 providers.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from handlers.contract import secret_name

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


@dataclass(frozen=True)
class Package:
    path: Path
    sha256_base64: str  # what Lambda reports as CodeSha256 / source_code_hash


def provider_table(providers: Mapping[str, Any], stack_name: str) -> dict[str, dict[str, Any]]:
    """`{name: provider.runtime_config(secret_id)}`: what ingest knows of each provider (no secret values)."""
    return {name: provider.runtime_config(secret_name(stack_name, name)) for name, provider in providers.items()}


def provider_table_bytes(providers: Mapping[str, Any], stack_name: str) -> bytes:
    """The provider table file: JSON, keys sorted, so the same config gives the same bytes."""
    table = provider_table(providers, stack_name)
    return json.dumps(table, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def handler_files(source: Path) -> list[Path]:
    """Every .py file of the package, sorted, without caches."""
    return sorted(
        p for p in source.rglob("*.py") if "__pycache__" not in p.parts and p.is_file()
    )


def zip_bytes(source: Path, extra_files: Mapping[str, bytes] | None = None) -> bytes:
    """The package under `<source.name>/`, then each extra file at the zip root, all sorted."""
    entries = [(f"{source.name}/{path.relative_to(source).as_posix()}", path.read_bytes()) for path in handler_files(source)]
    entries += sorted((extra_files or {}).items())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def build_package(source: Path, dest_dir: Path, extra_files: Mapping[str, bytes] | None = None) -> Package:
    """Write `<dest_dir>/<name>-<hash>.zip` (only if missing) and return it with its hash."""
    data = zip_bytes(source, extra_files)
    digest = hashlib.sha256(data)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / f"{source.name}-{digest.hexdigest()[:16]}.zip"
    if not path.exists() or path.read_bytes() != data:
        # Atomic: another synth may be reading the same file.
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, path)
    return Package(path=path, sha256_base64=base64.b64encode(digest.digest()).decode())
