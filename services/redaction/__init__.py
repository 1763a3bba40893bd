"""Suppression: card numbers, bank details and tax identifiers never leave a DialNexa handoff.

This runs before a handoff is stored, logged or shown in Slack, and before anything is sent to
Plisio. It is split by role:

- ``normalise``: the text as detectors read it (Unicode digits, fullwidth, spoken digits), with
  the way back to the original's indices;
- ``clusters``: numbers written loosely (any separators, split over words, spoken), IBANs in any
  spacing or case, and values after cue words (routing, sort code, BSB, account, SSN, CVV, expiry);
- ``tokens``: tidy tokens confirmed by python-stdnum checksums and context words (VAT and other
  tax ids, dashed SSNs, accounts, routing numbers, IBANs, cards);
- ``text``: one text through both passes; ``fields``: every string of a handoff, links included;
- ``markers``: what stands in for a removed value.
"""

from __future__ import annotations

from services.redaction.fields import RedactedHandoff, redact_handoff
from services.redaction.text import (
    ALWAYS,
    Redacted,
    holds_sensitive,
    identifier_holds_sensitive,
    redact_text,
)

__all__ = [
    "ALWAYS",
    "Redacted",
    "RedactedHandoff",
    "holds_sensitive",
    "identifier_holds_sensitive",
    "redact_handoff",
    "redact_text",
]
