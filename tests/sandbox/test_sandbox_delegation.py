"""In the sandbox page: Ana says she is away on her Home tab, and Arjun approves for her."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.slack_state import Demo
from tests.sandbox.test_mount import parts, sandbox_bot, send_example, until


async def test_away_on_the_home_tab_then_the_delegate_approves(tmp_path: Path) -> None:
    async with sandbox_bot(tmp_path) as (bot, http):
        sandbox = parts(bot)
        ws = sandbox.workspace
        await http.post("/sandbox/ui/home", json={"user": Demo.APPROVER_1})
        home = await until(lambda: ws.home_views.get(Demo.APPROVER_1))
        assert "I'm away" in str(ws.views[home].blocks)
        clicked = await http.post(
            "/sandbox/ui/action",
            json={
                "user": Demo.APPROVER_1,
                "source": {"type": "view", "view_id": home},
                "action": {"action_id": "home_away"},
            },
        )
        assert clicked.json()["status"] == 200
        modal = (await until(lambda: ws.open_modals()))[0][-1]
        day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        values = {
            "away_date_block": {"away_date_input": {"value": day}},
            "away_time_block": {"away_time_input": {"value": "18:00"}},
            "away_delegate_block": {"away_delegate_input": {"value": Demo.AP_LEAD}},
        }
        answer = await http.post(
            "/sandbox/ui/submit",
            json={"user": Demo.APPROVER_1, "view_id": modal.id, "values": values},
        )
        assert answer.json()["result"] == "closed"
        await until(
            lambda: "You are away until" in str(ws.views[ws.home_views[Demo.APPROVER_1]].blocks)
        )

        await send_example(http, "create_invoice")
        message = (await until(lambda: sandbox.slack.messages_in(Demo.FINANCE)))[0]
        source = {"type": "message", "channel": Demo.FINANCE, "ts": message.ts}
        await http.post(
            "/sandbox/ui/action",
            json={
                "user": Demo.AP_LEAD,
                "source": source,
                "action": {"action_id": "handoff_approve"},
            },
        )
        view = (await until(lambda: ws.open_modals()))[0][-1]
        answer = await http.post(
            "/sandbox/ui/submit", json={"user": Demo.AP_LEAD, "view_id": view.id, "values": {}}
        )
        assert answer.json()["result"] == "closed"
        await until(
            lambda: (
                f"<@{Demo.AP_LEAD}> approving for <@{Demo.APPROVER_1}> (away)"
                in str(ws.message(Demo.FINANCE, message.ts).blocks)
            )
        )
