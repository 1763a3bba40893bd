"""Request info: an approver asks a question from the handoff message; the answer comes back.

*Request info* (approvers, ``Action.REQUEST_INFO``) opens a modal: the question and whom to ask
(the requester when there is one, else the owner; any finance member, or the requester). The
person asked gets a DM with the question and *Answer*; their reply in the handoff's thread
(``answer_in_thread``, called by ``handlers.messages``) or the Answer modal
(``Action.ANSWER_INFO``: only them) answers it, and the approver gets the answer in a DM. Every
refusal is told privately and audited; the question and the answer are suppressed before they
are stored or sent (``services.info_requests.suppress``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import REFUSALS, RefusalCode, refusal
from blocks.ids import ActionId, BlockId, CallbackId, InputId, ModalMetadata, decode_button_value
from blocks.info import answer_dm, answer_modal, question_dm, removed_message, request_info_modal
from handlers.decisions import (
    DecisionDeps,
    facts,
    permitted,
    refresh_home,
    refuse,
    tell,
)
from handlers.payloads import read_action, read_submission
from services.cards import HandoffCard
from services.info_requests import (
    MAX_ANSWER,
    MAX_QUESTION,
    InfoOutcome,
    InfoRequest,
    InfoResult,
    Suppressed,
    suppress,
)
from services.permissions import Action, HandoffFacts, decide, may_be_asked
from slack_adapter.messages import permalink

__all__ = [
    "InfoDeps",
    "InfoService",
    "answer_click",
    "answer_in_thread",
    "register",
    "request_info",
    "submit_answer",
    "submit_question",
]

logger = logging.getLogger(__name__)

NO_QUESTION = "Write your question."
NO_ANSWER = "Write your answer."
QUESTION_TOO_LONG = f"Keep the question under {MAX_QUESTION} characters."
ANSWER_TOO_LONG = f"Keep the answer under {MAX_ANSWER} characters."
NO_TARGET = "Choose who should answer."
NOT_YOURSELF = "Ask someone else: you are the one deciding."
TARGET_NOT_ASKABLE = REFUSALS[RefusalCode.TARGET_NOT_ASKABLE]


class InfoService(Protocol):
    """Questions and answers (``services.info_requests.InfoRequests``)."""

    async def open_for(self, handoff_id: str) -> InfoRequest | None: ...

    async def latest(self, handoff_id: str) -> InfoRequest | None: ...

    async def ask(
        self, handoff_id: str, asked_by: str, asked_to: str, question: Suppressed
    ) -> InfoResult: ...

    async def answer(
        self, handoff_id: str, user_id: str, answer: Suppressed, *, via: str
    ) -> InfoResult: ...


class InfoDeps(DecisionDeps, Protocol):
    """What asking and answering need: the decision follow-through and the questions."""

    @property
    def info(self) -> InfoService: ...


def _too_long(value: object, limit: int) -> bool:
    return isinstance(value, str) and len(value.strip()) > limit


async def _refuse_result(
    deps: InfoDeps,
    client: AsyncWebClient,
    result: InfoResult,
    *,
    user: str,
    channel: str | None,
    action: Action,
    handoff_id: str,
) -> None:
    """Tell (and audit) why asking or answering did nothing."""
    request = result.request
    by: str | None = None
    at: datetime | None = None
    if result.outcome is InfoOutcome.NOT_OPEN and request is not None:
        by, at = request.answer_by, request.answered_at
    code = result.outcome.value
    await refuse(
        deps,
        client,
        user=user,
        channel=channel,
        action=action,
        code=code,
        handoff_id=handoff_id,
        message=refusal(code, by=by, at=at, action=action.value),
    )


async def _dm(client: AsyncWebClient, user: str, message: dict[str, Any], handoff_id: str) -> None:
    try:
        opened = await client.conversations_open(users=user)
        await client.chat_postMessage(
            channel=opened["channel"]["id"],
            text=message["text"],
            blocks=message["blocks"],
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError:
        logger.exception("could not DM about a question", extra={"handoff_id": handoff_id})


async def request_info(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: InfoDeps
) -> None:
    """*Request info*: approvers only; opens the question modal (refused while one waits)."""
    await ack()
    click = read_action(body)
    if click is None:
        return
    user, channel = click.user_id, click.channel_id
    card = await deps.handoffs.card(decode_button_value(click.value))
    if card is None:
        await tell(client, channel, user, refusal("not_found"))
        return
    if await permitted(deps, client, Action.REQUEST_INFO, user=user, channel=channel, card=card):
        if card.info is not None or not card.decidable:
            request = await deps.info.open_for(card.handoff_id)
            outcome = InfoOutcome.CLOSED if request is None else InfoOutcome.ALREADY_OPEN
            await _refuse_result(
                deps,
                client,
                InfoResult(outcome, request),
                user=user,
                channel=channel,
                action=Action.REQUEST_INFO,
                handoff_id=card.handoff_id,
            )
            return
        meta = ModalMetadata(card.handoff_id, card.channel, card.message_ts, user)
        ask = card.requested_by or card.owner_slack_id
        view = request_info_modal(card, meta, ask=ask if ask != user else None)
        await client.views_open(trigger_id=click.trigger_id, view=view)


async def submit_question(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: InfoDeps
) -> None:
    """The question modal: checked inline, then asked, shown on the message and DMed."""
    submitted = read_submission(body)
    if submitted is None:
        await ack()
        return
    raw = submitted.value(BlockId.QUESTION, InputId.QUESTION)
    question = suppress(raw, MAX_QUESTION)
    if question is None or _too_long(raw, MAX_QUESTION):
        problem = NO_QUESTION if question is None else QUESTION_TOO_LONG
        await ack(response_action="errors", errors={BlockId.QUESTION.value: problem})
        return
    meta = submitted.metadata()
    user = submitted.user_id
    target = submitted.value(BlockId.ASKED, InputId.ASKED)
    card = await deps.handoffs.card(meta.handoff_id)
    wrong: str | None = None
    if not isinstance(target, str) or not target:
        wrong = NO_TARGET
    elif target == user:
        wrong = NOT_YOURSELF
    elif not may_be_asked(await deps.actor(target), facts(card)):
        wrong = TARGET_NOT_ASKABLE
    if wrong is not None:
        await ack(response_action="errors", errors={BlockId.ASKED.value: wrong})
        return
    await ack()
    assert isinstance(target, str)
    if card is None:
        await tell(client, meta.channel, user, refusal("not_found"))
        return
    # Re-checked at submission: membership can change while the modal is open.
    if not await permitted(
        deps, client, Action.REQUEST_INFO, user=user, channel=meta.channel, card=card
    ):
        return
    result = await deps.info.ask(card.handoff_id, user, target, question)
    if not result.ok or result.request is None:
        await _refuse_result(
            deps,
            client,
            result,
            user=user,
            channel=meta.channel,
            action=Action.REQUEST_INFO,
            handoff_id=card.handoff_id,
        )
        return
    await deps.refresher.refresh(card.handoff_id)
    deps.outbox.kick()  # the question's thread note
    await refresh_home(deps, user)
    link = await permalink(client, card.channel, card.message_ts)
    await _dm(client, target, question_dm(card, result.request, permalink=link), card.handoff_id)


async def _open_question(
    deps: InfoDeps, client: AsyncWebClient, *, user: str, channel: str | None, handoff_id: str
) -> tuple[HandoffCard, InfoRequest] | None:
    """The handoff and its open question when ``user`` may answer it; else told why (audited)."""
    card = await deps.handoffs.card(handoff_id)
    if card is None:
        await tell(client, channel, user, refusal("not_found"))
        return None
    request = await deps.info.open_for(handoff_id)
    if request is None:
        latest = await deps.info.latest(handoff_id)
        await _refuse_result(
            deps,
            client,
            InfoResult(InfoOutcome.NOT_OPEN, latest),
            user=user,
            channel=channel,
            action=Action.ANSWER_INFO,
            handoff_id=handoff_id,
        )
        return None
    if not await permitted(deps, client, Action.ANSWER_INFO, user=user, channel=channel, card=card):
        return None
    return card, request


async def answer_click(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: InfoDeps
) -> None:
    """*Answer* (in the question's DM or a reminder): the person asked only; opens the modal."""
    await ack()
    click = read_action(body)
    if click is None:
        return
    found = await _open_question(
        deps,
        client,
        user=click.user_id,
        channel=click.channel_id,
        handoff_id=decode_button_value(click.value),
    )
    if found is None:
        return
    card, request = found
    meta = ModalMetadata(card.handoff_id, card.channel, card.message_ts, click.user_id)
    await client.views_open(trigger_id=click.trigger_id, view=answer_modal(card, meta, request))


async def submit_answer(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: InfoDeps
) -> None:
    """The Answer modal: stored, noted in the thread, DMed to the approver who asked."""
    submitted = read_submission(body)
    if submitted is None:
        await ack()
        return
    raw = submitted.value(BlockId.ANSWER, InputId.ANSWER)
    answer = suppress(raw, MAX_ANSWER)
    if answer is None or _too_long(raw, MAX_ANSWER):
        problem = NO_ANSWER if answer is None else ANSWER_TOO_LONG
        await ack(response_action="errors", errors={BlockId.ANSWER.value: problem})
        return
    await ack()
    meta = submitted.metadata()
    user = submitted.user_id
    found = await _open_question(
        deps, client, user=user, channel=meta.channel, handoff_id=meta.handoff_id
    )
    if found is None:
        return
    result = await deps.info.answer(meta.handoff_id, user, answer, via="modal")
    await _answered(
        deps, client, result, user=user, channel=meta.channel, handoff_id=meta.handoff_id
    )


async def answer_in_thread(
    deps: InfoDeps,
    client: AsyncWebClient,
    *,
    handoff_id: str,
    user: str,
    text: str,
    channel: str,
    thread_ts: str,
) -> bool:
    """A reply in the handoff's thread answers its open question when the person asked wrote
    it; True when it did (the caller then stores no separate note)."""
    request = await deps.info.open_for(handoff_id)
    if request is None:
        return False
    actor = await deps.actor(user)
    if not decide(Action.ANSWER_INFO, actor, HandoffFacts(asked_to=request.asked_to)):
        return False  # anyone else's reply is an ordinary note
    answer = suppress(text, MAX_ANSWER)
    if answer is None:
        return False
    result = await deps.info.answer(handoff_id, user, answer, via="thread")
    if not result.ok:
        return False  # answered a moment ago (the modal won): an ordinary note
    await _answered(deps, client, result, user=user, channel=channel, handoff_id=handoff_id)
    removed = removed_message(answer.removed)
    if removed is not None:
        try:
            await client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=removed["text"], blocks=removed["blocks"]
            )
        except SlackApiError:
            logger.exception("could not say what was removed", extra={"handoff_id": handoff_id})
    return True


