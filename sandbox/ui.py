"""HTTP routes behind the sandbox page: its state, live updates, and what the visitor does."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from sandbox.examples import as_new_call, load_examples
from sandbox.feed import ChangeFeed
from sandbox.interactions import Interactions, PageError
from sandbox.paid_history import add_paid_history
from sandbox.pay_page import SETTLE_STATUSES, invoice_page
from sandbox.persist import SandboxWorld
from sandbox.plisio import FakePlisio
from sandbox.slack_workspace import SlackWorkspace
from sandbox.ui_state import snapshot
from sandbox.zendesk import FakeZendesk
from services.routing import RoutingConfig

__all__ = ["STATIC_DIR", "SandboxUI"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
MAX_HANDOFF_BYTES = 512 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_CACHE = {"Cache-Control": "no-store"}


async def _json_body(request: web.Request) -> dict[str, Any]:
    # JSON only: a cross-site form post cannot reach these routes without a CORS preflight.
    if request.content_type != "application/json":
        raise PageError("send application/json", 415)
    try:
        body = await request.json()
    except ValueError:
        raise PageError("body is not JSON") from None
    if not isinstance(body, dict):
        raise PageError("body must be a JSON object")
    return body


def _guarded(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except PageError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        except httpx.HTTPError as exc:
            logger.warning("sandbox could not reach the bot: %s", type(exc).__name__)
            return web.json_response({"error": "the bot did not answer"}, status=502)

    return wrapped


class SandboxUI:
    """The page, its JSON API and the Plisio invoice pages."""

    def __init__(
        self,
        *,
        workspace: SlackWorkspace,
        plisio: FakePlisio,
        routing: RoutingConfig,
        feed: ChangeFeed,
        interactions: Interactions,
        world: SandboxWorld | None = None,
        examples_dir: Path | None = None,
        sheet: Callable[[], dict[str, Any] | None] | None = None,
        zendesk: FakeZendesk | None = None,
    ) -> None:
        self.workspace = workspace
        self.plisio = plisio
        self.routing = routing
        self.feed = feed
        self.interactions = interactions
        self.world = world
        self.sheet = sheet
        self.zendesk = zendesk
        self.examples = load_examples(examples_dir) if examples_dir else load_examples()
        # The Drive folders and sent Gmail of the Google double, as HTML (set by sandbox.mount).
        self.google_html: Callable[[], str] | None = None

    def register(self, app: web.Application, prefix: str = "/sandbox") -> None:
        """Add the page and its routes under ``prefix``."""
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "", self.index),
            ("GET", "/", self.index),
            ("GET", "/ui/state", self.state),
            ("GET", "/ui/examples", self.list_examples),
            ("POST", "/ui/action", self.action),
            ("POST", "/ui/submit", self.submit),
            ("POST", "/ui/close", self.close),
            ("POST", "/ui/command", self.command),
            ("POST", "/ui/reply", self.reply),
            ("POST", "/ui/home", self.home),
            ("POST", "/ui/dismiss", self.dismiss),
            ("POST", "/ui/handoff", self.handoff),
            ("POST", "/ui/plisio/{txn_id}", self.settle),
            ("POST", "/ui/reset", self.reset),
            ("POST", "/ui/loaded", self.loaded),
            ("GET", "/pay/{txn_id}", self.pay),
            ("GET", "/google", self.google),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, prefix + path, _guarded(handler))
        app.router.add_get(prefix + "/ui/events", self.feed.stream)
        app.router.add_static(prefix + "/static", STATIC_DIR, append_version=False)

    async def index(self, _request: web.Request) -> web.StreamResponse:
        """The page itself."""
        return web.FileResponse(STATIC_DIR / "index.html", headers=NO_CACHE)

    async def state(self, request: web.Request) -> web.StreamResponse:
        """Everything the page shows the acting user (``?user=``)."""
        user = self.interactions.user(request.query.get("user", ""))
        body = snapshot(
            self.workspace, self.plisio, self.routing, user.id, version=self.feed.version
        )
        if self.sheet is not None:
            body["sheet"] = self.sheet()  # the sandbox Google Sheet (sandbox.google)
        body["zendesk"] = self.zendesk.snapshot() if self.zendesk else []
        return web.json_response(body, headers=NO_CACHE)

    async def list_examples(self, _request: web.Request) -> web.StreamResponse:
        """The repo's example handoffs."""
        return web.json_response(self.examples)

    async def action(self, request: web.Request) -> web.StreamResponse:
        """A click: ``{user, source: {type, ...}, action: {action_id, value?}}``."""
        body = await _json_body(request)
        source, chosen = body.get("source"), body.get("action")
        if not isinstance(source, dict) or not isinstance(chosen, dict):
            raise PageError("source and action must be objects")
        answer = await self.interactions.click(body.get("user"), source, chosen)
        return web.json_response(answer.to_json())

    async def submit(self, request: web.Request) -> web.StreamResponse:
        """A modal submission: ``{user, view_id, values}``."""
        body = await _json_body(request)
        done = await self.interactions.submit(
            body.get("user"), body.get("view_id"), body.get("values")
        )
        self.feed.bump()
        return web.json_response(
            {"result": done.result, "errors": done.errors, **done.answer.to_json()}
        )

    async def close(self, request: web.Request) -> web.StreamResponse:
        """Close a modal."""
        body = await _json_body(request)
        self.interactions.close(body.get("user"), body.get("view_id"))
        return web.json_response({"ok": True})

    async def command(self, request: web.Request) -> web.StreamResponse:
        """What the visitor typed in the message box: ``{user, channel, text}``."""
        body = await _json_body(request)
        answer = await self.interactions.command(
            body.get("user"), body.get("channel"), str(body.get("text") or "")
        )
        return web.json_response(answer.to_json() if answer else {"status": None, "body": None})

    async def reply(self, request: web.Request) -> web.StreamResponse:
        """A reply typed in a thread: ``{user, channel, thread_ts, text}``."""
        body = await _json_body(request)
        await self.interactions.reply(
            body.get("user"),
            body.get("channel"),
            body.get("thread_ts"),
            str(body.get("text") or ""),
        )
        return web.json_response({"ok": True})

    async def home(self, request: web.Request) -> web.StreamResponse:
        """The visitor opened the bot's Home tab."""
        body = await _json_body(request)
        answer = await self.interactions.open_home(body.get("user"))
        return web.json_response(answer.to_json())

    async def dismiss(self, request: web.Request) -> web.StreamResponse:
        """Dismiss an ephemeral message."""
        body = await _json_body(request)
        if self.interactions.dismiss(body.get("user"), body.get("ts")):
            self.feed.bump()
        return web.json_response({"ok": True})

    async def handoff(self, request: web.Request) -> web.StreamResponse:
        """Send a handoff as DialNexa would: ``{body: "<json text>", as_new_call: bool}``."""
        body = await _json_body(request)
        raw = str(body.get("body") or "").encode("utf-8")
        if len(raw) > MAX_HANDOFF_BYTES:
            raise PageError("keep handoffs under 512 KiB here", 413)
        call_id = None
        now = datetime.now(UTC)
        if body.get("as_new_call"):
            raw, call_id = as_new_call(raw, now)
        add_paid_history(self.plisio, raw, now)  # a receipt resend's earlier payment, once
        answer = await self.interactions.link.handoff(raw)
        return web.json_response({**answer.to_json(), "call_id": call_id})

    async def settle(self, request: web.Request) -> web.StreamResponse:
        """Change an invoice's status; the fake Plisio sends the signed callback to the bot."""
        body = await _json_body(request)
        txn_id, status = request.match_info["txn_id"], str(body.get("status") or "")
        if txn_id not in self.plisio.invoices:
            raise PageError("no such invoice", 404)
        if status not in SETTLE_STATUSES:
            raise PageError(f"status must be one of {', '.join(SETTLE_STATUSES)}")
        response = await self.plisio.settle(txn_id, status)
        self.feed.bump()
        if response is None:
            return web.json_response({"status": None, "body": "this invoice has no callback URL"})
        try:
            answer: Any = response.json()
        except json.JSONDecodeError:
            answer = response.text
        return web.json_response({"status": response.status_code, "body": answer})

    async def loaded(self, _request: web.Request) -> web.StreamResponse:
        """The page (re)loaded: close every modal left open, as reloading Slack closes them."""
        stacks = self.workspace.open_modals()
        for stack in stacks:
            self.workspace.close_view(stack[0].id)
        return web.json_response({"closed": len(stacks)})

    async def reset(self, request: web.Request) -> web.StreamResponse:
        """*Reset sandbox*: ``{confirm: true}`` empties the database, workspace and Plisio."""
        body = await _json_body(request)
        if body.get("confirm") is not True:
            raise PageError("confirm the reset: it deletes every handoff and message")
        if self.world is None:
            raise PageError("this sandbox keeps nothing to reset", 404)
        await self.world.reset()
        if self.zendesk is not None:
            self.zendesk.reset()
        return web.json_response({"ok": True})

    async def google(self, _request: web.Request) -> web.StreamResponse:
        """Drive folders with their PDFs (downloadable) and the mail Gmail sent."""
        body = self.google_html() if self.google_html else "<p>Google is off.</p>"
        page = f"<!doctype html><title>[SANDBOX] Google Drive and Gmail</title>{body}"
        return web.Response(text=page, content_type="text/html", headers=NO_CACHE)

    async def pay(self, request: web.Request) -> web.StreamResponse:
        """The invoice page a Plisio invoice link opens."""
        invoice = self.plisio.invoices.get(request.match_info["txn_id"])
        if invoice is None:
            raise web.HTTPNotFound(text="[SANDBOX] no such invoice")
        page = invoice_page(invoice, merchant=self.plisio.merchant)
        return web.Response(text=page, content_type="text/html", headers=NO_CACHE)
