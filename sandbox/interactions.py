"""Turn what a visitor does on the sandbox page into the signed requests Slack would send.

Values a click or a submission carries are taken from the stored message or view, never from
the page, so the bot sees exactly what Slack would send for that element.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sandbox.events import events_for
from sandbox.forward import Answer, BotLink
from sandbox.payloads import (
    app_home_opened,
    block_actions,
    interaction_form,
    slash_command,
    view_submission,
)
from sandbox.responses import Origin, ResponseRouter
from sandbox.slack_objects import JsonDict, Message, SlackError, User, View
from sandbox.slack_workspace import SlackWorkspace

__all__ = ["Interactions", "PageError"]

_COMMAND = re.compile(r"^(/[a-z0-9_-]{1,31})(?:\s+(.*))?$", re.DOTALL | re.IGNORECASE)


class PageError(Exception):
    """A request from the page that cannot be carried out; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Submitted:
    """What a view submission led to: closed, errors to show, or the bot's failure."""

    result: str
    answer: Answer
    errors: dict[str, str] | None = None


def _block_id(block: JsonDict, index: int) -> str:
    return str(block.get("block_id") or f"sandbox-block-{index}")


def _elements(blocks: list[JsonDict]) -> list[tuple[str, JsonDict]]:
    """(block id, element) for every interactive element in ``blocks``."""
    found: list[tuple[str, JsonDict]] = []
    for index, block in enumerate(blocks):
        block_id = _block_id(block, index)
        if block.get("type") == "actions":
            found.extend((block_id, el) for el in block.get("elements", []))
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            found.append((block_id, block["accessory"]))
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            found.append((block_id, block["element"]))
    return found


def _option(element: JsonDict, value: object) -> JsonDict:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    for option in options:
        if option.get("value") == value:
            return dict(option)
    raise PageError(f"no option {value!r} in {element.get('action_id')}")


def _action(block_id: str, element: JsonDict, chosen: JsonDict) -> JsonDict:
    kind = str(element.get("type"))
    action: JsonDict = {"type": kind, "block_id": block_id, "action_id": element.get("action_id")}
    if kind == "button":
        action["text"] = element.get("text")
        for key in ("value", "url", "style"):
            if key in element:
                action[key] = element[key]
    elif kind in ("overflow", "static_select", "radio_buttons"):
        action["selected_option"] = _option(element, chosen.get("value"))
    elif kind == "users_select":
        action["selected_user"] = chosen.get("value")
    else:
        raise PageError(f"the sandbox does not send actions for {kind} elements")
    return action


def _input_state(element: JsonDict, raw: JsonDict) -> JsonDict:
    kind = str(element.get("type"))
    state: JsonDict = {"type": kind}
    value = raw.get("value")
    if kind in ("plain_text_input", "email_text_input", "number_input", "url_text_input"):
        state["value"] = value if isinstance(value, str) and value != "" else None
    elif kind == "users_select":
        state["selected_user"] = value or None
    elif kind in ("static_select", "radio_buttons"):
        state["selected_option"] = _option(element, value) if value else None
    elif kind == "checkboxes":
        values = value if isinstance(value, list) else []
        state["selected_options"] = [_option(element, v) for v in values]
    elif kind == "datepicker":
        state["selected_date"] = value or None
    else:
        raise PageError(f"the sandbox cannot submit {kind} inputs")
    return state


