"""The markers that stand in for removed values, and the pattern that finds them again.

Every pass treats a marker as opaque, so a marker is never read as part of a new match and
redacting twice changes nothing.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "ACCOUNT",
    "ELLIPSIS",
    "EXPIRY",
    "MARKER",
    "ROUTING",
    "SECURITY_CODE",
    "SORT_CODE",
    "TAX",
    "URL_VALUE",
    "VAT",
    "card",
    "iban",
]

ROUTING: Final = "[routing number removed]"
ACCOUNT: Final = "[bank account removed]"
SORT_CODE: Final = "[sort code removed]"
TAX: Final = "[tax ID removed]"
VAT: Final = "[VAT number removed]"
SECURITY_CODE: Final = "[security code removed]"
EXPIRY: Final = "[expiry removed]"
# What replaces a sensitive query value, path segment or fragment in a link (URL-safe).
URL_VALUE: Final = "redacted"
ELLIPSIS: Final = "…"

MARKER: Final = re.compile(
    r"\[(?:card ending [0-9]{4}|[A-Z]{2} IBAN removed|routing number removed"
    r"|bank account removed|sort code removed|tax ID removed|VAT number removed"
    r"|security code removed|expiry removed)\]"
)


def card(digits: str) -> str:
    """The marker for a card number: its last four digits, as printed on receipts."""
    return f"[card ending {digits[-4:]}]"


def iban(compact: str) -> str:
    """The marker for an IBAN: its country."""
    return f"[{compact[:2].upper()} IBAN removed]"
