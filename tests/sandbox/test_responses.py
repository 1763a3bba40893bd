"""What the bot sends to a response_url is shown where Slack would show it."""

from __future__ import annotations

import pytest

from sandbox.responses import Origin, ResponseRouter
from sandbox.slack_api import Demo, SlackAPI, SlackWorkspace

API_URL = "http://127.0.0.1:9/sandbox/slack/api/"


@pytest.fixture
def api() -> SlackAPI:
    return SlackAPI(SlackWorkspace.demo(), bot_token="xoxb-t")


def answer(api: SlackAPI, key: str, body: dict[str, object]) -> None:
    """What SlackAPI does when the bot POSTs to /respond/{key}."""
    for listener in list(api.on_change):
        listener({"type": "response_url", "key": key, "body": body})


def test_urls_point_at_the_sandbox_respond_route(api: SlackAPI) -> None:
    router = ResponseRouter(api, API_URL)
    url, key = router.new_url(Origin(Demo.APPROVER_1, Demo.FINANCE))
    assert url == f"http://127.0.0.1:9/sandbox/slack/respond/{key}"


def test_an_answer_is_ephemeral_and_replace_original_replaces_it(api: SlackAPI) -> None:
    router = ResponseRouter(api, API_URL)
    _, key = router.new_url(Origin(Demo.APPROVER_1, Demo.FINANCE))
    answer(api, key, {"response_type": "ephemeral", "text": "Looking up…"})
    assert [(e.user, e.text) for e in api.workspace.ephemerals] == [
        (Demo.APPROVER_1, "Looking up…")
    ]
    answer(api, key, {"text": "3 invoices", "replace_original": True})
    assert [e.text for e in api.workspace.ephemerals] == ["3 invoices"]


def test_in_channel_answers_are_posted_to_the_channel(api: SlackAPI) -> None:
    router = ResponseRouter(api, API_URL)
    _, key = router.new_url(Origin(Demo.APPROVER_1, Demo.FINANCE))
    answer(api, key, {"response_type": "in_channel", "text": "for everyone"})
    assert [m.text for m in api.messages_in(Demo.FINANCE)] == ["for everyone"]
    assert api.workspace.ephemerals == []


def test_replace_original_on_a_message_updates_it(api: SlackAPI) -> None:
    posted = api.workspace.post_message(Demo.FINANCE, text="before")
    router = ResponseRouter(api, API_URL)
    _, key = router.new_url(Origin(Demo.APPROVER_1, Demo.FINANCE, message_ts=posted.ts))
    answer(api, key, {"replace_original": True, "text": "after"})
    assert api.workspace.message(Demo.FINANCE, posted.ts).text == "after"


def test_delete_original_removes_the_ephemeral_and_says_so(api: SlackAPI) -> None:
    changes: list[int] = []
    router = ResponseRouter(api, API_URL, changed=lambda: changes.append(1))
    _, key = router.new_url(Origin(Demo.APPROVER_1, Demo.FINANCE))
    answer(api, key, {"text": "temporary"})
    answer(api, key, {"delete_original": True})
    assert api.workspace.ephemerals == []
    assert changes == [1]


def test_unknown_keys_and_odd_bodies_are_ignored(api: SlackAPI) -> None:
    router = ResponseRouter(api, API_URL)
    _, key = router.new_url(Origin(Demo.APPROVER_1, Demo.FINANCE))
    answer(api, "nobody", {"text": "lost"})
    router.apply(key, ["not", "an", "object"])
    answer(api, key, {"response_type": "ephemeral"})  # nothing to show
    assert api.workspace.ephemerals == []


def test_answers_wait_for_the_ack_they_follow(api: SlackAPI) -> None:
    router = ResponseRouter(api, API_URL)
    _, key = router.new_url(Origin(Demo.APPROVER_1, Demo.FINANCE), hold=True)
    answer(api, key, {"text": "3 invoices", "replace_original": True})  # raced ahead of the ack
    assert api.workspace.ephemerals == []
    router.release(key, {"response_type": "ephemeral", "text": "Looking up…"})
    assert [e.text for e in api.workspace.ephemerals] == ["3 invoices"]
    answer(api, key, {"text": "later"})
    assert [e.text for e in api.workspace.ephemerals] == ["3 invoices", "later"]
