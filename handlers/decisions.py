"""Shared follow-through after a decision: refresh the message, note it, tell the clicker.

Every helper takes the narrow ``DecisionDeps`` (what it reads, nothing more); the bot's
``Container`` satisfies it structurally, and tests can hand in any object that has these parts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import refusal
from blocks.ids import decode_button_value
from handlers.payloads import BlockAction, read_action
from services.cards import HandoffCard
from services.decisions import REFUSALS, refusal_code, refused_status
from services.events import EventType
from services.handoffs import DecisionResult
from services.home import HomeRefresher
from services.permissions import Action, Actor, HandoffFacts, decide

__all__ = [
    "REFUSALS",
    "REFUSED",
    "ActorLookup",
    "DecisionDeps",
    "HandoffRecords",
    "Kicker",
    "MessageRefresher",
    "RefusalDeps",
    "after_decision",
    "allowed_card",
    "audit_refusal",
    "facts",
    "permitted",
    "refresh_home",
    "refuse",
    "tell",
]

logger = logging.getLogger(__name__)

REFUSED = EventType.REFUSED  # the event of every refused click, command or submission


class MessageRefresher(Protocol):
    """Brings a handoff's channel message up to date and adds a thread note."""

    async def refresh(
        self, handoff_id: str, *, note: dict[str, Any] | None = None, flush_notes: bool = True
    ) -> object: ...


class Kicker(Protocol):
    """Wakes the outbox worker after work was queued."""

    def kick(self) -> None: ...


class ActorLookup(Protocol):
    """Resolves a Slack user's memberships for the permission policy."""

    async def actor(self, user_id: str) -> Actor: ...


class HandoffRecords(Protocol):
    """Reads a handoff and appends to its audit log (``services.handoffs.HandoffService``)."""

    async def card(self, handoff_id: str) -> HandoffCard | None: ...

    async def record(
        self, handoff_id: str | None, actor: str, action: str, detail: dict[str, Any]
    ) -> None: ...


class RefusalDeps(ActorLookup, Protocol):
    """What checking and refusing a request needs."""

    @property
    def handoffs(self) -> HandoffRecords: ...


class DecisionDeps(RefusalDeps, Protocol):
    """What the follow-through after a decision needs."""

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def refresher(self) -> MessageRefresher: ...

    @property
    def outbox(self) -> Kicker: ...

    @property
    def home(self) -> HomeRefresher: ...


def facts(card: HandoffCard | None) -> HandoffFacts | None:
    """What the permission policy needs from a handoff."""
    if card is None:
        return None
    return HandoffFacts(
        owner_slack_id=card.owner_slack_id,
        requested_by=card.requested_by,
        asked_to=card.info.asked_to if card.info is not None else None,
    )


async def refuse(
    deps: RefusalDeps,
    client: AsyncWebClient,
    *,
    user: str,
    channel: str | None,
    action: Action,
    code: str,
    handoff_id: str | None,
    message: dict[str, Any] | None = None,
) -> None:
    """Tell ``user`` privately why ``action`` was refused, and write it to the audit log."""
    await audit_refusal(deps, user=user, action=action, code=code, handoff_id=handoff_id)
    await tell(client, channel, user, message or refusal(code, action=action.value))


async def audit_refusal(
    deps: RefusalDeps, *, user: str, action: Action, code: str, handoff_id: str | None
) -> None:
    """Append a ``refused`` entry (who, which action, why); a failure here is logged only."""
    try:
        await deps.handoffs.record(
            handoff_id, user, REFUSED, {"action": action.value, "reason": code}
        )
    except Exception:
        logger.exception("could not audit a refusal", extra={"user": user})


async def permitted(
    deps: RefusalDeps,
    client: AsyncWebClient,
    action: Action,
    *,
    user: str,
    channel: str | None,
    card: HandoffCard | None,
) -> Actor | None:
    """The actor when the policy allows ``action``; else refuse (told and audited), None."""
    actor = await deps.actor(user)
    permission = decide(action, actor, facts(card))
    if permission.allowed:
        return actor
    assert permission.reason is not None
    await refuse(
        deps,
        client,
        user=user,
        channel=channel,
        action=action,
        code=permission.reason.value,
        handoff_id=card.handoff_id if card else None,
    )
    return None


async def allowed_card(
    deps: RefusalDeps,
    client: AsyncWebClient,
    action: Action,
    *,
    user: str,
    channel: str | None,
    handoff_id: str,
) -> tuple[HandoffCard, Actor] | None:
    """The handoff and the actor when it exists and the policy allows ``action`` on it.

    Otherwise the person is told why (a refusal is audited) and the answer is None.
    """
    card = await deps.handoffs.card(handoff_id)
    if card is None:
        await tell(client, channel, user, refusal("not_found"))
        return None
    actor = await permitted(deps, client, action, user=user, channel=channel, card=card)
    return None if actor is None else (card, actor)


@dataclass(frozen=True, slots=True)
class CheckedClick:
    """A button click on a handoff that exists and that the policy lets this person make."""

    click: BlockAction
    handoff_id: str
    card: HandoffCard
    actor: Actor


async def checked_click(
    deps: RefusalDeps, client: AsyncWebClient, body: dict[str, Any], action: Action
) -> CheckedClick | None:
    """Parse a handoff button's click and ask the policy; None when refused (the person was
    told why) or when the body is not a click Slack would send."""
    click = read_action(body)
    if click is None:
        return None
    handoff_id = decode_button_value(click.value)
    checked = await allowed_card(
        deps, client, action, user=click.user_id, channel=click.channel_id, handoff_id=handoff_id
    )
    if checked is None:
        return None
    card, actor = checked
    return CheckedClick(click, handoff_id, card, actor)


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
    deps: DecisionDeps,
    client: AsyncWebClient,
    result: DecisionResult,
    *,
    user: str,
    channel: str | None,
    action: Action | None = None,
    handoff_id: str | None = None,
) -> bool:
    """Refresh the handoff message and thread on success, or tell the user why not. True if ok.

    The thread note of what was decided was queued with its event (``services.notes``); the
    refresh posts it. A refusal is audited when ``action`` names what was tried.
    """
    if not result.ok:
        code = refusal_code(result)
        if action is not None:
            target = result.card.handoff_id if result.card is not None else handoff_id
            await audit_refusal(deps, user=user, action=action, code=code, handoff_id=target)
        message = refusal(
            code,
            by=result.by,
            at=result.at,
            action=action.value if action else None,
            status=refused_status(result.card),
        )
        await tell(client, channel, user, message)
        return False
    assert result.card is not None
    await deps.refresher.refresh(result.card.handoff_id)
    if result.queued:
        deps.outbox.kick()
    await refresh_home(deps, user)
    return True


async def refresh_home(deps: DecisionDeps, user: str) -> None:
    """Republish the person's Home tab; a Home failure never breaks the action itself."""
    try:
        await deps.home.refresh(user)
    except Exception:
        logger.exception("could not refresh the Home tab", extra={"user": user})
