"""Clicks on handoff messages: Approve, Decline, Escalate, Reassign, Retry, Done, Snooze,
and a refund's Reverse and Mark refunded.

Each listener is a module-level function taking Bolt's ``ack``, ``body`` and ``client`` plus the
narrow ``ActionDeps``; ``register`` only wires action ids to them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.approver_dm import is_approver_dm
from blocks.audit import refusal
from blocks.ids import (
    OPEN_LINK_PATTERN,
    ActionId,
    ModalMetadata,
    decode_button_value,
    decode_snooze_value,
)
from blocks.modals import approve_modal, decline_modal, escalate_modal, reassign_modal
from blocks.nudge import nudge_acted
from bot.settings import Settings
from handlers.decisions import (
    DecisionDeps,
    HandoffRecords,
    after_decision,
    allowed_card,
    checked_click,
    refuse,
)
from handlers.payloads import BlockAction, read_action
from services.cards import HandoffCard
from services.decisions import decided_by, not_decidable
from services.documents import collections_email
from services.handoff_model import Workflow
from services.handoffs import DecisionResult, Outcome
from services.permissions import Action
from services.snooze import needs_time_zone, snooze_until

__all__ = [
    "ActionDeps",
    "ButtonDecisions",
    "UserDirectory",
    "approve",
    "done",
    "link",
    "mark_refunded",
    "open_modal",
    "refresh_context",
    "register",
    "retry",
    "reverse_refund",
    "snooze",
    "snooze_until",
]

logger = logging.getLogger(__name__)

MODALS = {
    ActionId.DECLINE: decline_modal,
    ActionId.ESCALATE: escalate_modal,
    ActionId.REASSIGN: reassign_modal,
}
MODAL_ACTIONS = {
    ActionId.DECLINE: Action.DECLINE,
    ActionId.ESCALATE: Action.ESCALATE,
    ActionId.REASSIGN: Action.REASSIGN,
}


class UserDirectory(Protocol):
    """Slack profile lookups (cached)."""

    async def user_info(self, user_id: str) -> dict[str, Any]: ...


class ButtonDecisions(HandoffRecords, Protocol):
    """The decisions the handoff buttons make (``services.handoffs.HandoffService``)."""

    async def retry(
        self, handoff_id: str, user_id: str, *, is_approver: bool
    ) -> DecisionResult: ...

    async def mark_done(
        self, handoff_id: str, user_id: str, *, is_approver: bool = False
    ) -> DecisionResult: ...

    async def snooze(self, handoff_id: str, user_id: str, until: datetime) -> DecisionResult: ...

    async def request_context(self, handoff_id: str, user_id: str) -> DecisionResult: ...

    async def reverse_refund(
        self, handoff_id: str, user_id: str, *, is_approver: bool
    ) -> DecisionResult: ...

    async def mark_refunded(
        self, handoff_id: str, user_id: str, *, is_approver: bool
    ) -> DecisionResult: ...


class ActionDeps(DecisionDeps, Protocol):
    """What the handoff buttons need."""

    @property
    def handoffs(self) -> ButtonDecisions: ...

    @property
    def directory(self) -> UserDirectory: ...

    @property
    def settings(self) -> Settings: ...


async def _in_place(
    client: AsyncWebClient,
    card: HandoffCard,
    click: BlockAction,
    *,
    snoozed_until: datetime | None = None,
    message: dict[str, Any] | None = None,
) -> None:
    """A click on a reminder (not the handoff message): update that reminder where it is.

    ``message`` is the clicked message: an approver's DM copy of the handoff message is kept in
    step by the refresh, like the channel message, and is left alone here."""
    channel, ts = click.channel_id, click.message_ts
    if not channel or not ts or (channel == card.channel and ts == card.message_ts):
        return  # the handoff message itself is refreshed by after_decision
    if is_approver_dm(message):
        return
    permalink = None
    if card.message_ts:
        try:
            found = await client.chat_getPermalink(channel=card.channel, message_ts=card.message_ts)
            permalink = str(found.get("permalink") or "") or None
        except SlackApiError:
            permalink = None
    # In the owner's own DM it reads "by you"; elsewhere everyone sees who did it.
    actor = None if channel.startswith("D") else click.user_id
    message = nudge_acted(card, actor=actor, permalink=permalink, snoozed_until=snoozed_until)
    try:
        await client.chat_update(
            channel=channel, ts=ts, text=message["text"], blocks=message["blocks"]
        )
    except SlackApiError:
        logger.exception("could not update a reminder in place", extra={"handoff": card.handoff_id})


async def approve(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ActionDeps
) -> None:
    """Approve: check, then open the confirm modal that says what approving will do."""
    await ack()
    click = read_action(body)
    if click is None:
        return
    user, channel = click.user_id, click.channel_id
    # Permission before promise: a refused click never sees what approving would do.
    checked = await allowed_card(
        deps,
        client,
        Action.APPROVE,
        user=user,
        channel=channel,
        handoff_id=decode_button_value(click.value),
    )
    if checked is None:
        return
    card, _actor = checked
    why_not = not_decidable(card, user)
    if why_not is not None:
        decided = decided_by(why_not, card)
        await refuse(
            deps,
            client,
            user=user,
            channel=channel,
            action=Action.APPROVE,
            code=why_not,
            handoff_id=card.handoff_id,
            message=refusal(why_not, by=decided.by, at=decided.at),
        )
        return
    # The checks above are two indexed reads and a cached group lookup: well inside the
    # 3 s a trigger_id lives. The modal says exactly what this approval will do.
    meta = ModalMetadata(card.handoff_id, card.channel, card.message_ts, user)
    followup = None
    if card.workflow is Workflow.COLLECTIONS:
        followup = collections_email(card.handoff, deps.settings.company_name)
    view = approve_modal(card, meta, followup=followup)
    await client.views_open(trigger_id=click.trigger_id, view=view)


async def open_modal(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ActionDeps
) -> None:
    """Decline, Escalate, Reassign: check, then open the modal that asks for the details."""
    await ack()
    clicked = read_action(body)
    if clicked is None:
        return
    action_id = ActionId(clicked.action_id)
    checked = await checked_click(deps, client, body, MODAL_ACTIONS[action_id])
    if checked is None:
        return
    card, click = checked.card, checked.click
    meta = ModalMetadata(card.handoff_id, card.channel, card.message_ts, click.user_id)
    await client.views_open(trigger_id=click.trigger_id, view=MODALS[action_id](card, meta))


async def retry(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ActionDeps
) -> None:
    """Retry a failed invoice."""
    await ack()
    checked = await checked_click(deps, client, body, Action.RETRY)
    if checked is None:
        return
    user, handoff_id = checked.click.user_id, checked.handoff_id
    result = await deps.handoffs.retry(handoff_id, user, is_approver=checked.actor.can_approve)
    await after_decision(
        deps,
        client,
        result,
        user=user,
        channel=checked.click.channel_id,
        action=Action.RETRY,
        handoff_id=handoff_id,
    )


async def done(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ActionDeps
) -> None:
    """Mark done; refused (with the approval count) while approval is still pending."""
    await ack()
    checked = await checked_click(deps, client, body, Action.MARK_DONE)
    if checked is None:
        return
    click, actor, handoff_id = checked.click, checked.actor, checked.handoff_id
    user, channel = click.user_id, click.channel_id
    result = await deps.handoffs.mark_done(handoff_id, user, is_approver=actor.can_approve)
    if result.outcome is Outcome.AWAITING_APPROVAL and result.card is not None:
        pending = result.card
        message = refusal(
            "awaiting_approval",
            approvals=(len(pending.approvals), pending.required_approvals),
            offer_decline=pending.handoff_id if actor.is_approver else None,
        )
        await refuse(
            deps,
            client,
            user=user,
            channel=channel,
            action=Action.MARK_DONE,
            code="awaiting_approval",
            handoff_id=handoff_id,
            message=message,
        )
        return
    ok = await after_decision(
        deps,
        client,
        result,
        user=user,
        channel=channel,
        action=Action.MARK_DONE,
        handoff_id=handoff_id,
    )
    if ok and result.card is not None:
        await _in_place(client, result.card, click, message=body.get("message"))


async def snooze(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ActionDeps
) -> None:
    """Snooze reminders for 1 h, 4 h or until tomorrow morning in the person's time zone."""
    await ack()
    click = read_action(body)
    if click is None:
        return
    user, channel = click.user_id, click.channel_id
    handoff_id, choice = decode_snooze_value(click.value)
    if not await allowed_card(
        deps, client, Action.SNOOZE, user=user, channel=channel, handoff_id=handoff_id
    ):
        return
    tz_name: str | None = None
    if needs_time_zone(choice):
        tz_name = (await deps.directory.user_info(user)).get("tz")
    until = snooze_until(choice, deps.clock(), tz_name)
    result = await deps.handoffs.snooze(handoff_id, user, until)
    ok = await after_decision(
        deps,
        client,
        result,
        user=user,
        channel=channel,
        action=Action.SNOOZE,
        handoff_id=handoff_id,
    )
    if ok and result.card is not None:
        await _in_place(
            client, result.card, click, snoozed_until=until, message=body.get("message")
        )


