"""Sign test requests exactly as DialNexa does."""

from __future__ import annotations

import json
import time
from typing import Any

from services.signing import sign

__all__ = ["WEBHOOK_SECRET", "signed_headers", "signed_json"]

WEBHOOK_SECRET = "dialnexa-test-secret"


def signed_headers(
    body: bytes, *, secret: str = WEBHOOK_SECRET, at: float | None = None
) -> dict[str, str]:
    timestamp = str(int(at if at is not None else time.time()))
    return {
        "Content-Type": "application/json",
        "X-DialNexa-Timestamp": timestamp,
        "X-DialNexa-Signature": sign(secret, timestamp, body),
    }


def signed_json(payload: dict[str, Any], **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode("utf-8")
    return body, signed_headers(body, **kwargs)
