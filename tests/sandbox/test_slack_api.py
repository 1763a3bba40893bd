"""The loopback Slack Web API, driven through the real slack_sdk AsyncWebClient."""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack_api import Demo, SlackAPI, SlackError, SlackWorkspace, TokenBucket
from sandbox.slack_validate import validate_blocks, validate_view

TOKEN = "xoxb-sandbox-test"
TS = re.compile(r"^\d{10}\.\d{6}$")


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def modal(title: str = "Approve refund", n_blocks: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "approve_refund",
        "title": {"type": "plain_text", "text": title},
        "blocks": [section(f"line {i}") for i in range(n_blocks)],
        **extra,
    }


def home(text: str) -> dict[str, Any]:
    return {"type": "home", "blocks": [section(text)]}


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api() -> SlackAPI:
    return SlackAPI(SlackWorkspace.demo(), bot_token=TOKEN)


@pytest.fixture
async def base_url(api: SlackAPI) -> AsyncIterator[str]:
    async with api.serve() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=base_url)


async def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# --- messages ---------------------------------------------------------------------------------


async def test_post_message_with_blocks_resolves_channel_name_and_records_parsed_args(
    api: SlackAPI, client: AsyncWebClient
) -> None:
    blocks = [section("*Refund* for ACME-1042", "summary")]

    resp = await client.chat_postMessage(channel="#finance", text="Refund ACME-1042", blocks=blocks)

    assert resp["channel"] == Demo.FINANCE
    assert TS.match(resp["ts"])
    assert resp["message"]["blocks"] == blocks
    assert resp["message"]["bot_id"] == Demo.BOT_ID
    (call,) = api.calls_to("chat.postMessage")
    assert call.ok
    assert call.args["blocks"] == blocks
    assert "token" not in call.args
    (message,) = api.messages_in("finance")
    assert (message.ts, message.text, message.user) == (resp["ts"], "Refund ACME-1042", Demo.BOT)


async def test_form_encoded_body_with_json_string_blocks(
    api: SlackAPI, client: AsyncWebClient
) -> None:
    blocks = [section("from a form")]

    resp = await client.api_call(
        "chat.postMessage",
        data={"channel": "billing-ops", "text": "form", "blocks": json.dumps(blocks)},
    )

    assert resp["channel"] == Demo.BILLING_OPS_CHANNEL
    assert api.calls_to("chat.postMessage")[0].args["blocks"] == blocks


