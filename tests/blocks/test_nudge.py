from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from blocks.common import validate_blocks
from blocks.digest import MAX_LINES, digest_message
from blocks.ids import ActionId, decode_button_value, decode_snooze_value
from blocks.nudge import nudge_acted, nudge_message, owner_missing_message
from services.reminders import NudgeKind
from tests.blocks.cards import NOW, example_card
from tests.blocks.checks import assert_golden, assert_within_limits

CARD = example_card("duplicate_charge_dispute", owner_slack_id="U0APLEAD")
assert CARD.deadline is not None
LATE = CARD.deadline + timedelta(hours=2)
PERMALINK = "https://acme.slack.com/archives/C0FINDISPUTES/p1795705010196684"


def test_nudges_golden() -> None:
    messages = {
        "heads_up": nudge_message(
            CARD, NudgeKind.HEADS_UP, now=CARD.deadline - timedelta(hours=1), permalink=PERMALINK
        ),
        "owner": nudge_message(CARD, NudgeKind.OWNER, now=LATE, permalink=PERMALINK),
        "lead": nudge_message(CARD, NudgeKind.LEAD, now=LATE, permalink=PERMALINK),
        "lead_group": nudge_message(
            CARD, NudgeKind.LEAD, now=LATE, permalink=None, mention="S0FINANCE"
        ),
        "channel": nudge_message(CARD, NudgeKind.CHANNEL, now=LATE, permalink=PERMALINK),
        "owner_missing": owner_missing_message(
            replace(CARD, owner="nobody@acme.example", owner_slack_id=None),
            now=LATE,
            permalink=PERMALINK,
        ),
    }
    for message in messages.values():
        assert_within_limits(message)
        assert message["text"]
    assert_golden("nudge_messages", messages)


def test_owner_nudge_says_what_was_promised_to_whom_and_how_late() -> None:
    message = nudge_message(CARD, NudgeKind.OWNER, now=LATE, permalink=PERMALINK)
    dumped = json.dumps(message, ensure_ascii=False)
    assert message["text"] == "Overdue by 2 h: follow-up on Dispute · Quill Analytics"
    assert "Verify both payments and reverse one" in dumped
    assert "Quill Analytics" in dumped
    assert f"<{PERMALINK}|Dispute · Quill Analytics>" in dumped
    actions = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    assert [e["action_id"] for e in actions] == [
        ActionId.DONE,
        ActionId.SNOOZE,
        ActionId.REASSIGN,
        "handoff_open_link:handoff",
    ]
    assert decode_button_value(actions[0]["value"]) == CARD.handoff_id
    assert decode_button_value(actions[2]["value"]) == CARD.handoff_id
    snoozes = [decode_snooze_value(o["value"]) for o in actions[1]["options"]]
    assert [h for h, _ in snoozes] == [CARD.handoff_id] * 3
    assert [o["text"]["text"] for o in actions[1]["options"]] == [
        "1 hour",
        "4 hours",
        "Tomorrow 09:00",
    ]


def test_without_a_permalink_there_is_no_link_button() -> None:
    message = nudge_message(CARD, NudgeKind.OWNER, now=LATE, permalink=None)
    ids = [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert "handoff_open_link:handoff" not in ids
    assert "*Dispute · Quill Analytics*" in message["blocks"][0]["text"]["text"]


@pytest.mark.parametrize("kind", list(NudgeKind))
def test_hostile_text_is_escaped_and_huge_text_fits(kind: NudgeKind) -> None:
    assert CARD.handoff.customer is not None and CARD.handoff.follow_up is not None
    hostile = CARD.handoff.model_copy(
        update={
            "customer": CARD.handoff.customer.model_copy(update={"name": "<!channel> & <@U1>"}),
            "follow_up": CARD.handoff.follow_up.model_copy(
                update={"next_step": "<https://evil.example|click> " * 300}
            ),
        }
    )
    card = replace(CARD, handoff=hostile, owner="<!here>", owner_slack_id=None)
    for message in (
        nudge_message(card, kind, now=LATE, permalink=PERMALINK),
        owner_missing_message(card, now=LATE, permalink=PERMALINK),
    ):
        assert_within_limits(message)
        dumped = json.dumps(message)
        assert "<!channel>" not in dumped and "<!here>" not in dumped and "<@U1>" not in dumped
        assert "<https://evil.example" not in dumped


def test_sandbox_nudge_is_marked() -> None:
    message = nudge_message(replace(CARD, sandbox=True), NudgeKind.OWNER, now=LATE, permalink=None)
    assert message["text"].startswith("[SANDBOX] ")


def test_digest_golden_and_links() -> None:
    cards = [
        example_card("receipt_resend", owner_slack_id="U0BILLINGOPS"),
        example_card("billing_question_minimal"),
    ]
    links = {cards[0].handoff_id: "https://acme.slack.com/archives/C0FINANCE/p1795705010000001"}
    message = digest_message(cards, slot=NOW, links=links)
    assert_within_limits(message)
    assert_golden("digest_message", message)
    dumped = json.dumps(message, ensure_ascii=False)
    assert "<https://acme.slack.com/archives/C0FINANCE/p1795705010000001|Receipt resend" in dumped
    assert "unknown caller*" in dumped


def test_a_long_digest_stays_within_message_limits() -> None:
    card = example_card("receipt_resend")
    cards = [replace(card, handoff_id=f"h_{i}") for i in range(MAX_LINES + 25)]
    message = digest_message(cards, slot=NOW, links={c.handoff_id: PERMALINK for c in cards})
    assert_within_limits(message)
    validate_blocks(message["blocks"])
    assert "…and 25 more in the thread" in json.dumps(message, ensure_ascii=False)
    assert len(message["text"]) <= 300


def test_acted_reminder_says_what_happened_and_drops_the_buttons() -> None:
    card = example_card("duplicate_charge_dispute")
    until = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    snoozed = nudge_acted(card, actor=None, permalink=None, snoozed_until=until)
    assert snoozed["text"].startswith("Snoozed until 2026-11-27 14:00 UTC by you")
    assert "*Snoozed* until <!date^" in snoozed["blocks"][0]["text"]["text"]
    assert "by you" in snoozed["blocks"][0]["text"]["text"]
    assert all(b["type"] != "actions" for b in snoozed["blocks"])
    done = nudge_acted(card, actor="U0FINLEAD", permalink=None)
    assert "*Marked done* by <@U0FINLEAD>" in done["blocks"][0]["text"]["text"]
    assert done["text"].startswith("Marked done: Dispute")
    assert_golden("nudge_acted", {"snoozed": snoozed, "done": done})
