"""Answering what a person typed: parse it, then look up, act, or point to the buttons.

Shared by the DM / thread / @mention listeners (``handlers.messages``) and the assistant pane
(``handlers.assistant``). Look-ups use the same builders as ``/handoff``, ``/invoice`` and the
Home tab; snooze, assign and done go through ``services.conversation`` (the buttons' policy and
services) and the buttons' follow-through (``handlers.decisions.after_decision``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import refusal
from blocks.conversation import (
    acted_message,
    create_invoice_message,
    help_message,
    items_message,
    money_message,
    needs_handoff_message,
    needs_person_message,
    needs_time_message,
    not_approver_message,
)
from blocks.invoices import invoice_list_message, plisio_unavailable_message
from blocks.status import handoff_status_message, not_found_message
from connectors.plisio import PlisioError
from handlers.actions import UserDirectory
from handlers.commands import InvoiceLookup
from handlers.decisions import DecisionDeps, after_decision
from handlers.delegation import come_back, set_away
from handlers.info import InfoService
from services.cards import HandoffCard
from services.conversation import ActedHow, Conversation, ConversationQueries, TypedDecisions
from services.db.engine import Database
from services.db.models import AuditEntry
from services.delegation import DelegationService
from services.events import EventType
from services.external_refs import LinkedRecord
from services.home import HomeQueries
from services.intents import ACTIONS, Intent, Kind
from services.permissions import Action, decide
from services.understanding import IntentModel, understand

__all__ = ["ConversationHandoffs", "MessageDeps", "Talk", "Where", "answer"]

logger = logging.getLogger(__name__)

OVERDUE_TITLE, QUEUE_TITLE = "Your overdue handoffs", "Your open handoffs"
WAITING_TITLE, CUSTOMER_TITLE = "Waiting for your approval", "Handoffs for “{name}”"


class ConversationHandoffs(TypedDecisions, Protocol):
    """Handoff reads and decisions (``services.handoffs.HandoffService``)."""

    async def card_by_call(self, call_id: str) -> HandoffCard | None: ...

    async def audit_trail(self, handoff_id: str) -> list[AuditEntry]: ...

    async def linked_records(self, handoff_id: str) -> list[LinkedRecord]: ...


class MessageDeps(DecisionDeps, Protocol):
    """What the conversation listeners need."""

    @property
    def handoffs(self) -> ConversationHandoffs: ...

    @property
    def directory(self) -> UserDirectory: ...

    @property
    def lookup(self) -> InvoiceLookup: ...

    @property
    def db(self) -> Database: ...

    @property
    def sandbox(self) -> bool: ...

    @property
    def info(self) -> InfoService: ...

    @property
    def delegations(self) -> DelegationService: ...


@dataclass(frozen=True)
class Talk:
    """The conversation's services, built once at registration."""

    deps: MessageDeps
    conversation: Conversation
    queries: ConversationQueries
    home: HomeQueries
    model: IntentModel | None = None  # off unless an operator configures one

    @classmethod
    def build(cls, deps: MessageDeps, *, model: IntentModel | None = None) -> Talk:
        queries = ConversationQueries(deps.db)
        conversation = Conversation(deps.handoffs, queries, actor=deps.actor)
        return cls(deps, conversation, queries, HomeQueries(deps.db), model)


@dataclass(frozen=True)
class Where:
    """Where an answer goes: the person's DM (or assistant thread), or privately in a channel."""

    channel: str
    user: str
    thread_ts: str | None = None
    private: bool = False  # a channel: only the person sees the answer

    async def say(self, client: AsyncWebClient, message: dict[str, Any]) -> None:
        try:
            if self.private:
                await client.chat_postEphemeral(
                    channel=self.channel,
                    user=self.user,
                    text=message["text"],
                    blocks=message.get("blocks"),
                    thread_ts=self.thread_ts,
                )
            else:
                await client.chat_postMessage(
                    channel=self.channel,
                    text=message["text"],
                    blocks=message.get("blocks"),
                    thread_ts=self.thread_ts,
                )
        except SlackApiError:
            logger.exception("could not answer a message", extra={"user": self.user})


async def _tz(deps: MessageDeps, user: str) -> str | None:
    try:
        tz = (await deps.directory.user_info(user)).get("tz")
    except Exception:
        logger.warning("no time zone for a user", extra={"user": user})
        return None
    return str(tz) if tz else None


async def _target(talk: Talk, intent: Intent, thread_handoff: str | None) -> HandoffCard | None:
    if intent.call_id:
        return await talk.deps.handoffs.card_by_call(intent.call_id)
    if thread_handoff:
        return await talk.deps.handoffs.card(thread_handoff)
    return None


async def _looked_up(talk: Talk, user: str, handoff_id: str | None, **detail: Any) -> None:
    try:
        await talk.deps.handoffs.record(handoff_id, user, EventType.LOOKED_UP, detail)
    except Exception:
        logger.exception("could not audit a lookup", extra={"user": user})


async def _status(
    talk: Talk, client: AsyncWebClient, where: Where, card: HandoffCard
) -> dict[str, Any]:
    deps = talk.deps
    await _looked_up(talk, where.user, card.handoff_id, what="typed_status", call_id=card.call_id)
    trail = await deps.handoffs.audit_trail(card.handoff_id)
    refs = await deps.handoffs.linked_records(card.handoff_id)
    permalink = None
    if card.message_ts:
        try:
            found = await client.chat_getPermalink(channel=card.channel, message_ts=card.message_ts)
            permalink = found.get("permalink")
        except SlackApiError:
            permalink = None
    return handoff_status_message(card, trail, permalink=permalink, now=deps.clock(), refs=refs)


