"""The typed Slack payload wrappers, parsed from bodies shaped as Slack sends them."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from blocks.ids import (
    ActionId,
    BlockId,
    CallbackId,
    InputId,
    InvoiceField,
    ModalMetadata,
    SnoozeFor,
    encode_metadata,
    encode_snooze_value,
)
from handlers.payloads import (
    BlockAction,
    MalformedPayload,
    SlashCommand,
    Surface,
    ViewSubmission,
    read_action,
    read_command,
    read_submission,
)
from tests.support.slack import block_action, slash_command, view_submission


def body(fields: dict[str, str]) -> dict[str, Any]:
    """What Bolt hands a listener: the decoded ``payload`` form field."""
    decoded: dict[str, Any] = json.loads(fields["payload"])
    return decoded


def click(**changes: Any) -> dict[str, Any]:
    data = body(
        block_action(
            user="U0APPROVER1",
            action_id=ActionId.APPROVE.value,
            value="h_123",
            channel="C0FINANCE",
            message_ts="1700000000.000100",
            response_url="https://hooks.slack.test/actions/1",
        )
    )
    data.update(changes)
    return data


# ---- BlockAction ------------------------------------------------------------------------------


def test_a_button_click() -> None:
    data = click()
    parsed = BlockAction.parse(data)
    assert parsed == BlockAction(
        user_id="U0APPROVER1",
        action_id="handoff_approve",
        trigger_id=data["trigger_id"],
        value="h_123",
        team_id="T0SANDBOX",
        channel_id="C0FINANCE",
        message_ts="1700000000.000100",
        surface=Surface.MESSAGE,
        response_url="https://hooks.slack.test/actions/1",
    )


def test_a_menu_choice_carries_the_selected_option() -> None:
    value = encode_snooze_value("h_123", SnoozeFor.TOMORROW)
    data = body(
        block_action(
            user="U0OWNER",
            action_id=ActionId.SNOOZE.value,
            value=value,
            channel="D0OWNER",
            message_ts="1.2",
            selected=True,
        )
    )
    parsed = BlockAction.parse(data)
    assert parsed.value == value
    assert parsed.action_id == "handoff_snooze"
    assert parsed.response_url is None  # an empty response_url is no URL


def test_an_action_without_a_value_has_an_empty_one() -> None:
    data = click()
    del data["actions"][0]["value"]
    assert BlockAction.parse(data).value == ""


@pytest.mark.parametrize(
    ("container", "view", "surface"),
    [
        ({"type": "message", "message_ts": "1.2", "channel_id": "C1"}, None, Surface.MESSAGE),
        (
            {"type": "message", "message_ts": "1.2", "channel_id": "C1", "is_ephemeral": True},
            None,
            Surface.EPHEMERAL,
        ),
        ({"type": "view", "view_id": "V1"}, {"id": "V1", "type": "modal"}, Surface.VIEW),
        ({"type": "view", "view_id": "V1"}, {"id": "V1", "type": "home"}, Surface.HOME),
        (None, {"id": "V1", "type": "home", "hash": "h1"}, Surface.HOME),
        (None, None, Surface.MESSAGE),
    ],
)
def test_where_the_click_came_from(
    container: dict[str, Any] | None, view: dict[str, Any] | None, surface: Surface
) -> None:
    data = click()
    del data["container"]
    if container is not None:
        data["container"] = container
    if view is not None:
        data["view"] = view
    parsed = BlockAction.parse(data)
    assert parsed.surface is surface
    if view is not None:
        assert parsed.view_id == "V1"
        assert parsed.view_hash == view.get("hash")


def test_a_click_in_a_modal_has_no_channel_or_message() -> None:
    data = click(view={"id": "V9", "type": "modal", "hash": "abc"})
    del data["channel"], data["message"]
    parsed = BlockAction.parse(data)
    assert (parsed.channel_id, parsed.message_ts) == (None, None)
    assert (parsed.view_id, parsed.view_hash) == ("V9", "abc")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"actions": []}, "actions"),
        ({"actions": "x"}, "actions"),
        ({"actions": ["x"]}, "actions"),
        ({"actions": None}, "actions"),
        ({"user": None}, "user.id"),
        ({"user": {"name": "ana"}}, "user.id"),
        ({"user": {"id": 7}}, "user.id"),
        ({"trigger_id": None}, "trigger_id"),
        ({"trigger_id": ""}, "trigger_id"),
        ({"channel": {"id": ["C1"]}}, "channel.id"),
        ({"message": {"ts": 1.5}}, "message.ts"),
    ],
)
def test_malformed_clicks_name_the_field(change: dict[str, Any], field: str) -> None:
    data = click(**change)
    with pytest.raises(MalformedPayload) as raised:
        BlockAction.parse(data)
    assert raised.value.field == field
    assert raised.value.kind == "block_actions"


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"value": "h_1"}, "actions[0].action_id"),
        ({"action_id": "", "value": "h_1"}, "actions[0].action_id"),
        ({"action_id": "handoff_approve", "value": 12}, "actions[0].value"),
    ],
)
def test_malformed_actions_name_the_field(action: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedPayload) as raised:
        BlockAction.parse(click(actions=[action]))
    assert raised.value.field == field


def test_a_missing_channel_or_message_is_not_malformed() -> None:
    data = click()
    del data["channel"], data["message"], data["team"]
    parsed = BlockAction.parse(data)
    assert (parsed.channel_id, parsed.message_ts, parsed.team_id) == (None, None, None)


def test_read_action_logs_and_ignores_a_malformed_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.payloads")
    secret = "4111111111111111"
    assert read_action({"type": "block_actions", "user": {"id": secret}, "actions": []}) is None
    assert "ignored a malformed Slack block_actions: actions" in caplog.text
    assert secret not in caplog.text
    data = click()
    assert read_action(data) == BlockAction.parse(data)


# ---- ViewSubmission ---------------------------------------------------------------------------


META = ModalMetadata("h_123", "C0FINANCE", "1700000000.000100", "U0APPROVER1")


def submission(values: dict[str, dict[str, Any]], **view_changes: Any) -> dict[str, Any]:
    data = body(
        view_submission(
            user="U0APPROVER1",
            callback_id=CallbackId.REASSIGN_MODAL.value,
            private_metadata=encode_metadata(META),
            values=values,
        )
    )
    data["view"].update(view_changes)
    return data


VALUES: dict[str, dict[str, Any]] = {
    BlockId.REASON.value: {
        InputId.REASON.value: {"type": "plain_text_input", "value": "  a reason "}
    },
    BlockId.ASSIGNEE.value: {
        InputId.ASSIGNEE.value: {"type": "users_select", "selected_user": "U0BILLING"}
    },
    BlockId.IDENTITY.value: {
        InputId.IDENTITY.value: {
            "type": "checkboxes",
            "selected_options": [{"value": "identity_confirmed"}],
        }
    },
    BlockId.NOTE.value: {InputId.NOTE.value: {"type": "plain_text_input", "value": None}},
    InvoiceField.CURRENCY.value: {
        InvoiceField.CURRENCY.value + "_input": {
            "type": "static_select",
            "selected_option": {"value": "EUR", "text": {"type": "plain_text", "text": "EUR"}},
        }
    },
}


def test_a_submission() -> None:
    data = submission(VALUES)
    parsed = ViewSubmission.parse(data)
    assert parsed.user_id == "U0APPROVER1"
    assert parsed.callback_id == "handoff_reassign_modal"
    assert parsed.team_id == "T0SANDBOX"
    assert parsed.trigger_id == data["trigger_id"]
    assert (parsed.view_id, parsed.view_hash) == ("V0TEST", "h")
    assert parsed.metadata() == META


@pytest.mark.parametrize(
    ("block", "action", "value"),
    [
        (BlockId.REASON, InputId.REASON, "  a reason "),  # as typed: the services clean it
        (BlockId.ASSIGNEE, InputId.ASSIGNEE, "U0BILLING"),
        (BlockId.IDENTITY, InputId.IDENTITY, ["identity_confirmed"]),
        (BlockId.NOTE, InputId.NOTE, None),
        (BlockId.REASON, InputId.NOTE, None),  # a known block, another input
        ("nowhere", "nothing", None),
    ],
)
def test_state_values_by_block_and_action(block: str, action: str, value: Any) -> None:
    assert ViewSubmission.parse(submission(VALUES)).value(block, action) == value


def test_a_select_gives_its_chosen_option() -> None:
    parsed = ViewSubmission.parse(submission(VALUES))
    currency = InvoiceField.CURRENCY.value
    assert parsed.selected(currency, currency + "_input") == "EUR"
    assert parsed.selected(BlockId.REASON, InputId.REASON) is None


def test_an_unchecked_checkbox_is_an_empty_list() -> None:
    values = {
        BlockId.IDENTITY.value: {
            InputId.IDENTITY.value: {"type": "checkboxes", "selected_options": []}
        }
    }
    assert ViewSubmission.parse(submission(values)).value(BlockId.IDENTITY, InputId.IDENTITY) == []


@pytest.mark.parametrize(
    "state",
    [
        None,
        {},
        {"values": None},
        {"values": "x"},
        {"values": {"b": "x"}},
        {"values": {"b": {"a": 1}}},
    ],
)
def test_missing_or_odd_state_reads_as_nothing_typed(state: Any) -> None:
    data = submission({})
    data["view"]["state"] = state
    parsed = ViewSubmission.parse(data)
    assert parsed.values == {}
    assert parsed.value("b", "a") is None


def test_missing_metadata_is_empty_and_decoding_it_is_a_value_error() -> None:
    data = submission(VALUES)
    del data["view"]["private_metadata"]
    parsed = ViewSubmission.parse(data)
    assert parsed.private_metadata == ""
    with pytest.raises(ValueError, match="private_metadata"):
        parsed.metadata()


@pytest.mark.parametrize("metadata", ["{not json", "[]", '{"handoff_id": "x", "other": 1}'])
def test_garbage_metadata_raises_what_blocks_ids_raises(metadata: str) -> None:
    parsed = ViewSubmission.parse(submission(VALUES, private_metadata=metadata))
    with pytest.raises(ValueError):  # noqa: PT011 - decode_metadata's own messages vary
        parsed.metadata()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("view"), "view"),
        (lambda d: d.update(view="x"), "view"),
        (lambda d: d["view"].pop("callback_id"), "view.callback_id"),
        (lambda d: d["view"].update(private_metadata=["x"]), "view.private_metadata"),
        (lambda d: d.pop("user"), "user.id"),
        (lambda d: d.update(user={"id": ""}), "user.id"),
    ],
)
def test_malformed_submissions_name_the_field(mutate: Any, field: str) -> None:
    data = submission(VALUES)
    mutate(data)
    with pytest.raises(MalformedPayload) as raised:
        ViewSubmission.parse(data)
    assert raised.value.field == field
    assert read_submission(data) is None


# ---- SlashCommand -----------------------------------------------------------------------------


def command(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        slash_command(
            user="U0APPROVER1",
            command="/handoff",
            text=" dnx_call_1 ",
            channel="C0FINANCE",
            response_url="https://hooks.slack.test/commands/1",
        )
    )
    fields.update(changes)
    return fields


def test_a_command() -> None:
    fields = command()
    assert SlashCommand.parse(fields) == SlashCommand(
        user_id="U0APPROVER1",
        command="/handoff",
        trigger_id=fields["trigger_id"],
        response_url="https://hooks.slack.test/commands/1",
        text=" dnx_call_1 ",  # as typed: each command reads its own words
        channel_id="C0FINANCE",
        team_id="T0SANDBOX",
    )


@pytest.mark.parametrize("text", [None, ""])
def test_a_command_without_text(text: str | None) -> None:
    assert SlashCommand.parse(command(text=text)).text == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"user_id": None}, "user_id"),
        ({"command": ""}, "command"),
        ({"trigger_id": None}, "trigger_id"),
        ({"response_url": None}, "response_url"),
        ({"text": ["a"]}, "text"),
        ({"channel_id": 5}, "channel_id"),
    ],
)
def test_malformed_commands_name_the_field(change: dict[str, Any], field: str) -> None:
    fields = command(**change)
    with pytest.raises(MalformedPayload) as raised:
        SlashCommand.parse(fields)
    assert raised.value.field == field
    assert read_command(fields) is None


def test_a_command_without_a_channel_is_not_malformed() -> None:
    fields = command()
    del fields["channel_id"], fields["team_id"]
    parsed = SlashCommand.parse(fields)
    assert (parsed.channel_id, parsed.team_id) == (None, None)


def test_wrappers_are_frozen() -> None:
    parsed = SlashCommand.parse(command())
    with pytest.raises(AttributeError):
        parsed.text = "changed"  # type: ignore[misc]
