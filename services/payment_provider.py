"""The payment provider seen from the services: create an invoice, find one by order, verify a
callback. Plisio (``connectors.plisio.PlisioProvider``) is the one provider today; services use
only the names here, never a vendor module.

Creating an invoice is never retried blindly: its outcome after a failure is unknown, so the
caller looks the order number up (``find_invoices``) before creating again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

__all__ = [
    "CallbackRejected",
    "InvoiceRequest",
    "PaymentCallback",
    "PaymentProvider",
    "PaymentProviderError",
    "ProviderInvoice",
]


class PaymentProviderError(Exception):
    """The provider refused or could not be reached; ``retryable`` when a later try may work.

    A rejected inbound callback also says what to answer (``http_status``) and which field was
    wrong (``field``).
    """

    retryable: bool = False
    http_status: int = 400
    field: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CallbackRejected(PaymentProviderError):
    """An inbound callback that cannot be read or trusted; ``http_status`` is the answer."""

    def __init__(self, message: str, *, http_status: int, field: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.field = field


@dataclass(frozen=True, slots=True)
class InvoiceRequest:
    """One invoice to create, priced in fiat; ``order_number`` identifies it for look-ups."""

    order_number: str
    order_name: str
    amount: Decimal
    currency: str
    description: str | None = None
    email: str | None = None
    callback_url: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderInvoice:
    """An invoice as the provider knows it: its id, payment page and status word."""

    invoice_id: str
    url: str | None
    status: str
    created_at: datetime | None = None


class PaymentCallback(Protocol):
    """A verified status report from the provider (amounts as ``Decimal``, words as they came)."""

    @property
    def txn_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def order_number(self) -> str | None: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def received_amount(self) -> Decimal | None: ...
    @property
    def invoice_total_sum(self) -> Decimal | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def psys_cid(self) -> str | None: ...
    @property
    def source_amount(self) -> Decimal | None: ...
    @property
    def source_currency(self) -> str | None: ...
    @property
    def source_rate(self) -> Decimal | None: ...


@runtime_checkable
class PaymentProvider(Protocol):
    """What the bot needs from a payment provider."""

    @property
    def name(self) -> str:
        """Short lower-case name: ``external_refs.system`` and logs."""
        ...

    async def create_invoice(self, request: InvoiceRequest) -> ProviderInvoice:
        """Create one invoice; raises ``PaymentProviderError`` (never retried inside)."""
        ...

    async def find_invoices(self, order_number: str) -> list[ProviderInvoice]:
        """Invoices already made for ``order_number``, newest first (empty when none)."""
        ...

    def verify_callback(self, body: Mapping[str, object], *, form: bool) -> PaymentCallback:
        """Check a callback's signature and parse it; raises ``PaymentProviderError``."""
        ...