async def _answered(
    deps: InfoDeps,
    client: AsyncWebClient,
    result: InfoResult,
    *,
    user: str,
    channel: str | None,
    handoff_id: str,
) -> None:
    """After an answer: the message's status line back to normal, the note, the approver's DM."""
    if not result.ok or result.request is None:
        await _refuse_result(
            deps,
            client,
            result,
            user=user,
            channel=channel,
            action=Action.ANSWER_INFO,
            handoff_id=handoff_id,
        )
        return
    await deps.refresher.refresh(handoff_id)
    deps.outbox.kick()  # the answer's thread note
    await refresh_home(deps, user)
    card = await deps.handoffs.card(handoff_id)
    if card is None:
        return
    link = await permalink(client, card.channel, card.message_ts)
    request = result.request
    await _dm(client, request.asked_by, answer_dm(card, request, permalink=link), handoff_id)


def register(app: AsyncApp, deps: InfoDeps) -> None:
    """Wire Request info, Answer and their modals to the listeners above."""

    async def on_request_info(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await request_info(ack, body, client, deps)

    async def on_answer(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await answer_click(ack, body, client, deps)

    async def on_question(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await submit_question(ack, body, client, deps)

    async def on_answer_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await submit_answer(ack, body, client, deps)

    app.action(ActionId.REQUEST_INFO.value)(on_request_info)
    app.action(ActionId.ANSWER_INFO.value)(on_answer)
    app.view(CallbackId.REQUEST_INFO_MODAL.value)(on_question)
    app.view(CallbackId.ANSWER_INFO_MODAL.value)(on_answer_submit)