async def refresh_context(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ActionDeps
) -> None:
    """Refresh context: finance members ask the read connectors to look the customer up
    again; anyone else is refused privately (and the refusal audited)."""
    await ack()
    checked = await checked_click(deps, client, body, Action.REFRESH_CONTEXT)
    if checked is None:
        return
    user, handoff_id = checked.click.user_id, checked.handoff_id
    result = await deps.handoffs.request_context(handoff_id, user)
    await after_decision(
        deps,
        client,
        result,
        user=user,
        channel=checked.click.channel_id,
        action=Action.REFRESH_CONTEXT,
        handoff_id=handoff_id,
    )


# A refund action that found its refund in another state: the refusal that says so.
REFUND_REFUSALS = {
    Action.REVERSE_REFUND: "refund_not_scheduled",
    Action.MARK_REFUNDED: "refund_not_manual",
}


async def _refund_click(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ActionDeps, action: Action
) -> None:
    await ack()
    checked = await checked_click(deps, client, body, action)
    if checked is None:
        return
    user, handoff_id = checked.click.user_id, checked.handoff_id
    channel = checked.click.channel_id
    is_approver = checked.actor.can_approve
    if action is Action.REVERSE_REFUND:
        result = await deps.handoffs.reverse_refund(handoff_id, user, is_approver=is_approver)
    else:
        result = await deps.handoffs.mark_refunded(handoff_id, user, is_approver=is_approver)
    if result.outcome is Outcome.NOT_APPLICABLE:
        code = REFUND_REFUSALS[action]
        await refuse(
            deps,
            client,
            user=user,
            channel=channel,
            action=action,
            code=code,
            handoff_id=handoff_id,
            message=refusal(code, action=action.value),
        )
        return
    await after_decision(
        deps, client, result, user=user, channel=channel, action=action, handoff_id=handoff_id
    )


