"""Refund decisions: the policy's automatic path, release after the grace window, an approver's
decision, Reverse and Mark refunded.

Every change is a compare-and-set on the refund's status inside the caller's transaction (the
handoff row is locked first by the callers that decide), and records its one event keyed by the
refund's key, so a double click, two release passes or a crash and retry change it once and tell
the connectors once:

- ``pending`` → ``scheduled`` (policy allows it; ``REFUND_SCHEDULED``) → ``released`` after
  ``execute_after`` (``REFUND_RELEASED``, the Stripe connector executes it) or ``reversed`` by an
  approver in the grace window (``REFUND_REVERSED``; the handoff waits for an approver again);
- ``pending`` / ``reversed`` → approved: ``released`` (Stripe) or ``manual`` (the checklist,
  ``REFUND_MANUAL``) → ``marked`` by an approver (``REFUND_MARKED``);
- any release first passes the guardrails (``policy.guard``): a disputed payment or more than is
  left of it is ``refused`` (``REFUND_REFUSED``, with the reason).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.engine import Database
from services.db.models import HandoffRow, RefundRow
from services.events import BOT, EventLog, EventType
from services.handoff_model import Workflow
from services.refunds.ledger import COUNTED, RefundStatus, RefundSystem, record_once
from services.refunds.policy import (
    RefundCase,
    Verdict,
    evaluate,
    guard,
    stripe_refund_facts,
)
from services.routing import RefundRules, ReviewFlag
from services.states import HandoffStatus

__all__ = [
    "POLICY",
    "RELEASE_BATCH",
    "RefundService",
    "approve_refund",
    "mark_refunded",
    "release",
    "reverse_refund",
]

logger = logging.getLogger(__name__)

POLICY = "policy"  # ``decided_by`` of an automatic refund
RELEASE_BATCH = 100  # due refunds one release pass takes
POLICY_KEY = "refund_policy"  # handoffs.resolution: why the refund waits for an approver


def _detail(refund: RefundRow, **more: Any) -> dict[str, Any]:
    return {
        "amount": str(refund.amount),
        "currency": refund.currency,
        "system": refund.system,
        "payment_ref": refund.payment_ref,
        **more,
    }


async def _move(
    session: AsyncSession,
    refund: RefundRow,
    frm: Iterable[RefundStatus],
    to: RefundStatus,
    now: datetime,
    **values: Any,
) -> bool:
    """Compare-and-set the refund's status; False when another writer moved it first."""
    done = await session.execute(
        update(RefundRow)
        .where(RefundRow.id == refund.id, RefundRow.status.in_([s.value for s in frm]))
        .values(status=to.value, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        return False
    await session.refresh(refund)
    return True


async def _refunded_before(
    session: AsyncSession, refund: RefundRow, stripe_read_at: datetime | None = None
) -> Decimal:
    """This bot's other refunds of the same payment that Stripe's facts (read at
    ``stripe_read_at``) cannot include yet: those on their way, and those finished after the
    read. A refund that had succeeded before the read is in Stripe's ``amount_refunded``
    already, and is not counted twice. Without a read, every counted refund is."""
    if not refund.payment_ref:
        return Decimal(0)
    rows = await session.execute(
        select(RefundRow.amount, RefundRow.status, RefundRow.updated_at).where(
            RefundRow.payment_ref == refund.payment_ref,
            RefundRow.key != refund.key,
            RefundRow.status.in_([s.value for s in COUNTED]),
        )
    )
    total = Decimal(0)
    for amount, status, updated_at in rows:
        on_its_way = status in (RefundStatus.RELEASED.value, RefundStatus.PROCESSING.value)
        if on_its_way or stripe_read_at is None or updated_at > stripe_read_at:
            total += amount
    return total


async def _locked_refund(session: AsyncSession, handoff_id: str) -> RefundRow | None:
    return await session.scalar(
        select(RefundRow).where(RefundRow.handoff_id == handoff_id).with_for_update()
    )


async def release(
    session: AsyncSession,
    events: EventLog,
    refund: RefundRow,
    handoff: HandoffRow | None,
    *,
    actor: str,
    now: datetime,
    frm: Iterable[RefundStatus],
) -> RefundStatus | None:
    """Release ``refund`` (from a status in ``frm``) after the guardrails: ``released`` for
    Stripe, ``manual`` for a payment no API can refund, ``refused`` with the reason when a
    guardrail says no. None when another writer moved it first."""
    allowed = tuple(frm)
    stripe = stripe_refund_facts(handoff.context if handoff is not None else None)
    if refund.system == RefundSystem.MANUAL.value:
        if not await _move(session, refund, allowed, RefundStatus.MANUAL, now, decided_by=actor):
            return None
        await record_once(
            session, events, EventType.REFUND_MANUAL, refund, actor, now, _detail(refund)
        )
        return RefundStatus.MANUAL
    read_at = stripe.looked_up_at if stripe is not None else None
    before = await _refunded_before(session, refund, read_at)
    reason = guard(refund.amount, refund.currency, stripe, before)
    if reason is not None:
        if not await _move(session, refund, allowed, RefundStatus.REFUSED, now, error=reason):
            return None
        detail = _detail(refund, reason=reason, external_id=None)
        await record_once(session, events, EventType.REFUND_REFUSED, refund, actor, now, detail)
        return RefundStatus.REFUSED
    decided = refund.decided_by if actor == BOT else actor
    if not await _move(session, refund, allowed, RefundStatus.RELEASED, now, decided_by=decided):
        return None
    detail = _detail(
        refund,
        key=refund.key,
        automatic=refund.automatic,
        policy_version=refund.policy_version,
    )
    await record_once(session, events, EventType.REFUND_RELEASED, refund, actor, now, detail)
    return RefundStatus.RELEASED


async def approve_refund(
    session: AsyncSession, events: EventLog, handoff: HandoffRow, *, actor: str, now: datetime
) -> RefundStatus | None:
    """The last approval of a refund handoff: release it (Stripe) or hand it to the manual
    checklist; a guardrail may refuse it. None when the handoff has no refund waiting."""
    refund = await _locked_refund(session, handoff.id)
    if refund is None:
        return None
    return await release(
        session,
        events,
        refund,
        handoff,
        actor=actor,
        now=now,
        frm=(RefundStatus.PENDING, RefundStatus.REVERSED),
    )


async def reverse_refund(
    session: AsyncSession, events: EventLog, handoff: HandoffRow, *, actor: str, now: datetime
) -> bool:
    """Stop an automatic refund before it is released: the handoff waits for an approver again
    (an approver's Approve then releases it). False when it is not scheduled (any more)."""
    refund = await _locked_refund(session, handoff.id)
    if refund is None or refund.status != RefundStatus.SCHEDULED.value:
        return False
    if not await _move(session, refund, (RefundStatus.SCHEDULED,), RefundStatus.REVERSED, now):
        return False
    if handoff.status == HandoffStatus.APPROVED.value:
        handoff.status = HandoffStatus.OPEN.value
    detail = _detail(refund, policy_version=refund.policy_version)
    await record_once(session, events, EventType.REFUND_REVERSED, refund, actor, now, detail)
    return True


async def mark_refunded(
    session: AsyncSession, events: EventLog, handoff: HandoffRow, *, actor: str, now: datetime
) -> bool:
    """An approver says the manual refund was sent. False unless it waits for that."""
    refund = await _locked_refund(session, handoff.id)
    if refund is None or refund.status != RefundStatus.MANUAL.value:
        return False
    if not await _move(session, refund, (RefundStatus.MANUAL,), RefundStatus.MARKED, now):
        return False
    await record_once(session, events, EventType.REFUND_MARKED, refund, actor, now, _detail(refund))
    return True


class RefundService:
    """The automatic path: evaluates the policy when Stripe's facts arrive (a hook of the
    connector runtime) and releases scheduled refunds once their grace window is over (a
    scheduler job)."""

    def __init__(
        self,
        db: Database,
        rules: Callable[[], RefundRules],
        events: EventLog,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._rules = rules
        self._events = events
        self._clock = clock
        self._watchers: list[Callable[[str], Awaitable[object]]] = []

    def watch(self, changed: Callable[[str], Awaitable[object]]) -> None:
        """Call ``changed(handoff_id)`` after a release (the Slack adapter refreshes the
        message); a failing watcher is logged."""
        self._watchers.append(changed)

    async def case(
        self, session: AsyncSession, handoff: HandoffRow, refund: RefundRow
    ) -> RefundCase:
        """What the policy needs about ``refund``, read in ``session``."""
        payload = handoff.payload or {}
        customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
        confidence = payload.get("match_confidence")
        rules = self._rules()
        recent = 0
        if refund.customer_email:
            since = self._clock() - timedelta(days=rules.period_days)
            recent = int(
                await session.scalar(
                    select(func.count())
                    .select_from(RefundRow)
                    .where(
                        RefundRow.customer_email == refund.customer_email,
                        RefundRow.id != refund.id,
                        RefundRow.automatic.is_(True),
                        RefundRow.status != RefundStatus.REVERSED.value,
                        RefundRow.execute_after >= since,
                    )
                )
                or 0
            )
        return RefundCase(
            amount=refund.amount,
            currency=refund.currency,
            system=refund.system,
            match_confidence=float(confidence) if isinstance(confidence, int | float) else None,
            email_verified=bool(handoff.email_verified),
            vip=bool((customer or {}).get("vip"))
            or handoff.workflow == Workflow.VIP_PAYMENT_BLOCKER.value,
            high_value=ReviewFlag.HIGH_VALUE_CUSTOMER.value in (handoff.review_flags or ()),
            stripe=stripe_refund_facts(handoff.context),
            refunded_before=await _refunded_before(session, refund),
            recent_automatic=recent,
        )

    async def on_context(
        self, session: AsyncSession, handoff: HandoffRow, connector: str, now: datetime
    ) -> bool:
        """After Stripe's context is stored for a refund handoff (same transaction): evaluate
        the policy for its pending refund; schedule it when every condition holds. Says whether
        anything changed."""
        if connector != "stripe" or handoff.workflow != Workflow.REFUND.value:
            return False
        if handoff.status != HandoffStatus.OPEN.value:
            return False  # a person already decided (or half-decided): theirs stands
        refund = await _locked_refund(session, handoff.id)
        if refund is None or refund.status != RefundStatus.PENDING.value:
            return False
        rules = self._rules()
        verdict = await self._verdict(session, handoff, refund, rules)
        if rules.enabled:  # why it waits, for the message (nothing to say while it is off)
            handoff.resolution = {
                **(handoff.resolution or {}),
                POLICY_KEY: {
                    "automatic": verdict.automatic,
                    "version": verdict.version,
                    "reasons": list(verdict.reasons),
                },
            }
        if not verdict.automatic:
            return rules.enabled
        execute_after = now + timedelta(minutes=rules.grace_minutes)
        moved = await _move(
            session,
            refund,
            (RefundStatus.PENDING,),
            RefundStatus.SCHEDULED,
            now,
            automatic=True,
            policy_version=verdict.version,
            rule=verdict.rule,
            decided_by=POLICY,
            execute_after=execute_after,
        )
        if not moved:
            return True
        # The policy decided: the handoff no longer waits for an approver (Reverse puts it back).
        handoff.status = HandoffStatus.APPROVED.value
        detail = _detail(
            refund,
            rule=verdict.rule,
            policy_version=verdict.version,
            execute_after=execute_after.isoformat(),
        )
        await record_once(
            session, self._events, EventType.REFUND_SCHEDULED, refund, BOT, now, detail
        )
        return True

    async def _verdict(
        self, session: AsyncSession, handoff: HandoffRow, refund: RefundRow, rules: RefundRules
    ) -> Verdict:
        return evaluate(await self.case(session, handoff, refund), rules)

    async def release_due(self) -> list[str]:
        """Release every scheduled refund whose grace window is over, each once (a status
        compare-and-set: two passes at once release it once). The handoff ids released."""
        now = self._clock()
        async with self._db.reads() as session:
            due = list(
                await session.scalars(
                    select(RefundRow.handoff_id)
                    .where(
                        RefundRow.status == RefundStatus.SCHEDULED.value,
                        RefundRow.execute_after <= now,
                    )
                    .order_by(RefundRow.execute_after)
                    .limit(RELEASE_BATCH)
                )
            )
        changed: list[str] = []
        for handoff_id in due:
            async with self._db.sessions() as session, session.begin():
                handoff = await session.scalar(
                    select(HandoffRow).where(HandoffRow.id == handoff_id).with_for_update()
                )
                refund = await _locked_refund(session, handoff_id)
                if handoff is None or refund is None:
                    continue
                if refund.status != RefundStatus.SCHEDULED.value:
                    continue
                if refund.execute_after is None or refund.execute_after > now:
                    continue
                outcome = await release(
                    session,
                    self._events,
                    refund,
                    handoff,
                    actor=BOT,
                    now=now,
                    frm=(RefundStatus.SCHEDULED,),
                )
                if outcome is None:
                    continue
                handoff.updated_at = now
                handoff.version += 1
            changed.append(handoff_id)
        for handoff_id in changed:
            await self._tell(handoff_id)
        return changed

    async def _tell(self, handoff_id: str) -> None:
        for changed in self._watchers:
            try:
                await changed(handoff_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("could not refresh after a refund's release", exc_info=True)
