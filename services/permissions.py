"""Who may do what: the one permission policy every Slack surface asks before acting.

Channel buttons, nudge-DM buttons, modal submissions, slash commands and the Home tab all call
``decide``. It is a pure function over an ``Actor`` whose memberships the caller has already
resolved (``bot.container.Container.actor``), so the whole policy is table-tested without Slack.

| action | who |
| --- | --- |
| approve, decline, retry, reissue, reverse a refund, mark a refund refunded | approvers (``[approvers]``); never the requester of their own ``/invoice new`` |
| escalate | finance members |
| mark_done, snooze, reassign | the handoff's owner, or a finance member |
| view (``/invoice <email>``, ``/handoff``, Home details) | finance members |
| request (``/invoice new``) | finance members |
| set approval DMs (Home tab: approval requests in the channel only, or a DM too) | finance members |
| become the owner (reassign target) | finance members |
| view metrics (the Home tab's "Last 7 days", the weekly summary) | the finance lead |
| export the audit trail (``/handoff export``, the Home button) | the finance lead |
| request info (ask a question before deciding) | approvers |
| answer an info request | the person it asks |
| be asked (request info target) | finance members, or the handoff's requester |

Finance members are ``[finance] users`` / ``usergroups`` plus every approver and the finance lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Action",
    "Actor",
    "Denial",
    "HandoffFacts",
    "Permission",
    "decide",
    "may_be_asked",
    "may_own",
]


class Action(StrEnum):
    """Everything a person can ask the bot to do."""

    APPROVE = "approve"
    DECLINE = "decline"
    RETRY = "retry"
    REISSUE = "reissue"
    ESCALATE = "escalate"
    REASSIGN = "reassign"
    MARK_DONE = "mark_done"
    SNOOZE = "snooze"
    VIEW = "view"  # /invoice <email>, /handoff <call id>, Home details
    REQUEST = "request"  # /invoice new
    REFRESH_CONTEXT = "refresh_context"  # read the connected systems again for a handoff
    REVERSE_REFUND = "reverse_refund"  # stop an automatic refund in its grace window
    MARK_REFUNDED = "mark_refunded"  # a manual (crypto) refund was sent by hand
    VIEW_METRICS = "view_metrics"  # the team's timings (Home tab, weekly summary DM)
    SET_APPROVAL_DMS = "set_approval_dms"  # Home tab: approval requests in a DM too, or not
    EXPORT = "export"  # the audit trail as CSV (/handoff export, the Home button)
    REQUEST_INFO = "request_info"  # ask the owner (or requester) a question before deciding
    ANSWER_INFO = "answer_info"  # answer that question


class Denial(StrEnum):
    """Why ``decide`` said no (each has a plain-words message in ``blocks/audit.py``)."""

    NOT_APPROVER = "not_approver"
    OWN_REQUEST = "own_request"
    NOT_FINANCE = "not_finance"  # escalate, view, request, refresh context
    NOT_OWNER_OR_FINANCE = "not_owner_or_finance"  # mark done, snooze, reassign
    TARGET_NOT_FINANCE = "target_not_finance"  # reassign to someone outside finance
    NOT_LEAD = "not_lead"  # view metrics, export
    NOT_ASKED = "not_asked"  # answer a question put to someone else (or none is open)
    TARGET_NOT_ASKABLE = "target_not_askable"  # ask someone outside finance (not the requester)


@dataclass(frozen=True, slots=True)
class Actor:
    """A Slack user with their memberships already resolved."""

    user_id: str
    is_approver: bool = False
    is_lead: bool = False
    in_finance: bool = False  # listed in [finance] users or one of its user groups

    @property
    def is_finance_member(self) -> bool:
        """Approvers and the finance lead count as finance members."""
        return self.in_finance or self.is_approver or self.is_lead


@dataclass(frozen=True, slots=True)
class HandoffFacts:
    """What the policy needs to know about the handoff acted on (None for lookups)."""

    owner_slack_id: str | None = None
    requested_by: str | None = None
    asked_to: str | None = None  # whom the handoff's open info request asks


@dataclass(frozen=True, slots=True)
class Permission:
    allowed: bool
    reason: Denial | None = None

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Permission(True)

APPROVER_ACTIONS = frozenset(
    {
        Action.APPROVE,
        Action.DECLINE,
        Action.RETRY,
        Action.REISSUE,
        Action.REVERSE_REFUND,
        Action.MARK_REFUNDED,
        Action.REQUEST_INFO,
    }
)
OWNER_ACTIONS = frozenset({Action.MARK_DONE, Action.SNOOZE, Action.REASSIGN})
LEAD_ACTIONS = frozenset({Action.VIEW_METRICS, Action.EXPORT})
FINANCE_ACTIONS = frozenset(
    {
        Action.ESCALATE,
        Action.VIEW,
        Action.REQUEST,
        Action.REFRESH_CONTEXT,
        Action.SET_APPROVAL_DMS,
    }
)


def decide(action: Action, actor: Actor, handoff: HandoffFacts | None = None) -> Permission:
    """May ``actor`` do ``action`` (to ``handoff``)? A refusal names its reason."""
    facts = handoff or HandoffFacts()
    if action in APPROVER_ACTIONS:
        if not actor.is_approver:
            return Permission(False, Denial.NOT_APPROVER)
        if action is Action.APPROVE and facts.requested_by == actor.user_id:
            return Permission(False, Denial.OWN_REQUEST)
        return ALLOWED
    if action in OWNER_ACTIONS:
        owner = facts.owner_slack_id is not None and facts.owner_slack_id == actor.user_id
        if owner or actor.is_finance_member:
            return ALLOWED
        return Permission(False, Denial.NOT_OWNER_OR_FINANCE)
    if action is Action.ANSWER_INFO:
        if facts.asked_to is not None and facts.asked_to == actor.user_id:
            return ALLOWED
        return Permission(False, Denial.NOT_ASKED)
    if action in FINANCE_ACTIONS:
        return ALLOWED if actor.is_finance_member else Permission(False, Denial.NOT_FINANCE)
    if action in LEAD_ACTIONS:
        return ALLOWED if actor.is_lead else Permission(False, Denial.NOT_LEAD)
    raise ValueError(f"no permission rule for {action!r}")  # pragma: no cover - enum is closed


def may_own(target: Actor) -> Permission:
    """May ``target`` be made a handoff's owner (the reassign modal's choice)?"""
    if target.is_finance_member:
        return ALLOWED
    return Permission(False, Denial.TARGET_NOT_FINANCE)


def may_be_asked(target: Actor, handoff: HandoffFacts | None = None) -> Permission:
    """May ``target`` be asked a handoff's question (the request-info modal's choice)?"""
    facts = handoff or HandoffFacts()
    if target.is_finance_member or (
        facts.requested_by is not None and facts.requested_by == target.user_id
    ):
        return ALLOWED
    return Permission(False, Denial.TARGET_NOT_ASKABLE)
