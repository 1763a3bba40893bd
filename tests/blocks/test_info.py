"""Request info's builders: within Slack's limits, and a person's words never come alive."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from blocks.handoff import handoff_message
from blocks.ids import ActionId, ModalMetadata
from blocks.info import answer_dm, answer_modal, info_nudge, question_dm, request_info_modal
from services.cards import InfoWaiting
from services.info_requests import InfoRequest
from services.reminders import NudgeKind
from tests.blocks.cards import NOW, example_card
from tests.blocks.checks import assert_within_limits

HOSTILE = "<!channel> *bold* <https://evil.example|click> & " * 60
LINK = "https://acme.slack.com/archives/C0FINANCE/p1"


def _request(words: str) -> InfoRequest:
    return InfoRequest(
        id=1,
        handoff_id="h_1",
        asked_by="U0APPROVER1",
        asked_to="U0APLEAD",
        question=words,
        asked_at=NOW - timedelta(hours=5),
        due_at=NOW - timedelta(hours=1),
        answered_at=NOW,
        answer=words,
        answer_by="U0APLEAD",
    )


@pytest.mark.parametrize("words", ["Which charge stays?", HOSTILE])
def test_every_builder_fits_and_keeps_words_inert(words: str) -> None:
    card = example_card("duplicate_charge_dispute")
    card = replace(card, handoff_id="h_1")
    meta = ModalMetadata("h_1", card.channel, card.message_ts, "U0APPROVER1")
    request = _request(words)
    messages = [
        question_dm(card, request, permalink=LINK),
        answer_dm(card, request, permalink=LINK),
        *(info_nudge(card, request, kind, now=NOW, permalink=LINK) for kind in NudgeKind),
        info_nudge(card, request, NudgeKind.LEAD, now=NOW, permalink=None, mention="S0FINANCE"),
    ]
    for message in messages:
        assert_within_limits(message)
        assert "<!channel>" not in json.dumps(message)
    for view in (
        request_info_modal(card, meta, ask="U0APLEAD"),
        answer_modal(card, meta, request),
    ):
        assert "<!channel>" not in json.dumps(view)
    waiting = InfoWaiting("U0APPROVER1", "U0APLEAD", words, request.asked_at, request.due_at)
    shown = handoff_message(replace(card, info=waiting), now=NOW)
    assert_within_limits(shown)
    assert "<!channel>" not in json.dumps(shown)
    assert shown["blocks"][1]["text"]["text"].startswith("❓ *Waiting for info from* <@U0APLEAD>")


def test_request_info_button_only_while_no_question_waits() -> None:
    card = example_card("duplicate_charge_dispute")

    def ids(message: dict[str, object]) -> list[str]:
        return [
            e["action_id"]
            for b in message["blocks"]  # type: ignore[attr-defined]
            if b["type"] == "actions"
            for e in b["elements"]
        ]

    assert ActionId.REQUEST_INFO in ids(handoff_message(card, now=NOW))
    waiting = InfoWaiting("U0APPROVER1", "U0APLEAD", "?", NOW, NOW + timedelta(hours=4))
    assert ActionId.REQUEST_INFO not in ids(handoff_message(replace(card, info=waiting), now=NOW))
