from __future__ import annotations

import json
from datetime import timedelta

import pytest

from blocks.audit import NOTES, RefusalCode, escalation_notice, refusal, thread_note
from blocks.ids import APPROVED_PARTLY, AuditAction
from tests.blocks.cards import NOW, example_card
from tests.blocks.checks import assert_golden, assert_within_limits

AT = NOW - timedelta(minutes=7)
DETAILS: dict[str, str | None] = {
    AuditAction.APPROVED: "Create a Plisio invoice for 4,200.00 USD to ap@harborfinch.example.",
    APPROVED_PARTLY: None,
    AuditAction.DECLINED: "Quote Q-7710 expired; ask sales for a new one",
    AuditAction.ESCALATED: "Customer is waiting on the phone",
    AuditAction.REASSIGNED: "U0BILLINGOPS",
    AuditAction.INVOICE_CREATED: "https://plisio.example/invoice/6431f0a5e7c3b2d19a8f0e41",
    AuditAction.INVOICE_FAILED: "Plisio API: rate limit exceeded",
    AuditAction.PAID: None,
    AuditAction.EXPIRED: None,
    AuditAction.MISMATCH: "paid 4,100.00 USD of 4,200.00 USD",
    AuditAction.CANCELLED: None,
    AuditAction.RETRIED: None,
    AuditAction.DONE: None,
}


def test_thread_notes_golden() -> None:
    notes = {
        str(action): thread_note(action, "U0APPROVER1", AT, detail=d)
        for action, d in DETAILS.items()
    }
    for note in notes.values():
        assert_within_limits(note)
        assert note["blocks"][-1]["elements"][0]["text"].startswith("<!date^")
    assert_golden("audit_thread_notes", notes)


@pytest.mark.parametrize("action", list(NOTES))
def test_thread_notes_without_detail_or_with_huge_detail(action: str) -> None:
    assert_within_limits(thread_note(action, "plisio", AT))
    huge = thread_note(action, "U0APPROVER1", AT, detail="<!channel> & " * 500)
    assert_within_limits(huge)
    assert "<!channel>" not in json.dumps(huge)


def test_thread_note_wording() -> None:
    assert thread_note("declined", "U0AP1", AT, detail="Too late")["text"] == (
        "⛔ <@U0AP1> declined this handoff: Too late"
    )
    assert (
        "to <@U0BILLINGOPS>"
        in thread_note("reassigned", "U0AP1", AT, detail="U0BILLINGOPS")["text"]
    )
    assert "Use *Retry*" in thread_note("invoice_failed", "plisio", AT, detail="boom")["text"]
    assert "(1 of 2)" in thread_note("approved_partly", "U0AP1", AT)["text"]


def test_unknown_note_action_is_refused() -> None:
    with pytest.raises(ValueError, match="no thread note"):
        thread_note("approve", "U0AP1", AT)


# The action each refusal is shown for in the golden file (the one it is usually about).
GOLDEN_ACTIONS = {
    RefusalCode.NOT_FINANCE: "view",
    RefusalCode.NOT_OWNER_OR_FINANCE: "mark_done",
    RefusalCode.UNPAID: "mark_done",
    RefusalCode.NOT_LEAD: "export",
    RefusalCode.NOT_ASKED: "answer_info",
}


def test_refusals_golden() -> None:
    refusals = {
        code.value: refusal(code, by="U0APPROVER2", at=AT)
        if code in {RefusalCode.ALREADY_DECIDED, RefusalCode.CLOSED}
        else refusal(code, action=GOLDEN_ACTIONS.get(code), status="invoiced")
        for code in RefusalCode
    }
    refusals["awaiting_approval_for_an_approver"] = refusal(
        "awaiting_approval", approvals=(1, 2), offer_decline="h_inv2041"
    )
    for message in refusals.values():
        assert_within_limits(message)
    assert_golden("audit_refusals", refusals)


def test_refusals_name_the_refused_action() -> None:
    assert refusal("not_owner_or_finance", action="snooze")["text"].startswith(
        "Only this handoff's owner or a finance member can snooze its reminders."
    )
    assert refusal("not_finance", action="escalate")["text"].startswith(
        "Only finance members can escalate handoffs."
    )
    assert refusal("not_approver", action="decline")["text"].startswith(
        "Only finance approvers can decline handoffs."
    )
    pending = refusal("awaiting_approval", approvals=(1, 2), offer_decline="h_1")
    assert "(1 of 2 approvals so far)" in pending["text"]
    [button] = pending["blocks"][-1]["elements"]
    assert (button["action_id"], button["value"]) == ("handoff_decline", "h_1")
    assert "actions" not in json.dumps(refusal("awaiting_approval")["blocks"])
    assert "Retry" in refusal("unpaid", status="action_failed")["text"]


def test_refusal_wording() -> None:
    assert refusal("not_approver")["text"] == (
        "Only finance approvers can approve handoffs. Ask someone in @finance-approvers."
    )
    assert refusal("same_approver")["text"] == (
        "You already approved this; a second, different approver must approve."
    )
    assert (
        refusal("own_request")["text"]
        == "You requested this invoice, so someone else must approve it."
    )
    assert (
        refusal("error")["text"]
        == "Something went wrong; it has been logged. Try again in a minute."
    )
    assert refusal("already_decided", by="U0AP2", at=AT)["text"].startswith(
        "Already approved by <@U0AP2>, <!date^"
    )
    assert refusal("already_decided")["text"] == "Already approved."
    with pytest.raises(ValueError, match="no refusal"):
        refusal("nope")


def test_escalation_notice_golden() -> None:
    card = example_card("duplicate_charge_dispute")
    notice = escalation_notice(
        card,
        "U0APPROVER1",
        "Customer threatens a chargeback",
        permalink="https://acme.slack.com/archives/C0DISPUTES/p1795680840000100",
        lead="U0FINLEAD",
    )
    assert_within_limits(notice)
    assert notice["blocks"][0]["text"]["text"].startswith(
        "<@U0FINLEAD> 🔺 *Escalated by <@U0APPROVER1>:*"
    )
    assert_golden("audit_escalation_notice", notice)


def test_escalation_notice_without_link_or_lead_and_with_hostile_reason() -> None:
    card = example_card("billing_question_minimal", sandbox=True)
    notice = escalation_notice(card, "U0AP1", "<!channel> " * 400, permalink=None, lead=None)
    assert_within_limits(notice)
    assert notice["text"].startswith("[SANDBOX] 🔺 Escalated by <@U0AP1>")
    assert "<!channel>" not in json.dumps(notice)
    assert all(b["type"] != "actions" for b in notice["blocks"])
