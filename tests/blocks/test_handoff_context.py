"""The connected systems' sections on a handoff message: order, escaping, limits, failures."""

from __future__ import annotations

import json
from dataclasses import replace

from blocks.audit import thread_note
from blocks.handoff import handoff_message
from blocks.handoff_context import LINES_MAX, context_blocks
from services.events import BOT, Event, EventType
from services.notes import note_for
from tests.blocks.cards import NOW, example_card
from tests.blocks.checks import assert_within_limits

SEVEN = ("google_sheets", "gmail", "quickbooks", "zendesk", "google_drive", "hubspot", "stripe")


def _text(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_no_context_adds_nothing() -> None:
    card = example_card("create_invoice")
    assert context_blocks(card) == []


def test_sections_come_in_a_fixed_order_with_links_and_inert_vendor_text() -> None:
    card = replace(
        example_card("create_invoice"),
        context={
            name: {
                "url": f"https://{name}.example/x",
                "label": f"{name} record",
                "lines": ["*bold* <!here> line", *[f"line {i}" for i in range(9)]],
            }
            for name in SEVEN
        },
    )
    blocks = context_blocks(card)
    titles = [b["text"]["text"].split("*")[1] for b in blocks]  # type: ignore[index]
    assert titles[:3] == ["Stripe", "HubSpot", "Zendesk"] and titles[-1] == "Google Sheets"
    first = blocks[0]["text"]["text"]  # type: ignore[index]
    assert "<https://stripe.example/x|stripe record>" in first
    assert "<!here>" not in first and "&lt;!here&gt;" in first
    assert first.count("\n") == LINES_MAX  # a few lines per system, not all of them
    message = handoff_message(card, now=NOW)
    assert_within_limits(message)


def test_a_failure_leads_its_section_and_a_non_link_url_is_not_linked() -> None:
    card = replace(
        example_card("create_invoice"),
        context={"quickbooks": {"error": "QuickBooks gave up: revoked", "url": "javascript:x"}},
    )
    [block] = context_blocks(card)
    text = block["text"]["text"]  # type: ignore[index]
    assert text.startswith("*QuickBooks*\n⚠️ QuickBooks gave up: revoked")
    assert "javascript" not in _text([block])


def test_linked_and_failed_notes_read_as_sentences_with_the_systems_name() -> None:
    linked = Event(
        EventType.EXTERNAL_LINKED,
        "h1",
        BOT,
        NOW,
        {
            "connector": "zendesk",
            "kind": "ticket",
            "id": "12",
            "url": "https://z.test/t/12",
            "label": "ticket #12",
        },
        key="k1",
    )
    spec = note_for(linked)
    assert spec is not None
    assert thread_note(spec.action, spec.actor, spec.at, detail=spec.detail)["text"] == (
        "🔗 Linked: <https://z.test/t/12|Zendesk ticket #12>"
    )
    failed = Event(
        EventType.CONNECTOR_FAILED,
        "h1",
        BOT,
        NOW,
        {"connector": "google_sheets", "reason": "quota <!channel>"},
        key="k2",
    )
    spec = note_for(failed)
    assert spec is not None
    text = thread_note(spec.action, spec.actor, spec.at, detail=spec.detail)["text"]
    assert text.startswith("⚠️ Google Sheets gave up: quota &lt;!channel&gt;.")
