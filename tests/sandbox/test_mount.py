"""The sandbox mounted on the real bot: its routes, signed forwarding, and absence in Slack mode.

The bot runs in sandbox mode on a real loopback port, because it talks to the sandbox Slack and
Plisio routes over HTTP exactly as it talks to the real services.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.app import BotApp, build_app
from bot.settings import Settings
from sandbox.forward import BotLink
from sandbox.mount import Sandbox
from sandbox.slack_state import Demo
from tests.browser.sandbox_bot import free_port
from tests.support.examples import EXAMPLES_DIR
from tests.support.harness import running_bot


@asynccontextmanager
async def sandbox_bot(tmp_path: Path) -> AsyncIterator[tuple[BotApp, httpx.AsyncClient]]:
    port = free_port()
    settings = Settings(
        _env_file=None,
        bot_mode="sandbox",
        port=port,
        sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
        routing_file=tmp_path / "routing.toml",
        outbox_poll_seconds=0.1,
    )
    bot = build_app(settings)
    runner = web.AppRunner(bot.web)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            yield bot, http
    finally:
        await runner.cleanup()


def parts(bot: BotApp) -> Sandbox:
    sandbox = bot.sandbox
    assert isinstance(sandbox, Sandbox)
    return sandbox


async def until(check: Callable[[], Any], timeout: float = 8.0) -> Any:
    """Wait for the bot's background work to make ``check()`` truthy."""
    for _ in range(int(timeout / 0.05)):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting for the bot")


