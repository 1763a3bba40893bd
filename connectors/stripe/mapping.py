"""Stripe objects (plain dicts) to the handoff's ``stripe`` context (the agreed shape).

Amounts are decimal strings in major units ("49.00"), times ISO-8601 UTC; statuses keep
Stripe's word and gain a readable label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "DASHBOARD",
    "NOT_FOUND",
    "amount",
    "customer_url",
    "latest_payment",
    "minor_units",
    "places",
    "stripe_context",
    "subscription",
]

DASHBOARD = "https://dashboard.stripe.com"
NOT_FOUND = "No Stripe customer for this email"

# Currencies Stripe counts in whole units, and in thousandths (docs: "Zero-decimal currencies").
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

SUBSCRIPTION_LABELS = {
    "active": "Active",
    "past_due": "Past due",
    "unpaid": "Unpaid",
    "canceled": "Canceled",
    "incomplete": "Incomplete",
    "incomplete_expired": "Expired before first payment",
    "trialing": "Trialing",
    "paused": "Paused",
}
PAYMENT_INTENT_LABELS = {
    "succeeded": "Succeeded",
    "processing": "Processing",
    "requires_payment_method": "Awaiting payment method",
    "requires_confirmation": "Awaiting confirmation",
    "requires_action": "Needs customer action",
    "requires_capture": "Authorized, not captured",
    "canceled": "Canceled",
}
CHARGE_LABELS = {"succeeded": "Succeeded", "pending": "Pending", "failed": "Failed"}
PAST_DUE = frozenset({"past_due", "unpaid"})


def _label(labels: Mapping[str, str], status: str) -> str:
    return labels.get(status) or status.replace("_", " ").capitalize()


def places(currency: object) -> int:
    """How many decimals Stripe's minor units of ``currency`` stand for (2, or 0, or 3)."""
    code = str(currency or "").upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def amount(minor: object, currency: object) -> str | None:
    """Stripe's integer minor units as a decimal string in major units."""
    if not isinstance(minor, int) or isinstance(minor, bool):
        return None
    digits = places(currency)
    return str(Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


def minor_units(major: Decimal, currency: object) -> int | None:
    """``major`` (e.g. ``Decimal("49.00")``) in Stripe's integer minor units, or None when it
    is not a whole number of them (``0.001`` USD)."""
    scaled = major.scaleb(places(currency))
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def _iso(epoch: object) -> str | None:
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _currency(value: object) -> str | None:
    return str(value).upper() if value else None


def _id(value: object) -> str | None:
    """An id, or an expanded object's id."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def customer_url(customer_id: str, *, livemode: bool = True) -> str:
    return f"{DASHBOARD}{'' if livemode else '/test'}/customers/{customer_id}"


def _plan(price: Mapping[str, Any], plan: Mapping[str, Any]) -> str | None:
    product = price.get("product") or plan.get("product")
    if isinstance(product, Mapping) and product.get("name"):
        return str(product["name"])
    for value in (price.get("nickname"), plan.get("nickname"), price.get("lookup_key")):
        if value:
            return str(value)
    return _id(product)


def subscription(sub: Mapping[str, Any]) -> dict[str, Any]:
    """One subscription: status, plan, amount per interval, current period end."""
    items = (sub.get("items") or {}).get("data") or []
    first: Mapping[str, Any] = items[0] if items else {}
    price: Mapping[str, Any] = first.get("price") or {}
    plan: Mapping[str, Any] = first.get("plan") or sub.get("plan") or {}
    currency = price.get("currency") or plan.get("currency") or sub.get("currency")
    total = None
    for item in items:
        unit = (item.get("price") or {}).get("unit_amount")
        if unit is None:
            unit = (item.get("plan") or {}).get("amount")
        if isinstance(unit, int):
            total = (total or 0) + unit * int(item.get("quantity") or 1)
    recurring: Mapping[str, Any] = price.get("recurring") or {}
    # Since API version 2025-03-31 the period lives on the items, before that on the subscription.
    period_end = sub.get("current_period_end") or first.get("current_period_end")
    status = str(sub.get("status") or "")
    return {
        "id": str(sub.get("id") or ""),
        "status": status,
        "status_label": _label(SUBSCRIPTION_LABELS, status),
        "plan": _plan(price, plan),
        "amount": amount(total, currency),
        "currency": _currency(currency),
        "interval": recurring.get("interval") or plan.get("interval"),
        "current_period_end": _iso(period_end),
    }


def _failed(payment: Mapping[str, Any]) -> bool:
    status = payment.get("status")
    if payment.get("object") == "charge":
        return status == "failed"
    return status == "requires_payment_method" and bool(payment.get("last_payment_error"))


def latest_payment(payment: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A payment intent or a charge: status (a failed try says "Failed"), amount, reason, date."""
    if not payment:
        return None
    kind = "charge" if payment.get("object") == "charge" else "payment_intent"
    status = str(payment.get("status") or "")
    labels = CHARGE_LABELS if kind == "charge" else PAYMENT_INTENT_LABELS
    label = "Failed" if _failed(payment) else _label(labels, status)
    error: Mapping[str, Any] = payment.get("last_payment_error") or {}
    reason = payment.get("failure_message") or error.get("message")
    if reason is None and label == "Failed":
        reason = payment.get("failure_code") or error.get("decline_code") or error.get("code")
    return {
        "id": str(payment.get("id") or ""),
        "object": kind,
        "status": status,
        "status_label": label,
        "amount": amount(payment.get("amount"), payment.get("currency")),
        "currency": _currency(payment.get("currency")),
        "failure_reason": str(reason) if reason else None,
        "created": _iso(payment.get("created")),
    }


def stripe_context(
    customer: Mapping[str, Any] | None,
    subscriptions: Sequence[Mapping[str, Any]],
    payment: Mapping[str, Any] | None,
    *,
    looked_up_at: datetime,
) -> dict[str, Any]:
    """The agreed ``handoffs.context["stripe"]`` shape."""
    at = looked_up_at.astimezone(UTC).isoformat()
    if customer is None:
        return {"found": False, "message": NOT_FOUND, "looked_up_at": at}
    customer_id = str(customer.get("id") or "")
    subs = [subscription(s) for s in subscriptions]
    latest = latest_payment(payment)
    flags = []
    if any(s["status"] in PAST_DUE for s in subs):
        flags.append("past_due")
    if payment is not None and _failed(payment):
        flags.append("payment_failed")
    return {
        "found": True,
        "customer": {
            "id": customer_id,
            "name": customer.get("name"),
            "email": customer.get("email"),
            "url": customer_url(customer_id, livemode=customer.get("livemode") is not False),
        },
        "subscriptions": subs,
        "latest_payment": latest,
        "flags": flags,
        "looked_up_at": at,
    }
