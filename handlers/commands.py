"""Slash commands: /invoice (lookups, new requests, help) and /handoff <call id>.

Each listener is a module-level function taking Bolt's arguments plus the narrow
``CommandDeps``; ``register`` only wires the commands and the /invoice new form to them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from email_validator import EmailNotValidError, validate_email
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.audit import refusal
from blocks.ids import CallbackId, InvoiceField
from blocks.invoices import (
    FIAT_CURRENCIES,
    invoice_list_message,
    invoice_request_modal,
    invoice_usage_message,
    not_an_email,
    plisio_unavailable_message,
)
from blocks.status import handoff_status_message, not_found_message
from connectors.plisio import Operation, PlisioError
from handlers.decisions import REFUSED, ActorLookup, Kicker
from handlers.export import ExportQueue, export_command
from handlers.payloads import SlashCommand, read_command, read_submission
from handlers.request_confirmation import confirm_request
from services.cards import HandoffCard
from services.db.models import AuditEntry
from services.events import EventType
from services.external_refs import LinkedRecord
from services.handoff_model import Handoff
from services.intake import IntakeResult
from services.permissions import Action, decide
from services.requests import build_request_handoff, validate_request

__all__ = [
    "COMMANDS",
    "NO_SUCH_CALL",
    "CommandDeps",
    "HandoffLookups",
    "InvoiceLookup",
    "RequestIntake",
    "handoff",
    "invoice",
    "invoice_form",
    "register",
]

logger = logging.getLogger(__name__)

COMMANDS = ("/invoice", "/handoff")
LOOKED_UP = EventType.LOOKED_UP  # the event of every /invoice <email> and /handoff answer
LOOKUP_INVOICES, LOOKUP_HANDOFF = "invoices_for_email", "handoff_by_call"
NO_SUCH_CALL = "No handoff has this call ID (check it with /handoff), or leave it empty."
HANDOFF_USAGE = "Usage: /handoff <DialNexa call ID>  ·  /handoff export [from] [to]"
EXPORT_WORD, EXPORT_WHAT = "export", "audit_export"
# validate_request's field names -> the form's input blocks.
FORM_FIELDS = {
    "email": InvoiceField.EMAIL,
    "amount": InvoiceField.AMOUNT,
    "currency": InvoiceField.CURRENCY,
    "description": InvoiceField.DESCRIPTION,
    "call_id": InvoiceField.CALL_ID,
}


class InvoiceLookup(Protocol):
    """A customer's Plisio invoices by email."""

    async def invoices_for_email(self, email: str) -> list[Operation]: ...


class HandoffLookups(Protocol):
    """Finds handoffs by call ID and audits lookups (``services.handoffs.HandoffService``)."""

    async def card_by_call(self, call_id: str) -> HandoffCard | None: ...

    async def audit_trail(self, handoff_id: str) -> list[AuditEntry]: ...

    async def linked_records(self, handoff_id: str) -> list[LinkedRecord]: ...

    async def record(
        self, handoff_id: str | None, actor: str, action: str, detail: dict[str, Any]
    ) -> None: ...


class RequestIntake(Protocol):
    """Stores an /invoice new request as a handoff (``services.intake.HandoffIntake``)."""

    async def store(
        self,
        handoff: Handoff,
        *,
        actor: str = ...,
        kind: str = ...,
        requested_by: str | None = None,
    ) -> IntakeResult: ...


class CommandDeps(ActorLookup, Protocol):
    """What the slash commands and the /invoice new form need."""

    @property
    def handoffs(self) -> HandoffLookups: ...

    @property
    def intake(self) -> RequestIntake: ...

    @property
    def lookup(self) -> InvoiceLookup: ...

    @property
    def outbox(self) -> Kicker: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def sandbox(self) -> bool: ...

    @property
    def exports(self) -> ExportQueue: ...


