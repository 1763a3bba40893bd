"""The Stripe section of a handoff: subscription status, plan, amount, period end; the latest
payment's status, amount, date and failure reason; "no customer" said plainly; a failed lookup as
one line (the Refresh context button reads again)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from blocks.common import clip_mrkdwn, format_money, slack_date
from blocks.context_section import ContextSection

__all__ = ["stripe_section"]

TITLE = "Stripe"
SUBSCRIPTIONS_SHOWN = 2
LINE_MAX = 300
_GAVE_UP = "Stripe gave up: "
DATE = "{date_short_pretty}"


def _text(value: object, limit: int = 120) -> str:
    """Vendor text, escaped and inert."""
    return clip_mrkdwn(str(value), limit, inert=True)[0]


def _money(amount: object, currency: object) -> str | None:
    if not isinstance(amount, str) or not isinstance(currency, str):
        return None
    try:
        return _text(format_money(Decimal(amount), currency.upper()))
    except (InvalidOperation, ValueError):
        return None


def _date(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return slack_date(at, DATE) if at.tzinfo is not None else None


def _subscription_line(sub: Mapping[str, Any]) -> str:
    parts = [f"Subscription *{_text(sub.get('status_label') or sub.get('status') or '?')}*"]
    if sub.get("plan"):
        parts.append(_text(sub["plan"]))
    money = _money(sub.get("amount"), sub.get("currency"))
    if money:
        interval = sub.get("interval")
        parts.append(f"{money} / {_text(interval)}" if interval else money)
    end = _date(sub.get("current_period_end"))
    if end:
        ended = sub.get("status") in {"canceled", "incomplete_expired"}
        parts.append(f"{'ended' if ended else 'period ends'} {end}")
    return " · ".join(parts)


def _payment_line(pay: Mapping[str, Any]) -> str:
    parts = [f"Latest payment *{_text(pay.get('status_label') or pay.get('status') or '?')}*"]
    money = _money(pay.get("amount"), pay.get("currency"))
    if money:
        parts.append(money)
    created = _date(pay.get("created"))
    if created:
        parts.append(created)
    if pay.get("failure_reason"):
        parts.append(_text(pay["failure_reason"], 160))
    return " · ".join(parts)


def stripe_section(ctx: Mapping[str, Any]) -> ContextSection | None:
    """The section drawn from ``handoffs.context["stripe"]``; None when it says nothing."""
    lines: list[str] = []
    error = ctx.get("error")
    if error:
        reason = str(error).removeprefix(_GAVE_UP)
        lines.append("⚠️ Stripe lookup failed: " + _text(reason, LINE_MAX))
    url = None
    label = None
    if ctx.get("found") is False:
        lines.append(_text(ctx.get("message") or "No Stripe customer for this email"))
    elif ctx.get("found"):
        customer = ctx.get("customer") or {}
        url = customer.get("url") if str(customer.get("url", "")).startswith("https://") else None
        label = str(customer.get("name") or customer.get("id") or "customer")
        subs = [s for s in ctx.get("subscriptions") or () if isinstance(s, Mapping)]
        lines += [_subscription_line(s) for s in subs[:SUBSCRIPTIONS_SHOWN]]
        if not subs:
            lines.append("No subscriptions")
        payment = ctx.get("latest_payment")
        lines.append(_payment_line(payment) if isinstance(payment, Mapping) else "No payments yet")
    if not lines:
        return None
    return ContextSection(title=TITLE, lines=tuple(lines), url=url, url_label=label)
