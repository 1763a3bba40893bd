"""Shared follow-through after a decision: refresh the message, note it, tell the clicker."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import refusal, thread_note
from bot.container import Container
from services.handoffs import DecisionResult, Outcome
from services.states import HandoffStatus

__all__ = ["REFUSALS", "after_decision", "refresh_home", "tell"]

logger = logging.getLogger(__name__)

REFUSALS = {
    Outcome.NOT_FOUND: "not_found",
    Outcome.NOT_APPROVER: "not_approver",
    Outcome.SAME_APPROVER: "same_approver",
    Outcome.OWN_REQUEST: "own_request",
    Outcome.ALREADY_DECIDED: "already_decided",
    Outcome.CLOSED: "closed",
    Outcome.NOT_APPLICABLE: "closed",
}


async def tell(
    client: AsyncWebClient, channel: str | None, user: str, message: dict[str, Any]
) -> None:
    """An ephemeral message only ``user`` sees (a DM when there is no channel to use)."""
    try:
        if channel:
            await client.chat_postEphemeral(
                channel=channel, user=user, text=message["text"], blocks=message.get("blocks")
            )
            return
        opened = await client.conversations_open(users=user)
        await client.chat_postMessage(
            channel=opened["channel"]["id"], text=message["text"], blocks=message.get("blocks")
        )
    except SlackApiError:
        logger.exception("could not tell a user about their action", extra={"user": user})


async def after_decision(
    deps: Container,
    client: AsyncWebClient,
    result: DecisionResult,
    *,
    user: str,
    channel: str | None,
    note_action: str,
    note_detail: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Refresh the handoff message and thread on success, or tell the user why not. True if ok."""
    if not result.ok:
        code = REFUSALS.get(result.outcome, "error")
        if (
            code == "already_decided"
            and result.card is not None
            and result.card.status is HandoffStatus.DECLINED
        ):
            code = "already_declined"
        await tell(client, channel, user, refusal(code, by=result.by, at=result.at))
        return False
    assert result.card is not None
    when = at or deps.clock()
    await deps.delivery.refresh(
        result.card.handoff_id, note=thread_note(note_action, user, when, detail=note_detail)
    )
    if result.queued:
        deps.outbox.kick()
    await refresh_home(deps, user)
    return True


async def refresh_home(deps: Container, user: str) -> None:
    """Republish the person's Home tab; a Home failure never breaks the action itself."""
    if deps.home is None:
        return
    try:
        await deps.home.refresh(user)
    except Exception:
        logger.exception("could not refresh the Home tab", extra={"user": user})
