"""Away and back: the Home tab's "I'm away" modal and "I'm back" button, and the same in words.

``set_away`` and ``come_back`` are shared by the Home tab listeners below and by the
conversation (``handlers.answers``: "I'm away until Friday, delegate to @ben", "I'm back"). Both
ask the one permission policy (``services.permissions.may_delegate``); a refusal is audited and
explained. The delegation itself lives in ``services.delegation``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import refusal
from blocks.delegation import (
    AWAY_VALUE,
    BACK_VALUE,
    away_modal,
    away_problem_message,
    away_set_message,
    back_message,
    delegate_told_message,
)
from blocks.ids import ActionId, BlockId, CallbackId, InputId
from handlers.actions import UserDirectory
from handlers.decisions import RefusalDeps, audit_refusal, tell
from handlers.payloads import read_action, read_submission
from services.delegation import Away, DelegationService, until_problem
from services.home import HomeRefresher
from services.permissions import Action, Denial, decide, may_delegate

__all__ = [
    "AwayAnswer",
    "DelegationDeps",
    "apply_away",
    "check_away",
    "come_back",
    "open_away",
    "register",
    "set_away",
    "submit_away",
    "user_tz",
]

logger = logging.getLogger(__name__)

NO_DAY = "Choose the last day you are away."
NO_DELEGATE = "Choose who approves for you."


class DelegationDeps(RefusalDeps, Protocol):
    """What setting and ending a delegation needs."""

    @property
    def delegations(self) -> DelegationService: ...

    @property
    def directory(self) -> UserDirectory: ...

    @property
    def home(self) -> HomeRefresher: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


@dataclass(frozen=True, slots=True)
class AwayAnswer:
    """What an "I'm away" led to: the message for the person, and which input was wrong."""

    message: dict[str, Any]
    ok: bool
    field: str | None = None  # the modal input an error belongs under


async def user_tz(deps: DelegationDeps, user: str) -> str | None:
    """The person's Slack time zone (None when Slack cannot say)."""
    try:
        tz = (await deps.directory.user_info(user)).get("tz")
    except Exception:
        logger.warning("no time zone for a user", extra={"user": user})
        return None
    return str(tz) if tz else None


async def check_away(
    deps: DelegationDeps, *, user: str, delegate: str | None, until: datetime | None
) -> AwayAnswer | None:
    """Why ``user`` cannot be away until ``until`` with ``delegate`` standing in (a refusal by
    the policy is audited), or None when they can."""
    actor = await deps.actor(user)
    allowed = decide(Action.DELEGATE, actor)
    if not allowed:
        return await _refused(deps, user, allowed.reason, field=None)
    if delegate is None:
        return AwayAnswer(away_problem_message("no_delegate"), False, BlockId.AWAY_DELEGATE.value)
    if until is None:
        return AwayAnswer(away_problem_message("no_until"), False, BlockId.AWAY_DATE.value)
    problem = until_problem(until, deps.clock())
    if problem is not None:
        return AwayAnswer(away_problem_message(problem.value), False, BlockId.AWAY_DATE.value)
    permission = may_delegate(actor, await deps.actor(delegate))
    if not permission:
        return await _refused(deps, user, permission.reason, field=BlockId.AWAY_DELEGATE.value)
    return None


async def apply_away(
    deps: DelegationDeps,
    client: AsyncWebClient,
    *,
    user: str,
    delegate: str,
    until: datetime,
    tz: str | None,
) -> AwayAnswer:
    """Set a checked delegation (audited); both Home tabs refreshed and the delegate told."""
    replaced = await deps.delegations.active_for(user)
    away = await deps.delegations.set(user, delegate, until, by=user)
    await _refresh_home(deps, user)
    await _refresh_home(deps, delegate)
    await _tell_delegate(deps, client, away)
    return AwayAnswer(away_set_message(away, tz, replaced=replaced), True)


async def set_away(
    deps: DelegationDeps,
    client: AsyncWebClient,
    *,
    user: str,
    delegate: str | None,
    until: datetime | None,
    tz: str | None,
) -> AwayAnswer:
    """``user`` is away until ``until``, ``delegate`` approving for them: checked, then set."""
    problem = await check_away(deps, user=user, delegate=delegate, until=until)
    if problem is not None:
        return problem
    assert delegate is not None and until is not None
    return await apply_away(deps, client, user=user, delegate=delegate, until=until, tz=tz)


async def come_back(deps: DelegationDeps, *, user: str) -> dict[str, Any]:
    """ "I'm back": end ``user``'s delegation (if any); both Home tabs refreshed."""
    actor = await deps.actor(user)
    allowed = decide(Action.DELEGATE, actor)
    if not allowed:
        return (await _refused(deps, user, allowed.reason, field=None)).message
    ended = await deps.delegations.end(user, by=user)
    await _refresh_home(deps, user)
    if ended is not None:
        await _refresh_home(deps, ended.delegate)
    return back_message(ended)


