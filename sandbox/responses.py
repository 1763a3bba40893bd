"""What the bot sends to a ``response_url`` (or in a command's ack), shown as Slack shows it.

Each response_url the sandbox hands out remembers who acted where. An answer then becomes an
ephemeral message for that person (the default), a channel message (``in_channel``), or replaces
the message or ephemeral it came from (``replace_original``), as in Slack.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.slack_api import SlackAPI
from sandbox.slack_objects import JsonDict, SlackError

__all__ = ["Origin", "ResponseRouter"]

logger = logging.getLogger(__name__)

MAX_ORIGINS = 2000  # response_urls are short-lived; forget the oldest past this many


@dataclass
class Origin:
    """Where an interaction happened: the acting user, channel, and what an answer replaces."""

    user: str
    channel: str | None
    message_ts: str | None = None  # a click on a channel message
    ephemeral_ts: str | None = None  # the latest ephemeral answer to a command or click
    # Answers that reached the response_url before the command's own ack was shown.
    held: list[JsonDict] | None = None


class ResponseRouter:
    """Hands out response_urls and applies what the bot sends to them."""

    def __init__(
        self, api: SlackAPI, api_base_url: str, *, changed: Callable[[], None] = lambda: None
    ) -> None:
        self._api = api
        self._api_base_url = api_base_url
        self._changed = changed
        self._origins: dict[str, Origin] = {}
        api.on_change.append(self._on_change)

    def new_url(self, origin: Origin, *, hold: bool = False) -> tuple[str, str]:
        """A fresh response_url for ``origin``, and its key.

        With ``hold``, answers wait until ``release`` shows the ack first: the bot may POST to
        the response_url before its ack's HTTP answer has been read.
        """
        key = secrets.token_hex(12)
        if hold:
            origin.held = []
        while len(self._origins) >= MAX_ORIGINS:
            self._origins.pop(next(iter(self._origins)))
        self._origins[key] = origin
        return self._api.response_url(self._api_base_url, key), key

    def apply(self, key: str, body: Any) -> None:
        """Show an answer (an ack body or a response_url POST) for the interaction ``key``."""
        origin = self._origins.get(key)
        if origin is None or not isinstance(body, dict):
            return
        if origin.held is not None:
            origin.held.append(body)
            return
        self._show(origin, body)

    def release(self, key: str, ack: Any = None) -> None:
        """Show a held interaction's ack (if it had a body), then what arrived meanwhile."""
        origin = self._origins.get(key)
        if origin is None:
            return
        held, origin.held = origin.held or [], None
        if isinstance(ack, dict):
            self._show(origin, ack)
        elif isinstance(ack, str) and ack.strip():
            self._show(origin, {"text": ack})
        for body in held:
            self._show(origin, body)

    def _show(self, origin: Origin, body: JsonDict) -> None:
        try:
            self._apply(origin, body)
        except SlackError as exc:
            logger.warning("sandbox could not show a response: %s", exc.error)

    def _on_change(self, event: JsonDict) -> None:
        if event.get("type") == "response_url":
            self.apply(str(event.get("key")), event.get("body"))

    def _apply(self, origin: Origin, body: JsonDict) -> None:
        workspace = self._api.workspace
        text = body.get("text")
        blocks = body.get("blocks")
        if body.get("delete_original"):
            self._drop_ephemeral(origin)
            return
        if body.get("replace_original") and origin.message_ts and origin.channel:
            original = workspace.message(origin.channel, origin.message_ts)
            workspace.update_message(
                origin.channel, origin.message_ts, text=text, blocks=blocks, user=original.user
            )
            return
        if not text and not blocks:
            return
        if origin.channel is None:
            return
        if body.get("response_type") == "in_channel":
            workspace.post_message(origin.channel, text=text, blocks=blocks)
            return
        if body.get("replace_original"):
            self._drop_ephemeral(origin)
        posted = workspace.post_ephemeral(origin.channel, origin.user, text=text, blocks=blocks)
        origin.ephemeral_ts = posted.ts

    def _drop_ephemeral(self, origin: Origin) -> None:
        if origin.ephemeral_ts is None:
            return
        ephemerals = self._api.workspace.ephemerals
        ephemerals[:] = [e for e in ephemerals if e.ts != origin.ephemeral_ts]
        origin.ephemeral_ts = None
        self._changed()
