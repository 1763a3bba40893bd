"""DialNexa request signing: ``v1=`` + HMAC-SHA256 over ``v1:{timestamp}:{raw body}``."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["MAX_SKEW_SECONDS", "SignatureError", "sign", "verify"]

MAX_SKEW_SECONDS = 300


class SignatureError(Exception):
    """The request is not provably from DialNexa; the message says why (never the secret)."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-DialNexa-Signature value for a body sent at ``timestamp``."""
    message = b"v1:" + str(timestamp).encode("ascii") + b":" + body
    return "v1=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, *, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> None:
    """Raise SignatureError unless the signature matches and the timestamp is fresh."""
    if not timestamp or not signature:
        raise SignatureError("missing X-DialNexa-Timestamp or X-DialNexa-Signature header")
    # isdigit() alone also accepts "²" and non-ASCII digits such as "١٧".
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise SignatureError("X-DialNexa-Timestamp must be Unix time in seconds")
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise SignatureError("X-DialNexa-Timestamp is more than 300 seconds from our clock")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise SignatureError("X-DialNexa-Signature does not match the body")
