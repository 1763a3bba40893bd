"""The low-priority digest: non-urgent handoffs wait for the next digest time, then go out together.

At intake a non-urgent handoff's ``post_handoff`` outbox item is held until the next digest time
plus a grace period (``post_at``). At the digest time the cron job queues one "digest" item per
channel; its delivery posts the digest message, then releases the held posts into its thread (each
keeps its buttons) and finally links every line to its handoff. A digest that never runs (the bot
was down) loses nothing: when the grace period ends the held posts go out on their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from blocks.digest import digest_message
from services.cards import HandoffCard
from services.db.engine import Database
from services.db.models import HandoffRow, OutboxItem
from services.handoffs import HandoffService
from services.outbox import ClaimedItem, Outbox
from services.routing import Digest, RoutingConfig
from services.slack_history import find_posted

__all__ = [
    "DIGEST_KIND",
    "GRACE",
    "DigestService",
    "crontab_trigger",
    "crontab_weekdays",
    "next_digest_at",
    "post_at",
]

logger = logging.getLogger(__name__)

DIGEST_KIND = "digest"
DIGEST_EVENT = "finance_digest"
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
    """The cron job that starts digests, and the outbox handler that posts them."""

    db: Database
    outbox: Outbox
    handoffs: HandoffService
    slack: AsyncWebClient
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
                    session.add(
                        OutboxItem(
                            kind=DIGEST_KIND,
                            dedupe_key=key,
                            payload={"channel": channel, "slot": slot.isoformat(), "key": key},
                            status="pending",
                            attempts=0,
                            available_at=now,
                            created_at=now,
                        )
                    )
            except IntegrityError:
                continue
            queued += 1
        if queued:
            self.outbox.kick()
        return queued

    async def deliver(self, item: ClaimedItem) -> None:
        """Post the digest and release its handoffs into the thread; later, link the lines."""
        if "parent_ts" in item.payload:
            await self._link(item)
            return
        now = self.clock()
        channel = str(item.payload["channel"])
        async with self.db.sessions() as session:
            held = (
                await session.execute(
                    select(OutboxItem.id, OutboxItem.handoff_id)
                    .join(HandoffRow, OutboxItem.handoff_id == HandoffRow.id)
                    .where(_held(now), HandoffRow.channel == channel)
                    .order_by(HandoffRow.created_at, HandoffRow.id)
                )
            ).all()
        cards = await self._cards([str(h.handoff_id) for h in held])
        if not cards:
            await self.outbox.complete(item.id)
            return
        slot = datetime.fromisoformat(str(item.payload["slot"]))
        found = None
        if item.attempts > 1:  # an interrupted try may have posted the digest already
            found = await find_posted(
                self.slack,
                channel,
                event_type=DIGEST_EVENT,
                key=str(item.payload["key"]),
                now=self.clock(),
            )
        if found is None:
            message = digest_message(cards, slot=slot, links={})
            response = await self.slack.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                metadata={
                    "event_type": DIGEST_EVENT,
                    "event_payload": {"key": item.payload["key"]},
                },
                unfurl_links=False,
            )
            found = (str(response["channel"]), str(response["ts"]))
        parent_channel, parent_ts = found
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
                    released.append(str(handoff_id))
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
        await self.outbox.retry_later(item.id, "waiting for the handoff posts", LINK_WAIT)

    async def _link(self, item: ClaimedItem) -> None:
        cards = await self._cards([str(h) for h in item.payload.get("handoffs", [])])
        if any(not c.message_ts for c in cards) and item.attempts < LINK_TRIES:
            await self.outbox.retry_later(item.id, "waiting for the handoff posts", LINK_WAIT)
            return
        links: dict[str, str] = {}
        for card in cards:
            if not card.message_ts:
                continue
            try:
                response = await self.slack.chat_getPermalink(
                    channel=card.channel, message_ts=card.message_ts
                )
            except SlackApiError:
                logger.warning("no permalink for a digest line", extra={"id": card.handoff_id})
                continue
            if response.get("permalink"):
                links[card.handoff_id] = str(response["permalink"])
        slot = datetime.fromisoformat(str(item.payload["slot"]))
        message = digest_message(cards, slot=slot, links=links)
        await self.slack.chat_update(
            channel=str(item.payload["parent_channel"]),
            ts=str(item.payload["parent_ts"]),
            text=message["text"],
            blocks=message["blocks"],
        )
        await self.outbox.complete(item.id)

    async def _cards(self, handoff_ids: list[str]) -> list[HandoffCard]:
        cards = [await self.handoffs.card(h) for h in handoff_ids]
        return [c for c in cards if c is not None]