async def test_thread_replies_and_broadcast(api: SlackAPI, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=Demo.DISPUTES, text="Dispute opened")
    reply = await client.chat_postMessage(
        channel=Demo.DISPUTES, text="Ana is on it", thread_ts=parent["ts"]
    )
    broadcast = await client.chat_postMessage(
        channel=Demo.DISPUTES, text="Resolved", thread_ts=reply["ts"], reply_broadcast=True
    )

    assert broadcast["message"]["thread_ts"] == parent["ts"]  # a reply's ts means its parent
    replies = await client.conversations_replies(channel=Demo.DISPUTES, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == [
        "Dispute opened",
        "Ana is on it",
        "Resolved",
    ]
    assert replies["messages"][0]["reply_count"] == 2
    history = await client.conversations_history(channel=Demo.DISPUTES)
    assert [m["text"] for m in history["messages"]] == ["Resolved", "Dispute opened"]
    window = await client.conversations_history(
        channel=Demo.DISPUTES, oldest=parent["ts"], inclusive=True, limit=1
    )
    assert ([m["text"] for m in window["messages"]], window["has_more"]) == (["Resolved"], True)
    assert [m.text for m in api.thread(Demo.DISPUTES, parent["ts"])][1:] == [
        "Ana is on it",
        "Resolved",
    ]
    link = await client.chat_getPermalink(channel=Demo.DISPUTES, message_ts=reply["ts"])
    assert link["permalink"] == (
        f"https://acme.slack.com/archives/{Demo.DISPUTES}/p{reply['ts'].replace('.', '')}"
        f"?thread_ts={parent['ts']}&cid={Demo.DISPUTES}"
    )


async def test_unknown_thread_ts_is_refused(client: AsyncWebClient) -> None:
    err = await slack_error(
        client.chat_postMessage(channel="finance", text="orphan", thread_ts="1.000001")
    )
    assert err.response["error"] == "thread_not_found"


async def test_update_replaces_content_and_marks_edited(
    api: SlackAPI, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(
        channel="finance", text="Pending", blocks=[section("Pending")]
    )

    updated = await client.chat_update(
        channel="finance", ts=posted["ts"], text="Approved", blocks=[section("Approved by Ana")]
    )

    assert (updated["channel"], updated["ts"], updated["text"]) == (
        Demo.FINANCE,
        posted["ts"],
        "Approved",
    )
    (message,) = api.messages_in(Demo.FINANCE)
    assert message.blocks == [section("Approved by Ana")]
    assert message.edited is not None
    assert message.edited["user"] == Demo.BOT


async def test_update_errors(api: SlackAPI, client: AsyncWebClient) -> None:
    human = api.workspace.post_message("finance", text="hi", user=Demo.APPROVER_1)

    missing = await slack_error(client.chat_update(channel="finance", ts="1.000001", text="x"))
    foreign = await slack_error(client.chat_update(channel="finance", ts=human.ts, text="x"))

    assert missing.response["error"] == "message_not_found"
    assert foreign.response["error"] == "cant_update_message"


async def test_ephemeral(api: SlackAPI, client: AsyncWebClient) -> None:
    resp = await client.chat_postEphemeral(
        channel="finance", user=Demo.OUTSIDER, text="You cannot approve this"
    )

    assert TS.match(resp["message_ts"])
    (ephemeral,) = api.workspace.ephemerals
    assert (ephemeral.channel, ephemeral.user) == (Demo.FINANCE, Demo.OUTSIDER)
    assert api.messages_in("finance") == []


async def test_message_limits_and_argument_errors(api: SlackAPI, client: AsyncWebClient) -> None:
    too_many = [section(f"row {i}") for i in range(51)]

    blocks_err = await slack_error(
        client.chat_postMessage(channel="finance", text="big", blocks=too_many)
    )
    no_text = await slack_error(client.api_call("chat.postMessage", json={"channel": "finance"}))
    no_channel = await slack_error(client.api_call("chat.postMessage", json={"text": "hi"}))
    no_such = await slack_error(client.chat_postMessage(channel="#nope", text="hi"))

    assert blocks_err.response["error"] == "invalid_blocks"
    assert blocks_err.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]
    assert no_text.response["error"] == "no_text"
    assert no_channel.response["error"] == "invalid_arguments"
    assert no_channel.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: channel"
    ]
    assert no_such.response["error"] == "channel_not_found"
    assert api.messages_in("finance") == []
    assert [c.error for c in api.calls_to("chat.postMessage")] == [
        "invalid_blocks",
        "no_text",
        "invalid_arguments",
        "channel_not_found",
    ]


# --- people -----------------------------------------------------------------------------------


async def test_users_and_usergroups(client: AsyncWebClient) -> None:
    ana = await client.users_lookupByEmail(email="ana@acme.example")
    info = await client.users_info(user=Demo.FIN_LEAD)
    approvers = await client.usergroups_users_list(usergroup=Demo.APPROVERS_GROUP)
    missing = await slack_error(client.users_lookupByEmail(email="nobody@acme.example"))
    no_group = await slack_error(client.usergroups_users_list(usergroup="S0NOPE"))

    assert ana["user"]["id"] == Demo.APPROVER_1
    assert ana["user"]["real_name"] == "Ana Lopez"
    assert (ana["user"]["tz"], ana["user"]["tz_offset"]) == ("Europe/Madrid", 3600)
    assert info["user"]["profile"]["email"] == "lead@acme.example"
    assert approvers["users"] == [Demo.APPROVER_1, Demo.APPROVER_2]
    assert missing.response["error"] == "users_not_found"
    assert no_group.response["error"] == "no_such_subteam"


async def test_conversations_open_returns_a_stable_dm(
    api: SlackAPI, client: AsyncWebClient
) -> None:
    first = await client.conversations_open(users=[Demo.APPROVER_2])
    again = await client.conversations_open(users=Demo.APPROVER_2)
    await client.chat_postMessage(channel=first["channel"]["id"], text="Please approve")
    await client.chat_postMessage(channel=Demo.APPROVER_2, text="Reminder")  # user id -> DM

    assert first["channel"]["id"].startswith("D")
    assert "already_open" not in first
    assert again["channel"]["id"] == first["channel"]["id"]
    assert again["already_open"] is True
    assert [m.text for m in api.messages_in(first["channel"]["id"])] == [
        "Please approve",
        "Reminder",
    ]


