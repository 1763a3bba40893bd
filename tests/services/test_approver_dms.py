"""Who gets an approval request in their DM: the events that ask, the people, their choices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.approver_dms import DmReason, approver_dm_work, dm_targets, reason_for, wants_dm
from services.events import Event, EventType, OutboxKind
from services.routing import RoutingConfig
from tests.support.routing import make_routing

ANA, BEN, CARLA, LEAD = "U0ANA", "U0BEN", "U0CARLA", "U0LEAD"
AT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def routing(**approvers: Any) -> RoutingConfig:
    return make_routing(
        approvers={"users": [ANA, BEN, CARLA], "usergroups": [], **approvers},
        mentions={"finance_group": "S0FINANCE", "finance_lead": LEAD},
    )


def event(kind: EventType, **detail: Any) -> Event:
    return Event(kind, "h_1", ANA, AT, detail)


@pytest.mark.parametrize(
    ("happened", "reason"),
    [
        (event(EventType.APPROVED, approval=1, of=2), DmReason.SECOND_APPROVAL),
        (event(EventType.APPROVED, approval=2, of=2), None),  # decided: nobody waits
        (event(EventType.APPROVED, approval=1, of=1), None),
        (event(EventType.ESCALATED, reason="angry"), DmReason.ESCALATION),
        (event(EventType.DECLINED, reason="no"), None),
        (Event(EventType.ESCALATED, None, ANA, AT), None),  # no handoff
    ],
)
def test_which_events_ask_for_dms(happened: Event, reason: DmReason | None) -> None:
    assert reason_for(happened) == reason
    work = approver_dm_work(happened)
    if reason is None:
        assert work is None
    else:
        assert work is not None
        assert work.kind is OutboxKind.APPROVER_DM
        assert work.key == f"approver_dm:{happened.key}"  # one item per event, ever
        assert work.payload["reason"] == reason.value


def test_second_approval_goes_to_every_other_named_approver_who_wants_it() -> None:
    config = routing(dm_default="dm")
    assert dm_targets(DmReason.SECOND_APPROVAL, routing=config, actor=ANA) == [BEN, CARLA]
    # Never the requester (they cannot approve their own request).
    assert dm_targets(DmReason.SECOND_APPROVAL, routing=config, actor=ANA, requested_by=CARLA) == [
        BEN
    ]


def test_preferences_routing_list_default_and_own_choice() -> None:
    assert dm_targets(DmReason.SECOND_APPROVAL, routing=routing(), actor=ANA) == []
    listed = routing(dm=[CARLA])
    assert dm_targets(DmReason.SECOND_APPROVAL, routing=listed, actor=ANA) == [CARLA]
    # The person's own Home-tab choice wins over routing.toml either way.
    choices = {CARLA: False, BEN: True}
    assert dm_targets(DmReason.SECOND_APPROVAL, routing=listed, actor=ANA, choices=choices) == [BEN]
    assert wants_dm(BEN, routing(dm_default="dm"), False) is False
    assert wants_dm(BEN, routing(dm_default="channel"), None) is False
    assert wants_dm(BEN, routing(dm_default="dm"), None) is True


def test_escalation_goes_to_the_lead_unless_a_user_group_or_they_escalated() -> None:
    config = routing(dm_default="dm")
    assert dm_targets(DmReason.ESCALATION, routing=config, actor=BEN) == [LEAD]
    assert dm_targets(DmReason.ESCALATION, routing=config, actor=LEAD) == []
    group_lead = make_routing(
        approvers={"users": [ANA], "usergroups": [], "dm_default": "dm"},
        mentions={"finance_group": "S0FINANCE", "finance_lead": "S0LEADS"},
    )
    assert dm_targets(DmReason.ESCALATION, routing=group_lead, actor=BEN) == []


def test_a_delegate_stands_in_but_two_approvals_still_need_two_people() -> None:
    config = routing(dm_default="dm")
    away = {BEN: "U0DELEGATE", CARLA: ANA}  # Carla delegated to Ana, who approved first
    targets = dm_targets(
        DmReason.SECOND_APPROVAL,
        routing=config,
        actor=ANA,
        delegate=lambda person: away.get(person, person),
    )
    assert targets == ["U0DELEGATE"]
