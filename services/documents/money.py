"""Amounts on customer documents: rounded to the currency's minor unit, never through float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from services.handoff_model import PLISIO_CRYPTO_CURRENCIES

__all__ = ["decimals", "format_money", "round_money"]

# ISO 4217 minor units that are not 2 (the published list; everything else has cents).
_ZERO = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
     "VUV", "XAF", "XOF", "XPF"}
)  # fmt: skip
_THREE = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
CRYPTO_DECIMALS = 8  # Plisio states crypto amounts to 8 places (satoshi for BTC)


def decimals(currency: str) -> int:
    """Decimal places of ``currency``: JPY 0, USD 2, KWD 3, BTC (any Plisio crypto) 8."""
    code = currency.upper()
    if code in PLISIO_CRYPTO_CURRENCIES:
        return CRYPTO_DECIMALS
    if code in _ZERO:
        return 0
    if code in _THREE:
        return 3
    return 2


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded half up to the currency's places."""
    return amount.quantize(Decimal(1).scaleb(-decimals(currency)), rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str) -> str:
    """``1,234.50 USD``, ``1,235 JPY``, ``0.00120000 BTC``."""
    return f"{round_money(amount, currency):,f} {currency.upper()}"
