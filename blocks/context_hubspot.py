"""The *Account* section: what HubSpot says about the customer (``handoffs.context["hubspot"]``).

Shape (written by ``connectors.hubspot``)::

    {"found": true|false, "message": "No HubSpot contact for this email" (only when not found),
     "contact": {"id", "url"}, "owner": {"name", "email", "slack_id"} | null,
     "company": {"id", "name", "url"} | null, "lifecycle_stage": "customer" | null,
     "renewal": {"id", "name", "close_date": "YYYY-MM-DD", "amount": "12000.00", "currency",
                 "url"} | null,
     "looked_up_at": "…", "error": "HubSpot gave up: …" (added by the runtime)}

Two lines at most besides an error: owner, company and lifecycle stage; the open renewal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from blocks.common import clip_mrkdwn, format_money, who

if TYPE_CHECKING:
    from blocks.handoff_context import ContextSection

__all__ = ["TITLE", "hubspot_section"]

TITLE = "Account"
OPEN_LABEL = "Open in HubSpot"
NO_RENEWAL = "No open renewal"
TEXT_MAX = 120
URL_MAX = 1000
STAGES = {
    "subscriber": "Subscriber",
    "lead": "Lead",
    "marketingqualifiedlead": "Marketing qualified lead",
    "salesqualifiedlead": "Sales qualified lead",
    "opportunity": "Opportunity",
    "customer": "Customer",
    "evangelist": "Evangelist",
    "other": "Other",
}


def _text(value: object) -> str | None:
    """Vendor text, escaped and inert (no mentions or links of its own)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return clip_mrkdwn(value.strip(), TEXT_MAX, inert=True)[0]


def _url(value: object) -> str | None:
    if isinstance(value, str) and value.startswith("https://") and len(value) <= URL_MAX:
        return value
    return None


def _linked(label: str, url: object) -> str:
    """``label`` (already escaped) as a link when there is a URL."""
    safe = _url(url)
    if safe is None:
        return label
    return "<" + safe.replace("|", "%7C").replace(">", "%3E") + "|" + label + ">"


def _owner(owner: object) -> str | None:
    if not isinstance(owner, Mapping):
        return None
    slack_id = owner.get("slack_id")
    if isinstance(slack_id, str) and slack_id[:1] in "UW" and slack_id.isalnum():
        return who(slack_id)
    return _text(owner.get("name")) or _text(owner.get("email"))


def _when(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return f"{day.day} {day:%b %Y}"


def _money(amount: object, currency: object) -> str | None:
    if not isinstance(amount, str):
        return None
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return None
    code = _text(currency) if isinstance(currency, str) else None
    return format_money(value, code or "").strip()


def _renewal(renewal: object) -> str | None:
    if not isinstance(renewal, Mapping):
        return None
    name = _text(renewal.get("name")) or "Open deal"
    parts = [f"*Renewal:* {_linked(name, renewal.get('url'))}"]
    when = _when(renewal.get("close_date"))
    if when:
        parts.append(f"closes {when}")
    money = _money(renewal.get("amount"), renewal.get("currency"))
    if money:
        parts.append(money)
    return " · ".join(parts)


def hubspot_section(ctx: Mapping[str, Any]) -> ContextSection | None:
    """The Account section, or None when HubSpot said nothing yet."""
    # Imported here: blocks.handoff_context registers this module's renderer as it loads.
    from blocks.handoff_context import ContextSection

    lines: list[str] = []
    error = ctx.get("error")
    if error:
        lines.append("⚠️ " + clip_mrkdwn(str(error), 300, inert=True)[0])
    found = ctx.get("found")
    if found is False:
        lines.append(_text(ctx.get("message")) or "No HubSpot contact for this email")
    elif found:
        head = []
        owner = _owner(ctx.get("owner"))
        head.append(f"*Owner:* {owner}" if owner else "*Owner:* none in HubSpot")
        company = ctx.get("company")
        if isinstance(company, Mapping) and _text(company.get("name")):
            head.append(_linked(_text(company.get("name")) or "", company.get("url")))
        stage = ctx.get("lifecycle_stage")
        if isinstance(stage, str) and stage:
            head.append(STAGES.get(stage.lower()) or _text(stage) or stage)
        lines.append(" · ".join(head))
        lines.append(_renewal(ctx.get("renewal")) or NO_RENEWAL)
    if not lines:
        return None
    contact = ctx.get("contact")
    url = _url(contact.get("url")) if isinstance(contact, Mapping) and found else None
    return ContextSection(title=TITLE, lines=tuple(lines), url=url, url_label=OPEN_LABEL)
