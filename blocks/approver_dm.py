"""The copy of a handoff's decision message in an approver's DM.

It is the channel message itself (``blocks.handoff.handoff_message``: the same buttons with the
same action ids and values, so the same handlers and the same permission policy answer a click
in the DM) under one line that says why it came to this person.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from blocks.common import JSON, MESSAGE_BLOCKS_MAX, context
from blocks.handoff import handoff_message
from services.approver_dms import DmReason
from services.cards import HandoffCard

__all__ = ["APPROVER_DM_EVENT", "WHY", "approver_dm_message", "is_approver_dm"]

APPROVER_DM_EVENT = "finance_approval_dm"  # the metadata event type of every DM copy

WHY = {
    DmReason.SECOND_APPROVAL: "Waiting for a second approver: you can approve or decline here.",
    DmReason.ESCALATION: "Escalated to you: you can decide here.",
    DmReason.DELEGATE: "Sent to you as the delegate of an approver who is away.",
}
IN_STEP = "This copy changes with the channel message; acting here updates both."
SETTLED = "No longer waiting for you: this copy shows where it stands."


def approver_dm_message(card: HandoffCard, reason: DmReason, *, now: datetime) -> JSON:
    """The channel message with the reason it is in this DM on top."""
    message = handoff_message(card, now=now)
    waiting = card.decidable if reason is not DmReason.ESCALATION else not card.closed
    why = context(WHY[reason], IN_STEP) if waiting else context(SETTLED)
    blocks = [why, *message["blocks"]]
    return {"text": message["text"], "blocks": blocks[:MESSAGE_BLOCKS_MAX]}


def is_approver_dm(message: Mapping[str, Any] | None) -> bool:
    """Is this message (a click's ``message``) a DM copy? By its metadata, else its first line."""
    if not isinstance(message, Mapping):
        return False
    metadata = message.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("event_type") == APPROVER_DM_EVENT:
        return True
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not blocks or not isinstance(blocks[0], Mapping):
        return False
    elements = blocks[0].get("elements")
    if blocks[0].get("type") != "context" or not isinstance(elements, list) or not elements:
        return False
    first = elements[0].get("text") if isinstance(elements[0], Mapping) else None
    return first in {*WHY.values(), SETTLED}
