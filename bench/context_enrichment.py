"""Context enrichment: 300 handoffs for 300 distinct customers with the Stripe and HubSpot
connectors on, each double answering in 300 ms.

The bot runs in this process (``bot.app.build_app`` with its workers, as in production but on
loopback) with the real connectors (``connectors/stripe``, ``connectors/hubspot``) against the
``sandbox.stripe`` and ``sandbox.hubspot`` doubles. The HubSpot double answers 429 to a fifth
search within a second and to a request past the account's general limit within ten seconds, as
HubSpot does.

It measures, in one run with the connectors on and one with them off (same handoffs, fresh
database): how many messages show both systems' context, how many handoffs were lost or posted
twice, the total time until the last message was enriched against the minimum HubSpot's search
limit allows (300 / 4 per second = 75 s), and each handoff's first Slack post after it was
accepted.
"""

from __future__ import annotations

import asyncio
import json
import time
import tomllib
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from bench.load import percentile
from bench.stack import (
    PLISIO_KEY,
    ROUTING_TOML,
    SLACK_SIGNING_SECRET,
    SLACK_TOKEN,
    WEBHOOK_SECRET,
    DialNexa,
    fresh_database,
    handoff_payload,
    posted_handoffs,
)
from bot.app import build_app, server_options
from bot.settings import Settings
from sandbox.hubspot import FakeHubSpot
from sandbox.plisio import FakePlisio
from sandbox.slack_api import SlackAPI, SlackWorkspace
from sandbox.stripe import DAY, FakeStripe
from sandbox.stripe import _subscription as stripe_subscription
from services.routing import parse_routing

__all__ = ["measure", "run"]

HUBSPOT_TOKEN = "pat-na1-bench"
SEARCH_PER_SECOND = 4
GENERAL_PER_10_SECONDS = 100  # HUBSPOT_REQUESTS_PER_10_SECONDS' default (Free and Starter)
STRIPE_MARK = "/test/customers/cus_Bench"  # the customer link on the Stripe section
STRIPE_KEY = "sk_test_bench" + "0" * 24
ACCOUNT_MARK = "Open in HubSpot"


def email(i: int) -> str:
    return f"ap-{i:04d}@customer{i:04d}.example"


def seed(fake: FakeHubSpot, count: int, today: date) -> None:
    """``count`` customers, each with its own company and an open renewal; ten owners."""
    owners = [fake.add_owner(f"Owner{n}", "Bench", f"owner{n}@acme.example") for n in range(10)]
    for i in range(count):
        owner = owners[i % len(owners)]
        company = fake.add_company(f"Customer {i:04d} Ltd", owner_id=owner)
        contact = fake.add_contact(email(i), company_id=company, owner_id=owner)
        fake.add_deal(
            contact,
            f"Customer {i:04d} renewal",
            close=today + timedelta(days=i % 60),
            amount="1200",
            dealtype="renewal",
        )


def seed_stripe(fake: FakeStripe, count: int, now: float) -> None:
    """``count`` customers, each with an active subscription and a paid latest payment."""
    for i in range(count):
        customer = stripe_customer_id(i)
        fake.add(
            "customers",
            {"id": customer, "name": f"Customer {i:04d} Ltd", "email": email(i),
             "created": int(now) - 300 * DAY},
        )  # fmt: skip
        fake.add(
            "subscriptions",
            stripe_subscription(f"sub_Bench{i:04d}", customer, "active", "Pro", 4900, "usd",
                                "month", int(now) - 20 * DAY, int(now) + (i % 30) * DAY),
        )  # fmt: skip
        fake.add(
            "payment_intents",
            {"id": f"pi_Bench{i:04d}", "customer": customer, "amount": 4900, "currency": "usd",
             "status": "succeeded", "created": int(now) - 20 * DAY, "last_payment_error": None},
        )  # fmt: skip


def stripe_customer_id(i: int) -> str:
    return f"cus_Bench{i:04d}"


def _enriched(message: Any) -> bool:
    """Both sections drawn: HubSpot's link and the Stripe customer's dashboard link."""
    text = json.dumps(message.blocks or [], ensure_ascii=False)
    return ACCOUNT_MARK in text and STRIPE_MARK in text


