"""The Reissue button: a new Plisio invoice for an expired, cancelled or underpaid one."""

from __future__ import annotations

from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import refusal
from blocks.ids import ActionId
from handlers.decisions import (
    DecisionDeps,
    HandoffRecords,
    after_decision,
    checked_click,
    refuse,
)
from services.decisions import reissue_refusal_code
from services.handoffs import DecisionResult, Outcome
from services.permissions import Action

__all__ = ["ReissueDeps", "Reissuer", "register", "reissue"]


class Reissuer(HandoffRecords, Protocol):
    """Replaces a badly settled invoice (``services.handoffs.HandoffService``)."""

    async def reissue(
        self, handoff_id: str, user_id: str, *, is_approver: bool
    ) -> DecisionResult: ...


class ReissueDeps(DecisionDeps, Protocol):
    """What the Reissue button needs."""

    @property
    def handoffs(self) -> Reissuer: ...


async def reissue(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ReissueDeps
) -> None:
    """Reissue the invoice, or say why not (someone was first, or nothing to reissue)."""
    await ack()
    checked = await checked_click(deps, client, body, Action.REISSUE)
    if checked is None:
        return
    user, channel, handoff_id = checked.click.user_id, checked.click.channel_id, checked.handoff_id
    result = await deps.handoffs.reissue(handoff_id, user, is_approver=checked.actor.can_approve)
    if result.outcome is Outcome.NOT_APPLICABLE:
        code = reissue_refusal_code(result)
        await refuse(
            deps,
            client,
            user=user,
            channel=channel,
            action=Action.REISSUE,
            code=code,
            handoff_id=handoff_id,
            message=refusal(code, by=result.by, at=result.at),
        )
        return
    await after_decision(
        deps,
        client,
        result,
        user=user,
        channel=channel,
        action=Action.REISSUE,
        handoff_id=handoff_id,
    )


def register(app: AsyncApp, deps: ReissueDeps) -> None:
    """Wire the Reissue button."""

    async def on_reissue(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await reissue(ack, body, client, deps)

    app.action(ActionId.REISSUE.value)(on_reissue)
