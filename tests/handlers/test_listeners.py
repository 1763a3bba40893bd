"""The listeners are plain functions: called here with fakes for Bolt, Slack and their deps."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from blocks.ids import (
    OPEN_LINK_PATTERN,
    ActionId,
    BlockId,
    CallbackId,
    InputId,
    ModalMetadata,
    SnoozeFor,
    encode_metadata,
    encode_snooze_value,
)
from handlers import (
    actions,
    approver_dms,
    commands,
    delegation,
    export,
    home,
    info,
    messages,
    reissue,
    views,
)
from handlers.decisions import REFUSED
from services.cards import HandoffCard
from services.handoffs import DecisionResult, Outcome
from services.permissions import Actor
from services.reasons import NO_REASON
from tests.blocks.cards import example_card
from tests.support.routing import make_routing
from tests.support.slack import block_action, slash_command, view_submission

NOW = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)
APPROVER, OUTSIDER = "U0APPROVER1", "U0OUTSIDER"


class Ack:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class Client:
    """Records every Web API call; answers what the listeners read back."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Any:
        async def call(**kwargs: Any) -> dict[str, Any]:
            self.calls.append((method, kwargs))
            return {"ok": True, "permalink": "https://slack.test/p1", "channel": {"id": "D0DM"}}

        return call

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]


@dataclass
class Handoffs:
    card_value: HandoffCard | None
    result: DecisionResult | None = None
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    async def card(self, handoff_id: str) -> HandoffCard | None:
        return self.card_value

    async def record(self, *args: Any) -> None:
        self.calls.append(("record", args))

    async def snooze(self, *args: Any) -> DecisionResult | None:
        self.calls.append(("snooze", args))
        return self.result

    async def decline(self, *args: Any, on_behalf_of: str | None = None) -> DecisionResult | None:
        self.calls.append(("decline", args if on_behalf_of is None else (*args, on_behalf_of)))
        return self.result

    async def reissue(self, *args: Any, **kwargs: Any) -> DecisionResult | None:
        self.calls.append(("reissue", (*args, kwargs)))
        return self.result