async def _refused(
    deps: DelegationDeps, user: str, reason: Denial | None, *, field: str | None
) -> AwayAnswer:
    code = (reason or Denial.NOT_APPROVER).value
    await audit_refusal(deps, user=user, action=Action.DELEGATE, code=code, handoff_id=None)
    return AwayAnswer(refusal(code, action=Action.DELEGATE.value), False, field)


async def _refresh_home(deps: DelegationDeps, user: str) -> None:
    """Republish a Home tab; a Home failure never undoes the delegation."""
    try:
        await deps.home.refresh(user)
    except Exception:
        logger.exception("could not refresh the Home tab", extra={"user": user})


async def _tell_delegate(deps: DelegationDeps, client: AsyncWebClient, away: Away) -> None:
    try:
        message = delegate_told_message(away, await user_tz(deps, away.delegate))
        opened = await client.conversations_open(users=away.delegate)
        await client.chat_postMessage(
            channel=opened["channel"]["id"], text=message["text"], blocks=message["blocks"]
        )
    except SlackApiError:
        logger.exception("could not tell a delegate", extra={"user": away.delegate})


def _zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


async def open_away(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: DelegationDeps
) -> None:
    """Home tab "I'm away": the policy first, then the modal (tomorrow, 18:00, preset)."""
    await ack()
    click = read_action(body)
    if click is None or click.value != AWAY_VALUE:
        return  # not a click Slack would send from the Home tab's button: nothing happens
    actor = await deps.actor(click.user_id)
    allowed = decide(Action.DELEGATE, actor)
    if not allowed:
        answer = await _refused(deps, click.user_id, allowed.reason, field=None)
        await tell(client, None, click.user_id, answer.message)
        return
    tz = await user_tz(deps, click.user_id)
    tomorrow = deps.clock().astimezone(_zone(tz)).date() + timedelta(days=1)
    await client.views_open(trigger_id=click.trigger_id, view=away_modal(tomorrow))


async def back(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: DelegationDeps
) -> None:
    """Home tab "I'm back": end the delegation; the Home tab shows it, a DM says it."""
    await ack()
    click = read_action(body)
    if click is None or click.value != BACK_VALUE:
        return
    message = await come_back(deps, user=click.user_id)
    await tell(client, None, click.user_id, message)


def _until(day: str | None, at: str | None, tz: str | None) -> datetime | None:
    """The away modal's day and time, in the person's zone, as an aware datetime."""
    if not day:
        return None
    try:
        chosen = date.fromisoformat(day)
        clock = time.fromisoformat(at or "18:00")
    except ValueError:
        return None
    return datetime.combine(chosen, clock, tzinfo=_zone(tz))


async def submit_away(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: DelegationDeps
) -> None:
    """The away modal: a problem is shown under its input; success closes it and says so."""
    submitted = read_submission(body)
    if submitted is None:
        await ack()
        return
    user = submitted.user_id
    state = submitted.values
    day = (state.get((BlockId.AWAY_DATE.value, InputId.AWAY_DATE.value)) or {}).get("selected_date")
    at = submitted.selected(BlockId.AWAY_TIME.value, InputId.AWAY_TIME.value)
    delegate = submitted.value(BlockId.AWAY_DELEGATE.value, InputId.AWAY_DELEGATE.value)
    if not day:
        await ack(response_action="errors", errors={BlockId.AWAY_DATE.value: NO_DAY})
        return
    if not delegate:
        await ack(response_action="errors", errors={BlockId.AWAY_DELEGATE.value: NO_DELEGATE})
        return
    tz = await user_tz(deps, user)
    until = _until(str(day), str(at) if at else None, tz)
    problem = await check_away(deps, user=user, delegate=str(delegate), until=until)
    if problem is not None and problem.field is not None:
        await ack(response_action="errors", errors={problem.field: problem.message["text"]})
        return
    await ack()
    if problem is not None:  # refused outright (no longer an approver): told by DM
        await tell(client, None, user, problem.message)
        return
    assert until is not None
    answer = await apply_away(deps, client, user=user, delegate=str(delegate), until=until, tz=tz)
    await tell(client, None, user, answer.message)


def register(app: AsyncApp, deps: DelegationDeps) -> None:
    """Wire the Home tab's away / back buttons and the away modal to the listeners above."""

    async def on_away(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await open_away(ack, body, client, deps)

    async def on_back(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await back(ack, body, client, deps)

    async def on_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await submit_away(ack, body, client, deps)

    app.action(ActionId.AWAY.value)(on_away)
    app.action(ActionId.BACK.value)(on_back)
    app.view(CallbackId.AWAY_MODAL.value)(on_submit)
