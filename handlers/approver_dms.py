"""The Home-tab toggle "Approval requests: channel only / DM too".

A click in a DM copy of a handoff message needs no listener of its own: the copy carries the
channel message's buttons (same action ids, values with the handoff id), so ``handlers.actions``
and ``handlers.views`` answer it, the permission policy decides, and the refresh brings the
channel message and every DM copy in step.
"""

from __future__ import annotations

from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from blocks.home import APPROVAL_DMS_CHOICES
from blocks.ids import ActionId
from handlers.decisions import RefusalDeps, permitted
from handlers.payloads import read_action
from services.home import HomeRefresher
from services.permissions import Action

__all__ = ["ApprovalDmDeps", "ApprovalDmPrefs", "register", "set_approval_dms"]


class ApprovalDmPrefs(Protocol):
    """Stores each person's choice (``services.approver_dms.ApproverPrefs``)."""

    async def choose(self, user_id: str, approval_dms: bool) -> None: ...


class ApprovalDmDeps(RefusalDeps, Protocol):
    """What the toggle needs."""

    @property
    def approver_prefs(self) -> ApprovalDmPrefs: ...

    @property
    def home(self) -> HomeRefresher: ...


async def set_approval_dms(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: ApprovalDmDeps
) -> None:
    """Store the person's choice (the policy decides who may choose) and republish their Home."""
    await ack()
    click = read_action(body)
    if click is None or click.value not in APPROVAL_DMS_CHOICES:
        return
    user = click.user_id
    actor = await permitted(
        deps, client, Action.SET_APPROVAL_DMS, user=user, channel=None, card=None
    )
    if actor is None:
        return
    await deps.approver_prefs.choose(user, click.value == "dm")
    await deps.home.refresh(user)  # logs its own failures


def register(app: AsyncApp, deps: ApprovalDmDeps) -> None:
    """Wire the Home-tab toggle to the listener above."""

    async def on_set_approval_dms(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await set_approval_dms(ack, body, client, deps)

    app.action(ActionId.APPROVAL_DMS.value)(on_set_approval_dms)
