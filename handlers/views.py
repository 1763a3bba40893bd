"""Modal submissions: decline, escalate, reassign, approve-with-identity.

Each listener is a module-level function taking Bolt's ``ack``, ``body`` and ``client`` plus the
narrow ``ViewDeps``; ``register`` only wires callback ids to them.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import escalation_notice, refusal
from blocks.dm import reassigned_dm
from blocks.ids import BlockId, CallbackId, EmailChoice, InputId, ModalMetadata
from handlers.decisions import DecisionDeps, HandoffRecords, after_decision, permitted, tell
from handlers.payloads import ViewSubmission, read_submission
from services.cards import HandoffCard
from services.handoff_model import Workflow
from services.handoffs import DecisionResult
from services.permissions import Action, Actor, may_own
from services.reasons import (
    MAX_REASON,
    NO_REASON,
    clean_email_text,
    clean_note,
    clean_reason,
    email_text_problem,
    reason_problem,
)
from services.routing import RoutingConfig
from slack_adapter.messages import permalink

__all__ = [
    "MAX_REASON",
    "TARGET_NOT_FINANCE",
    "ModalDecisions",
    "ViewDeps",
    "approve",
    "decline",
    "escalate",
    "reassign",
    "register",
]

logger = logging.getLogger(__name__)

TARGET_NOT_FINANCE = (
    "That person is not a finance member, so they can't own a handoff. Choose someone in finance."
)
NO_ASSIGNEE = "Choose who should own this."
IDENTITY_UNCONFIRMED = "Confirm the caller's identity before approving."


class ModalDecisions(HandoffRecords, Protocol):
    """The decisions the modals make (``services.handoffs.HandoffService``)."""

    async def approve(
        self,
        handoff_id: str,
        user_id: str,
        *,
        is_approver: bool,
        identity_confirmed: bool = False,
        email_invoice: bool = False,
        followup_email: str | None = None,
        acting_for: tuple[str, ...] = (),
    ) -> DecisionResult: ...

    async def decline(
        self, handoff_id: str, user_id: str, reason: str, *, on_behalf_of: str | None = None
    ) -> DecisionResult: ...

    async def escalate(self, handoff_id: str, user_id: str, reason: str) -> DecisionResult: ...

    async def reassign(self, handoff_id: str, user_id: str, new_owner: str) -> DecisionResult: ...


class ViewDeps(DecisionDeps, Protocol):
    """What the decision modals need: the decision follow-through and the routing config."""

    @property
    def handoffs(self) -> ModalDecisions: ...

    @property
    def routing(self) -> RoutingConfig: ...


async def _recheck(
    deps: ViewDeps,
    client: AsyncWebClient,
    action: Action,
    meta: ModalMetadata,
    user: str,
    *,
    card: HandoffCard | None = None,
) -> Actor | None:
    """The policy again at submission; a refusal is told and audited."""
    if card is None:
        card = await deps.handoffs.card(meta.handoff_id)
    if card is None:
        await tell(client, meta.channel, user, refusal("not_found"))
        return None
    return await permitted(deps, client, action, user=user, channel=meta.channel, card=card)


async def _accept_reason(
    ack: AsyncAck, body: dict[str, Any]
) -> tuple[ViewSubmission, ModalMetadata, str] | None:
    """Ack a reason modal: inline errors (None) or (submission, metadata, redacted reason)."""
    submitted = read_submission(body)
    if submitted is None:
        await ack()
        return None
    # Typed by a person, then stored and shown: card and bank details go, as in handoffs.
    reason = clean_reason(submitted.value(BlockId.REASON, InputId.REASON))
    problem = reason_problem(reason)
    if problem is not None or reason is None:
        await ack(response_action="errors", errors={BlockId.REASON.value: problem or NO_REASON})
        return None
    await ack()
    return submitted, submitted.metadata(), reason


async def decline(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ViewDeps
) -> None:
    """Decline with a reason."""
    accepted = await _accept_reason(ack, body)
    if accepted is None:
        return
    submitted, meta, reason = accepted
    user = submitted.user_id
    # Re-checked at submission: membership (and a delegation) can change while it is open.
    actor = await _recheck(deps, client, Action.DECLINE, meta, user)
    if actor is None:
        return
    behalf = actor.on_behalf_of()
    result = await deps.handoffs.decline(
        meta.handoff_id, user, reason, on_behalf_of=behalf[0] if behalf else None
    )
    await after_decision(
        deps,
        client,
        result,
        user=user,
        channel=meta.channel,
        action=Action.DECLINE,
        handoff_id=meta.handoff_id,
    )


async def escalate(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ViewDeps
) -> None:
    """Escalate with a reason, and repost it in the escalation channel."""
    accepted = await _accept_reason(ack, body)
    if accepted is None:
        return
    submitted, meta, reason = accepted
    user = submitted.user_id
    if not await _recheck(deps, client, Action.ESCALATE, meta, user):
        return
    result = await deps.handoffs.escalate(meta.handoff_id, user, reason)
    ok = await after_decision(
        deps,
        client,
        result,
        user=user,
        channel=meta.channel,
        action=Action.ESCALATE,
        handoff_id=meta.handoff_id,
    )
    if not ok or result.card is None:
        return
    card = result.card
    link = await permalink(client, card.channel, card.message_ts)
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
        logger.exception("could not repost an escalation", extra={"handoff_id": card.handoff_id})


async def reassign(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ViewDeps
) -> None:
    """Reassign to a finance member, and DM them what they now own."""
    submitted = read_submission(body)
    if submitted is None:
        await ack()
        return
    new_owner = submitted.value(BlockId.ASSIGNEE, InputId.ASSIGNEE)
    if not new_owner:
        await ack(response_action="errors", errors={BlockId.ASSIGNEE.value: NO_ASSIGNEE})
        return
    # Only a finance member can own a handoff: said under the picker, nothing changes.
    if not may_own(await deps.actor(str(new_owner))):
        await ack(response_action="errors", errors={BlockId.ASSIGNEE.value: TARGET_NOT_FINANCE})
        return
    await ack()
    meta = submitted.metadata()
    user = submitted.user_id
    if not await _recheck(deps, client, Action.REASSIGN, meta, user):
        return
    result = await deps.handoffs.reassign(meta.handoff_id, user, new_owner)
    ok = await after_decision(
        deps,
        client,
        result,
        user=user,
        channel=meta.channel,
        action=Action.REASSIGN,
        handoff_id=meta.handoff_id,
    )
    if not ok or result.card is None:
        return
    card = result.card
    note = clean_note(submitted.value(BlockId.NOTE, InputId.NOTE))
    link = await permalink(client, card.channel, card.message_ts)
    message = reassigned_dm(card, by=user, note=note, permalink=link, now=deps.clock())
    try:
        opened = await client.conversations_open(users=new_owner)
        await client.chat_postMessage(
            channel=opened["channel"]["id"], text=message["text"], blocks=message["blocks"]
        )
    except SlackApiError:
        logger.exception("could not DM the new owner", extra={"handoff_id": card.handoff_id})


async def approve(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ViewDeps
) -> None:
    """Approve from the confirm modal; the caller's identity is confirmed when it must be, and
    the customer emails ticked in it (a collections follow-up with its text) go with it."""
    submitted = read_submission(body)
    if submitted is None:
        await ack()
        return
    meta = submitted.metadata()
    card = await deps.handoffs.card(meta.handoff_id)
    confirmed = bool(submitted.value(BlockId.IDENTITY, InputId.IDENTITY))
    if card is not None and card.identity_check_needed and not confirmed:
        await ack(response_action="errors", errors={BlockId.IDENTITY.value: IDENTITY_UNCONFIRMED})
        return
    chosen = submitted.value(BlockId.EMAIL, InputId.EMAIL) or []
    email_invoice = EmailChoice.INVOICE.value in chosen
    followup: str | None = None
    if EmailChoice.FOLLOWUP.value in chosen and card and card.workflow is Workflow.COLLECTIONS:
        # Typed by a person, then stored and sent: card and bank details go first.
        followup = clean_email_text(submitted.value(BlockId.EMAIL_TEXT, InputId.EMAIL_TEXT))
        problem = email_text_problem(followup)
        if problem is not None:
            await ack(response_action="errors", errors={BlockId.EMAIL_TEXT.value: problem})
            return
    await ack()
    user = submitted.user_id
    actor = await _recheck(deps, client, Action.APPROVE, meta, user, card=card)
    if actor is None:
        return
    result = await deps.handoffs.approve(
        meta.handoff_id,
        user,
        is_approver=actor.is_approver,
        identity_confirmed=confirmed,
        email_invoice=email_invoice,
        followup_email=followup,
        # A delegate approves for the away approver(s) they stand in for, checked again there.
        acting_for=actor.on_behalf_of(),
    )
    await after_decision(
        deps,
        client,
        result,
        user=user,
        channel=meta.channel,
        action=Action.APPROVE,
        handoff_id=meta.handoff_id,
    )


def register(app: AsyncApp, deps: ViewDeps) -> None:
    """Wire the modal callbacks to the listeners above."""

    async def on_decline(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await decline(ack, body, client, deps)

    async def on_escalate(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await escalate(ack, body, client, deps)

    async def on_reassign(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await reassign(ack, body, client, deps)

    async def on_approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await approve(ack, body, client, deps)

    app.view(CallbackId.DECLINE_MODAL.value)(on_decline)
    app.view(CallbackId.ESCALATE_MODAL.value)(on_escalate)
    app.view(CallbackId.REASSIGN_MODAL.value)(on_reassign)
    app.view(CallbackId.APPROVE_MODAL.value)(on_approve)
