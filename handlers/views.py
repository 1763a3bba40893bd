"""Modal submissions: decline, escalate, reassign, approve-with-identity."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import escalation_notice, refusal
from blocks.dm import reassigned_dm
from blocks.ids import AuditAction, BlockId, CallbackId, InputId, ModalMetadata, decode_metadata
from bot.container import Container
from handlers.decisions import after_decision, tell
from services.handoffs import Outcome
from services.redaction import redact_text

__all__ = ["register", "state_value"]

logger = logging.getLogger(__name__)

MAX_REASON = 1000


def state_value(view: dict[str, Any], block: str, action: str) -> Any:
    """The submitted value of one input (text, selected user or checkbox list)."""
    element = ((view.get("state") or {}).get("values") or {}).get(block, {}).get(action) or {}
    if "selected_user" in element:
        return element["selected_user"]
    if "selected_options" in element:
        return [o.get("value") for o in element["selected_options"] or []]
    return element.get("value")


def _reason(view: dict[str, Any]) -> str | None:
    value = state_value(view, BlockId.REASON, InputId.REASON)
    # Typed by a person, then stored and shown: card and bank details go, as in handoffs.
    return redact_text(value.strip()).text if isinstance(value, str) and value.strip() else None


async def _permalink(client: AsyncWebClient, channel: str, ts: str | None) -> str | None:
    if not ts:
        return None
    try:
        response = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    return str(response.get("permalink")) if response.get("permalink") else None


def register(app: AsyncApp, deps: Container) -> None:
    """Wire the modal callbacks."""

    async def accept_reason(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> tuple[ModalMetadata, str, str] | None:
        """Ack a reason modal: inline errors (None) or (metadata, user, redacted reason)."""
        reason = _reason(view)
        if reason is None or len(reason) > MAX_REASON:
            problem = (
                "Please give a reason."
                if reason is None
                else f"Keep it under {MAX_REASON} characters."
            )
            await ack(response_action="errors", errors={BlockId.REASON.value: problem})
            return None
        await ack()
        return decode_metadata(view["private_metadata"]), body["user"]["id"], reason

    async def decline(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        accepted = await accept_reason(ack, body, view)
        if accepted is None:
            return
        meta, user, reason = accepted
        if not await deps.may_approve(user):
            await tell(client, meta.channel, user, refusal("not_approver"))
            return
        result = await deps.handoffs.decline(meta.handoff_id, user, reason)
        await after_decision(
            deps,
            client,
            result,
            user=user,
            channel=meta.channel,
            note_action=AuditAction.DECLINED,
            note_detail=reason,
        )

    async def escalate(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        accepted = await accept_reason(ack, body, view)
        if accepted is None:
            return
        meta, user, reason = accepted
        result = await deps.handoffs.escalate(meta.handoff_id, user, reason)
        ok = await after_decision(
            deps,
            client,
            result,
            user=user,
            channel=meta.channel,
            note_action=AuditAction.ESCALATED,
            note_detail=reason,
        )
        if not ok or result.card is None:
            return
        card = result.card
        link = await _permalink(client, card.channel, card.message_ts)
        notice = escalation_notice(
            card, user, reason, permalink=link, lead=deps.routing.mentions.finance_lead
        )
        try:
            await client.chat_postMessage(
                channel=deps.routing.escalation_channel,
                text=notice["text"],
                blocks=notice["blocks"],
            )
        except SlackApiError:
            logger.exception(
                "could not repost an escalation", extra={"handoff_id": card.handoff_id}
            )

    async def reassign(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        new_owner = state_value(view, BlockId.ASSIGNEE, InputId.ASSIGNEE)
        if not new_owner:
            await ack(
                response_action="errors",
                errors={BlockId.ASSIGNEE.value: "Choose who should own this."},
            )
            return
        await ack()
        meta = decode_metadata(view["private_metadata"])
        user = body["user"]["id"]
        result = await deps.handoffs.reassign(meta.handoff_id, user, new_owner)
        ok = await after_decision(
            deps,
            client,
            result,
            user=user,
            channel=meta.channel,
            note_action=AuditAction.REASSIGNED,
            note_detail=f"<@{new_owner}>",
        )
        if not ok or result.card is None:
            return
        card = result.card
        note = state_value(view, BlockId.NOTE, InputId.NOTE)
        note = redact_text(note).text if isinstance(note, str) else note
        link = await _permalink(client, card.channel, card.message_ts)
        message = reassigned_dm(card, by=user, note=note, permalink=link, now=deps.clock())
        try:
            opened = await client.conversations_open(users=new_owner)
            await client.chat_postMessage(
                channel=opened["channel"]["id"], text=message["text"], blocks=message["blocks"]
            )
        except SlackApiError:
            logger.exception("could not DM the new owner", extra={"handoff_id": card.handoff_id})

    async def approve(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        confirmed = state_value(view, BlockId.IDENTITY, InputId.IDENTITY) or []
        if not confirmed:
            await ack(
                response_action="errors",
                errors={BlockId.IDENTITY.value: "Confirm the caller's identity before approving."},
            )
            return
        await ack()
        meta: ModalMetadata = decode_metadata(view["private_metadata"])
        user = body["user"]["id"]
        allowed = await deps.may_approve(user)
        result = await deps.handoffs.approve(
            meta.handoff_id, user, is_approver=allowed, identity_confirmed=True
        )
        action = (
            AuditAction.APPROVED_PARTLY
            if result.outcome is Outcome.PARTIAL
            else AuditAction.APPROVED
        )
        await after_decision(
            deps,
            client,
            result,
            user=user,
            channel=meta.channel,
            note_action=action,
            note_detail="identity confirmed by the approver",
        )

    app.view(CallbackId.DECLINE_MODAL.value)(decline)
    app.view(CallbackId.ESCALATE_MODAL.value)(escalate)
    app.view(CallbackId.REASSIGN_MODAL.value)(reassign)
    app.view(CallbackId.APPROVE_MODAL.value)(approve)
