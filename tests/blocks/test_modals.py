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
    EmailChoice,
    InputId,
    ModalMetadata,
    decode_metadata,
)
from blocks.modals import (
    approval_step,
    approve_modal,
    decline_modal,
    escalate_modal,
    loading_modal,
    modal_error,
    reassign_modal,
)
from services.cards import ApprovalMark, HandoffCard, urgency_after_escalation
from services.documents import collections_email
from services.handoff_model import Urgency
from services.handoffs import _raise_urgency
from tests.blocks.cards import NOW, example_card, state_card
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
    assert "raises its urgency from *normal* to *high*" in text
    assert "escalation channel" in text
    assert "finance lead" in text


@pytest.mark.parametrize("urgency", list(Urgency))
def test_escalate_modal_promises_the_urgency_the_service_stores(urgency: Urgency) -> None:
    # The modal and HandoffService.escalate must agree on what escalating does to urgency.
    stored = _raise_urgency(urgency)
    assert urgency_after_escalation(urgency) is stored
    card = replace(example_card("create_invoice"), urgency=urgency)
    intro = escalate_modal(card, META)["blocks"][0]["text"]["text"]
    assert f"*{stored.value}*" in intro
    assert ("keeps" in intro) is (stored is urgency)


def test_approve_modal_states_effect_reason_and_requires_the_checkbox() -> None:
    card = _identity_card()
    view = approve_modal(card, META)
    assert view["callback_id"] == CallbackId.APPROVE_MODAL
    text = json.dumps(view, ensure_ascii=False)
    assert approval_step(card) in text
    assert "creates a Plisio invoice for" in text
    assert "low confidence (60%)" in text
    identity = next(b for b in view["blocks"] if b["type"] == "input")
    assert identity["block_id"] == BlockId.IDENTITY
    assert "optional" not in identity
    assert identity["element"]["type"] == "checkboxes"
    assert identity["element"]["action_id"] == InputId.IDENTITY
    option = identity["element"]["options"][0]
    assert option["value"] == IDENTITY_CONFIRMED
    assert option["text"]["text"] == "I have confirmed the caller is the customer on the record"


def test_approve_modal_without_money_asks_no_identity_check() -> None:
    card = example_card("vat_correction")  # unverified email, but no money moves
    view = approve_modal(card, ModalMetadata(card.handoff_id))
    assert [b for b in view["blocks"] if b["type"] == "input"] == []
    assert "records the decision and hands the next step to" in json.dumps(view)
    assert view["submit"]["text"] == "Approve"


def test_approval_step_says_what_this_click_does() -> None:
    one = example_card("create_invoice")
    assert approval_step(one) == (
        "It creates a Plisio invoice for 4,200.00 USD and sends it to ap@harborfinch.example now."
    )
    two = replace(one, two_person=True)
    assert approval_step(two).startswith("Records approval 1 of 2. Nothing else happens yet")
    assert "second, different approver" in approval_step(two)
    assert approve_modal(two, META)["submit"]["text"] == "Approve 1 of 2"
    second = replace(two, approvals=(ApprovalMark("U0APPROVER1", NOW),))
    assert approval_step(second).startswith("Approval 2 of 2 (the first came from <@U0APPROVER1>)")
    lookup = example_card("receipt_resend")
    assert "Plisio invoices in the handoff's thread" in approval_step(lookup)


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


def _email_inputs(view: dict[str, object]) -> dict[str, dict[str, object]]:
    blocks = view["blocks"]
    assert isinstance(blocks, list)
    return {b["block_id"]: b for b in blocks if b["type"] == "input" and "email" in b["block_id"]}


def test_approve_modal_offers_the_invoice_email_ticked_when_the_email_is_verified() -> None:
    card = example_card("create_invoice")
    view = approve_modal(card, META)
    validate_view(view)
    [choice] = _email_inputs(view).values()
    assert choice["block_id"] == BlockId.EMAIL
    assert choice["optional"] is True
    element = choice["element"]
    assert isinstance(element, dict)
    assert [o["value"] for o in element["initial_options"]] == [EmailChoice.INVOICE]
    assert "hint" not in choice


def test_approve_modal_says_why_no_email_can_be_sent() -> None:
    card = example_card("collections_promise")
    assert card.handoff.customer is not None
    unverified = card.handoff.customer.model_copy(update={"email_verified": False})
    no_money = (
        card.handoff.billing.model_copy(update={"amount": None}) if card.handoff.billing else None
    )
    handoff = card.handoff.model_copy(update={"customer": unverified, "billing": no_money})
    card = replace(card, handoff=handoff, amount=None, currency=None)
    followup = collections_email(card.handoff, "Acme")
    view = approve_modal(card, ModalMetadata(card.handoff_id), followup=followup)
    assert _email_inputs(view) == {}
    assert "rosa.delgado@example.org is not verified" in json.dumps(view)
    nobody = card.handoff.model_copy(update={"customer": None})
    view = approve_modal(
        replace(card, handoff=nobody), ModalMetadata(card.handoff_id), followup=followup
    )
    assert _email_inputs(view) == {}
    assert "has no customer email" in json.dumps(view)


def test_approve_modal_shows_the_collections_follow_up_to_edit() -> None:
    card = example_card("collections_promise")
    followup = collections_email(card.handoff, "Acme Inc.")
    view = approve_modal(card, ModalMetadata(card.handoff_id), followup=followup)
    validate_view(view)
    inputs = _email_inputs(view)
    element = inputs[BlockId.EMAIL]["element"]
    assert isinstance(element, dict)
    assert [o["value"] for o in element["initial_options"]] == [
        EmailChoice.INVOICE,
        EmailChoice.FOLLOWUP,
    ]
    text = inputs[BlockId.EMAIL_TEXT]
    assert text["element"] == {
        "type": "plain_text_input",
        "action_id": InputId.EMAIL_TEXT,
        "multiline": True,
        "max_length": 3000,
        "initial_value": followup.body,
    }
    assert "A friendly reminder from Acme Inc." in json.dumps(text["hint"])
    # Customer-safe fields only: nothing internal reaches the draft.
    assert "Rosa Delgado" in followup.body and "500.00" in followup.body
    assert "layoffs" not in followup.body and "Promise to pay" not in followup.body


def test_first_of_two_approvals_leaves_the_email_to_the_second() -> None:
    card = replace(example_card("create_invoice"), two_person=True)
    view = approve_modal(card, META)
    assert _email_inputs(view) == {}
    assert "second approver chooses" in json.dumps(view, ensure_ascii=False)
