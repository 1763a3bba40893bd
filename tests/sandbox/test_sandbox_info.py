"""In the sandbox, from the page's own routes: an approver asks the owner a question, the owner
answers in the handoff's thread, and the approver finds the answer in their DM."""

from __future__ import annotations

from pathlib import Path

from sandbox.slack_state import Demo
from tests.sandbox.test_mount import parts, sandbox_bot, send_example, until


async def test_a_request_info_round_trip_from_the_page(tmp_path: Path) -> None:
    async with sandbox_bot(tmp_path) as (bot, http):
        sandbox = parts(bot)
        await send_example(http, "duplicate_charge_dispute")  # owner: the AP lead
        message = (await until(lambda: sandbox.slack.messages_in(Demo.DISPUTES)))[0]
        source = {"type": "message", "channel": Demo.DISPUTES, "ts": message.ts}
        await http.post(
            "/sandbox/ui/action",
            json={
                "user": Demo.APPROVER_1,
                "source": source,
                "action": {"action_id": "handoff_request_info"},
            },
        )
        view = (await until(lambda: sandbox.workspace.open_modals()))[0][-1]
        values = {
            "question_block": {"question_input": {"value": "Which charge does the customer keep?"}},
            "asked_block": {"asked_input": {"value": Demo.AP_LEAD}},
        }
        answer = await http.post(
            "/sandbox/ui/submit",
            json={"user": Demo.APPROVER_1, "view_id": view.id, "values": values},
        )
        assert answer.json()["result"] == "closed"
        owner_dm, _ = sandbox.workspace.open_im(Demo.AP_LEAD)
        await until(lambda: sandbox.slack.messages_in(owner_dm.id))
        await until(
            lambda: (
                "Waiting for info from"
                in str(sandbox.workspace.message(Demo.DISPUTES, message.ts).blocks)
            )
        )

        await http.post(
            "/sandbox/ui/reply",
            json={
                "user": Demo.AP_LEAD,
                "channel": Demo.DISPUTES,
                "thread_ts": message.ts,
                "text": "The second charge stays; the first is the duplicate.",
            },
        )
        approver_dm, _ = sandbox.workspace.open_im(Demo.APPROVER_1)
        [answered] = await until(
            lambda: [
                m
                for m in sandbox.slack.messages_in(approver_dm.id)
                if "answered your question" in m.text
            ]
        )
        assert "the first is the duplicate" in str(answered.blocks)
        await until(
            lambda: (
                "Waiting for info from"
                not in str(sandbox.workspace.message(Demo.DISPUTES, message.ts).blocks)
            )
        )
