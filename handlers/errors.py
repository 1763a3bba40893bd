"""One error handler for every Slack listener: tell the person briefly, log the rest."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import refusal
from handlers.decisions import tell

__all__ = ["on_error", "register"]

logger = logging.getLogger("handlers")


async def on_error(
    error: Exception,
    body: dict[str, Any],
    client: AsyncWebClient,
    response: BoltResponse | None,
) -> None:
    """A listener raised: log it with context; a person who acted is told briefly."""
    kind = body.get("type") or ("command" if body.get("command") else "unknown")
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
    action = ((body.get("actions") or [{}])[0]).get("action_id")
    logger.error(
        "Slack listener failed",
        exc_info=error,
        extra={"kind": kind, "user": user, "action": action, "command": body.get("command")},
    )
    if user and kind in {"block_actions", "view_submission", "command"}:
        await tell(client, channel, user, refusal("error"))
        if response is not None and response.status >= 500:
            # The person has been told in Slack; a 500 would only add Slack's own vague error.
            response.status = 200
            response.body = ""


def register(app: AsyncApp) -> None:
    """Install the global error handler."""
    app.error(on_error)
