from __future__ import annotations

import json
from dataclasses import replace

import pytest
from slack_sdk.models.views import View

from blocks.common import validate_view
from blocks.ids import (
    IDENTITY_CONFIRMED,
    BlockId,
    CallbackId,
    InputId,
    ModalMetadata,
    decode_metadata,
)
from blocks.modals import (
    approve_modal,
    decline_modal,
    escalate_modal,
    loading_modal,
    modal_error,
    reassign_modal,
)
from services.cards import HandoffCard, approval_effect
from tests.blocks.cards import example_card, state_card
from tests.blocks.checks import assert_golden
from tests.support.examples import example_names

META = ModalMetadata(
    "h_inv2041", channel="C0FINANCE", message_ts="1795680840.000100", user_id="U0APPROVER1"
)
BUILDERS = {
    "decline": decline_modal,
    "escalate": escalate_modal,
    "reassign": reassign_modal,
    "approve": approve_modal,
}


def _identity_card() -> HandoffCard:
    return state_card("identity_check")[0]


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_modal_golden(kind: str) -> None:
    card = _identity_card() if kind == "approve" else example_card("create_invoice")
    view = BUILDERS[kind](card, META)
    validate_view(view)
    assert View(**view).to_dict() == view  # nothing silently dropped
    assert decode_metadata(view["private_metadata"]) == META
    assert_golden(f"modal_{kind}", view)


def test_loading_modal_golden() -> None:
    view = loading_modal("Decline handoff")
    validate_view(view)
    assert_golden("modal_loading", view)
    assert len(loading_modal("A title far longer than twenty-four")["title"]["text"]) == 24


@pytest.mark.parametrize("name", example_names())
@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_every_modal_for_every_example_is_valid(kind: str, name: str) -> None:
    card = example_card(name)
    view = BUILDERS[kind](card, ModalMetadata(card.handoff_id))
    validate_view(view)
    for key in ("title", "submit", "close"):
        assert len(view[key]["text"]) <= 24
    assert len(view["private_metadata"]) <= 3000


def test_callback_ids_and_inputs() -> None:
    card = example_card("create_invoice")
    assert decline_modal(card, META)["callback_id"] == CallbackId.DECLINE_MODAL
    assert escalate_modal(card, META)["callback_id"] == CallbackId.ESCALATE_MODAL
    reassign = reassign_modal(card, META)
    assert reassign["callback_id"] == CallbackId.REASSIGN_MODAL
    inputs = {b["block_id"]: b for b in reassign["blocks"] if b["type"] == "input"}
    assert inputs[BlockId.ASSIGNEE]["element"]["type"] == "users_select"
    assert inputs[BlockId.ASSIGNEE]["element"]["action_id"] == InputId.ASSIGNEE
    assert inputs[BlockId.NOTE]["optional"] is True
    reason = next(b for b in decline_modal(card, META)["blocks"] if b["type"] == "input")
    assert (reason["block_id"], reason["element"]["action_id"]) == (BlockId.REASON, InputId.REASON)
    assert reason["element"]["multiline"] is True
    assert "optional" not in reason  # required


def test_decline_modal_copy() -> None:
    view = decline_modal(example_card("create_invoice"), META)
    assert (view["title"]["text"], view["submit"]["text"]) == ("Decline handoff", "Decline")


def test_escalate_modal_says_what_happens() -> None:
    text = json.dumps(escalate_modal(example_card("create_invoice"), META))
    assert "raises its urgency" in text
    assert "escalation channel" in text
    assert "finance lead" in text


def test_approve_modal_states_effect_reason_and_requires_the_checkbox() -> None:
    card = _identity_card()
    view = approve_modal(card, META)
    assert view["callback_id"] == CallbackId.APPROVE_MODAL
    text = json.dumps(view, ensure_ascii=False)
    assert approval_effect(card) in text
    assert "low confidence (60%)" in text
    identity = next(b for b in view["blocks"] if b["type"] == "input")
    assert identity["block_id"] == BlockId.IDENTITY
    assert "optional" not in identity
    assert identity["element"]["type"] == "checkboxes"
    assert identity["element"]["action_id"] == InputId.IDENTITY
    option = identity["element"]["options"][0]
    assert option["value"] == IDENTITY_CONFIRMED
    assert option["text"]["text"] == "I have confirmed the caller is the customer on the record"


def test_approve_modal_names_an_unverified_email() -> None:
    card = example_card("vat_correction")
    text = json.dumps(approve_modal(card, ModalMetadata(card.handoff_id)))
    assert "compta@ateliermorel.example) is not verified" in text


def test_modal_refuses_metadata_for_another_handoff() -> None:
    with pytest.raises(ValueError, match="not h_inv2041"):
        decline_modal(example_card("create_invoice"), ModalMetadata("h_other"))


def test_modal_text_is_escaped() -> None:
    card = example_card("create_invoice")
    assert card.handoff.customer is not None
    customer = card.handoff.customer.model_copy(update={"name": "<!channel> & co"})
    card = replace(card, handoff=card.handoff.model_copy(update={"customer": customer}))
    for build in BUILDERS.values():
        text = json.dumps(build(card, META))
        assert "<!channel>" not in text
        assert "&lt;!channel&gt; &amp; co" in text


def test_modal_error() -> None:
    assert modal_error(BlockId.REASON, "Say why, please.") == {
        "response_action": "errors",
        "errors": {"reason_block": "Say why, please."},
    }
