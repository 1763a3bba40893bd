from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from blocks.common import validate_view
from blocks.home import MAX_AWAITING, MAX_MINE, VIEW_BLOCKS_MAX, home_view
from services.handoff_model import Urgency, Workflow
from services.home import HomeItem, HomeSnapshot, RecentItem
from services.states import HandoffStatus
from tests.blocks.cards import NOW
from tests.blocks.checks import assert_golden

PERMALINK = "https://acme.slack.com/archives/C0FINDISPUTES/p1795705010196684"
DISPUTE = HomeItem(
    handoff_id="h_dsp1180",
    call_id="dnx_call_DSP1180",
    workflow=Workflow.DISPUTE,
    urgency=Urgency.HIGH,
    urgent=True,
    status=HandoffStatus.OPEN,
    channel="C0FINDISPUTES",
    message_ts="1795705010.196684",
    deadline=NOW - timedelta(hours=2),
    customer="Quill Analytics",
    next_step="Verify both payments and reverse one",
    amount=Decimal("1180.00"),
    currency="USD",
    two_person=False,
)
RECEIPT = replace(
    DISPUTE,
    handoff_id="h_rcp6610",
    call_id="dnx_call_RCP6610",
    workflow=Workflow.RECEIPT_RESEND,
    urgency=Urgency.LOW,
    urgent=False,
    status=HandoffStatus.APPROVED,
    channel="C0FINANCE",
    message_ts=None,
    deadline=None,
    customer="Wen Liu",
    next_step="Resend the receipt to the verified email",
    amount=None,
    currency=None,
)
VIP = replace(
    DISPUTE,
    handoff_id="h_vip7781",
    workflow=Workflow.VIP_PAYMENT_BLOCKER,
    status=HandoffStatus.PARTLY_APPROVED,
    deadline=NOW + timedelta(hours=5),
    customer="Northwind",
    amount=Decimal("24000.00"),
    currency="GBP",
    two_person=True,
    approvals=1,
)


def snapshot(**changes: object) -> HomeSnapshot:
    base = HomeSnapshot(
        user_id="U0APPROVER1",
        mine=(DISPUTE, RECEIPT),
        mine_total=2,
        overdue=1,
        counts={"open": 1, "approved": 1, "done": 4},
        approver=True,
        awaiting=(VIP,),
        awaiting_total=1,
        recent=(RecentItem(replace(DISPUTE, status=HandoffStatus.DONE), "done", NOW),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def texts(view: dict[str, object]) -> str:
    return json.dumps(view, ensure_ascii=False)


def test_home_golden() -> None:
    view = home_view(snapshot(), now=NOW, links={DISPUTE.handoff_id: PERMALINK})
    validate_view(view)
    assert_golden("home_view", view)


def test_overdue_first_with_counts_and_links() -> None:
    view = home_view(snapshot(), now=NOW, links={DISPUTE.handoff_id: PERMALINK})
    dumped = texts(view)
    assert "⏰ Overdue: *1*" in dumped
    assert "⏰ *Overdue by 2 h*" in dumped
    assert f"<{PERMALINK}|Dispute · Quill Analytics>" in dumped
    assert "*Waiting for your approval* · 1" in dumped
    assert "needs a second approver" in dumped
    assert "You marked done this" in dumped


def test_non_approvers_see_no_approval_queue() -> None:
    view = home_view(snapshot(approver=False), now=NOW, links={})
    assert "Waiting for your approval" not in texts(view)


def test_empty_home_says_so() -> None:
    empty = snapshot(mine=(), mine_total=0, overdue=0, counts={}, awaiting=(), awaiting_total=0)
    view = home_view(replace(empty, recent=()), now=NOW, links={})
    validate_view(view)
    dumped = texts(view)
    assert "Nothing open is assigned to you" in dumped
    assert "No handoffs are waiting for your approval" in dumped


def test_many_handoffs_stay_within_the_home_tab_limits() -> None:
    mine = tuple(replace(DISPUTE, handoff_id=f"h_m{i}") for i in range(MAX_MINE + 40))
    awaiting = tuple(replace(VIP, handoff_id=f"h_a{i}") for i in range(MAX_AWAITING + 35))
    recent = tuple(
        RecentItem(replace(RECEIPT, handoff_id=f"h_r{i}"), "approved", NOW) for i in range(30)
    )
    huge = snapshot(mine=mine, mine_total=500, awaiting=awaiting, awaiting_total=350, recent=recent)
    view = home_view(huge, now=NOW, links={i.handoff_id: PERMALINK for i in mine})
    validate_view(view)
    assert len(view["blocks"]) <= VIEW_BLOCKS_MAX
    dumped = texts(view)
    assert "…and 480 more" in dumped
    assert "…and 335 more" in dumped
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000


def test_hostile_text_is_escaped() -> None:
    evil = replace(DISPUTE, customer="<!channel> & co", next_step="<https://evil.example|x>" * 500)
    view = home_view(snapshot(mine=(evil,)), now=NOW, links={})
    validate_view(view)
    dumped = texts(view)
    assert "<!channel>" not in dumped and "<https://evil.example" not in dumped


def test_admins_see_which_dialnexa_fields_need_mapping() -> None:
    gaps = {"record URL": 2, "owner": 3}
    view = home_view(snapshot(), now=NOW, links={}, mapping_gaps=gaps)
    validate_view(view)
    text = view["blocks"][2]["text"]["text"]
    assert text.startswith("🧩 *DialNexa fields to map*")
    assert "owner (3), record URL (2)" in text  # most often missing first
    assert_golden("home_view_admin", view)
    plain = json.dumps(home_view(snapshot(), now=NOW, links={}))
    assert "fields to map" not in plain


def test_the_finance_lead_gets_the_export_button_near_the_top() -> None:
    view = home_view(snapshot(), now=NOW, links={}, export=True)
    validate_view(view)
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    assert actions == [
        {
            "type": "actions",
            "block_id": "home_export",
            "elements": [
                {
                    "type": "button",
                    "action_id": "home_export_audit",
                    "value": "last_30_days",
                    "text": {
                        "type": "plain_text",
                        "text": "Export audit trail (last 30 days)",
                        "emoji": True,
                    },
                }
            ],
        }
    ]
    assert view["blocks"].index(actions[0]) == 2  # under the header and the counts
    assert "home_export_audit" not in json.dumps(home_view(snapshot(), now=NOW, links={}))
