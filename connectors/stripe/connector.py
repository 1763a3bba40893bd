"""The Stripe connector (read): the customer's subscriptions and latest payment on the handoff.

For a handoff that names Stripe objects (``billing.subscription_id`` ``sub_…``,
``billing.payment_id`` ``pi_…`` / ``ch_…`` / ``in_…``) the customer is the one those objects
belong to; otherwise the customer is found by ``customer.email``. Then the customer's
subscriptions (``status=all``) and latest payment intent (or, with none, latest charge) are read
and returned as the handoff's ``stripe`` context, with a link to the customer.

For a refund handoff the context also holds ``refund_facts``: the payment ``billing.payment_id``
names as Stripe holds it now (amount, already refunded, disputed) and the open disputes on the
customer's charges; the refund policy decides on them.

What was learned is reused per customer for ``CONTEXT_CACHE_SECONDS``; a Refresh context click
(``CONTEXT_REQUESTED``) always reads again. Reads only: nothing is written, so a retry simply
reads again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import stripe
from pydantic import ValidationError

from connectors.base import ConnectorContext, Done, Link, Result, RetryAfter
from connectors.stripe.client import StripeReader
from connectors.stripe.errors import as_result
from connectors.stripe.mapping import stripe_context
from connectors.stripe.payments import (
    PAYMENT_PREFIXES,
    customer_open_disputes,
    refund_facts,
    resolve_payment,
)
from services.db.engine import Database
from services.db.models import HandoffRow
from services.events import Event, EventType
from services.handoff_model import Handoff, Workflow

__all__ = ["NAMED_PREFIXES", "StripeConnector"]

logger = logging.getLogger(__name__)

NAMED_PREFIXES = ("sub_", "pi_", "ch_", "in_")
CACHE_MAX = 5000  # customers remembered at most (oldest dropped first)


@dataclass(frozen=True, slots=True)
class _Subject:
    """Whom to look up: the email, and the Stripe ids the handoff names."""

    email: str | None
    named: tuple[str, ...]
    refund: bool = False  # a refund handoff: its payment's refund facts are read too
    payment_id: str | None = None  # billing.payment_id

    @property
    def cache_key(self) -> str | None:
        if self.email:
            key = "email:" + self.email.lower()
        elif self.named:
            key = "ids:" + ",".join(self.named)
        else:
            return None
        return f"{key}|refund:{self.payment_id or ''}" if self.refund else key


def _subject(row: HandoffRow) -> _Subject:
    email: str | None = row.customer_email
    named: list[str] = []
    refund = False
    payment_id: str | None = None
    try:
        handoff = Handoff.model_validate(row.payload)
    except ValidationError:
        handoff = None
    if handoff is not None:
        if handoff.customer is not None and handoff.customer.email:
            email = str(handoff.customer.email)
        billing = handoff.billing
        if billing is not None:
            for value in (billing.subscription_id, billing.payment_id):
                if value and value.startswith(NAMED_PREFIXES):
                    named.append(value)
            payment_id = billing.payment_id
        refund = handoff.effective_workflow is Workflow.REFUND
    return _Subject(email=email or None, named=tuple(named), refund=refund, payment_id=payment_id)


def _customer_of(obj: dict[str, Any]) -> str | None:
    customer = obj.get("customer")
    if isinstance(customer, str):
        return customer
    if isinstance(customer, dict) and isinstance(customer.get("id"), str):
        return str(customer["id"])
    return None


class StripeConnector:
    """Reads a handoff's customer from Stripe when it arrives and when someone asks again."""

    name = "stripe"
    handles = frozenset({EventType.RECEIVED, EventType.CONTEXT_REQUESTED})

    def __init__(
        self,
        reader: StripeReader,
        db: Database,
        clock: Callable[[], datetime],
        *,
        cache_seconds: float = 300.0,
    ) -> None:
        self.reader = reader
        self._db = db
        self._clock = clock
        self._cache_for = timedelta(seconds=cache_seconds)
        self._cache: dict[str, tuple[datetime, Done]] = {}

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        if event.handoff_id is None:
            return Done()
        async with self._db.reads() as session:
            row = await session.get(HandoffRow, event.handoff_id)
        if row is None:
            return Done(note="the handoff is gone")
        subject = _subject(row)
        key = subject.cache_key
        if key is None:
            return Done(note="no customer email or Stripe id to look up")
        now = self._clock()
        if event.type is not EventType.CONTEXT_REQUESTED:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < self._cache_for:
                return cached[1]
        paused = self.reader.pacer.paused_for()
        if paused > 0:
            return RetryAfter(paused, "Stripe asked to slow down")
        try:
            result = await self._look_up(subject, now)
        except stripe.StripeError as exc:
            answer = as_result(exc)
            if isinstance(answer, RetryAfter) and exc.http_status == 429:
                self.reader.pacer.pause(answer.seconds)
            return answer
        self._remember(key, now, result)
        return result

    def _remember(self, key: str, now: datetime, result: Done) -> None:
        self._cache.pop(key, None)
        self._cache[key] = (now, result)
        while len(self._cache) > CACHE_MAX:
            self._cache.pop(next(iter(self._cache)))

    async def _named_customer(self, named: tuple[str, ...]) -> str | None:
        """The customer the handoff's named objects belong to (a missing one is skipped)."""
        for object_id in named:
            try:
                obj = await self.reader.named(object_id)
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404:
                    continue
                raise
            customer_id = _customer_of(obj)
            if customer_id:
                return customer_id
        return None

    async def _look_up(self, subject: _Subject, now: datetime) -> Done:
        customer: dict[str, Any] | None = None
        customer_id = await self._named_customer(subject.named) if subject.named else None
        if customer_id is not None:
            customer = await self.reader.customer(customer_id)
            if customer.get("deleted"):
                customer = None
        if customer is None and subject.email:
            # Stripe's email filter is case-sensitive; addresses are mostly kept lower-case.
            for email in dict.fromkeys((subject.email, subject.email.lower())):
                found = await self.reader.customers_by_email(email)
                if found:
                    customer = found[0]
                    break
        if customer is None:
            learned = stripe_context(None, [], None, looked_up_at=now)
            if subject.refund:
                learned["refund_facts"] = await self._refund_facts(subject, None, now)
            return Done(context=learned)
        customer_id = str(customer["id"])
        subscriptions = await self.reader.subscriptions(customer_id)
        payment = await self.reader.latest_payment_intent(customer_id)
        if payment is None:
            payment = await self.reader.latest_charge(customer_id)
        learned = stripe_context(customer, subscriptions, payment, looked_up_at=now)
        if subject.refund:
            learned["refund_facts"] = await self._refund_facts(subject, customer_id, now)
        card = learned["customer"]
        link = Link("customer", customer_id, card["url"], label=card["name"] or customer_id)
        return Done(context=learned, links=(link,))

    async def _refund_facts(
        self, subject: _Subject, customer_id: str | None, now: datetime
    ) -> dict[str, Any]:
        """The named payment (``ch_``, ``pi_``, or the payment of an ``in_``) and the open
        disputes on the customer's charges."""
        payment = None
        if subject.payment_id and subject.payment_id.startswith(PAYMENT_PREFIXES):
            payment = await resolve_payment(self.reader, subject.payment_id)
        customer_id = customer_id or (payment.customer if payment is not None else None)
        disputes = await customer_open_disputes(self.reader, customer_id, payment)
        return refund_facts(payment, disputes, looked_up_at=now)
