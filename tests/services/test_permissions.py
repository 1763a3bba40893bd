"""The one permission policy, table-driven: every action for every kind of person."""

from __future__ import annotations

import pytest

from services.permissions import (
    Action,
    Actor,
    Denial,
    HandoffFacts,
    Permission,
    decide,
    may_be_asked,
    may_delegate,
    may_own,
)

OWNER, REQUESTER = "U0OWNER", "U0REQUESTER"
FACTS = HandoffFacts(owner_slack_id=OWNER, requested_by=REQUESTER)

APPROVER = Actor("U0APPROVER1", is_approver=True)
LEAD = Actor("U0FINLEAD", is_lead=True)
FINANCE = Actor("U0BILLINGOPS", in_finance=True)
OWNER_ONLY = Actor(OWNER)  # named owner by DialNexa, in no finance list
OUTSIDER = Actor("U0OUTSIDER")
APPROVING_REQUESTER = Actor(REQUESTER, is_approver=True)
# Standing in for an away approver (``services.delegation``): a finance member, not an approver.
DELEGATE = Actor("U0APLEAD", in_finance=True, acting_for=("U0APPROVER1",))
# Standing in only for the approver who requested the handoff: still self-approval.
DELEGATE_OF_REQUESTER = Actor("U0APLEAD", in_finance=True, acting_for=(REQUESTER,))
REQUESTING_DELEGATE = Actor(REQUESTER, in_finance=True, acting_for=("U0APPROVER1",))

YES = Permission(True)
NO_APPROVER = Permission(False, Denial.NOT_APPROVER)
NO_FINANCE = Permission(False, Denial.NOT_FINANCE)
NO_OWNER = Permission(False, Denial.NOT_OWNER_OR_FINANCE)
NOT_ASKED = Permission(False, Denial.NOT_ASKED)

# action: {actor: expected}
TABLE: dict[Action, list[tuple[Actor, Permission]]] = {
    Action.APPROVE: [
        (APPROVER, YES),
        (LEAD, NO_APPROVER),
        (FINANCE, NO_APPROVER),
        (OWNER_ONLY, NO_APPROVER),
        (OUTSIDER, NO_APPROVER),
        (APPROVING_REQUESTER, Permission(False, Denial.OWN_REQUEST)),
        (DELEGATE, YES),
        (DELEGATE_OF_REQUESTER, Permission(False, Denial.FOR_OWN_REQUEST)),
        (REQUESTING_DELEGATE, Permission(False, Denial.OWN_REQUEST)),
    ],
    Action.DECLINE: [
        (APPROVER, YES),
        (LEAD, NO_APPROVER),
        (FINANCE, NO_APPROVER),
        (OWNER_ONLY, NO_APPROVER),
        (OUTSIDER, NO_APPROVER),
        (APPROVING_REQUESTER, YES),  # declining your own request is allowed
        (DELEGATE, YES),
    ],
    Action.RETRY: [
        (APPROVER, YES),
        (DELEGATE, YES),
        (FINANCE, NO_APPROVER),
        (OUTSIDER, NO_APPROVER),
    ],
    Action.REISSUE: [(APPROVER, YES), (LEAD, NO_APPROVER), (OUTSIDER, NO_APPROVER)],
    Action.ESCALATE: [
        (APPROVER, YES),
        (LEAD, YES),
        (FINANCE, YES),
        (OWNER_ONLY, NO_FINANCE),
        (OUTSIDER, NO_FINANCE),
    ],
    Action.MARK_DONE: [
        (APPROVER, YES),
        (LEAD, YES),
        (FINANCE, YES),
        (OWNER_ONLY, YES),
        (OUTSIDER, NO_OWNER),
    ],
    Action.SNOOZE: [(OWNER_ONLY, YES), (FINANCE, YES), (OUTSIDER, NO_OWNER)],
    Action.REASSIGN: [(OWNER_ONLY, YES), (LEAD, YES), (APPROVER, YES), (OUTSIDER, NO_OWNER)],
    Action.VIEW: [
        (APPROVER, YES),
        (LEAD, YES),
        (FINANCE, YES),
        (OWNER_ONLY, NO_FINANCE),
        (OUTSIDER, NO_FINANCE),
    ],
    Action.REQUEST: [(FINANCE, YES), (APPROVER, YES), (OUTSIDER, NO_FINANCE)],
    Action.REFRESH_CONTEXT: [
        (FINANCE, YES),
        (APPROVER, YES),
        (LEAD, YES),
        (OWNER_ONLY, NO_FINANCE),  # the owner alone, outside finance, may not
        (OUTSIDER, NO_FINANCE),
    ],
    # Refunds: only approvers reverse an automatic refund or mark a manual one refunded; the
    # owner and finance members who may not approve are refused.
    Action.REVERSE_REFUND: [
        (APPROVER, YES),
        (LEAD, NO_APPROVER),
        (FINANCE, NO_APPROVER),
        (OWNER_ONLY, NO_APPROVER),
        (OUTSIDER, NO_APPROVER),
    ],
    Action.SET_APPROVAL_DMS: [
        (APPROVER, YES),
        (LEAD, YES),
        (FINANCE, YES),
        (OWNER_ONLY, NO_FINANCE),
        (OUTSIDER, NO_FINANCE),
    ],
    Action.MARK_REFUNDED: [
        (APPROVER, YES),
        (FINANCE, NO_APPROVER),
        (OWNER_ONLY, NO_APPROVER),
        (OUTSIDER, NO_APPROVER),
    ],
    # The team's timings: the finance lead only (approvers and members see their own queue).
    Action.VIEW_METRICS: [
        (LEAD, YES),
        (APPROVER, Permission(False, Denial.NOT_LEAD)),
        (FINANCE, Permission(False, Denial.NOT_LEAD)),
        (OUTSIDER, Permission(False, Denial.NOT_LEAD)),
    ],
    # The audit trail as CSV: the finance lead only, not approvers or other finance members.
    Action.EXPORT: [
        (LEAD, YES),
        (APPROVER, Permission(False, Denial.NOT_LEAD)),
        (FINANCE, Permission(False, Denial.NOT_LEAD)),
        (OWNER_ONLY, Permission(False, Denial.NOT_LEAD)),
        (OUTSIDER, Permission(False, Denial.NOT_LEAD)),
    ],
    # Asking before deciding is part of deciding: approvers only (the requester too).
    Action.REQUEST_INFO: [
        (APPROVER, YES),
        (APPROVING_REQUESTER, YES),
        (LEAD, NO_APPROVER),
        (FINANCE, NO_APPROVER),
        (OWNER_ONLY, NO_APPROVER),
        (OUTSIDER, NO_APPROVER),
    ],
    # No question is open in FACTS: nobody has one to answer.
    Action.ANSWER_INFO: [
        (APPROVER, NOT_ASKED),
        (OWNER_ONLY, NOT_ASKED),
        (OUTSIDER, NOT_ASKED),
    ],
    # Going away with a delegate: approvers in their own right only (a delegate cannot pass on
    # what was lent to them).
    Action.DELEGATE: [
        (APPROVER, YES),
        (DELEGATE, NO_APPROVER),
        (LEAD, NO_APPROVER),
        (FINANCE, NO_APPROVER),
        (OUTSIDER, NO_APPROVER),
    ],
}


