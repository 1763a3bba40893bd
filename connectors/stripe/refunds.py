"""The Stripe refund connector: executes a released refund exactly once and follows it.

It handles ``refund_released`` for refunds whose system is Stripe (any other refund is left to its
own system). Its name is ``stripe_refunds``, so what it reports never replaces the read
connector's ``stripe`` context. For each released refund:

1. the refund Stripe may already hold for this call is looked up first (``GET /v1/refunds`` of the
   payment, ``metadata.call_id``): an earlier try that died after Stripe stored the refund is
   followed, never repeated;
2. otherwise the payment is read again and the guardrails hold: a disputed charge (or one with an
   open dispute) is refused, and so is more than what remains refundable (paid, less the larger
   of Stripe's ``amount_refunded`` and what the bot's other refunds of it count); refused means
   ``REFUSED`` with the reason, and no request to refund;
3. ``POST /v1/refunds`` (``Idempotency-Key`` = the refund's key: a lost answer is replayed, not
   repeated);
4. the refund is followed: ``succeeded`` is ``SUCCEEDED``; ``pending`` / ``requires_action`` is
   ``PROCESSING`` and polled again later (backoff; after the runtime's last try the give-up is
   shown and the refund stays "processing in Stripe"); ``failed`` / ``canceled`` is ``FAILED``
   with Stripe's ``failure_reason``.

A 429 / 5xx / dropped connection is retried (honouring ``Retry-After``); Stripe refusing the
refund (a restricted key without ``rak_refund_write``, a 4xx) is ``FAILED`` and a give-up naming
why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_CEILING
from typing import Any

import stripe

from connectors.base import ConnectorContext, Done, GiveUp, Link, Result, RetryAfter
from connectors.stripe.client import StripeRefunder
from connectors.stripe.errors import as_result
from connectors.stripe.mapping import DASHBOARD, amount, minor_units, places
from connectors.stripe.payments import PAYMENT_PREFIXES, Payment, open_disputes_of, resolve_payment
from services.events import Event, EventType
from services.refunds import Refund, RefundLedger, RefundStatus, RefundSystem

__all__ = ["NAME", "POLL_SECONDS", "StripeRefundConnector", "refund_url"]

logger = logging.getLogger(__name__)

NAME = "stripe_refunds"
POLL_SECONDS = 30.0  # the first wait before a pending refund is read again (then doubled)
MAX_POLL_SECONDS = 3600.0
SUCCEEDED = "succeeded"
FAILED = frozenset({"failed", "canceled"})


def refund_url(refund_id: str, *, livemode: bool) -> str:
    return f"{DASHBOARD}{'' if livemode else '/test'}/refunds/{refund_id}"


class _Refused(Exception):
    """A guardrail refused the refund; the message says why, plainly."""


def _money(minor: int, currency: str) -> str:
    return f"{amount(minor, currency)} {currency.upper()}"


class StripeRefundConnector:
    """Refunds a released Stripe refund once, and follows it until Stripe says how it ended."""

    name = NAME
    handles = frozenset({EventType.REFUND_RELEASED})

    def __init__(
        self,
        client: StripeRefunder,
        ledger: RefundLedger | None,
        clock: Callable[[], datetime],
        *,
        livemode: bool = True,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.client = client
        self._ledger = ledger
        self._clock = clock
        self._livemode = livemode
        self._poll_seconds = poll_seconds

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        if event.handoff_id is None:
            return Done()
        if self._ledger is None:  # built without ``ConnectorDeps.refunds``: a wiring mistake
            return GiveUp("the refund ledger is not wired: no refund can be executed")
        return await self._handle(event.handoff_id, context)

    @property
    def _refunds(self) -> RefundLedger:
        if self._ledger is None:
            raise RuntimeError("the refund ledger is not wired")
        return self._ledger

    async def _handle(self, handoff_id: str, context: ConnectorContext) -> Result:
        refund = await self._refunds.for_handoff(handoff_id)
        if refund is None or refund.system is not RefundSystem.STRIPE:
            return Done()  # not a Stripe refund: another system's (or a person's) to execute
        if refund.status not in (RefundStatus.RELEASED, RefundStatus.PROCESSING):
            return Done(note=f"the refund is {refund.status.value}: nothing to do in Stripe")
        paused = self.client.pacer.paused_for()
        if paused > 0:
            return RetryAfter(paused, "Stripe asked to slow down")
        try:
            if refund.status is RefundStatus.PROCESSING and refund.external_id:
                found = await self.client.refund(refund.external_id)
            else:
                found = await self._execute(refund)
        except _Refused as refused:
            reason = str(refused)
            await self._refunds.record_outcome(
                refund.handoff_id, RefundStatus.REFUSED, error=reason
            )
            return Done(note=f"refund refused: {reason}")
        except stripe.StripeError as exc:
            answer = as_result(exc, "refund")
            if isinstance(answer, RetryAfter) and exc.http_status == 429:
                self.client.pacer.pause(answer.seconds)
            if isinstance(answer, GiveUp) and refund.status is RefundStatus.RELEASED:
                # Stripe refused to refund (nothing was created): the refund failed, visibly.
                await self._refunds.record_outcome(
                    refund.handoff_id, RefundStatus.FAILED, error=answer.reason
                )
            return answer
        return await self._follow(refund, found, context)

    async def _execute(self, refund: Refund) -> dict[str, Any]:
        """The refund Stripe holds for this call, or a new one once the guardrails allow it."""
        ref = refund.payment_ref
        if not ref or not ref.startswith(PAYMENT_PREFIXES):
            raise _Refused(f"no Stripe charge or payment intent to refund (payment {ref or '—'})")
        payment = await resolve_payment(self.client, ref)
        if payment is None:
            raise _Refused(f"Stripe has no charge or payment intent {ref}")
        mine = await self._already_there(payment, refund.call_id)
        if mine is not None:
            logger.info("found the refund an earlier try created", extra={"refund": mine["id"]})
            return mine
        minor = await self._guard(refund, payment)
        params: dict[str, Any] = {
            payment.kind: payment.id,
            "amount": minor,
            "metadata": {"call_id": refund.call_id},
            "reason": "requested_by_customer",
        }
        return await self.client.create_refund(params, idempotency_key=refund.key)

    async def _already_there(self, payment: Payment, call_id: str) -> dict[str, Any] | None:
        if payment.kind == "charge":
            found = await self.client.refunds(charge=payment.id)
        else:
            found = await self.client.refunds(payment_intent=payment.id)
        for candidate in found:
            metadata = candidate.get("metadata") or {}
            if metadata.get("call_id") == call_id:
                return candidate
        return None

    async def _guard(self, refund: Refund, payment: Payment) -> int:
        """The amount to refund in minor units, or ``_Refused`` saying why not."""
        currency = payment.currency
        if refund.currency.upper() != currency.upper():
            raise _Refused(
                f"the refund is in {refund.currency.upper()} but {payment.id} was paid in "
                f"{currency.upper()}"
            )
        if payment.status != "succeeded":
            raise _Refused(f"{payment.id} has not succeeded in Stripe (status {payment.status})")
        if payment.disputed:
            raise _Refused(
                f"the charge {payment.charge_id or payment.id} is disputed: a disputed charge "
                f"is not refunded"
            )
        disputes = await open_disputes_of(self.client, payment)
        if disputes:
            dispute = disputes[0]
            raise _Refused(
                f"{payment.id} has an open dispute ({dispute.get('id')}, "
                f"{str(dispute.get('status') or '').replace('_', ' ')}): a disputed charge is "
                f"not refunded"
            )
        minor = minor_units(refund.amount, currency)
        if minor is None or minor <= 0:
            raise _Refused(f"{refund.amount} {currency.upper()} is not an amount Stripe refunds")
        before = await self._refunds.refunded_before(refund.payment_ref or "", excluding=refund.key)
        # A fraction of a minor unit counts as a whole one: never more than was paid.
        before_minor = int(before.scaleb(places(currency)).to_integral_value(ROUND_CEILING))
        refunded = max(payment.amount_refunded, before_minor)
        remaining = max(0, payment.amount - refunded)
        if minor > remaining:
            raise _Refused(
                f"{_money(minor, currency)} is more than the {_money(remaining, currency)} left "
                f"to refund on {payment.id} (paid {_money(payment.amount, currency)}, already "
                f"refunded {_money(refunded, currency)})"
            )
        return minor

    async def _follow(
        self, refund: Refund, found: dict[str, Any], context: ConnectorContext
    ) -> Result:
        refund_id = str(found.get("id") or "")
        status = str(found.get("status") or "")
        link = Link(
            "refund",
            refund_id,
            refund_url(refund_id, livemode=self._livemode),
            label=f"refund {refund_id}",
            detail={"status": status, "amount": str(refund.amount), "currency": refund.currency},
        )
        handoff_id = refund.handoff_id
        if status == SUCCEEDED:
            await self._refunds.record_outcome(
                handoff_id, RefundStatus.SUCCEEDED, external_id=refund_id
            )
            return Done(links=(link,))
        if status in FAILED:
            why = found.get("failure_reason") or status
            reason = f"Stripe could not refund: {str(why).replace('_', ' ')}"
            await self._refunds.record_outcome(
                handoff_id, RefundStatus.FAILED, external_id=refund_id, error=reason
            )
            return Done(note=reason, links=(link,))
        await self._refunds.record_outcome(
            handoff_id, RefundStatus.PROCESSING, external_id=refund_id
        )
        wait = min(MAX_POLL_SECONDS, self._poll_seconds * 2 ** max(0, context.attempt - 1))
        return RetryAfter(wait, f"refund {refund_id} is {status.replace('_', ' ')} in Stripe")
