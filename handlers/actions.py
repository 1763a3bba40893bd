"""Clicks on handoff messages: Approve, Decline, Escalate, Reassign, Retry, Done, Snooze."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import refusal
from blocks.ids import (
    OPEN_LINK_PATTERN,
    ActionId,
    AuditAction,
    ModalMetadata,
    SnoozeFor,
    decode_button_value,
    decode_snooze_value,
)
from blocks.modals import approve_modal, decline_modal, escalate_modal, reassign_modal
from bot.container import Container
from handlers.decisions import after_decision, tell
from services.handoffs import Outcome

__all__ = ["register", "snooze_until"]

logger = logging.getLogger(__name__)

MODALS = {
    ActionId.DECLINE: decline_modal,
    ActionId.ESCALATE: escalate_modal,
    ActionId.REASSIGN: reassign_modal,
}


def _click(body: dict[str, Any]) -> tuple[str, str | None, str | None, str]:
    """(user id, channel id, message ts, raw value) of a block action."""
    action = body["actions"][0]
    value = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    channel = (body.get("channel") or {}).get("id")
    ts = (body.get("message") or {}).get("ts")
    return body["user"]["id"], channel, ts, value


def snooze_until(choice: SnoozeFor, now: datetime, tz_name: str | None) -> datetime:
    """When a snooze ends: 1 h, 4 h, or tomorrow 09:00 in the user's own time zone."""
    if choice is SnoozeFor.ONE_HOUR:
        return now + timedelta(hours=1)
    if choice is SnoozeFor.FOUR_HOURS:
        return now + timedelta(hours=4)
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    morning = datetime.combine(local.date() + timedelta(days=1), time(9, 0), tzinfo=zone)
    return morning.astimezone(now.tzinfo)


def register(app: AsyncApp, deps: Container) -> None:
    """Wire the handoff buttons."""

    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user, channel, _ts, value = _click(body)
        handoff_id = decode_button_value(value)
        card = await deps.handoffs.card(handoff_id)
        if card is None:
            await tell(client, channel, user, refusal("not_found"))
            return
        if card.decidable and card.identity_check_needed:
            # trigger_id lives 3 s: open the identity dialog before any slow check.
            meta = ModalMetadata(handoff_id, card.channel, card.message_ts, user)
            await client.views_open(trigger_id=body["trigger_id"], view=approve_modal(card, meta))
            return
        allowed = await deps.may_approve(user)
        result = await deps.handoffs.approve(handoff_id, user, is_approver=allowed)
        action = (
            AuditAction.APPROVED_PARTLY
            if result.outcome is Outcome.PARTIAL
            else AuditAction.APPROVED
        )
        await after_decision(deps, client, result, user=user, channel=channel, note_action=action)

    async def open_modal(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user, channel, _ts, value = _click(body)
        action_id = ActionId(body["actions"][0]["action_id"])
        card = await deps.handoffs.card(decode_button_value(value))
        if card is None:
            await tell(client, channel, user, refusal("not_found"))
            return
        meta = ModalMetadata(card.handoff_id, card.channel, card.message_ts, user)
        await client.views_open(trigger_id=body["trigger_id"], view=MODALS[action_id](card, meta))

    async def retry(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user, channel, _ts, value = _click(body)
        allowed = await deps.may_approve(user)
        result = await deps.handoffs.retry(decode_button_value(value), user, is_approver=allowed)
        await after_decision(
            deps, client, result, user=user, channel=channel, note_action=AuditAction.RETRIED
        )

    async def done(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user, channel, _ts, value = _click(body)
        result = await deps.handoffs.mark_done(decode_button_value(value), user)
        await after_decision(
            deps, client, result, user=user, channel=channel, note_action=AuditAction.DONE
        )

    async def snooze(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user, channel, _ts, value = _click(body)
        handoff_id, choice = decode_snooze_value(value)
        tz_name: str | None = None
        if choice is SnoozeFor.TOMORROW:
            tz_name = (await deps.directory.user_info(user)).get("tz")
        until = snooze_until(choice, deps.clock(), tz_name)
        result = await deps.handoffs.snooze(handoff_id, user, until)
        await after_decision(
            deps,
            client,
            result,
            user=user,
            channel=channel,
            note_action=AuditAction.SNOOZED,
            note_detail=f"<!date^{int(until.timestamp())}^{{date_short_pretty}} at {{time}}|{until:%Y-%m-%d %H:%M} UTC>",
        )

    async def link(ack: AsyncAck) -> None:
        await ack()

    app.action(ActionId.APPROVE.value)(approve)
    for action_id in MODALS:
        app.action(action_id.value)(open_modal)
    app.action(ActionId.RETRY.value)(retry)
    app.action(ActionId.DONE.value)(done)
    app.action(ActionId.SNOOZE.value)(snooze)
    app.action(OPEN_LINK_PATTERN)(link)
