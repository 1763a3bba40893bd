"""The low-priority digest: non-urgent handoffs wait for the next digest time, then go out together.

At intake a non-urgent handoff's ``post_handoff`` outbox item is held until the next digest time
plus a grace period (``post_at``). At the digest time the cron job queues one "digest" item per
channel; its delivery (the Slack adapter's ``slack_adapter.digest``) posts the digest message, then
releases the held posts into its thread (each keeps its buttons) and finally links every line to
its handoff. A digest that never runs (the bot was down) loses nothing: when the grace period ends
the held posts go out on their own. This module decides what is held and what a digest contains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from services.cards import HandoffCard
from services.db.engine import Database
from services.db.models import HandoffRow, OutboxItem
from services.events import OutboxKind
from services.handoffs import HandoffService
from services.outbox import ClaimedItem, Outbox
from services.routing import Digest, RoutingConfig

__all__ = [
    "DIGEST_KIND",
    "GRACE",
    "LINK_TRIES",
    "LINK_WAIT",
    "DigestService",
    "crontab_trigger",
    "crontab_weekdays",
    "next_digest_at",
    "post_at",
]

DIGEST_KIND = OutboxKind.DIGEST
GRACE = timedelta(minutes=15)  # a held post goes out on its own this long after its digest time
LINK_WAIT = timedelta(seconds=3)
LINK_TRIES = 10
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab: 0 (and 7) = Sunday
_APS_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler 3: 0 = Monday


def _day(token: str, field: str) -> int:
    word = token.strip().lower()
    if word in _CRON_DAYS:
        return _CRON_DAYS.index(word)
    if word.isdigit() and 0 <= int(word) <= 7:
        return int(word)
    raise ValueError(f"day of week {token!r} in {field!r} is not 0-7 or sun-sat")


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field (0 = Sunday) as APScheduler 3 day names (0 = Monday)."""
    if field.strip() == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else 0
        if step_text and not step:
            raise ValueError(f"bad step {step_text!r} in day of week {field!r}")
        if span.strip() == "*":
            low, high = 0, 6
        elif "-" in span:
            first, _, last = span.partition("-")
            low, high = _day(first, field), _day(last, field)
        else:
            low = _day(span, field)
            high = 6 if step else low
        if high < low:
            raise ValueError(f"day-of-week range {span!r} runs backwards")
        days.update(day % 7 for day in range(low, high + 1, step or 1))
    return ",".join(name for name in _APS_DAYS if _CRON_DAYS.index(name) in days)


def crontab_trigger(expr: str, timezone: str) -> CronTrigger:
    """A CronTrigger from a standard five-field crontab line, read in ``timezone``."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"digest cron {expr!r} must have 5 fields (min hour day month weekday)")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(weekday),
        timezone=timezone,
    )


def next_digest_at(config: Digest, now: datetime) -> datetime | None:
    """When the next digest goes out (UTC), or None when digests are off."""
    if not config.enabled:
        return None
    fire = crontab_trigger(config.cron, config.timezone).get_next_fire_time(None, now)
    return fire.astimezone(UTC) if fire is not None else None


def post_at(
    *,
    urgent: bool,
    kind: str,
    deadline: datetime | None,
    routing: RoutingConfig,
    now: datetime,
) -> datetime:
    """When a new handoff's Slack post may go out: now, or after the next digest."""
    if urgent or kind != "handoff":  # urgent ones and people's own requests never wait
        return now
    at = next_digest_at(routing.digest, now)
    if at is None:
        return now
    # A deadline that would come close before the digest (over a weekend, say) cannot wait.
    notice = timedelta(hours=routing.urgency.deadline_within_hours)
    if deadline is not None and deadline - notice <= at + GRACE:
        return now
    return at + GRACE


def _held(now: datetime) -> Any:
    return and_(
        OutboxItem.kind == "post_handoff",
        OutboxItem.status == "pending",
        OutboxItem.available_at > now,
        or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now),
        HandoffRow.message_ts.is_(None),
        HandoffRow.urgent.is_(False),
    )


@dataclass
class DigestService:
    """The cron job that starts digests, and what each digest holds and releases."""

    db: Database
    outbox: Outbox
    handoffs: HandoffService
    routing: Callable[[], RoutingConfig]
    clock: Callable[[], datetime]

    async def run_once(self) -> int:
        """Queue one digest per channel with held handoffs; return how many were queued."""
        if not self.routing().digest.enabled:
            return 0
        now = self.clock()
        # Replicas firing in the same minute compute the same key, so each digest is queued once.
        slot = now.replace(second=0, microsecond=0)
        async with self.db.sessions() as session:
            channels = (
                await session.scalars(
                    select(HandoffRow.channel)
                    .join(OutboxItem, OutboxItem.handoff_id == HandoffRow.id)
                    .where(_held(now))
                    .distinct()
                )
            ).all()
        queued = 0
        for channel in channels:
            key = f"digest:{channel}:{int(slot.timestamp())}"
            try:
                async with self.db.sessions() as session, session.begin():
                    Outbox.enqueue(
                        session,
                        kind=DIGEST_KIND,
                        key=key,
                        handoff_id=None,
                        now=now,
                        payload={"channel": channel, "slot": slot.isoformat(), "key": key},
                    )
            except IntegrityError:
                continue
            queued += 1
        if queued:
            self.outbox.kick()
        return queued

    async def held(self, channel: str) -> list[tuple[int, str]]:
        """The held posts of ``channel`` (outbox id, handoff id), oldest handoff first."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(OutboxItem.id, OutboxItem.handoff_id)
                    .join(HandoffRow, OutboxItem.handoff_id == HandoffRow.id)
                    .where(_held(self.clock()), HandoffRow.channel == channel)
                    .order_by(HandoffRow.created_at, HandoffRow.id)
                )
            ).all()
        return [(int(row.id), str(row.handoff_id)) for row in rows]

    async def release(
        self,
        item: ClaimedItem,
        held: list[tuple[int, str]],
        *,
        parent_channel: str,
        parent_ts: str,
    ) -> list[str]:
        """Send the held posts into the digest's thread now; returns the handoffs released.

        The digest's own item remembers its message and its handoffs, to link the lines later.
        """
        now = self.clock()
        released: list[str] = []
        async with self.db.sessions() as session, session.begin():
            for outbox_id, handoff_id in held:
                moved = await session.execute(
                    update(OutboxItem)
                    .where(
                        OutboxItem.id == outbox_id,
                        OutboxItem.status == "pending",
                        or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now),
                    )
                    .values(payload={"thread_ts": parent_ts}, available_at=now)
                )
                if moved.rowcount == 1:  # type: ignore[attr-defined]
                    released.append(handoff_id)
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(
                    payload={
                        **item.payload,
                        "parent_ts": parent_ts,
                        "parent_channel": parent_channel,
                        "handoffs": released,
                    }
                )
            )
        self.outbox.kick()
        return released

    async def cards(self, handoff_ids: list[str]) -> list[HandoffCard]:
        """The handoffs that still exist, in the given order."""
        cards = [await self.handoffs.card(h) for h in handoff_ids]
        return [c for c in cards if c is not None]