class Interactions:
    """Carries out the page's clicks, submissions, commands and Home tab visits."""

    def __init__(self, workspace: SlackWorkspace, link: BotLink, responses: ResponseRouter) -> None:
        self.workspace = workspace
        self.link = link
        self.responses = responses

    def user(self, user_id: object) -> User:
        """The acting member, or a 400 for the page."""
        user = self.workspace.users.get(str(user_id))
        if user is None or user.is_bot:
            raise PageError(f"unknown user {user_id!r}")
        return user

    def _message(self, channel: object, ts: object) -> Message:
        try:
            return self.workspace.message(str(channel), str(ts))
        except SlackError as exc:
            raise PageError(f"no such message ({exc.error})", 404) from None

    def _view(self, view_id: object) -> View:
        view = self.workspace.views.get(str(view_id))
        if view is None:
            raise PageError("no such view", 404)
        return view

    async def click(self, user_id: object, source: JsonDict, chosen: JsonDict) -> Answer:
        """A click on a button or menu in a message, an ephemeral message, a modal or Home."""
        user = self.user(user_id)
        kind = source.get("type")
        message: Message | None = None
        view: View | None = None
        ephemeral_channel: str | None = None
        if kind == "message":
            message = self._message(source.get("channel"), source.get("ts"))
            blocks = message.blocks
            origin = Origin(user.id, message.channel, message_ts=message.ts)
        elif kind == "ephemeral":
            found = [e for e in self.workspace.ephemerals if e.ts == source.get("ts")]
            if not found or found[0].user != user.id:
                raise PageError("no such ephemeral message", 404)
            blocks, ephemeral_channel = found[0].blocks, found[0].channel
            origin = Origin(user.id, ephemeral_channel, ephemeral_ts=found[0].ts)
        elif kind == "view":
            view = self._view(source.get("view_id"))
            blocks = view.blocks
            origin = Origin(user.id, None)
        else:
            raise PageError("source.type must be message, ephemeral or view")
        matches = [
            (block_id, el)
            for block_id, el in _elements(blocks)
            if el.get("action_id") == chosen.get("action_id")
        ]
        if not matches:
            raise PageError(f"no element {chosen.get('action_id')!r} there", 404)
        action = _action(*matches[0], chosen)
        # Slack gives message clicks a response_url; clicks in modals and Home get none.
        url = None if view is not None else self.responses.new_url(origin)[0]
        payload = block_actions(
            self.workspace,
            user,
            action,
            trigger_id=self.workspace.issue_trigger_id(user.id, view_id=view.id if view else None),
            response_url=url,
            message=message,
            ephemeral_channel=ephemeral_channel,
            view=view,
        )
        return await self.link.slack_form(interaction_form(payload))

    async def submit(self, user_id: object, view_id: object, raw: Any) -> Submitted:
        """Submit a modal; apply the bot's ``response_action`` as Slack would."""
        user = self.user(user_id)
        view = self._view(view_id)
        if view.type != "modal" or view.user not in (None, user.id):
            raise PageError("that modal belongs to someone else", 403)
        given = raw if isinstance(raw, dict) else {}
        values: JsonDict = {}
        for index, block in enumerate(view.blocks):
            element = block.get("element")
            if block.get("type") != "input" or not isinstance(element, dict):
                continue
            block_id, action_id = _block_id(block, index), str(element.get("action_id"))
            entry = (given.get(block_id) or {}).get(action_id) or {}
            values[block_id] = {action_id: _input_state(element, entry)}
        view.state = {"values": values}
        payload = view_submission(
            self.workspace,
            user,
            view,
            values,
            trigger_id=self.workspace.issue_trigger_id(user.id, view_id=view.id),
        )
        answer = await self.link.slack_form(interaction_form(payload))
        return self._after_submit(user, view, answer)

    def _after_submit(self, user: User, view: View, answer: Answer) -> Submitted:
        if not answer.ok:
            return Submitted("failed", answer)
        body = answer.body if isinstance(answer.body, dict) else {}
        action = body.get("response_action")
        try:
            if action == "errors":
                return Submitted("errors", answer, errors=dict(body.get("errors") or {}))
            if action == "update":
                self.workspace.update_view(body.get("view"), view_id=view.id)
            elif action == "push":
                trigger = self.workspace.issue_trigger_id(user.id, view_id=view.id)
                self.workspace.push_view(trigger, body.get("view"))
            elif action == "clear":
                self.workspace.close_view(view.root_view_id or view.id)
            else:
                self.workspace.close_view(view.id)
        except SlackError as exc:
            return Submitted("failed", Answer(answer.status, {"error": exc.error}))
        return Submitted(action or "closed", answer)

    def close(self, user_id: object, view_id: object) -> None:
        """Close a modal (the X or Cancel button)."""
        self.user(user_id)
        try:
            self.workspace.close_view(str(view_id))
        except SlackError:
            raise PageError("that modal is not open", 404) from None

    async def command(self, user_id: object, channel_id: object, line: str) -> Answer | None:
        """Run a slash command, or post ordinary text as the user's own message."""
        user = self.user(user_id)
        try:
            channel = self.workspace.resolve_channel(str(channel_id))
        except SlackError:
            raise PageError("no such channel", 404) from None
        text = line.strip()
        if not text:
            raise PageError("nothing to send")
        match = _COMMAND.match(text)
        if match is None:
            message = self.workspace.post_message(channel.id, text=text, user=user.id)
            return await self._told(message, is_im=channel.is_im)
        command, rest = match.group(1).lower(), (match.group(2) or "").strip()
        origin = Origin(user.id, channel.id)
        url, key = self.responses.new_url(origin, hold=True)
        fields = slash_command(
            self.workspace,
            user,
            command=command,
            text=rest,
            channel_id=channel.id,
            trigger_id=self.workspace.issue_trigger_id(user.id),
            response_url=url,
        )
        try:
            answer = await self.link.slack_form(fields)
        except BaseException:
            self.responses.release(key)
            raise
        self.responses.release(key, answer.body if answer.ok else None)
        if not answer.ok:
            # What Slack itself shows when an app fails to answer a command.
            failed = f'{command} failed with the error "dispatch_failed" (HTTP {answer.status})'
            self.workspace.post_ephemeral(channel.id, user.id, text=failed)
        return answer

    async def reply(
        self, user_id: object, channel_id: object, thread_ts: object, text: str
    ) -> Answer | None:
        """Post the user's own reply in a thread; the bot hears it as Slack would tell it."""
        user = self.user(user_id)
        if not text.strip():
            raise PageError("nothing to send")
        try:
            message = self.workspace.post_message(
                str(channel_id), text=text.strip(), thread_ts=str(thread_ts), user=user.id
            )
            channel = self.workspace.resolve_channel(message.channel)
        except SlackError as exc:
            raise PageError(f"cannot reply there ({exc.error})", 404) from None
        return await self._told(message, is_im=channel.is_im)

    async def _told(self, message: Message, *, is_im: bool) -> Answer | None:
        """Send the bot the signed events Slack sends for a person's message (the last answer)."""
        ws = self.workspace
        answer = None
        for body in events_for(
            message,
            team_id=ws.team_id,
            api_app_id=ws.app_id,
            bot_user_id=ws.bot_user_id,
            is_im=is_im,
        ):
            answer = await self.link.slack_event(body)
        return answer

    async def open_home(self, user_id: object) -> Answer:
        """Tell the bot the user opened its Home tab (``app_home_opened``)."""
        user = self.user(user_id)
        dm, _ = self.workspace.open_im(user.id)
        return await self.link.slack_event(app_home_opened(self.workspace, user, channel_id=dm.id))

    def dismiss(self, user_id: object, ts: object) -> bool:
        """Remove one of the user's ephemeral messages, as Slack's *Dismiss* does."""
        user = self.user(user_id)
        before = len(self.workspace.ephemerals)
        self.workspace.ephemerals[:] = [
            e for e in self.workspace.ephemerals if not (e.user == user.id and e.ts == ts)
        ]
        return len(self.workspace.ephemerals) != before
