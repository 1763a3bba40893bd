"""The sandbox shows the metrics: Prometheus text on its page's route, the lead's weekly DM."""

from __future__ import annotations

from pathlib import Path

from sandbox.slack_objects import Message
from sandbox.slack_state import Demo
from tests.sandbox.test_mount import parts, sandbox_bot, send_example, until
from tests.support.harness import running_bot


async def test_the_sandbox_serves_metrics_and_sends_the_weekly_summary(tmp_path: Path) -> None:
    async with sandbox_bot(tmp_path) as (bot, http):
        await send_example(http, "create_invoice")
        page = await http.get("/sandbox/metrics")
        assert page.status_code == 200
        assert 'finance_bot_intake_requests_total{status_code="202"} 1.0' in page.text
        assert "finance_bot_outbox_pending_items" in page.text
        # GET /metrics itself keeps its bearer token, in the sandbox too.
        assert (await http.get("/metrics")).status_code == 401
        sandbox = parts(bot)
        channel, _created = sandbox.slack.workspace.open_im(Demo.FIN_LEAD)

        def summaries() -> list[Message]:
            return [
                m
                for m in sandbox.slack.messages_in(channel.id)
                if (m.metadata or {}).get("event_type") == "finance_weekly_summary"
            ]

        sent = await until(summaries)
        assert len(sent) == 1


async def test_slack_mode_has_no_open_metrics_route(tmp_path: Path) -> None:
    async with running_bot(tmp_path, metrics_token="t0ken-for-the-test") as harness:
        assert (await harness.client.get("/sandbox/metrics")).status == 404
