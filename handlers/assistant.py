"""Slack's assistant pane: the same plain-words grammar as DMs, through bolt's ``AsyncAssistant``.

Where the workspace has the assistant surface, a new assistant thread gets a greeting and
suggested prompts, and each question shows a status while the look-up runs; the answer comes from
``handlers.answers.answer``, exactly as a DM is answered. Where it does not, DMs work the same
(``handlers.messages``). The channel the person is viewing (the thread context, kept by bolt's
default context store) tells them where to reply when a request needs a handoff's thread.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAssistant, AsyncBoltContext, AsyncSay
from slack_bolt.context.get_thread_context.async_get_thread_context import AsyncGetThreadContext
from slack_bolt.context.set_status.async_set_status import AsyncSetStatus
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import (
    AsyncSetSuggestedPrompts,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.answers import Talk, Where, answer

__all__ = ["GREETING", "LOOKING", "SUGGESTED_PROMPTS", "build", "thread_started", "user_message"]

logger = logging.getLogger(__name__)

GREETING = (
    "Hi! Ask me about finance handoffs in plain words: what's overdue, your queue, a call's "
    "status or a customer's invoices. Approvals and invoices still go through their buttons."
)
LOOKING = "is looking that up…"
PROMPTS_TITLE = "Try one of these:"
SUGGESTED_PROMPTS: list[dict[str, str]] = [
    {"title": "What's overdue for me?", "message": "What's overdue for me?"},
    {"title": "My queue", "message": "my queue"},
    {"title": "Waiting for my approval", "message": "waiting for me"},
]


async def thread_started(say: AsyncSay, set_suggested_prompts: AsyncSetSuggestedPrompts) -> None:
    """A new assistant thread: greet, then offer the suggested prompts."""
    await say(GREETING)
    try:
        await set_suggested_prompts(prompts=SUGGESTED_PROMPTS, title=PROMPTS_TITLE)
    except SlackApiError:
        logger.warning("could not set the assistant's suggested prompts")


async def user_message(
    payload: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    set_status: AsyncSetStatus,
    get_thread_context: AsyncGetThreadContext,
    talk: Talk,
) -> None:
    """A question in an assistant thread: a status while it is looked up, then the answer."""
    user, channel = payload.get("user"), payload.get("channel")
    if not user or not channel:
        return
    try:
        await set_status(LOOKING)
    except SlackApiError:
        logger.warning("could not set the assistant's status")
    viewing = None
    try:
        thread_context = await get_thread_context()
        viewing = thread_context.channel_id if thread_context else None
    except SlackApiError:
        logger.warning("could not read the assistant thread's context")
    where = Where(str(channel), str(user), thread_ts=payload.get("thread_ts"))
    text = str(payload.get("text") or "")
    await answer(talk, client, where, text, bot_user=context.bot_user_id, viewing=viewing)


def build(talk: Talk) -> AsyncAssistant:
    """The assistant middleware, answering through ``talk``."""
    assistant = AsyncAssistant()

    async def on_thread_started(
        say: AsyncSay, set_suggested_prompts: AsyncSetSuggestedPrompts
    ) -> None:
        await thread_started(say, set_suggested_prompts)

    async def on_user_message(
        payload: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
        set_status: AsyncSetStatus,
        get_thread_context: AsyncGetThreadContext,
    ) -> None:
        await user_message(payload, client, context, set_status, get_thread_context, talk)

    assistant.thread_started(on_thread_started)
    assistant.user_message(on_user_message)
    return assistant
