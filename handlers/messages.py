"""Talking to the bot: DMs, @mentions, and replies in a handoff's thread.

``message`` (DMs and channel thread replies) and ``app_mention`` listeners hand the text to
``handlers.answers.answer``, which answers with the same builders as ``/handoff``, ``/invoice``
and the Home tab and acts through the buttons' policy and services. A plain reply in a handoff's
thread is saved as a suppressed note, unless it comes from the person an open "Request info"
question asks: then it is the answer (``handlers.info.answer_in_thread``). Slack's retries of
one event are dropped by the replay check (``handlers.replays``) by ``event_id`` before any
listener runs.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from blocks.conversation import decode_prefill, note_saved_message, prefilled_invoice_form
from blocks.ids import ActionId
from blocks.invoices import FIAT_CURRENCIES, invoice_request_modal
from handlers import assistant, info
from handlers.answers import MessageDeps, Talk, Where, answer
from handlers.decisions import permitted
from handlers.payloads import read_action
from services.intents import Kind, parse
from services.permissions import Action

__all__ = ["EVENTS", "MessageDeps", "on_mention", "on_message", "open_invoice_form", "register"]

EVENTS = {
    "message": ("message.im", "message.channels", "message.groups"),
    "app_mention": ("app_mention",),
}
# Subtypes that are still a person typing; edits, deletes, joins and bot posts are not.
HUMAN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def _ignored(event: dict[str, Any], bot_user: str | None) -> bool:
    """The bot's own posts, other bots, edits and deletes are never answered."""
    return (
        event.get("subtype") not in HUMAN_SUBTYPES
        or bool(event.get("bot_id"))
        or not event.get("user")
        or event.get("user") == bot_user
    )


async def _note(
    talk: Talk, client: AsyncWebClient, event: dict[str, Any], handoff: str, thread_ts: str
) -> None:
    saved = await talk.conversation.add_note(
        handoff, str(event["user"]), str(event.get("text") or ""), now=talk.deps.clock()
    )
    message = note_saved_message(saved.removed, prompt=saved.prompt)
    if message is not None:
        # In the thread, for everyone: the note there still shows what was typed.
        await Where(str(event["channel"]), str(event["user"]), thread_ts).say(client, message)


async def on_message(
    event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, talk: Talk
) -> None:
    """A DM to the bot, or a reply in a channel thread (a handoff's thread, else ignored)."""
    bot_user = context.bot_user_id
    if _ignored(event, bot_user):
        return
    channel, user, text = str(event.get("channel")), str(event["user"]), event.get("text") or ""
    ts, thread_ts = event.get("ts"), event.get("thread_ts")
    if event.get("channel_type") == "im":
        where = Where(channel, user, thread_ts=thread_ts)
        await answer(talk, client, where, text, bot_user=bot_user)
        return
    if not thread_ts or thread_ts == ts:
        return  # channel chatter outside threads is not for the bot
    if bot_user and f"<@{bot_user}" in text:
        return  # an @mention: app_mention answers it
    handoff = await talk.queries.handoff_for_thread(channel, str(thread_ts))
    if handoff is None:
        return
    # The person an approver's open question asks: their reply is the answer.
    if await info.answer_in_thread(
        talk.deps,
        client,
        handoff_id=handoff,
        user=user,
        text=text,
        channel=channel,
        thread_ts=str(thread_ts),
    ):
        return
    intent = parse(text, now=talk.deps.clock(), bot_user=bot_user, reply=True)
    if intent.kind is Kind.NOTE:
        await _note(talk, client, event, handoff, str(thread_ts))
        return
    where = Where(channel, user, thread_ts=str(thread_ts), private=True)
    await answer(talk, client, where, text, handoff=handoff, bot_user=bot_user)


async def on_mention(
    event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, talk: Talk
) -> None:
    """@bot in a channel: answered privately there (in the thread when it was in one)."""
    bot_user = context.bot_user_id
    if _ignored(event, bot_user):
        return
    channel, user = str(event.get("channel")), str(event["user"])
    thread_ts = event.get("thread_ts")
    handoff = None
    if thread_ts:
        handoff = await talk.queries.handoff_for_thread(channel, str(thread_ts))
    where = Where(channel, user, thread_ts=thread_ts, private=True)
    await answer(talk, client, where, event.get("text") or "", handoff=handoff, bot_user=bot_user)


async def open_invoice_form(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: MessageDeps
) -> None:
    """The button under a typed "create an invoice for …": the /invoice new form, prefilled."""
    await ack()
    click = read_action(body)
    if click is None:
        return
    prefill = decode_prefill(click.value)  # a value the bot did not make is refused first
    allowed = await permitted(
        deps, client, Action.REQUEST, user=click.user_id, channel=click.channel_id, card=None
    )
    if allowed is None:
        return
    form = invoice_request_modal(FIAT_CURRENCIES)
    view = prefilled_invoice_form(form, prefill, FIAT_CURRENCIES)
    await client.views_open(trigger_id=click.trigger_id, view=view)


def register(app: AsyncApp, deps: MessageDeps) -> None:
    """Wire message and app_mention events, and the assistant pane, to the listeners above."""
    talk = Talk.build(deps)
    app.use(assistant.build(talk))

    async def on_message_event(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await on_message(event, client, context, talk)

    async def on_mention_event(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await on_mention(event, client, context, talk)

    async def on_open_invoice_form(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await open_invoice_form(ack, body, client, deps)

    app.action(ActionId.OPEN_INVOICE_FORM.value)(on_open_invoice_form)
    app.event("message")(on_message_event)
    app.event("app_mention")(on_mention_event)