async def send_example(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    body = (EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8")
    response = await http.post("/sandbox/ui/handoff", json={"body": body, "as_new_call": True})
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert answer["status"] == 202, answer
    return answer


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[BotApp, httpx.AsyncClient]]:
    async with sandbox_bot(tmp_path) as pair:
        yield pair


async def test_slack_mode_has_no_sandbox_routes(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as harness:
        for path in ("/sandbox", "/sandbox/ui/state", "/sandbox/slack/api/auth.test"):
            assert (await harness.client.get(path)).status == 404, path
        assert harness.bot.sandbox is None


async def test_the_page_and_its_files_are_served(
    running: tuple[BotApp, httpx.AsyncClient],
) -> None:
    _bot, http = running
    page = await http.get("/sandbox")
    assert page.status_code == 200
    assert "SANDBOX" in page.text
    for name in (
        "app.js",
        "api.js",
        "blocks.js",
        "modal.js",
        "mrkdwn.js",
        "tools.js",
        "pay.js",
        "style.css",
    ):
        assert (await http.get(f"/sandbox/static/{name}")).status_code == 200, name
    health = (await http.get("/healthz")).json()
    assert health["mode"] == "sandbox"


async def test_a_handoff_is_posted_through_the_sandbox_slack_api(
    running: tuple[BotApp, httpx.AsyncClient],
) -> None:
    bot, http = running
    sandbox = parts(bot)
    answer = await send_example(http, "create_invoice")
    posted = await until(lambda: sandbox.slack.messages_in(Demo.FINANCE))
    assert posted[0].text.startswith("[SANDBOX] ")
    assert answer["call_id"] in str(posted[0].blocks)
    state = (await http.get("/sandbox/ui/state", params={"user": Demo.OUTSIDER})).json()
    roles = {p["id"]: p["roles"] for p in state["people"]}
    assert roles[Demo.APPROVER_1] == ["approver"]
    assert roles[Demo.APPROVER_2] == ["approver"]  # through @finance-approvers
    assert roles[Demo.FIN_LEAD] == ["finance lead"]
    assert roles[Demo.OUTSIDER] == ["outsider"]
    finance = next(c for c in state["channels"] if c["id"] == Demo.FINANCE)
    assert finance["receives"] == ["default"]
    assert finance["messages"][0]["is_bot"] is True


async def test_clicks_are_signed_like_slack_and_permissions_hold(
    running: tuple[BotApp, httpx.AsyncClient],
) -> None:
    bot, http = running
    sandbox = parts(bot)
    await send_example(http, "create_invoice")
    message = (await until(lambda: sandbox.slack.messages_in(Demo.FINANCE)))[0]
    source = {"type": "message", "channel": Demo.FINANCE, "ts": message.ts}
    approve = {"action_id": "handoff_approve"}
    refused = await http.post(
        "/sandbox/ui/action", json={"user": Demo.OUTSIDER, "source": source, "action": approve}
    )
    assert refused.json()["status"] == 200
    ephemeral = (await until(lambda: sandbox.workspace.ephemerals))[0]
    assert (ephemeral.user, ephemeral.channel) == (Demo.OUTSIDER, Demo.FINANCE)
    assert "Only finance approvers" in ephemeral.text
    assert sandbox.workspace.open_modals() == []  # the outsider never saw a promise

    await http.post(
        "/sandbox/ui/action", json={"user": Demo.APPROVER_1, "source": source, "action": approve}
    )
    view = (await until(lambda: sandbox.workspace.open_modals()))[0][-1]
    assert "creates a Plisio invoice" in str(view.blocks)
    answer = await http.post(
        "/sandbox/ui/submit", json={"user": Demo.APPROVER_1, "view_id": view.id, "values": {}}
    )
    assert answer.json()["result"] == "closed"
    invoice = (await until(lambda: list(sandbox.plisio.invoices.values())))[0]
    assert invoice.invoice_url.endswith(f"/sandbox/pay/{invoice.txn_id}")
    assert (await http.get(f"/sandbox/pay/{invoice.txn_id}")).status_code == 200
    settled = await http.post(f"/sandbox/ui/plisio/{invoice.txn_id}", json={"status": "completed"})
    assert settled.json()["status"] == 200
    assert settled.json()["body"]["outcome"] == "updated"
    await until(lambda: "Paid" in sandbox.workspace.message(Demo.FINANCE, message.ts).text)


async def test_a_request_signed_with_another_secret_is_refused(
    running: tuple[BotApp, httpx.AsyncClient],
) -> None:
    bot, http = running
    forger = BotLink(
        str(http.base_url), slack_signing_secret="guess", dialnexa_secret="guess", http=http
    )
    assert (await forger.slack_form({"payload": "{}"})).status == 401
    assert (await forger.handoff(b"{}")).status == 401
    assert parts(bot).slack.messages_in(Demo.FINANCE) == []


async def test_slash_commands_answer_the_person_who_typed_them(
    running: tuple[BotApp, httpx.AsyncClient],
) -> None:
    bot, http = running
    sandbox = parts(bot)
    typed = await http.post(
        "/sandbox/ui/command",
        json={"user": Demo.APPROVER_2, "channel": Demo.FINANCE, "text": "/invoice help"},
    )
    assert typed.json()["status"] == 200
    help_text = sandbox.workspace.ephemerals[-1]
    assert help_text.user == Demo.APPROVER_2
    assert "/invoice new" in help_text.text or "/invoice new" in str(help_text.blocks)

    await http.post(
        "/sandbox/ui/command",
        json={"user": Demo.APPROVER_2, "channel": Demo.FINANCE, "text": "/invoice new"},
    )
    modal = (await until(lambda: sandbox.workspace.open_modals()))[0][-1]
    assert modal.user == Demo.APPROVER_2

    await http.post(
        "/sandbox/ui/command",
        json={"user": Demo.APPROVER_2, "channel": Demo.FINANCE, "text": "hello finance"},
    )
    assert sandbox.slack.messages_in(Demo.FINANCE)[-1].user == Demo.APPROVER_2


async def test_modal_submissions_show_the_bots_errors_and_close_on_success(
    running: tuple[BotApp, httpx.AsyncClient],
) -> None:
    bot, http = running
    sandbox = parts(bot)
    await send_example(http, "receipt_resend")
    message = (await until(lambda: sandbox.slack.messages_in(Demo.BILLING_OPS_CHANNEL)))[0]
    source = {"type": "message", "channel": Demo.BILLING_OPS_CHANNEL, "ts": message.ts}
    await http.post(
        "/sandbox/ui/action",
        json={
            "user": Demo.APPROVER_1,
            "source": source,
            "action": {"action_id": "handoff_escalate"},
        },
    )
    view = (await until(lambda: sandbox.workspace.open_modals()))[0][-1]
    blank = {"reason_block": {"reason_input": {"value": "   "}}}
    answer = await http.post(
        "/sandbox/ui/submit", json={"user": Demo.APPROVER_1, "view_id": view.id, "values": blank}
    )
    assert answer.json()["result"] == "errors"
    assert answer.json()["errors"] == {"reason_block": "Please give a reason."}
    assert sandbox.workspace.open_modals()
    given = {"reason_block": {"reason_input": {"value": "Customer is leaving"}}}
    answer = await http.post(
        "/sandbox/ui/submit", json={"user": Demo.APPROVER_1, "view_id": view.id, "values": given}
    )
    assert answer.json()["result"] == "closed"
    assert sandbox.workspace.open_modals() == []
    await until(lambda: sandbox.slack.messages_in(Demo.ESCALATIONS))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user": "U0NOBODY", "source": {"type": "message"}, "action": {}}, 400),
        ({"user": Demo.APPROVER_1, "source": "x", "action": {}}, 400),
        ({"user": Demo.APPROVER_1, "source": {"type": "view", "view_id": "V0"}, "action": {}}, 404),
    ],
)
async def test_bad_page_requests_are_answered_plainly(
    running: tuple[BotApp, httpx.AsyncClient], body: dict[str, Any], status: int
) -> None:
    _bot, http = running
    answer = await http.post("/sandbox/ui/action", json=body)
    assert answer.status_code == status
    assert answer.json()["error"]


