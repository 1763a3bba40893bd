"""The Stripe read client: the official ``stripe`` library in async mode, on the bot's one httpx
client, paced and without the library's own retries (the outbox retries).

``StripeReader`` only reads: customers by email, a customer's subscriptions, latest payments,
charges and disputes, and the objects a handoff names. ``StripeRefunder`` adds the one write, a
refund (``POST /v1/refunds`` with an ``Idempotency-Key``), and follows it. Every answer is a plain
``dict`` (``StripeObject.to_dict()``), mapped to the handoff's context by
``connectors.stripe.mapping``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import stripe

__all__ = ["READS_PER_SECOND", "Pacer", "SharedHTTPXClient", "StripeReader", "StripeRefunder"]

READS_PER_SECOND = 25.0  # Stripe documents 100 reads/s in live mode (25 in test mode): be modest
TIMEOUT_SECONDS = 20.0
Params = dict[str, Any]


class SharedHTTPXClient(stripe.HTTPXClient):
    """``stripe.HTTPXClient`` on an ``httpx.AsyncClient`` the caller owns (the bot's one client).

    ``stripe.HTTPXClient`` opens its own client; this one sends through ``http`` instead and
    leaves closing it to its owner. Async only, like the rest of the bot.
    """

    def __init__(self, http: httpx.AsyncClient, timeout: float = TIMEOUT_SECONDS) -> None:
        stripe.HTTPClient.__init__(self)  # not HTTPXClient's: it would open a second client
        self.httpx = httpx
        import anyio  # what HTTPXClient sleeps with between retries (none here: retries are off)

        self.anyio = anyio
        self._client_async = http
        self._client = None
        self._timeout = timeout

    async def close_async(self) -> None:
        """The shared client is closed by the bot, not by a Stripe client."""

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> tuple[list[Any], dict[str, Any]]:
        """As ``HTTPXClient``'s, but a POST's form body (already encoded by the library) goes
        as ``content``: httpx deprecates raw bytes passed as ``data``."""
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        body = kwargs.pop("data", None)
        if body:
            kwargs["content"] = body
        return list(args), kwargs


class Pacer:
    """At most ``rate`` request starts per second across every caller, and a pause when Stripe
    asked for one (``Retry-After``): callers see how long is left and give the item back."""

    def __init__(
        self,
        rate: float = READS_PER_SECOND,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._interval = 1.0 / rate
        self._now = now
        self._sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0

    def paused_for(self) -> float:
        """Seconds left of a pause Stripe asked for (0 when none)."""
        return max(0.0, self._paused_until - self._now())

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._now() + seconds)

    async def wait(self) -> None:
        """Wait for this caller's slot (slots are handed out in order, ``1/rate`` apart)."""
        now = self._now()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)


def _plain(obj: Any) -> dict[str, Any]:
    to_dict = getattr(obj, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else dict(obj)


class StripeReader:
    """The reads the Stripe connector makes; raises ``stripe.StripeError`` as the library does."""

    def __init__(
        self,
        api_key: str,
        *,
        http: httpx.AsyncClient,
        api_base: str = "https://api.stripe.com",
        pacer: Pacer | None = None,
    ) -> None:
        self._client = stripe.StripeClient(
            api_key,
            http_client=SharedHTTPXClient(http),
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=0,  # the outbox retries, honouring Retry-After
        )
        self.pacer = pacer or Pacer()

    async def _paced(self, call: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        await self.pacer.wait()
        return _plain(await call())

    async def customers_by_email(self, email: str) -> list[dict[str, Any]]:
        v1 = self._client.v1
        page = await self._paced(
            lambda: v1.customers.list_async(params={"email": email, "limit": 3})
        )
        return list(page.get("data") or [])

    async def customer(self, customer_id: str) -> dict[str, Any]:
        v1 = self._client.v1
        return await self._paced(lambda: v1.customers.retrieve_async(customer_id))

    async def subscriptions(self, customer_id: str) -> list[dict[str, Any]]:
        v1 = self._client.v1
        params: Params = {"customer": customer_id, "status": "all", "limit": 10}
        page = await self._paced(lambda: v1.subscriptions.list_async(params=params))  # type: ignore[arg-type]
        return list(page.get("data") or [])

    async def latest_payment_intent(self, customer_id: str) -> dict[str, Any] | None:
        v1 = self._client.v1
        params: Params = {"customer": customer_id, "limit": 1}
        page = await self._paced(lambda: v1.payment_intents.list_async(params=params))  # type: ignore[arg-type]
        data = page.get("data") or []
        return dict(data[0]) if data else None

    async def latest_charge(self, customer_id: str) -> dict[str, Any] | None:
        v1 = self._client.v1
        params: Params = {"customer": customer_id, "limit": 1}
        page = await self._paced(lambda: v1.charges.list_async(params=params))  # type: ignore[arg-type]
        data = page.get("data") or []
        return dict(data[0]) if data else None

    async def named(self, object_id: str) -> dict[str, Any]:
        """A subscription, payment intent, charge or invoice by its id (``sub_``, ``pi_``,
        ``ch_``, ``in_``)."""
        v1 = self._client.v1
        services: Mapping[str, Any] = {
            "sub_": v1.subscriptions,
            "pi_": v1.payment_intents,
            "ch_": v1.charges,
            "in_": v1.invoices,
        }
        service = next(s for prefix, s in services.items() if object_id.startswith(prefix))
        return await self._paced(lambda: service.retrieve_async(object_id))

    async def charges(self, customer_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The customer's most recent charges (each says whether it is ``disputed``)."""
        v1 = self._client.v1
        params: Params = {"customer": customer_id, "limit": limit}
        page = await self._paced(lambda: v1.charges.list_async(params=params))  # type: ignore[arg-type]
        return list(page.get("data") or [])

    async def disputes(self, **payment: str) -> list[dict[str, Any]]:
        """Disputes of one payment: ``charge=ch_…`` or ``payment_intent=pi_…``."""
        v1 = self._client.v1
        params: Params = {**payment, "limit": 100}
        page = await self._paced(lambda: v1.disputes.list_async(params=params))  # type: ignore[arg-type]
        return list(page.get("data") or [])


class StripeRefunder(StripeReader):
    """The reads, and refunds: created once per ``Idempotency-Key``, then followed."""

    async def refunds(self, **payment: str) -> list[dict[str, Any]]:
        """Refunds of one payment: ``charge=ch_…`` or ``payment_intent=pi_…``."""
        v1 = self._client.v1
        params: Params = {**payment, "limit": 100}
        page = await self._paced(lambda: v1.refunds.list_async(params=params))  # type: ignore[arg-type]
        return list(page.get("data") or [])

    async def refund(self, refund_id: str) -> dict[str, Any]:
        v1 = self._client.v1
        return await self._paced(lambda: v1.refunds.retrieve_async(refund_id))

    async def create_refund(self, params: Params, *, idempotency_key: str) -> dict[str, Any]:
        """``POST /v1/refunds``; the same key with the same params replays the same refund."""
        v1 = self._client.v1
        return await self._paced(
            lambda: v1.refunds.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
