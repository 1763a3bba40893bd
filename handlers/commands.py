"""Slash commands: /invoice (lookups, new requests, help) and /handoff <call id>."""

from __future__ import annotations

import logging
from typing import Any

from email_validator import EmailNotValidError, validate_email
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import CallbackId, InvoiceField
from blocks.invoices import (
    FIAT_CURRENCIES,
    invoice_list_message,
    invoice_request_modal,
    invoice_usage_message,
    plisio_unavailable_message,
)
from blocks.status import handoff_status_message, not_found_message
from bot.container import Container
from handlers.views import state_value
from services.plisio import PlisioError
from services.requests import build_request_handoff, validate_request

__all__ = ["COMMANDS", "register"]

logger = logging.getLogger(__name__)

COMMANDS = ("/invoice", "/handoff")
# validate_request's field names -> the form's input blocks.
FORM_FIELDS = {
    "email": InvoiceField.EMAIL,
    "amount": InvoiceField.AMOUNT,
    "currency": InvoiceField.CURRENCY,
    "description": InvoiceField.DESCRIPTION,
    "call_id": InvoiceField.CALL_ID,
}


def _ephemeral(message: dict[str, Any]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": message["text"], "blocks": message["blocks"]}


def register(app: AsyncApp, deps: Container) -> None:
    """Wire the slash commands and the /invoice new form."""

    async def invoice(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        text = (command.get("text") or "").strip()
        word = text.lower()
        if word in {"", "help"}:
            await ack(**_ephemeral(invoice_usage_message()))
            return
        if word == "new":
            await ack()
            # trigger_id lives 3 s: the form needs no I/O, so open it straight away.
            await client.views_open(
                trigger_id=command["trigger_id"], view=invoice_request_modal(FIAT_CURRENCIES)
            )
            return
        try:
            email = validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError:
            await ack(
                **_ephemeral(invoice_usage_message(f"“{text[:100]}” is not an email address."))
            )
            return
        await ack(response_type="ephemeral", text=f"Looking up Plisio invoices for {email}…")
        try:
            invoices = await deps.lookup.invoices_for_email(email)
        except PlisioError:
            logger.warning("invoice lookup failed", exc_info=True)
            await respond(**_ephemeral(plisio_unavailable_message(email)), replace_original=True)
            return
        message = invoice_list_message(email=email, invoices=invoices, sandbox=deps.sandbox)
        await respond(**_ephemeral(message), replace_original=True)

    async def handoff(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        call_id = (command.get("text") or "").strip()
        if not call_id:
            await ack(response_type="ephemeral", text="Usage: /handoff <DialNexa call ID>")
            return
        await ack()
        card = await deps.handoffs.card_by_call(call_id)
        if card is None:
            await respond(**_ephemeral(not_found_message(call_id)))
            return
        trail = await deps.handoffs.audit_trail(card.handoff_id)
        permalink = None
        if card.message_ts:
            try:
                response = await client.chat_getPermalink(
                    channel=card.channel, message_ts=card.message_ts
                )
                permalink = response.get("permalink")
            except SlackApiError:
                logger.warning("no permalink for handoff %s", card.handoff_id)
        await respond(
            **_ephemeral(handoff_status_message(card, trail, permalink=permalink, now=deps.clock()))
        )

    async def invoice_form(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        def field(name: InvoiceField) -> Any:
            value = state_value(view, name.value, name.value + "_input")
            if isinstance(value, dict):
                return value.get("value")
            return value

        selected = (view.get("state") or {}).get("values", {}).get(InvoiceField.CURRENCY.value, {})
        currency = (
            (selected.get(InvoiceField.CURRENCY.value + "_input") or {}).get("selected_option")
            or {}
        ).get("value")
        checked = validate_request(
            email=field(InvoiceField.EMAIL),
            amount=field(InvoiceField.AMOUNT),
            currency=currency,
            description=field(InvoiceField.DESCRIPTION),
            call_id=field(InvoiceField.CALL_ID),
            currencies=FIAT_CURRENCIES,
        )
        if isinstance(checked, dict):
            await ack(
                response_action="errors",
                errors={FORM_FIELDS[k].value: v for k, v in checked.items()},
            )
            return
        user = body["user"]["id"]
        handoff = build_request_handoff(checked, requester=user, now=deps.clock())
        if checked.call_id and await deps.handoffs.card_by_call(checked.call_id) is not None:
            await ack(
                response_action="errors",
                errors={
                    InvoiceField.CALL_ID.value: "A handoff for this call already exists (see /handoff)."
                },
            )
            return
        await ack()
        result = await deps.intake.store(handoff, actor=user, kind="request", requested_by=user)
        deps.outbox.kick()
        try:
            opened = await client.conversations_open(users=user)
            await client.chat_postMessage(
                channel=opened["channel"]["id"],
                text=(
                    f"Your invoice request for {checked.amount:,.2f} {checked.currency} to {checked.email} "
                    f"was sent to finance for approval (call ID {handoff.call_id})."
                    + (" It was already on file." if result.duplicate else "")
                ),
            )
        except SlackApiError:
            logger.warning("could not confirm an invoice request to its requester")

    app.command("/invoice")(invoice)
    app.command("/handoff")(handoff)
    app.view(CallbackId.INVOICE_NEW_MODAL.value)(invoice_form)