async def reverse_refund(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ActionDeps
) -> None:
    """Reverse an automatic refund in its grace window (approvers only); it then waits for an
    approver like any refund."""
    await _refund_click(ack, body, client, deps, Action.REVERSE_REFUND)


async def mark_refunded(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ActionDeps
) -> None:
    """Mark a manual (crypto) refund as sent by hand (approvers only)."""
    await _refund_click(ack, body, client, deps, Action.MARK_REFUNDED)


async def link(ack: AsyncAck) -> None:
    """Link buttons open their URL in the browser; Slack still sends the click: ack it."""
    await ack()


def register(app: AsyncApp, deps: ActionDeps) -> None:
    """Wire the handoff buttons to the listeners above."""

    async def on_approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await approve(ack, body, client, deps)

    async def on_open_modal(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await open_modal(ack, body, client, deps)

    async def on_retry(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await retry(ack, body, client, deps)

    async def on_done(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await done(ack, body, client, deps)

    async def on_snooze(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await snooze(ack, body, client, deps)

    async def on_refresh_context(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await refresh_context(ack, body, client, deps)

    app.action(ActionId.APPROVE.value)(on_approve)
    for action_id in MODALS:
        app.action(action_id.value)(on_open_modal)
    app.action(ActionId.RETRY.value)(on_retry)
    app.action(ActionId.DONE.value)(on_done)
    app.action(ActionId.SNOOZE.value)(on_snooze)
    app.action(ActionId.REFRESH_CONTEXT.value)(on_refresh_context)

    async def on_reverse_refund(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await reverse_refund(ack, body, client, deps)

    async def on_mark_refunded(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await mark_refunded(ack, body, client, deps)

    app.action(ActionId.REVERSE_REFUND.value)(on_reverse_refund)
    app.action(ActionId.MARK_REFUNDED.value)(on_mark_refunded)
    app.action(OPEN_LINK_PATTERN)(link)
