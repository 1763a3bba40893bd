from __future__ import annotations

import hashlib
import hmac

import pytest

from services.signing import SignatureError, sign, verify

SECRET = "s3cret"
BODY = b'{"call_id":"dnx_1"}'


def test_signature_is_hmac_sha256_over_version_timestamp_and_body() -> None:
    expected = hmac.new(SECRET.encode(), b"v1:1700000000:" + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, BODY) == "v1=" + expected


def test_fresh_matching_signature_passes() -> None:
    verify(
        SECRET,
        timestamp="1700000000",
        signature=sign(SECRET, 1700000000, BODY),
        body=BODY,
        now=1700000100,
    )


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "now", "reason"),
    [
        (None, "v1=00", BODY, 1700000000, "missing"),
        ("1700000000", None, BODY, 1700000000, "missing"),
        ("17e8", "v1=00", BODY, 1700000000, "Unix time"),
        ("1700000000", sign(SECRET, 1700000000, BODY), BODY, 1700000301, "300 seconds"),
        ("1700000000", sign(SECRET, 1700000000, BODY), BODY, 1699999699, "300 seconds"),
        ("1700000000", sign(SECRET, 1700000000, BODY), BODY + b" ", 1700000000, "does not match"),
        ("1700000000", sign("other", 1700000000, BODY), BODY, 1700000000, "does not match"),
        ("1700000001", sign(SECRET, 1700000000, BODY), BODY, 1700000000, "does not match"),
        ("1700000000", "v1=ünïcode", BODY, 1700000000, "does not match"),
    ],
    ids=[
        "no-ts",
        "no-sig",
        "bad-ts",
        "stale",
        "future",
        "body-changed",
        "wrong-key",
        "ts-changed",
        "non-ascii",
    ],
)
def test_refusals_say_why(
    timestamp: str | None, signature: str | None, body: bytes, now: float, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason) as info:
        verify(SECRET, timestamp=timestamp, signature=signature, body=body, now=now)
    assert SECRET not in str(info.value)
