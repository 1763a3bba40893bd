from __future__ import annotations

import json

import pytest

from blocks.ids import (
    OPEN_LINK_PATTERN,
    ActionId,
    BlockId,
    CallbackId,
    InputId,
    InvoiceField,
    ModalMetadata,
    SnoozeFor,
    decode_button_value,
    decode_metadata,
    decode_snooze_value,
    encode_button_value,
    encode_metadata,
    encode_snooze_value,
    link_action_id,
)


def test_every_id_is_unique_and_short() -> None:
    values = [
        m.value for enum in (ActionId, CallbackId, BlockId, InputId, InvoiceField) for m in enum
    ]
    assert len(values) == len(set(values))
    assert all(0 < len(v) <= 255 for v in values)


def test_action_and_callback_values_are_the_contract() -> None:
    assert ActionId.APPROVE.value == "handoff_approve"
    assert ActionId.OPEN_LINK.value == "handoff_open_link"
    assert CallbackId.APPROVE_MODAL.value == "handoff_approve_modal"
    assert CallbackId.INVOICE_NEW_MODAL.value == "invoice_new_modal"
    assert (BlockId.REASON, InputId.REASON) == ("reason_block", "reason_input")


def test_link_action_ids_match_the_pattern_handlers_register() -> None:
    assert OPEN_LINK_PATTERN.match(link_action_id("transcript"))
    assert OPEN_LINK_PATTERN.match(ActionId.OPEN_LINK.value)
    assert not OPEN_LINK_PATTERN.match(ActionId.APPROVE.value)


@pytest.mark.parametrize("handoff_id", ["a", "h_inv2041", "0f" * 16, "A-b_9" * 12 + "abcd"])
def test_button_value_round_trip(handoff_id: str) -> None:
    assert decode_button_value(encode_button_value(handoff_id)) == handoff_id


@pytest.mark.parametrize("garbage", ["", "a" * 65, "has space", "<@U123>", "h:1h", "é", "a/b"])
def test_button_value_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(ValueError, match="1-64 characters"):
        decode_button_value(garbage)
    with pytest.raises(ValueError, match="1-64 characters"):
        encode_button_value(garbage)


@pytest.mark.parametrize("duration", list(SnoozeFor))
def test_snooze_value_round_trip(duration: SnoozeFor) -> None:
    value = encode_snooze_value("h_inv2041", duration)
    assert value == f"h_inv2041:{duration.value}"
    assert decode_snooze_value(value) == ("h_inv2041", duration)


@pytest.mark.parametrize(
    ("garbage", "message"),
    [("h_1", "look like"), ("h_1:2h", "duration"), (":1h", "handoff id"), ("a b:1h", "handoff id")],
)
def test_snooze_value_garbage_is_refused(garbage: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_snooze_value(garbage)


@pytest.mark.parametrize(
    "meta",
    [
        ModalMetadata("h_inv2041"),
        ModalMetadata(
            "h_inv2041", channel="C0FINANCE", message_ts="1795680840.000100", user_id="U1"
        ),
        ModalMetadata("x" * 64, channel="C" * 64, message_ts="9" * 64, user_id="U" * 64),
    ],
)
def test_metadata_round_trip(meta: ModalMetadata) -> None:
    raw = encode_metadata(meta)
    assert len(raw) <= 3000
    assert " " not in raw  # compact
    assert decode_metadata(raw) == meta


def test_metadata_leaves_out_empty_fields() -> None:
    assert json.loads(encode_metadata(ModalMetadata("h_1", channel="C1"))) == {
        "handoff_id": "h_1",
        "channel": "C1",
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"channel": "C1"}', "no handoff_id"),
        ('{"handoff_id": 5}', "handoff_id"),
        ('{"handoff_id": "h_1", "evil": true}', "unknown keys: evil"),
        ('{"handoff_id": "h_1", "channel": "C 1"}', "channel"),
        ('{"handoff_id": "h_1", "user_id": 7}', "user_id"),
        ("{" + " " * 3001 + "}", "3000"),
    ],
)
def test_metadata_garbage_is_refused(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_metadata(raw)


def test_encode_metadata_refuses_a_bad_handoff_id() -> None:
    with pytest.raises(ValueError, match="handoff_id"):
        encode_metadata(ModalMetadata("not an id"))