async def test_auth(base_url: str, client: AsyncWebClient) -> None:
    me = await client.auth_test()
    wrong = await slack_error(AsyncWebClient(token="xoxb-wrong", base_url=base_url).auth_test())
    anonymous = await slack_error(AsyncWebClient(base_url=base_url).auth_test())
    unknown = await slack_error(client.api_call("chat.frobnicate"))

    assert (me["user_id"], me["team_id"], me["bot_id"]) == (Demo.BOT, Demo.TEAM, Demo.BOT_ID)
    assert wrong.response["error"] == "invalid_auth"
    assert anonymous.response["error"] == "not_authed"
    assert unknown.response["error"] == "unknown_method"


# --- views ------------------------------------------------------------------------------------


async def test_views_open_update_with_hash(api: SlackAPI, client: AsyncWebClient) -> None:
    opened = await client.views_open(trigger_id="12345.98765.abcd", view=modal("Loading…"))
    view = opened["view"]

    updated = await client.views_update(
        view_id=view["id"], hash=view["hash"], view=modal("Approve refund", private_metadata="h1")
    )
    stale = await slack_error(
        client.views_update(view_id=view["id"], hash=view["hash"], view=modal("Too late"))
    )
    missing = await slack_error(client.views_update(view_id="V404", view=modal()))

    assert view["id"].startswith("V")
    assert view["root_view_id"] == view["id"]
    assert updated["view"]["id"] == view["id"]
    assert updated["view"]["hash"] != view["hash"]
    assert updated["view"]["private_metadata"] == "h1"
    assert stale.response["error"] == "hash_conflict"
    assert missing.response["error"] == "not_found"
    assert api.workspace.views[view["id"]].title == {"type": "plain_text", "text": "Approve refund"}


async def test_views_update_by_external_id_and_push(client: AsyncWebClient) -> None:
    root = (await client.views_open(trigger_id="t1", view=modal(external_id="handoff-7")))["view"]

    updated = await client.views_update(external_id="handoff-7", view=modal("Step 1"))
    pushed = (await client.views_push(trigger_id="t2", view=modal("Step 2")))["view"]
    await client.views_push(trigger_id="t3", view=modal("Step 3"))
    too_deep = await slack_error(client.views_push(trigger_id="t4", view=modal("Step 4")))

    assert updated["view"]["id"] == root["id"]
    assert (pushed["root_view_id"], pushed["previous_view_id"]) == (root["id"], root["id"])
    assert too_deep.response["error"] == "push_limit_reached"


async def test_views_publish_home_keeps_id_and_checks_hash(
    api: SlackAPI, client: AsyncWebClient
) -> None:
    first = (await client.views_publish(user_id=Demo.APPROVER_1, view=home("2 waiting")))["view"]
    second = (
        await client.views_publish(
            user_id=Demo.APPROVER_1, view=home("1 waiting"), hash=first["hash"]
        )
    )["view"]
    stale = await slack_error(
        client.views_publish(user_id=Demo.APPROVER_1, view=home("3 waiting"), hash=first["hash"])
    )
    as_modal = await slack_error(client.views_publish(user_id=Demo.APPROVER_1, view=modal()))

    assert second["id"] == first["id"]
    assert second["type"] == "home"
    assert stale.response["error"] == "hash_conflict"
    assert as_modal.response["error"] == "invalid_arguments"
    assert api.workspace.home_views[Demo.APPROVER_1] == first["id"]


async def test_view_limits(client: AsyncWebClient) -> None:
    too_many = await slack_error(client.views_open(trigger_id="t", view=modal(n_blocks=101)))
    long_title = await slack_error(client.views_open(trigger_id="t", view=modal("x" * 25)))
    no_trigger = await slack_error(client.api_call("views.open", json={"view": modal()}))

    assert too_many.response["error"] == "invalid_blocks"
    assert long_title.response["error"] == "invalid_arguments"
    assert no_trigger.response["error"] == "invalid_arguments"
    assert (await client.views_open(trigger_id="t", view=modal(n_blocks=100)))["ok"]


# --- rate limits and failures -----------------------------------------------------------------