async def test_page_routes_take_json_only(running: tuple[BotApp, httpx.AsyncClient]) -> None:
    _bot, http = running
    answer = await http.post("/sandbox/ui/handoff", data={"body": "{}"})
    assert answer.status_code == 415


async def test_the_sandbox_shows_an_underpaid_invoice_and_can_reissue_it(
    running: tuple[BotApp, httpx.AsyncClient],
) -> None:
    bot, http = running
    sandbox = parts(bot)
    await send_example(http, "create_invoice")
    message = (await until(lambda: sandbox.slack.messages_in(Demo.FINANCE)))[0]
    source = {"type": "message", "channel": Demo.FINANCE, "ts": message.ts}

    def act(action_id: str) -> dict[str, object]:
        return {"user": Demo.APPROVER_1, "source": source, "action": {"action_id": action_id}}

    await http.post("/sandbox/ui/action", json=act("handoff_approve"))
    view = (await until(lambda: sandbox.workspace.open_modals()))[0][-1]
    await http.post(
        "/sandbox/ui/submit", json={"user": Demo.APPROVER_1, "view_id": view.id, "values": {}}
    )
    invoice = (await until(lambda: list(sandbox.plisio.invoices.values())))[0]
    page = (await http.get(f"/sandbox/pay/{invoice.txn_id}")).text
    assert "Pay short (underpaid)" in page and "Cancel" in page
    # The link an /operations lookup builds from the txn_id leads to the same page.
    built = await http.get(f"/sandbox/plisio/invoice/{invoice.txn_id}", follow_redirects=True)
    assert built.status_code == 200 and "Pay short (underpaid)" in built.text
    settled = await http.post(f"/sandbox/ui/plisio/{invoice.txn_id}", json={"status": "underpaid"})
    assert settled.json()["body"]["outcome"] == "updated"
    shown = await until(
        lambda: "Underpaid" in sandbox.workspace.message(Demo.FINANCE, message.ts).text
    )
    assert shown
    blocks = json.dumps(sandbox.workspace.message(Demo.FINANCE, message.ts).blocks)
    assert "expected 4,200.00 USDT, received 3,780.00 USDT" in blocks
    assert "handoff_reissue" in blocks
    await http.post("/sandbox/ui/action", json=act("handoff_reissue"))
    await until(lambda: len(sandbox.plisio.invoices) == 2)
    orders = sorted(i.order_number for i in sandbox.plisio.invoices.values())
    assert orders == [invoice.order_number, f"{invoice.order_number}-r2"]
