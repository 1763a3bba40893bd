"""One Bolt middleware that lets each Slack interaction act once, however often it arrives.

A signed request can be replayed while its signature is fresh (Slack allows five minutes), and
Slack itself redelivers events it thinks were lost. Every interaction carries an identity: the
``trigger_id`` Slack issues for each click, submission and slash command (plus ``action_ts`` for
clicks), and ``event_id`` for Events API deliveries. The first process to record an identity
handles the request; any later copy is answered 200 with an empty body and does nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from services.db.engine import is_unavailable
from services.interactions import SeenInteractions

__all__ = ["interaction_key", "register"]

logger = logging.getLogger(__name__)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: object) -> str | None:
    """The ``id`` of a Slack object ({"id": ...}) or a bare id string."""
    if isinstance(value, dict):
        return _text(value.get("id"))
    return _text(value)


def interaction_key(body: dict[str, Any]) -> str | None:
    """The identity of one Slack interaction, or None for requests that are not acted on once
    (options lookups, URL verification, anything unrecognised)."""
    kind = _text(body.get("type"))
    team = _id(body.get("team")) or _text(body.get("team_id")) or "-"
    if kind == "event_callback":
        event_id = _text(body.get("event_id"))
        return f"event:{team}:{event_id}" if event_id else None
    if kind is None and _text(body.get("command")):
        trigger = _text(body.get("trigger_id"))
        return f"command:{team}:{trigger}" if trigger else None
    if kind not in {
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
    }:
        return None
    user = _id(body.get("user")) or "-"
    trigger = _text(body.get("trigger_id"))
    if kind == "block_actions":
        actions = body.get("actions")
        stamps = (
            [str(a.get("action_ts")) for a in actions if isinstance(a, dict)]
            if isinstance(actions, list)
            else []
        )
        if trigger is None and not stamps:
            return None
        return f"action:{team}:{user}:{trigger or '-'}:{','.join(stamps)}"
    if kind in {"view_submission", "view_closed"}:
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        assert isinstance(view, dict)
        if trigger is None:
            # Without a trigger id, the view and exactly what was typed into it identify it.
            state = json.dumps(view.get("state"), sort_keys=True, default=str)
            trigger = hashlib.sha256(state.encode()).hexdigest()[:32]
        return f"view:{team}:{user}:{_id(view) or '-'}:{_text(view.get('hash')) or '-'}:{trigger}"
    return f"{kind}:{team}:{user}:{trigger}" if trigger else None


def register(app: AsyncApp, seen: SeenInteractions) -> None:
    """Install the replay check in front of every listener (after Bolt's signature check)."""

    async def once(
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        key = interaction_key(body)
        if key is None:
            return await next()
        try:
            first = await seen.first(key)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            # Acting without the check could act twice; Slack tells the person to try again.
            logger.warning("Slack interaction refused: storage unavailable")
            return BoltResponse(status=503, body="")
        if not first:
            logger.info("Slack interaction replayed; ignored", extra={"interaction": key[:80]})
            return BoltResponse(status=200, body="")
        return await next()

    app.middleware(once)