async def test_rate_limited_post_without_retry_handler_raises_429() -> None:
    clock = FakeClock()
    api = SlackAPI(
        SlackWorkspace.demo(),
        bot_token=TOKEN,
        per_channel_post_rate=1.0,
        per_channel_burst=2,
        clock=clock,
    )
    async with api.serve() as url:
        client = AsyncWebClient(token=TOKEN, base_url=url)
        await client.chat_postMessage(channel="finance", text="1")
        await client.chat_postMessage(channel="finance", text="2")
        await client.chat_postMessage(channel="billing-ops", text="other channel")
        err = await slack_error(client.chat_postMessage(channel=Demo.FINANCE, text="3"))
        clock.now += 1.0
        await client.chat_postMessage(channel="finance", text="3 again")

    assert err.response.status_code == 429
    assert err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "1"
    assert api.rate_limited_count == 1
    assert [m.text for m in api.messages_in("finance")] == ["1", "2", "3 again"]


async def test_rate_limited_post_succeeds_with_retry_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # slack_sdk sleeps Retry-After plus random() seconds; drop the jitter to keep this at ~1 s.
    monkeypatch.setattr(random, "random", lambda: 0.0)
    api = SlackAPI(
        SlackWorkspace.demo(), bot_token=TOKEN, per_channel_post_rate=20.0, per_channel_burst=1
    )
    async with api.serve() as url:
        client = AsyncWebClient(
            token=TOKEN, base_url=url, retry_handlers=[AsyncRateLimitErrorRetryHandler()]
        )
        await client.chat_postMessage(channel="finance", text="first")
        second = await client.chat_postMessage(channel="finance", text="second")

    assert second["ok"]
    assert api.rate_limited_count == 1
    assert [c.status for c in api.calls_to("chat.postMessage")] == [200, 429, 200]


async def test_fail_next_server_error_then_success(api: SlackAPI, base_url: str) -> None:
    retrying = AsyncWebClient(
        token=TOKEN,
        base_url=base_url,
        retry_handlers=[
            AsyncServerErrorRetryHandler(
                interval_calculator=FixedValueRetryIntervalCalculator(0.01)
            )
        ],
    )
    plain = AsyncWebClient(token=TOKEN, base_url=base_url)

    api.fail_next("chat.postMessage")
    posted = await retrying.chat_postMessage(channel="finance", text="after a blip")
    api.fail_next("chat.postMessage", status=503)
    failed = await slack_error(plain.chat_postMessage(channel="finance", text="lost"))
    api.fail_next("users.info", error="fatal_error")
    fatal = await slack_error(plain.users_info(user=Demo.APPROVER_1))

    assert posted["ok"]
    assert [c.status for c in api.calls_to("chat.postMessage")] == [500, 200, 503]
    assert failed.response.status_code == 503
    assert (fatal.response.status_code, fatal.response["error"]) == (200, "fatal_error")
    assert [m.text for m in api.messages_in("finance")] == ["after a blip"]
    with pytest.raises(ValueError, match="unknown Slack method"):
        api.fail_next("chat.frobnicate")


async def test_fail_next_rate_limit_carries_retry_after(
    api: SlackAPI, client: AsyncWebClient
) -> None:
    api.fail_next("views.publish", status=429, retry_after=7)

    err = await slack_error(client.views_publish(user_id=Demo.APPROVER_1, view=home("x")))

    assert (err.response.status_code, err.response.headers["Retry-After"]) == (429, "7")
    assert api.rate_limited_count == 1


async def test_change_events(api: SlackAPI, client: AsyncWebClient) -> None:
    events: list[dict[str, Any]] = []
    api.on_change.append(events.append)

    posted = await client.chat_postMessage(channel="finance", text="hi")
    await client.chat_update(channel="finance", ts=posted["ts"], text="hello")
    await client.chat_postEphemeral(channel="finance", user=Demo.APPROVER_1, text="psst")
    view = (await client.views_open(trigger_id="t", view=modal()))["view"]
    await client.views_update(view_id=view["id"], view=modal("v2"))
    await client.views_publish(user_id=Demo.APPROVER_1, view=home("home"))

    assert [e["type"] for e in events] == [
        "message_posted",
        "message_updated",
        "ephemeral_posted",
        "view_opened",
        "view_updated",
        "view_published",
    ]
    assert events[0] == {
        "type": "message_posted",
        "channel": Demo.FINANCE,
        "ts": posted["ts"],
        "thread_ts": None,
    }


