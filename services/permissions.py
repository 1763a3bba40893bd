"""Who may do what: the one permission policy every Slack surface asks before acting.

Channel buttons, nudge-DM buttons, modal submissions, slash commands and the Home tab all call
``decide``. It is a pure function over an ``Actor`` whose memberships the caller has already
resolved (``bot.container.Container.actor``), so the whole policy is table-tested without Slack.

| action | who |
| --- | --- |
| approve, decline, retry, reissue, reverse a refund, mark a refund refunded | approvers (``[approvers]``) and, while an approver is away, their delegate; never the requester of their own ``/invoice new`` (nor a delegate approving it for the away approver who requested it) |
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
| set "away until", with a delegate | approvers (not a delegate); the delegate is a finance member other than themself |

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
    "may_delegate",
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
    DELEGATE = "delegate"  # go away with someone approving for you ("I'm away", "I'm back")


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
    # A delegate approving, for the away approver, what that approver requested themself.
    FOR_OWN_REQUEST = "for_own_request"
    DELEGATE_NOT_FINANCE = "delegate_not_finance"  # away, delegating to someone outside finance
    DELEGATE_SELF = "delegate_self"  # away, delegating to themself


@dataclass(frozen=True, slots=True)
class Actor:
    """A Slack user with their memberships already resolved."""

    user_id: str
    is_approver: bool = False
    is_lead: bool = False
    in_finance: bool = False  # listed in [finance] users or one of its user groups
    # The away approvers this person stands in for right now (``services.delegation``).
    acting_for: tuple[str, ...] = ()

    @property
    def is_finance_member(self) -> bool:
        """Approvers and the finance lead count as finance members."""
        return self.in_finance or self.is_approver or self.is_lead

    @property
    def can_approve(self) -> bool:
        """An approver, or the delegate of an approver who is away now."""
        return self.is_approver or bool(self.acting_for)

    def on_behalf_of(self, requested_by: str | None = None) -> tuple[str, ...]:
        """Whose authority a delegate's approval may use: none for an approver (their own
        counts), else the away approvers they stand in for, except the requester."""
        if self.is_approver:
            return ()
        return tuple(a for a in self.acting_for if a != requested_by)


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
        if not actor.can_approve:
            return Permission(False, Denial.NOT_APPROVER)
        if action is Action.APPROVE and facts.requested_by == actor.user_id:
            return Permission(False, Denial.OWN_REQUEST)
        if (
            action is Action.APPROVE
            and not actor.is_approver
            and facts.requested_by is not None
            and not actor.on_behalf_of(facts.requested_by)
        ):
            # Standing in only for the approver who requested it: that is still self-approval.
            return Permission(False, Denial.FOR_OWN_REQUEST)
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
    if action is Action.DELEGATE:
        # An approver in their own right: a delegate cannot pass the approvals on.
        return ALLOWED if actor.is_approver else Permission(False, Denial.NOT_APPROVER)
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


def may_delegate(approver: Actor, delegate: Actor) -> Permission:
    """May ``approver`` go away with ``delegate`` standing in for them?

    Only an approver in their own right sets a delegation (a delegate cannot pass it on), and
    the delegate is a finance member other than the approver.
    """
    allowed = decide(Action.DELEGATE, approver)
    if not allowed:
        return allowed
    if delegate.user_id == approver.user_id:
        return Permission(False, Denial.DELEGATE_SELF)
    if not delegate.is_finance_member:
        return Permission(False, Denial.DELEGATE_NOT_FINANCE)
    return ALLOWED