def test_every_action_has_rows() -> None:
    assert set(TABLE) == set(Action)


@pytest.mark.parametrize(
    ("action", "actor", "expected"),
    [(action, actor, expected) for action, rows in TABLE.items() for actor, expected in rows],
    ids=lambda v: v.value if isinstance(v, Action) else getattr(v, "user_id", None),
)
def test_decide(action: Action, actor: Actor, expected: Permission) -> None:
    assert decide(action, actor, FACTS) == expected


def test_no_handoff_means_nobody_is_the_owner() -> None:
    assert decide(Action.MARK_DONE, OWNER_ONLY) == NO_OWNER
    assert decide(Action.MARK_DONE, OWNER_ONLY, HandoffFacts(owner_slack_id=None)) == NO_OWNER


def test_approvers_and_the_lead_count_as_finance_members() -> None:
    assert APPROVER.is_finance_member and LEAD.is_finance_member and FINANCE.is_finance_member
    assert not OWNER_ONLY.is_finance_member and not OUTSIDER.is_finance_member


def test_only_finance_members_may_become_owners() -> None:
    assert may_own(FINANCE) == YES
    assert may_own(APPROVER) == YES
    assert may_own(LEAD) == YES
    assert may_own(OUTSIDER) == Permission(False, Denial.TARGET_NOT_FINANCE)
    assert may_own(OWNER_ONLY) == Permission(False, Denial.TARGET_NOT_FINANCE)
    assert not may_own(OUTSIDER)  # a refusal is falsy


def test_only_the_person_asked_may_answer() -> None:
    asked = HandoffFacts(owner_slack_id=OWNER, requested_by=REQUESTER, asked_to=OWNER)
    assert decide(Action.ANSWER_INFO, OWNER_ONLY, asked) == YES
    for someone_else in (APPROVER, LEAD, FINANCE, OUTSIDER, APPROVING_REQUESTER):
        assert decide(Action.ANSWER_INFO, someone_else, asked) == NOT_ASKED


def test_finance_members_or_the_requester_may_be_asked() -> None:
    for member in (FINANCE, APPROVER, LEAD):
        assert may_be_asked(member, FACTS) == YES
    assert may_be_asked(Actor(REQUESTER), FACTS) == YES  # the requester, in no finance list
    no = Permission(False, Denial.TARGET_NOT_ASKABLE)
    assert may_be_asked(OWNER_ONLY, FACTS) == no  # an owner outside finance: not a choice
    assert may_be_asked(OUTSIDER, FACTS) == no
    assert may_be_asked(Actor(REQUESTER)) == no  # no handoff: no requester to ask


def test_a_delegate_is_a_finance_member_other_than_the_approver() -> None:
    assert may_delegate(APPROVER, FINANCE) == YES
    assert may_delegate(APPROVER, LEAD) == YES
    assert may_delegate(APPROVER, Actor("U0APPROVER2", is_approver=True)) == YES
    assert may_delegate(APPROVER, OUTSIDER) == Permission(False, Denial.DELEGATE_NOT_FINANCE)
    assert may_delegate(APPROVER, OWNER_ONLY) == Permission(False, Denial.DELEGATE_NOT_FINANCE)
    assert may_delegate(APPROVER, APPROVER) == Permission(False, Denial.DELEGATE_SELF)
    assert may_delegate(FINANCE, LEAD) == NO_APPROVER
    assert may_delegate(DELEGATE, FINANCE) == NO_APPROVER


def test_a_delegate_approves_for_the_away_approvers_an_approver_for_themself() -> None:
    assert DELEGATE.on_behalf_of() == ("U0APPROVER1",)
    assert DELEGATE_OF_REQUESTER.on_behalf_of(REQUESTER) == ()
    away_too = Actor("U0APPROVER2", is_approver=True, acting_for=("U0APPROVER1",))
    assert away_too.on_behalf_of() == ()  # their own authority counts
