"""A deterministic zip of the handlers package (no cdktf import).

Same sources -> same bytes -> same asset hash and `source_code_hash`, so
Terraform replaces the Lambda code only when a handler file changed.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


@dataclass(frozen=True)
class Package:
    path: Path
    sha256_base64: str  # what Lambda reports as CodeSha256 / source_code_hash


def handler_files(source: Path) -> list[Path]:
    """Every .py file of the package, sorted, without caches."""
    return sorted(
        p for p in source.rglob("*.py") if "__pycache__" not in p.parts and p.is_file()
    )


def zip_bytes(source: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in handler_files(source):
            info = zipfile.ZipInfo(f"{source.name}/{path.relative_to(source).as_posix()}", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def build_package(source: Path, dest_dir: Path) -> Package:
    """Write `<dest_dir>/<name>-<hash>.zip` (only if missing) and return it with its hash."""
    data = zip_bytes(source)
    digest = hashlib.sha256(data)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / f"{source.name}-{digest.hexdigest()[:16]}.zip"
    if not path.exists() or path.read_bytes() != data:
        # Atomic: another synth may be reading the same file.
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, path)
    return Package(path=path, sha256_base64=base64.b64encode(digest.digest()).decode())
