"""Send requests to the bot exactly as Slack and DialNexa would: signed, over HTTP, to its routes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from services.signing import sign

__all__ = ["Answer", "BotLink"]

SLACK_EVENTS_PATH = "/slack/events"
DIALNEXA_PATH = "/dialnexa/handoffs"


@dataclass(frozen=True)
class Answer:
    """The bot's HTTP answer: status and body (parsed JSON when it is JSON, else text)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        """The answer as the page shows it."""
        return {"status": self.status, "body": self.body}


def _answer(response: httpx.Response) -> Answer:
    text = response.text
    if not text:
        return Answer(response.status_code, None)
    try:
        return Answer(response.status_code, json.loads(text))
    except ValueError:
        return Answer(response.status_code, text)


class BotLink:
    """Signs requests with the sandbox's secrets and POSTs them to the bot's own URL."""

    def __init__(
        self,
        base_url: str,
        *,
        slack_signing_secret: str,
        dialnexa_secret: str,
        http: httpx.AsyncClient,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._slack = SignatureVerifier(slack_signing_secret)
        self._dialnexa_secret = dialnexa_secret
        self._http = http

    def _slack_headers(self, body: str, content_type: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        signature = self._slack.generate_signature(timestamp=timestamp, body=body)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature or "",
        }

    async def slack_form(self, fields: dict[str, str]) -> Answer:
        """POST a form-encoded interaction or slash command to ``/slack/events``."""
        body = urlencode(fields)
        headers = self._slack_headers(body, "application/x-www-form-urlencoded")
        return await self._post(SLACK_EVENTS_PATH, body.encode(), headers)

    async def slack_event(self, payload: dict[str, Any]) -> Answer:
        """POST an Events API callback (JSON) to ``/slack/events``."""
        body = json.dumps(payload, separators=(",", ":"))
        headers = self._slack_headers(body, "application/json")
        return await self._post(SLACK_EVENTS_PATH, body.encode(), headers)

    async def handoff(self, body: bytes) -> Answer:
        """POST a handoff signed as DialNexa signs it."""
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-DialNexa-Timestamp": timestamp,
            "X-DialNexa-Signature": sign(self._dialnexa_secret, timestamp, body),
        }
        return await self._post(DIALNEXA_PATH, body, headers)

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        response = await self._http.post(self._base_url + path, content=body, headers=headers)
        return _answer(response)
