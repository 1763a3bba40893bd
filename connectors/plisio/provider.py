"""Plisio behind ``services.payment_provider.PaymentProvider``.

The client is read at call time, so a test that replaces one of its methods sees its replacement.
Errors are ``PlisioError``s, which are ``PaymentProviderError``s.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.plisio.callbacks import PlisioCallback, verify_and_parse_callback
from connectors.plisio.client import PlisioClient
from services.payment_provider import InvoiceRequest, ProviderInvoice

__all__ = ["PlisioProvider"]

NEW = "new"  # the status of an invoice Plisio has just made


class PlisioProvider:
    """Create, find and verify Plisio invoices through a ``PlisioClient``."""

    name = "plisio"

    def __init__(self, client: PlisioClient, secret_key: str) -> None:
        self.client = client
        self._secret_key = secret_key

    def __repr__(self) -> str:
        return "PlisioProvider(secret_key=***)"

    async def create_invoice(self, request: InvoiceRequest) -> ProviderInvoice:
        created = await self.client.create_invoice(
            order_number=request.order_number,
            order_name=request.order_name,
            source_amount=request.amount,
            source_currency=request.currency,
            description=request.description,
            email=request.email,
            callback_url=request.callback_url,
        )
        return ProviderInvoice(invoice_id=created.txn_id, url=created.invoice_url, status=NEW)

    async def find_invoices(self, order_number: str) -> list[ProviderInvoice]:
        found = await self.client.find_by_order_number(order_number)
        return [
            ProviderInvoice(
                invoice_id=op.id, url=op.invoice_url, status=op.status, created_at=op.created_at
            )
            for op in found
        ]

    def verify_callback(self, body: Mapping[str, object], *, form: bool) -> PlisioCallback:
        return verify_and_parse_callback(body, self._secret_key, form=form)
