"""End to end through the real app: a handoff's message gains the Account section from HubSpot,
and Stripe-shaped context from another connector adds its review reason and urgency."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.base import ConnectorContext, Done, Result
from sandbox.hubspot import FakeHubSpot
from services.events import Event, EventType
from tests.support.examples import example
from tests.support.harness import Harness, running_bot

TOKEN = "pat-na1-e2e"


def message_text(bot: Harness, card: Any) -> str:
    return json.dumps(bot.message(card).blocks, ensure_ascii=False)


class PastDueStripe:
    """A Stripe-like toy: stores the agreed Stripe shape with a past-due subscription."""

    name = "stripe"
    handles = frozenset({EventType.RECEIVED})

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        return Done(
            context={
                "found": True,
                "customer": {"id": "cus_1", "name": "Alder", "email": "x", "url": None},
                "subscriptions": [{"id": "sub_1", "status": "past_due", "plan": "Pro"}],
                "latest_payment": None,
                "flags": ["past_due"],
                "looked_up_at": "2026-11-30T00:00:00+00:00",
            }
        )


async def test_the_message_shows_the_account_and_the_review_reasons(tmp_path: Path) -> None:
    hubspot = FakeHubSpot(TOKEN)
    hubspot.seed_demo(datetime.now(UTC).date())
    async with (
        hubspot.running() as url,
        running_bot(
            tmp_path,
            connectors=[PastDueStripe()],
            hubspot_access_token=TOKEN,
            hubspot_api_base=url,
        ) as bot,
    ):
        handoff_id = await bot.accept(example("vip_renewal_blocker", call_id="dnx_e2e_hubspot"))
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        card = await bot.card(handoff_id)
        while "hubspot" not in card.context or "stripe" not in card.context:
            assert datetime.now(UTC) < deadline, card.context
            await bot.drain()
            card = await bot.card(handoff_id)
        text = message_text(bot, card)
        assert "*Account*" in text
        assert "<@U0APPROVER1>" in text  # the owner, Ana, as a mention
        assert "Alder Street Health renewal" in text and "24,000.00 USD" in text
        # The policy: past due (Stripe) and the renewal next week (HubSpot) are review reasons,
        # and past due counts toward urgency.
        assert "subscription past due" in text and "renewal coming up" in text
        assert "past-due subscription" in card.urgent_reasons and card.urgent
        # One contact linked, one thread note; one search however often the message refreshed.
        notes = [t for t in bot.thread_texts(card) if "Linked" in t and "HubSpot" in t]
        assert len(notes) == 1
        assert len(hubspot.searches()) == 1