async def run(
    workdir: Path, *, count: int, delay: float, connectors: bool, timeout: float
) -> dict[str, Any]:
    """One run: deliver ``count`` handoffs and watch Slack until every message is posted (and,
    with ``connectors``, enriched) or ``timeout`` passes."""
    workdir.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        url, schema = await stack.enter_async_context(fresh_database(workdir))
        slack = SlackAPI(SlackWorkspace.demo(), bot_token=SLACK_TOKEN)
        slack_url = await stack.enter_async_context(slack.serve())
        plisio_url = await stack.enter_async_context(FakePlisio(PLISIO_KEY).running())
        hubspot = FakeHubSpot(
            HUBSPOT_TOKEN,
            delay_seconds=delay,
            enforce_search_limit=True,
            general_limit=GENERAL_PER_10_SECONDS,
        )
        seed(hubspot, count, datetime.now(UTC).date())
        stripe_double = FakeStripe(STRIPE_KEY, delay=delay)
        seed_stripe(stripe_double, count, time.time())
        extra: dict[str, Any] = {}
        if connectors:
            extra["hubspot_access_token"] = HUBSPOT_TOKEN
            extra["hubspot_api_base"] = await stack.enter_async_context(hubspot.running())
            extra["stripe_api_key"] = STRIPE_KEY
            extra["stripe_api_base"] = await stack.enter_async_context(stripe_double.running())
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            bot_mode="slack",
            slack_bot_token=SLACK_TOKEN,
            slack_signing_secret=SLACK_SIGNING_SECRET,
            plisio_secret_key=PLISIO_KEY,
            dialnexa_webhook_secret=WEBHOOK_SECRET,
            public_url="http://127.0.0.1:9",
            routing_file=workdir / "routing.toml",
            slack_api_url=slack_url,
            plisio_api_url=plisio_url + "/api/v1",
            database_url=url,
            database_schema=schema,
            slack_post_rate_per_channel=100,
            outbox_poll_seconds=0.2,
            **extra,
        )
        routing = parse_routing(tomllib.loads(ROUTING_TOML))
        bot = build_app(settings, routing=routing, run_workers=True)
        server = TestServer(bot.web)
        await server.start_server(**server_options(settings))
        stack.push_async_callback(server.close)
        base = str(server.make_url("")).rstrip("/")

        accepted_at: dict[str, float] = {}
        first_post: dict[str, float] = {}
        enriched_at: dict[str, float] = {}
        session = await stack.enter_async_context(aiohttp.ClientSession())
        sender = DialNexa(session, base)
        gate = asyncio.Semaphore(32)

        async def deliver(i: int) -> None:
            payload = handoff_payload(f"bench-ctx-{i:04d}")
            payload["customer"] = {**payload.get("customer", {}), "email": email(i)}
            async with gate:
                result = await sender.deliver(payload)
            if result.handoff_id:
                accepted_at[result.handoff_id] = time.monotonic()

        began = time.monotonic()
        deliveries = asyncio.gather(*(deliver(i) for i in range(count)))
        deadline = began + timeout
        duplicates = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # the watcher shares the bot's event loop: look rarely
            now = time.monotonic()
            posted = posted_handoffs(slack)
            for handoff_id, messages in posted.items():
                first_post.setdefault(handoff_id, now)
                if connectors and handoff_id not in enriched_at and _enriched(messages[0]):
                    enriched_at[handoff_id] = now
            duplicates = sum(1 for m in posted.values() if len(m) > 1)
            done = enriched_at if connectors else first_post
            if deliveries.done() and len(done) >= count:
                break
        await deliveries
        total = (max(enriched_at.values()) if enriched_at else time.monotonic()) - began
        latencies = [first_post[h] - accepted_at[h] for h in accepted_at if h in first_post]
        minimum = count / SEARCH_PER_SECOND
        general = len(hubspot.requests) - len(hubspot.searches())
        general_minimum = general / GENERAL_PER_10_SECONDS * 10
        figures: dict[str, Any] = {
            "handoffs": count,
            "accepted": len(accepted_at),
            "posted": len(first_post),
            "lost": count - len([h for h in accepted_at if h in first_post]),
            "duplicate_posts": duplicates,
            "first_post_p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "first_post_p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "first_post_max_ms": round(max(latencies, default=0.0) * 1000, 1),
        }
        if connectors:
            figures |= {
                "enriched": len(enriched_at),
                "total_seconds": round(total, 2),
                "hubspot_search_minimum_seconds": minimum,
                "ratio_to_minimum": round(total / minimum, 3),
                # The other bound: every call but search shares the account's general limit.
                "hubspot_general_limit_per_10_seconds": GENERAL_PER_10_SECONDS,
                "hubspot_general_calls": len(hubspot.requests) - len(hubspot.searches()),
                "hubspot_general_minimum_seconds": round(general_minimum, 1),
                "actual_bound_seconds": round(max(minimum, general_minimum), 1),
                "ratio_to_actual_bound": round(total / max(minimum, general_minimum), 3),
                "hubspot_requests": len(hubspot.requests),
                "hubspot_searches": len(hubspot.searches()),
                "hubspot_429s": hubspot.rate_limited,
                "stripe_requests": len(stripe_double.reads()),
            }
        return figures


async def measure(workdir: Path, *, short: bool = False) -> dict[str, Any]:
    """Connectors off, then on (the same handoffs and doubles), and how the two compare."""
    count = 20 if short else 300
    delay = 0.3
    timeout = 60.0 if short else 4 * count / SEARCH_PER_SECOND + 60
    off = await run(workdir / "off", count=count, delay=delay, connectors=False, timeout=timeout)
    on = await run(workdir / "on", count=count, delay=delay, connectors=True, timeout=timeout)
    return {
        "doubles_delay_ms": int(delay * 1000),
        "connectors_off": off,
        "connectors_on": on,
        "first_post_p99_on_minus_off_ms": round(
            on["first_post_p99_ms"] - off["first_post_p99_ms"], 1
        ),
    }


if __name__ == "__main__":
    import argparse
    import sys
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m bench.context_enrichment")
    parser.add_argument("--short", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ctx-") as tmp:
        print(json.dumps(asyncio.run(measure(Path(tmp), short=args.short)), indent=2))
    sys.exit(0)