@dataclass
class Recorder:
    """A refresher, a Home tab, an outbox and a directory in one: it notes what was asked."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    tz: str = "America/New_York"

    async def refresh(self, key: str, **kwargs: Any) -> None:
        self.calls.append(("refresh", (key, kwargs)))

    def kick(self) -> None:
        self.calls.append(("kick", None))

    async def user_info(self, user_id: str) -> dict[str, Any]:
        self.calls.append(("user_info", user_id))
        return {"tz": self.tz}


@dataclass
class Deps:
    """Only what the Protocols ask for: no Container, no database."""

    handoffs: Handoffs
    refresher: Recorder = field(default_factory=Recorder)
    home: Recorder = field(default_factory=Recorder)
    outbox: Recorder = field(default_factory=Recorder)
    directory: Recorder = field(default_factory=Recorder)
    routing: Any = field(default_factory=make_routing)
    sandbox: bool = False
    db: Any = None  # the conversation's queries keep it; registering reads nothing
    info: Any = None  # Request info's questions; registering reads nothing

    def clock(self) -> datetime:
        return NOW

    async def actor(self, user_id: str) -> Actor:
        return Actor(user_id, is_approver=user_id == APPROVER, in_finance=user_id == APPROVER)


def payload(fields: dict[str, str]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(fields["payload"])
    return decoded


def click(action: ActionId, value: str, *, user: str = APPROVER, channel: str = "C0FIN") -> Any:
    return payload(
        block_action(
            user=user,
            action_id=action.value,
            value=value,
            channel=channel,
            message_ts="1.1",
            selected=action is ActionId.SNOOZE,
        )
    )


@pytest.fixture
def card() -> HandoffCard:
    return replace(example_card("create_invoice"), channel="C0FIN", message_ts="1.1")


async def test_a_malformed_click_is_acked_and_ignored(card: HandoffCard) -> None:
    ack, client, deps = Ack(), Client(), Deps(Handoffs(card))
    await actions.approve(ack, {"type": "block_actions", "actions": []}, client, deps)
    assert ack.calls == [{}]
    assert client.calls == [] and deps.handoffs.calls == []


async def test_approve_opens_the_confirm_modal_with_the_trigger(card: HandoffCard) -> None:
    ack, client, deps = Ack(), Client(), Deps(Handoffs(card))
    body = click(ActionId.APPROVE, card.handoff_id)
    await actions.approve(ack, body, client, deps)
    assert ack.calls == [{}]
    [(method, args)] = client.calls
    assert method == "views_open" and args["trigger_id"] == body["trigger_id"]
    assert args["view"]["callback_id"] == CallbackId.APPROVE_MODAL.value


async def test_a_refused_click_is_told_and_audited(card: HandoffCard) -> None:
    ack, client, deps = Ack(), Client(), Deps(Handoffs(card))
    await actions.approve(
        ack, click(ActionId.APPROVE, card.handoff_id, user=OUTSIDER), client, deps
    )
    assert client.methods() == ["chat_postEphemeral"]
    [(what, (handoff_id, user, action, detail))] = deps.handoffs.calls
    assert (what, handoff_id, user, action) == ("record", card.handoff_id, OUTSIDER, REFUSED)
    assert detail == {"action": "approve", "reason": "not_approver"}


async def test_snooze_from_a_reminder_dm_until_tomorrow_where_the_person_is(
    card: HandoffCard,
) -> None:
    deps = Deps(Handoffs(card, DecisionResult(Outcome.DONE, card=card)))
    client = Client()
    value = encode_snooze_value(card.handoff_id, SnoozeFor.TOMORROW)
    await actions.snooze(Ack(), click(ActionId.SNOOZE, value, channel="D0DM"), client, deps)
    until = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # 09:00 in New York
    assert deps.handoffs.calls == [("snooze", (card.handoff_id, APPROVER, until))]
    assert deps.directory.calls == [("user_info", APPROVER)]
    [(_, (refreshed, kwargs))] = deps.refresher.calls
    # The note is queued with the snooze event (services.notes); the refresh posts it.
    assert refreshed == card.handoff_id and "note" not in kwargs
    assert deps.home.calls == [("refresh", (APPROVER, {}))]
    assert deps.outbox.calls == []  # nothing was queued
    # The reminder DM it was clicked in is updated where it is.
    assert client.methods() == ["chat_getPermalink", "chat_update"]
    assert client.calls[-1][1]["channel"] == "D0DM"


async def test_a_one_hour_snooze_needs_no_time_zone(card: HandoffCard) -> None:
    deps = Deps(Handoffs(card, DecisionResult(Outcome.DONE, card=card)))
    value = encode_snooze_value(card.handoff_id, SnoozeFor.ONE_HOUR)
    await actions.snooze(Ack(), click(ActionId.SNOOZE, value), Client(), deps)
    assert deps.directory.calls == []


async def test_reissue_not_applicable_is_refused_with_its_code(card: HandoffCard) -> None:
    handoffs = Handoffs(card, DecisionResult(Outcome.NOT_APPLICABLE, by="U0APPROVER2", at=NOW))
    deps, client = Deps(handoffs), Client()
    await reissue.reissue(Ack(), click(ActionId.REISSUE, card.handoff_id), client, deps)
    assert client.methods() == ["chat_postEphemeral"]
    assert handoffs.calls[0] == ("reissue", (card.handoff_id, APPROVER, {"is_approver": True}))
    assert handoffs.calls[-1][1][3] == {"action": "reissue", "reason": "already_reissued"}


def reason_submission(reason: str | None, card: HandoffCard) -> dict[str, Any]:
    meta = ModalMetadata(card.handoff_id, card.channel, card.message_ts, APPROVER)
    values = {BlockId.REASON.value: {InputId.REASON.value: {"value": reason}}}
    return payload(
        view_submission(
            user=APPROVER,
            callback_id=CallbackId.DECLINE_MODAL.value,
            private_metadata=encode_metadata(meta),
            values=values,
        )
    )


@pytest.mark.parametrize("reason", [None, "", "   "])
async def test_decline_without_a_reason_is_an_inline_error(
    reason: str | None, card: HandoffCard
) -> None:
    ack, client, deps = Ack(), Client(), Deps(Handoffs(card))
    await views.decline(ack, reason_submission(reason, card), client, deps)
    assert ack.calls == [{"response_action": "errors", "errors": {BlockId.REASON.value: NO_REASON}}]
    assert client.calls == [] and deps.handoffs.calls == []


async def test_decline_stores_the_cleaned_reason(card: HandoffCard) -> None:
    deps = Deps(Handoffs(card, DecisionResult(Outcome.DONE, card=card)))
    ack = Ack()
    await views.decline(ack, reason_submission("  duplicate  ", card), Client(), deps)
    assert ack.calls == [{}]
    assert deps.handoffs.calls == [("decline", (card.handoff_id, APPROVER, "duplicate"))]


async def test_a_malformed_submission_is_acked_and_ignored(card: HandoffCard) -> None:
    ack, deps = Ack(), Deps(Handoffs(card))
    await views.decline(ack, {"type": "view_submission", "user": {"id": APPROVER}}, Client(), deps)
    assert ack.calls == [{}] and deps.handoffs.calls == []


async def test_handoff_without_a_call_id_answers_its_usage(card: HandoffCard) -> None:
    ack = Ack()
    fields = slash_command(
        user=APPROVER, command="/handoff", text="  ", channel="C0FIN", response_url="https://r"
    )

    async def respond(**kwargs: Any) -> None:
        raise AssertionError("nothing to respond")

    await commands.handoff(ack, fields, respond, Client(), Deps(Handoffs(card)))
    assert ack.calls == [{"response_type": "ephemeral", "text": commands.HANDOFF_USAGE}]


@pytest.mark.parametrize(
    ("event", "published"),
    [
        ({"type": "app_home_opened", "user": APPROVER, "tab": "home"}, [APPROVER]),
        ({"type": "app_home_opened", "user": APPROVER}, [APPROVER]),
        ({"type": "app_home_opened", "user": APPROVER, "tab": "messages"}, []),
        ({"type": "app_home_opened", "tab": "home"}, []),
    ],
)
async def test_home_opened(event: dict[str, Any], published: list[str], card: HandoffCard) -> None:
    deps = Deps(Handoffs(card))
    await home.home_opened(event, deps)
    assert [args[0] for _, args in deps.home.calls] == published


class App:
    """Records what ``register`` wires, as Bolt's decorators would."""

    def __init__(self) -> None:
        self.wired: dict[tuple[str, str], Any] = {}

    def _wire(self, kind: str, key: Any) -> Any:
        def decorator(listener: Any) -> Any:
            self.wired[(kind, str(getattr(key, "pattern", key)))] = listener
            return listener

        return decorator

    def action(self, key: Any) -> Any:
        return self._wire("action", key)

    def view(self, key: Any) -> Any:
        return self._wire("view", key)

    def command(self, key: Any) -> Any:
        return self._wire("command", key)

    def event(self, key: Any) -> Any:
        return self._wire("event", key)

    def use(self, middleware: Any) -> None:
        self.wired[("middleware", type(middleware).__name__)] = middleware


def test_register_wires_every_id_and_nothing_else(card: HandoffCard) -> None:
    app, deps = App(), Deps(Handoffs(card))
    modules = (actions, reissue, views, info, commands, home, approver_dms, messages, export)
    for module in (*modules, delegation):
        module.register(app, deps)
    assert set(app.wired) == {
        *(("action", a.value) for a in ActionId if a is not ActionId.OPEN_LINK),
        ("action", OPEN_LINK_PATTERN.pattern),
        *(("view", c.value) for c in CallbackId),
        *(("command", c) for c in commands.COMMANDS),
        ("event", "app_home_opened"),
        *(("event", e) for e in messages.EVENTS),
        ("middleware", "AsyncAssistant"),
    }
    assert app.wired[("action", OPEN_LINK_PATTERN.pattern)] is actions.link
