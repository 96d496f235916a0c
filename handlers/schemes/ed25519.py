"""Ed25519 signature verification (RFC 8032, section 5.1), in pure Python.

Why not a library: the Lambda zip is standard library + boto3 only (fast cold starts, no
native wheels to match Lambda's platform), and the standard library has no Ed25519
(`hashlib` has SHA-512, which is all RFC 8032 needs besides integer arithmetic). The
tests check this module against RFC 8032's test vectors (section 7.1) and against
signatures made by PyNaCl (libsodium) and `cryptography` (OpenSSL).

Cheap to refuse, in this order, before any curve arithmetic:
- `parse_signature`: 64 bytes; S < L (a non-canonical S makes signatures malleable) and
  R's y < p (a non-canonical encoding), both plain integer compares;
- the public key is decoded, checked (canonical, on the curve, not of small order) and
  turned into a table once per key and process (`public_key`, cached), never per request.
Then one SHA-512 over R || A || message, and [S]B - [k]A compared with R by encoding
(the cofactorless equation, which RFC 8032 5.1.7 allows, as libsodium does).

Speed: extended twisted Edwards coordinates (RFC 8032 5.1.4: no inversion per addition)
and fixed-window tables of 64 x 16 multiples for the base point and for each public key,
so a verification is 128 point additions and no doublings, plus one inversion to encode.
`bench/bench_verify.py` measures it against the HMAC schemes.
"""
from __future__ import annotations

import functools
import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # the prime order of the base point
D = -121665 * pow(121666, P - 2, P) % P
D2 = 2 * D % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
SIGNATURE_BYTES = 64
KEY_BYTES = 32

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z
IDENTITY: Point = (0, 1, 1, 0)


def add(p: Point, q: Point) -> Point:
    """RFC 8032 5.1.4 addition (complete: also doubles and adds the identity)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * D2 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % P, g * h % P, f * g % P, e * h % P


def double(p: Point) -> Point:
    """RFC 8032 5.1.4 doubling."""
    x1, y1, z1, _ = p
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % P
    g = a - b
    f = c + g
    return e * f % P, g * h % P, f * g % P, e * h % P


def negate(p: Point) -> Point:
    x, y, z, t = p
    return (P - x) % P, y, z, (P - t) % P


def encode(p: Point) -> bytes:
    """RFC 8032 5.1.2: y, with the sign of x in the top bit."""
    x, y, z, _ = p
    zinv = pow(z, P - 2, P)
    x, y = x * zinv % P, y * zinv % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def decode(data: bytes) -> Point | None:
    """RFC 8032 5.1.3; None for a non-canonical y or a y with no x on the curve."""
    if len(data) != 32:
        return None
    value = int.from_bytes(data, "little")
    sign, y = value >> 255, value & ((1 << 255) - 1)
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P != u:
        if v * x * x % P != (P - u) % P:
            return None
        x = x * SQRT_M1 % P
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return x, y, 1, x * y % P


def _table(point: Point) -> list[list[Point]]:
    """table[i][j] = j * 16^i * point, for the 64 nibbles of a scalar below 2^256."""
    rows = []
    for _ in range(64):
        row = [IDENTITY, point]
        for _ in range(14):
            row.append(add(row[-1], point))
        rows.append(row)
        for _ in range(4):
            point = double(point)
    return rows


def multiply(table: list[list[Point]], scalar: int) -> Point:
    """scalar * the table's point: one addition per non-zero nibble."""
    result = IDENTITY
    for row in table:
        nibble = scalar & 15
        if nibble:
            result = add(result, row[nibble])
        scalar >>= 4
    return result


_BY = 4 * pow(5, P - 2, P) % P
_BX = decode(int.to_bytes(_BY, 32, "little"))[0]  # type: ignore[index]  # x is even: sign bit 0
BASE: Point = (_BX, _BY, 1, _BX * _BY % P)


@functools.lru_cache(maxsize=1)
def _base_table() -> list[list[Point]]:
    return _table(BASE)


class PublicKey:
    """A checked public key and the table of multiples of its negation (A' in RFC 8032)."""

    __slots__ = ("encoded", "_minus_table")

    def __init__(self, encoded: bytes, point: Point):
        self.encoded = encoded
        self._minus_table = _table(negate(point))

    def minus_multiple(self, scalar: int) -> Point:
        return multiply(self._minus_table, scalar)


def _small_order(point: Point) -> bool:
    eight = double(double(double(point)))
    return eight[0] % P == 0 and (eight[1] - eight[2]) % P == 0


@functools.lru_cache(maxsize=16)
def public_key(encoded: bytes) -> PublicKey | None:
    """The key's table, built once per key and process; None for a key that must never verify."""
    point = decode(encoded)
    if point is None or _small_order(point):
        return None
    return PublicKey(encoded, point)


def parse_signature(signature: bytes) -> tuple[bytes, int] | None:
    """(R as sent, S) of a well-formed signature, or None: wrong length, S >= L, R's y >= p."""
    if len(signature) != SIGNATURE_BYTES:
        return None
    r, s = signature[:32], int.from_bytes(signature[32:], "little")
    if s >= L or (int.from_bytes(r, "little") & ((1 << 255) - 1)) >= P:
        return None
    return r, s


def verify(key: PublicKey, message: bytes, signature: bytes) -> bool:
    """RFC 8032 5.1.7, cofactorless: encode([S]B - [k]A) == R."""
    parsed = parse_signature(signature)
    if parsed is None:
        return False
    r, s = parsed
    k = int.from_bytes(hashlib.sha512(r + key.encoded + message).digest(), "little") % L
    return encode(add(multiply(_base_table(), s), key.minus_multiple(k))) == r


# --------------------------------------------------------------------------- signing (tests and `send`)


def _clamped(seed: bytes) -> tuple[int, bytes]:
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    return scalar, digest[32:]


def public_from_seed(seed: bytes) -> bytes:
    """RFC 8032 5.1.5: the public key of a 32-byte private key (seed)."""
    return encode(multiply(_base_table(), _clamped(seed)[0]))


def sign(seed: bytes, message: bytes) -> bytes:
    """RFC 8032 5.1.6. Only `webhookctl send` and tests sign: a provider's private key never
    reaches ingest, which only verifies."""
    scalar, prefix = _clamped(seed)
    public = encode(multiply(_base_table(), scalar))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % L
    r_encoded = encode(multiply(_base_table(), r))
    k = int.from_bytes(hashlib.sha512(r_encoded + public + message).digest(), "little") % L
    return r_encoded + int.to_bytes((r + k * scalar) % L, 32, "little")
