"""``sandbox.slack_state`` is a facade: its names are the role modules' own objects."""

from __future__ import annotations

import pytest

from sandbox import (
    slack_messages,
    slack_objects,
    slack_state,
    slack_store,
    slack_validate,
    slack_views,
    slack_workspace,
)

ROLE_MODULES = (
    slack_objects,
    slack_validate,
    slack_store,
    slack_messages,
    slack_views,
    slack_workspace,
)


@pytest.mark.parametrize("name", slack_state.__all__)
def test_every_public_name_is_a_role_modules_object(name: str) -> None:
    homes = [m for m in ROLE_MODULES if name in m.__all__]
    assert len(homes) == 1, f"{name} has {len(homes)} homes"
    assert getattr(slack_state, name) is getattr(homes[0], name)


def test_the_workspace_is_the_store_with_its_messages_and_views() -> None:
    ws = slack_state.SlackWorkspace.demo(clock=lambda: 1_700_000_000.0)
    assert isinstance(ws, slack_store.SlackStore)
    assert isinstance(ws, slack_messages.SlackMessages)
    assert isinstance(ws, slack_views.SlackViews)
    seen: list[str] = []
    ws.on_change.append(lambda event: seen.append(event["type"]))
    posted = ws.post_message(slack_state.Demo.FINANCE, text="hello")
    view = ws.open_view(
        ws.issue_trigger_id(slack_state.Demo.APPROVER_1),
        {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []},
    )
    assert ws.thread(slack_state.Demo.FINANCE, posted.ts) == [posted]
    assert ws.open_modals() == [[view]]
    assert seen == ["message_posted", "view_opened"]