async def test_clear_calls(api: SlackAPI, client: AsyncWebClient) -> None:
    await client.auth_test()
    api.clear_calls()
    assert api.calls == []


# --- pure state -------------------------------------------------------------------------------


def test_ts_strictly_increasing_under_a_frozen_clock() -> None:
    ws = SlackWorkspace.demo(clock=lambda: 1764170000.0001)
    stamps = [ws.next_ts() for _ in range(3)]
    assert stamps == ["1764170000.000100", "1764170000.000101", "1764170000.000102"]


@pytest.mark.parametrize("ref", [Demo.ESCALATIONS, "#finance-escalations", "finance-escalations"])
def test_resolve_channel(ref: str) -> None:
    assert SlackWorkspace.demo().resolve_channel(ref).id == Demo.ESCALATIONS


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "/blocks/0/text"),
        ([section("a", "dup"), section("b", "dup")], "/blocks/1/block_id"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "/fields"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "/text/text"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "approve",
                            "text": {"type": "plain_text", "text": "x" * 76},
                        }
                    ],
                }
            ],
            "/elements/0/text/text",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "a",
                            "text": {"type": "plain_text", "text": "A"},
                        },
                        {
                            "type": "button",
                            "action_id": "a",
                            "text": {"type": "plain_text", "text": "B"},
                        },
                    ],
                }
            ],
            "/elements/1/action_id",
        ),
        ([{"text": "no type"}], "/blocks/0"),
    ],
)
def test_block_limits(blocks: list[dict[str, Any]], pointer: str) -> None:
    with pytest.raises(SlackError) as caught:
        validate_blocks(blocks, limit=50)
    assert caught.value.error == "invalid_blocks"
    assert any(pointer in line for line in caught.value.messages)


def test_blocks_must_be_a_list() -> None:
    with pytest.raises(SlackError) as caught:
        validate_blocks("[not json", limit=50)
    assert caught.value.error == "invalid_blocks_format"


def test_modal_with_input_needs_submit() -> None:
    view = modal()
    view["blocks"] = [
        {
            "type": "input",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "reason"},
        }
    ]
    with pytest.raises(SlackError, match="submit is required"):
        validate_view(view)
    validate_view({**view, "submit": {"type": "plain_text", "text": "Send"}})


def test_issued_trigger_ids_are_single_use_and_expire() -> None:
    clock = FakeClock()
    ws = SlackWorkspace.demo(clock=clock)
    trigger = ws.issue_trigger_id(Demo.APPROVER_1)
    view = ws.open_view(trigger, modal())
    assert view.user == Demo.APPROVER_1
    with pytest.raises(SlackError, match="exchanged_trigger_id"):
        ws.open_view(trigger, modal())
    late = ws.issue_trigger_id(Demo.APPROVER_1)
    clock.now += 3.5
    with pytest.raises(SlackError, match="expired_trigger_id"):
        ws.open_view(late, modal())


def test_push_follows_the_trigger_view_and_close_pops() -> None:
    ws = SlackWorkspace.demo()
    ana = ws.open_view(ws.issue_trigger_id(Demo.APPROVER_1), modal("Ana"))
    ben = ws.open_view(ws.issue_trigger_id(Demo.APPROVER_2), modal("Ben"))
    pushed = ws.push_view(ws.issue_trigger_id(Demo.APPROVER_1, view_id=ana.id), modal("Ana 2"))
    assert (pushed.previous_view_id, pushed.user) == (ana.id, Demo.APPROVER_1)
    ws.close_view(pushed.id)
    assert [[v.id for v in stack] for stack in ws.open_modals()] == [[ana.id], [ben.id]]
    ws.close_view(ana.id)
    assert [[v.id for v in stack] for stack in ws.open_modals()] == [[ben.id]]


def test_token_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=2, clock=clock)
    assert [bucket.take(), bucket.take()] == [0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take() == 0.0


def test_listener_errors_do_not_break_the_workspace(caplog: pytest.LogCaptureFixture) -> None:
    ws = SlackWorkspace.demo()

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    ws.on_change.append(broken)
    ws.post_message("finance", text="still posted")
    assert [m.text for m in ws.resolve_channel("finance").visible()] == ["still posted"]
    assert "change listener failed" in caplog.text
