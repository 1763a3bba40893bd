"""The HubSpot connector: who owns the customer's account, their company and the open renewal.

For each handoff with a customer email (``RECEIVED``, and again on ``CONTEXT_REQUESTED``, the
*Refresh context* button), it finds the contact by email (CRM search), the contact's company
(its primary company, else the first associated one, associations v4) and deals (associations v4,
then one batch read), and the owner (``/crm/v3/owners``). What it learned is stored on the handoff
as ``handoffs.context["hubspot"]`` (shape in ``blocks/context_hubspot.py``) and the contact is
linked from the handoff.

Read-only, so exactly-once is simple: a repeated look-up writes nothing and stores the same
context. Answers are reused per email for ``CONTEXT_CACHE_SECONDS`` (a refresh bypasses the
cache), owners, companies and the portal's details for as long. The company record is read
only when the contact's search result lacks its company name, owner or lifecycle stage: every
call but search shares the account's 100 (or 190) per 10 seconds, so a look-up is the search and
two other calls (deal associations, one deal batch read) where it used to be three.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import ConnectorContext, Done, GiveUp, Link, Result, RetryAfter
from connectors.hubspot.client import AccountInfo, CrmObject, HubSpotClient, Owner
from connectors.hubspot.errors import HubSpotRefused, HubSpotUnavailable
from services.db.engine import Database
from services.db.models import HandoffRow
from services.events import Event, EventType

__all__ = ["NOT_FOUND", "HubSpotConnector", "pick_renewal"]

logger = logging.getLogger(__name__)

NOT_FOUND = "No HubSpot contact for this email"
CONTACT, COMPANY, DEAL = "0-1", "0-2", "0-3"  # HubSpot's object type ids in record URLs


def _closed(deal: CrmObject) -> bool:
    return (deal.prop("hs_is_closed") or "").lower() == "true"


def _says_renewal(deal: CrmObject) -> bool:
    words = f"{deal.prop('dealname') or ''} {deal.prop('dealtype') or ''}".lower()
    return "renewal" in words


def pick_renewal(deals: Sequence[CrmObject]) -> CrmObject | None:
    """The open renewal: the open deal whose name or type says renewal (closing soonest), else
    the open deal closing soonest; None without an open deal."""
    open_deals = [d for d in deals if not _closed(d)]
    renewals = [d for d in open_deals if _says_renewal(d)] or open_deals
    if not renewals:
        return None
    # Deals without a close date go last ("9999" sorts after every ISO date).
    return min(renewals, key=lambda d: (d.prop("closedate") or "9999", d.id))


def _needs_company(contact: CrmObject) -> bool:
    """Whether the company record adds to what the search returned with the contact."""
    return not all(contact.prop(name) for name in ("company", "hubspot_owner_id", "lifecyclestage"))


def _amount(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(Decimal(value).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return None


@dataclass(slots=True)
class _Cached:
    until: datetime
    value: Any


@dataclass
class HubSpotConnector:
    """Reads the Account context for a handoff's customer from HubSpot."""

    client: HubSpotClient
    db: Database
    clock: Callable[[], datetime]
    cache_seconds: float = 300.0
    slack_user_for_email: Callable[[str], Awaitable[str | None]] | None = None
    name: str = "hubspot"
    handles: frozenset[EventType] = frozenset({EventType.RECEIVED, EventType.CONTEXT_REQUESTED})
    _contexts: dict[str, _Cached] = field(default_factory=dict)
    _owners: dict[str, _Cached] = field(default_factory=dict)
    _companies: dict[str, _Cached] = field(default_factory=dict)
    _account: AccountInfo | None = None
    _account_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        if event.handoff_id is None:
            return Done()
        async with self.db.reads() as session:
            row = await session.get(HandoffRow, event.handoff_id)
        email = row.customer_email if row is not None else None
        if not email:
            return Done()  # nothing to look up by
        email = email.strip().lower()
        now = self.clock()
        cached = self._contexts.get(email)
        refresh = event.type is EventType.CONTEXT_REQUESTED
        if cached is not None and cached.until > now and not refresh:
            learned = cached.value
        else:
            try:
                learned = await self._look_up(email, now)
            except HubSpotRefused as exc:
                return GiveUp(exc.reason)
            except HubSpotUnavailable as exc:
                return RetryAfter(exc.retry_after or 5.0, exc.reason)
            self._contexts[email] = _Cached(now + timedelta(seconds=self.cache_seconds), learned)
        contact = learned.get("contact") if learned.get("found") else None
        if not isinstance(contact, Mapping):
            return Done(context=learned)
        company = learned.get("company") or {}
        link = Link(
            "contact",
            str(contact["id"]),
            contact.get("url"),
            label=company.get("name") or email,
        )
        return Done(context=learned, links=(link,))

    async def _portal(self) -> AccountInfo:
        async with self._account_lock:
            if self._account is None:
                self._account = await self.client.account()
            return self._account

    async def _url(self, object_type: str, object_id: str) -> str:
        account = await self._portal()
        return (
            f"https://{account.ui_domain}/contacts/{account.portal_id}"
            f"/record/{object_type}/{object_id}"
        )

    async def _owner(self, owner_id: str, now: datetime) -> Mapping[str, Any] | None:
        cached = self._owners.get(owner_id)
        if cached is not None and cached.until > now:
            return dict(cached.value) if cached.value is not None else None
        owner: Owner | None = await self.client.owner(owner_id)
        found: dict[str, Any] | None = None
        if owner is not None:
            slack_id = None
            if owner.email and self.slack_user_for_email is not None:
                try:
                    slack_id = await self.slack_user_for_email(owner.email)
                except Exception:  # a directory hiccup leaves the name, not a failure
                    logger.warning("could not look the HubSpot owner up in Slack", exc_info=True)
            found = {"name": owner.name, "email": owner.email, "slack_id": slack_id}
        self._owners[owner_id] = _Cached(now + timedelta(seconds=self.cache_seconds), found)
        return found

    async def _company(self, company_id: str, now: datetime) -> CrmObject | None:
        cached = self._companies.get(company_id)
        if cached is not None and cached.until > now:
            found: CrmObject | None = cached.value
            return found
        company = await self.client.company(company_id)
        self._companies[company_id] = _Cached(now + timedelta(seconds=self.cache_seconds), company)
        return company

    async def _look_up(self, email: str, now: datetime) -> dict[str, Any]:
        looked_up_at = now.isoformat()
        contact = await self.client.contact_by_email(email)
        if contact is None:
            return {"found": False, "message": NOT_FOUND, "looked_up_at": looked_up_at}
        # The contact's primary company comes with the search; else ask the associations.
        company_id = contact.prop("associatedcompanyid")
        company_ids_task = None
        if company_id is None:
            company_ids_task = asyncio.ensure_future(
                self.client.associated(contact.id, "companies")
            )
        try:
            deal_ids = await self.client.associated(contact.id, "deals")
            if company_ids_task is not None:
                ids = await company_ids_task
                company_id = ids[0] if ids else None
        finally:
            if company_ids_task is not None and not company_ids_task.done():
                company_ids_task.cancel()
        # The company record is read only for what the contact does not carry itself (its
        # company name, owner, lifecycle stage), and then once per company for the cache time:
        # every call but search shares the account's 100 (or 190) per 10 seconds.
        company: CrmObject | None = None
        if company_id and _needs_company(contact):
            company = await self._company(company_id, now)
        deals = await self.client.deals(deal_ids) if deal_ids else []
        if company is None and company_id and contact.prop("company"):
            company = CrmObject(id=company_id, properties={"name": contact.prop("company")})
        owner_id = contact.prop("hubspot_owner_id") or (
            company.prop("hubspot_owner_id") if company is not None else None
        )
        owner = await self._owner(owner_id, now) if owner_id else None
        renewal = pick_renewal(deals)
        closes = renewal.prop("closedate") if renewal is not None else None
        return {
            "found": True,
            "contact": {"id": contact.id, "url": await self._url(CONTACT, contact.id)},
            "owner": owner,
            "company": None
            if company is None
            else {
                "id": company.id,
                "name": company.prop("name") or company.prop("domain"),
                "url": await self._url(COMPANY, company.id),
            },
            "lifecycle_stage": contact.prop("lifecyclestage")
            or (company.prop("lifecyclestage") if company is not None else None),
            "renewal": None
            if renewal is None
            else {
                "id": renewal.id,
                "name": renewal.prop("dealname"),
                "close_date": closes[:10] if closes else None,
                "amount": _amount(renewal.prop("amount")),
                "currency": renewal.prop("deal_currency_code"),
                "url": await self._url(DEAL, renewal.id),
            },
            "looked_up_at": looked_up_at,
        }
