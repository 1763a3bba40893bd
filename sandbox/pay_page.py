"""The sandbox Plisio invoice page: what the customer would see, plus buttons to settle it."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from sandbox.plisio import FakeInvoice

__all__ = ["SETTLE_STATUSES", "invoice_page"]

# What the visitor can make happen to an invoice, and the button that does it.
SETTLE_STATUSES = {
    "completed": "Mark paid",
    "underpaid": "Pay short (underpaid)",
    "overpaid": "Pay too much (overpaid)",
    "expired": "Expire",
    "cancelled": "Cancel",
}


def _when(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def invoice_page(invoice: FakeInvoice, *, merchant: str) -> str:
    """The HTML page of one invoice (values escaped)."""
    e = html.escape
    buttons = "".join(
        f'<button type="button" data-status="{e(status)}">{e(label)}</button>'
        for status, label in SETTLE_STATUSES.items()
    )
    rows = [
        ("Amount", f"{invoice.source_amount} {invoice.source_currency}"),
        ("Pay in", f"{invoice.amount} {invoice.currency}"),
        ("Order", invoice.order_number),
        ("Email", invoice.email or "—"),
        ("Created", _when(invoice.created_at)),
        ("Expires", _when(invoice.expire_at)),
    ]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>[SANDBOX] Plisio invoice {e(invoice.txn_id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/sandbox/static/style.css">
<script type="module" src="/sandbox/static/pay.js"></script>
</head><body class="pay">
<div class="sandbox-banner">SANDBOX · a pretend Plisio invoice: no money moves</div>
<main class="pay-card" data-txn="{e(invoice.txn_id)}">
<p class="pay-merchant">{e(merchant)}</p>
<h1>{e(invoice.order_name)}</h1>
<p class="pay-status">Status: <span class="status status-{e(invoice.status.replace(" ", "-"))}" data-testid="invoice-status">{e(invoice.status)}</span></p>
<table>{table}</table>
<section class="pay-controls"><h2>Sandbox controls</h2>
<p>Each button changes the invoice and sends Plisio's signed status callback to the bot.</p>
<div class="pay-buttons">{buttons}</div>
<p class="pay-result" role="status"></p></section>
</main></body></html>
"""
