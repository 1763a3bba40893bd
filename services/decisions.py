"""What the outcome of a decision means for the person who asked: the refusal code, the status
it explains, who decided first, and which audit action a success is noted as.

Pure functions over ``DecisionResult`` / ``HandoffCard``, table-tested without Slack; the Slack
handlers turn the codes into messages with ``blocks.audit.refusal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.cards import HandoffCard
from services.events import EventType
from services.handoffs import DecisionResult, Outcome
from services.states import HandoffStatus

__all__ = [
    "ERROR",
    "REFUSALS",
    "Decided",
    "decided_by",
    "not_decidable",
    "refusal_code",
    "refused_status",
    "reissue_refusal_code",
]

# A refused outcome -> the refusal code the person is shown (and the refusal is audited with).
REFUSALS: dict[Outcome, str] = {
    Outcome.NOT_FOUND: "not_found",
    Outcome.NOT_APPROVER: "not_approver",
    Outcome.SAME_APPROVER: "same_approver",
    Outcome.SAME_PERSON: "same_person",
    Outcome.OWN_REQUEST: "own_request",
    Outcome.FOR_OWN_REQUEST: "for_own_request",
    Outcome.ALREADY_DECIDED: "already_decided",
    Outcome.CLOSED: "closed",
    Outcome.NOT_APPLICABLE: "closed",
    Outcome.AWAITING_APPROVAL: "awaiting_approval",
    Outcome.UNPAID: "unpaid",
}
ERROR = "error"  # any outcome without a code of its own


@dataclass(frozen=True, slots=True)
class Decided:
    """Who decided a handoff first, and when (for "already approved by @x at ...")."""

    by: str | None = None
    at: datetime | None = None


def refusal_code(result: DecisionResult) -> str:
    """The refusal code of a result that is not ok; a decided-and-declined one says so."""
    code = REFUSALS.get(result.outcome, ERROR)
    if (
        code == "already_decided"
        and result.card is not None
        and result.card.status is HandoffStatus.DECLINED
    ):
        return "already_declined"
    return code


def refused_status(card: HandoffCard | None) -> str | None:
    """The status a refusal explains; a badly settled invoice has its own explanation."""
    if card is None:
        return None
    if card.status is HandoffStatus.INVOICED and card.invoice and card.invoice.reissuable:
        return "invoiced_review"
    return card.status.value


def not_decidable(card: HandoffCard, user: str) -> str | None:
    """Why an Approve click can do nothing now (checked before any dialog opens), or None."""
    if card.status is HandoffStatus.DECLINED:
        return "already_declined"
    if not card.decidable:
        return "already_decided" if card.approvals else "closed"
    if any(a.user_id == user for a in card.approvals):
        return "same_approver"
    if any(a.on_behalf_of == user for a in card.approvals):
        return "same_person"  # their delegate already approved for them
    return None


def decided_by(code: str, card: HandoffCard) -> Decided:
    """Who made the decision a ``not_decidable`` code refers to, and when (if anyone)."""
    if code == "already_declined":
        declined = [a for a in card.actions if a.action == EventType.DECLINED]
        if declined:
            return Decided(declined[-1].user_id, declined[-1].at)
    elif code == "already_decided" and card.approvals:
        return Decided(card.approvals[-1].user_id, card.approvals[-1].at)
    return Decided()


def reissue_refusal_code(result: DecisionResult) -> str:
    """Why a Reissue that did not apply did nothing: someone was first, or nothing to reissue."""
    return "already_reissued" if result.by else "not_reissuable"