async def _lookup(
    talk: Talk, client: AsyncWebClient, where: Where, intent: Intent, handoff: str | None
) -> dict[str, Any]:
    """Answers that read: status, a customer, invoices, overdue, queue, waiting."""
    deps, user, now = talk.deps, where.user, talk.deps.clock()
    actor = await deps.actor(user)
    if intent.kind in {Kind.STATUS, Kind.CUSTOMER, Kind.INVOICES}:
        permission = decide(Action.VIEW, actor)
        if not permission.allowed:
            assert permission.reason is not None
            return refusal(permission.reason.value, action=Action.VIEW.value)
    if intent.kind is Kind.STATUS:
        card = await _target(talk, intent, handoff)
        if card is None:
            return not_found_message(intent.call_id) if intent.call_id else help_message()
        return await _status(talk, client, where, card)
    if intent.kind is Kind.CUSTOMER:
        assert intent.customer is not None
        items = await talk.queries.for_customer(intent.customer)
        await _looked_up(talk, user, None, what="typed_customer", query=intent.customer[:200])
        return items_message(CUSTOMER_TITLE.format(name=intent.customer), items, now=now)
    if intent.kind is Kind.INVOICES:
        assert intent.email is not None
        await _looked_up(talk, user, None, what="invoices_for_email", email=intent.email)
        try:
            invoices = await deps.lookup.invoices_for_email(intent.email)
        except PlisioError:
            logger.warning("invoice lookup failed", exc_info=True)
            return plisio_unavailable_message(intent.email)
        return invoice_list_message(email=intent.email, invoices=invoices, sandbox=deps.sandbox)
    if intent.kind is Kind.OVERDUE:
        items, total = await talk.queries.overdue(user, now=now)
        return items_message(OVERDUE_TITLE, items, total=total, now=now)
    approver = decide(Action.APPROVE, actor).allowed
    snapshot = await talk.home.snapshot(user, approver=approver, now=now)
    if intent.kind is Kind.WAITING:
        if not approver:
            return not_approver_message()
        return items_message(
            WAITING_TITLE, snapshot.awaiting, total=snapshot.awaiting_total, now=now
        )
    return items_message(QUEUE_TITLE, snapshot.mine, total=snapshot.mine_total, now=now)


async def _act(
    talk: Talk,
    client: AsyncWebClient,
    where: Where,
    intent: Intent,
    handoff: str | None,
    viewing: str | None = None,
) -> dict[str, Any] | None:
    """Snooze, assign, done: the buttons' policy, services and follow-through."""
    deps = talk.deps
    card = await _target(talk, intent, handoff)
    if card is None:
        if intent.call_id:
            return not_found_message(intent.call_id)
        return needs_handoff_message(viewing=viewing)
    acted = await talk.conversation.act(intent, card.handoff_id, where.user)
    if acted.how is ActedHow.NEEDS_TIME:
        return needs_time_message()
    if acted.how is ActedHow.NEEDS_PERSON:
        return needs_person_message()
    if acted.how is ActedHow.NOT_FOUND:
        return needs_handoff_message()
    if acted.how is ActedHow.REFUSED:
        assert acted.denial is not None
        return refusal(acted.denial.value, action=acted.action.value)
    assert acted.result is not None
    # The refusal of a decision (already done, still awaiting approval ...) is told there.
    ok = await after_decision(
        deps,
        client,
        acted.result,
        user=where.user,
        channel=where.channel,
        action=acted.action,
        handoff_id=card.handoff_id,
    )
    if not ok:
        return None
    return acted_message(acted.action.value, until=intent.until, user=intent.user)


async def answer(
    talk: Talk,
    client: AsyncWebClient,
    where: Where,
    text: str,
    *,
    handoff: str | None = None,
    bot_user: str | None = None,
    viewing: str | None = None,
) -> None:
    """Parse ``text`` and answer it at ``where`` (``handoff``: the thread's handoff, if any;
    ``viewing``: the channel the person has open, from the assistant pane's context)."""
    deps = talk.deps
    tz = await _tz(deps, where.user)
    intent = await understand(text, now=deps.clock(), tz=tz, bot_user=bot_user, model=talk.model)
    message: dict[str, Any] | None
    if intent.kind in ACTIONS:
        message = await _act(talk, client, where, intent, handoff, viewing)
    elif intent.kind in {Kind.APPROVE, Kind.DECLINE}:
        card = await _target(talk, intent, handoff)
        message = (
            money_message(card, decline=intent.kind is Kind.DECLINE, now=deps.clock())
            if card is not None
            else needs_handoff_message(viewing=viewing)
        )
    elif intent.kind is Kind.AWAY:
        # "I'm away until Friday, delegate to @ben": the same checks as the Home tab's modal.
        away = await set_away(
            deps, client, user=where.user, delegate=intent.user, until=intent.until, tz=tz
        )
        message = away.message
    elif intent.kind is Kind.BACK:
        message = await come_back(deps, user=where.user)
    elif intent.kind is Kind.CREATE_INVOICE:
        message = create_invoice_message(
            email=intent.email,
            amount=intent.amount,
            currency=intent.currency,
            call_id=intent.call_id,
        )
    elif intent.kind is Kind.STATUS and not intent.call_id and not handoff:
        message = help_message()
    elif intent.kind in {Kind.HELP, Kind.UNKNOWN, Kind.NOTE}:
        message = help_message(intent.text if intent.kind is Kind.UNKNOWN else None)
    else:
        message = await _lookup(talk, client, where, intent, handoff)
    if message is not None:
        await where.say(client, message)