def _ephemeral(message: dict[str, Any]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": message["text"], "blocks": message["blocks"]}


async def _allowed(
    deps: CommandDeps,
    ack: AsyncAck,
    action: Action,
    command: SlashCommand,
    *,
    what: str | None = None,
    query: str = "",
) -> bool:
    """The policy for a command's user; a refusal is acked (no customer data) and audited."""
    user = command.user_id
    permission = decide(action, await deps.actor(user))
    if permission.allowed:
        return True
    assert permission.reason is not None
    # The ack itself is the refusal, so it reaches the user within Slack's 3 s.
    await ack(**_ephemeral(refusal(permission.reason.value, action=action.value)))
    detail: dict[str, Any] = {"action": action.value, "reason": permission.reason.value}
    if what:
        detail.update(what=what, query=query[:200])
    try:
        await deps.handoffs.record(None, user, REFUSED, detail)
    except Exception:
        logger.exception("could not audit a refused command", extra={"user": user})
    return False


async def _looked_up(
    deps: CommandDeps, user: str, handoff_id: str | None, *, what: str, **detail: Any
) -> None:
    """Every lookup is audited: who, what, when."""
    try:
        await deps.handoffs.record(handoff_id, user, LOOKED_UP, {"what": what, **detail})
    except Exception:
        logger.exception("could not audit a lookup", extra={"user": user})


async def invoice(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    deps: CommandDeps,
) -> None:
    """/invoice [help | new | <email>]: usage, the request form, or a customer's invoices."""
    asked = read_command(command)
    if asked is None:
        await ack()
        return
    text = asked.text.strip()
    word = text.lower()
    if word in {"", "help"}:
        await ack(**_ephemeral(invoice_usage_message()))
        return
    if word == "new":
        if not await _allowed(deps, ack, Action.REQUEST, asked):
            return
        await ack()
        # trigger_id lives 3 s: the form needs no I/O, so open it straight away.
        await client.views_open(
            trigger_id=asked.trigger_id, view=invoice_request_modal(FIAT_CURRENCIES)
        )
        return
    try:
        email = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        await ack(**_ephemeral(invoice_usage_message(not_an_email(text))))
        return
    if not await _allowed(deps, ack, Action.VIEW, asked, what=LOOKUP_INVOICES, query=email):
        return
    await ack(response_type="ephemeral", text=f"Looking up Plisio invoices for {email}…")
    await _looked_up(deps, asked.user_id, None, what=LOOKUP_INVOICES, email=email)
    try:
        invoices = await deps.lookup.invoices_for_email(email)
    except PlisioError:
        logger.warning("invoice lookup failed", exc_info=True)
        await respond(**_ephemeral(plisio_unavailable_message(email)), replace_original=True)
        return
    message = invoice_list_message(email=email, invoices=invoices, sandbox=deps.sandbox)
    await respond(**_ephemeral(message), replace_original=True)


async def handoff(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    deps: CommandDeps,
) -> None:
    """/handoff <call id>: the handoff's status and audit trail, privately;
    /handoff export [from] [to]: the audit trail as CSV in the finance lead's DM."""
    asked = read_command(command)
    if asked is None:
        await ack()
        return
    call_id = asked.text.strip()
    if not call_id:
        await ack(response_type="ephemeral", text=HANDOFF_USAGE)
        return
    words = call_id.split()
    if words[0].lower() == EXPORT_WORD:
        if await _allowed(deps, ack, Action.EXPORT, asked, what=EXPORT_WHAT, query=call_id):
            await export_command(ack, asked, respond, deps, words[1:])
        return
    if not await _allowed(deps, ack, Action.VIEW, asked, what=LOOKUP_HANDOFF, query=call_id):
        return
    await ack()
    card = await deps.handoffs.card_by_call(call_id)
    await _looked_up(
        deps,
        asked.user_id,
        card.handoff_id if card else None,
        what=LOOKUP_HANDOFF,
        call_id=call_id[:200],
        found=card is not None,
    )
    if card is None:
        await respond(**_ephemeral(not_found_message(call_id)))
        return
    trail = await deps.handoffs.audit_trail(card.handoff_id)
    refs = await deps.handoffs.linked_records(card.handoff_id)
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
        **_ephemeral(
            handoff_status_message(card, trail, permalink=permalink, now=deps.clock(), refs=refs)
        )
    )


async def invoice_form(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: CommandDeps
) -> None:
    """The /invoice new form: checked inline, then stored as a request for approval."""
    submitted = read_submission(body)
    if submitted is None:
        await ack()
        return

    def field(name: InvoiceField) -> Any:
        value = submitted.value(name.value, name.value + "_input")
        if isinstance(value, dict):
            return value.get("value")
        return value

    currency = submitted.selected(
        InvoiceField.CURRENCY.value, InvoiceField.CURRENCY.value + "_input"
    )
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
    user = submitted.user_id
    # A call ID only links the request to a handoff that exists; it never claims the ID.
    if checked.call_id and await deps.handoffs.card_by_call(checked.call_id) is None:
        await ack(response_action="errors", errors={InvoiceField.CALL_ID.value: NO_SUCH_CALL})
        return
    request = build_request_handoff(checked, requester=user, now=deps.clock())
    await ack()
    result = await deps.intake.store(request, actor=user, kind="request", requested_by=user)
    deps.outbox.kick()
    await confirm_request(client, deps.handoffs, user, checked, request.call_id, result.duplicate)


def register(app: AsyncApp, deps: CommandDeps) -> None:
    """Wire the slash commands and the /invoice new form to the listeners above."""

    async def on_invoice(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await invoice(ack, command, respond, client, deps)

    async def on_handoff(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await handoff(ack, command, respond, client, deps)

    async def on_invoice_form(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await invoice_form(ack, body, client, deps)

    app.command("/invoice")(on_invoice)
    app.command("/handoff")(on_handoff)
    app.view(CallbackId.INVOICE_NEW_MODAL.value)(on_invoice_form)
