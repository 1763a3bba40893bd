"""The Gmail connector: approved customer email from the finance mailbox, once, to a verified
address only.

- The final ``approved`` of a receipt resend -> the receipt of the payment that already
  happened (``connectors.google_drive.paid``: the bot's paid invoice, the handoff's billing
  amount, or the customer's completed Plisio invoice), PDF attached (and its Drive link when the
  Drive connector has stored it already); when nothing paid is found, the message says so and
  nothing is sent.
- ``invoice_created`` (an invoice exists only after its approval) -> the invoice with its
  payment link, only when the approver ticked "Email the invoice" in the approve dialog
  (``email_invoice`` on the approval).
- The final ``approved`` of a collections handoff whose approver ticked the follow-up -> exactly
  the text they approved (``followup_email`` on the approval, suppressed when stored).
- Only to ``customer.email_verified`` or an address whose caller the approver confirmed in the
  identity check (``identity_confirmed`` on the approval); otherwise nothing is sent and the
  handoff's message says why.
- Exactly once: each (call, step) has a ``Message-ID`` made from the call ID and the step; a
  step already linked in ``external_refs`` is not sent again, and a retry (``attempt`` > 1)
  first searches the sent mail for that ``Message-ID`` (``q=rfc822msgid:``), so a send whose
  answer was lost (a 5xx after Gmail sent it, a crash) is found instead of sent twice.
- One Gmail thread per call: later emails carry the first one's ``threadId`` and
  ``In-Reply-To`` / ``References``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from connectors.base import ConnectorContext, Done, Link, Result
from connectors.gmail.client import GmailClient, SentMessage
from connectors.google import GoogleAuth
from connectors.google.errors import GoogleError, result
from connectors.google_drive.paid import InvoicesByEmail, paid_for_receipt, plisio_result
from connectors.google_drive.source import Source, company, load
from connectors.plisio.errors import PlisioError
from services import external_refs
from services.db.engine import Database
from services.db.models import AuditEntry
from services.documents import (
    DocumentKind,
    Email,
    collections_email,
    invoice_email,
    receipt,
    receipt_email,
    render_pdf,
)
from services.events import Event, EventType
from services.handoff_model import INVOICE_WORKFLOWS, Workflow
from services.redaction import redact_text

if TYPE_CHECKING:
    from bot.settings import Settings
    from connectors.registry import ConnectorDeps

__all__ = ["GmailConnector", "followup_text", "gmail_connector", "message_id", "step_for"]

NAME = "gmail"
REF_HEADER = "X-Finance-Bot-Ref"
THREAD_URL = "https://mail.google.com/mail/u/0/#all/{thread}"
UNVERIFIED = (
    "Not emailed: {email} is not verified and the caller's identity was not confirmed "
    "on approval, so nothing was sent."
)
NO_EMAIL = "Not emailed: the handoff has no customer email."
NOT_CHOSEN = "Invoice not emailed: the approver chose not to email it."
FOLLOWUP = "followup"


def step_for(event: Event, workflow: str) -> DocumentKind | None:
    """Which email ``event`` approves, if any (the step is the document it carries)."""
    if event.type is EventType.APPROVED and workflow == Workflow.RECEIPT_RESEND.value:
        final = int(event.detail.get("approval") or 1) >= int(event.detail.get("of") or 1)
        return DocumentKind.RECEIPT if final else None
    if event.type is EventType.INVOICE_CREATED and workflow in {w.value for w in INVOICE_WORKFLOWS}:
        return DocumentKind.INVOICE
    return None


def followup_text(event: Event, workflow: str) -> str | None:
    """The collections follow-up the final approval ``event`` approved, if it chose one."""
    if event.type is not EventType.APPROVED or workflow != Workflow.COLLECTIONS.value:
        return None
    if int(event.detail.get("approval") or 1) < int(event.detail.get("of") or 1):
        return None
    text = event.detail.get("followup_email")
    return text if isinstance(text, str) and text.strip() else None


def message_id(call_id: str, step: str, sender: str) -> str:
    """The ``Message-ID`` of one (call, step): the same on every try."""
    digest = hashlib.sha256(f"{call_id}\x1f{step}".encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "finance-bot.invalid"
    return f"<{digest}.finance-bot@{domain}>"


class GmailConnector:
    name = NAME
    handles = frozenset({EventType.APPROVED, EventType.INVOICE_CREATED})

    def __init__(
        self,
        client: GmailClient,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime],
        lookup: InvoicesByEmail | None = None,
    ) -> None:
        self._client = client
        self._db = db
        self._settings = settings
        self._clock = clock
        self._lookup = lookup  # the customer's Plisio invoices (receipt resends)

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        if event.handoff_id is None:
            return Done()
        source = await load(self._db, event.handoff_id)
        if source is None:
            return Done()
        step = step_for(event, source.workflow)
        followup = followup_text(event, source.workflow)
        if step is None and followup is None:
            return Done()
        approver, confirmed, chosen = await self._approval(event.handoff_id)
        if step is DocumentKind.INVOICE and not chosen.get("email_invoice"):
            # The approver left "Email the invoice" unticked: nothing is sent.
            return Done(context=self._context(source, NOT_CHOSEN))
        customer = source.handoff.customer
        email = str(customer.email) if customer and customer.email else None
        if email is None:
            return Done(context=self._context(source, NO_EMAIL))
        if not (source.email_verified or confirmed):
            # Refused before anything is built or sent.
            return Done(context=self._context(source, UNVERIFIED.format(email=email)))
        step_name = step.value if step is not None else FOLLOWUP
        kind = f"{step_name}_email"
        async with self._db.sessions() as session:
            if await external_refs.find(session, event.handoff_id, NAME, kind) is not None:
                return Done()  # sent and recorded by an earlier try
            earlier = [
                r for r in await external_refs.for_handoff(session, event.handoff_id)
                if r.system == NAME
            ]  # fmt: skip
            drive = (
                await external_refs.find(session, event.handoff_id, "google_drive", step.value)
                if step is not None
                else None
            )
        the_company = company(self._settings)
        document = None
        if step is DocumentKind.RECEIPT:
            # The receipt of what was already paid (the same one the Drive connector stores).
            try:
                paid = await paid_for_receipt(source, self._lookup)
            except PlisioError as error:
                return plisio_result(error)
            if paid.facts is None:
                line = f"Not emailed: {paid.missing}, so nothing was sent."
                return Done(context=self._context(source, line))
            document = receipt(source.handoff, paid.facts, the_company, event.at.date())
        elif step is not None:
            document = source.document(step, the_company, event.at.date())
            if document is None:
                line = f"Not emailed: no {step.heading.lower()}."
                return Done(context=self._context(source, line))
        if step is DocumentKind.RECEIPT and document is not None:
            mail = receipt_email(document, drive_url=drive.url if drive else None)
            what = step.heading.lower()
        elif document is not None:
            mail = invoice_email(document)
            what = DocumentKind.INVOICE.heading.lower()
        else:
            assert followup is not None
            template = collections_email(source.handoff, the_company.name)
            # Exactly the approved text (suppressed when it was stored; again here).
            mail = Email(template.subject, redact_text(followup).text.rstrip() + "\n")
            what = "collections follow-up"
        ref = message_id(source.call_id, step_name, self._client.sender)
        message = EmailMessage()
        message["From"] = f"{the_company.name} <{self._client.sender}>"
        message["To"] = email
        message["Subject"] = mail.subject
        message["Message-ID"] = ref
        message[REF_HEADER] = f"{source.call_id}:{step_name}"
        thread_id: str | None = None
        if earlier:
            first = earlier[0].detail
            thread_id = str(first.get("thread_id") or "") or None
            replied = [
                str(r.detail.get("message_id")) for r in earlier if r.detail.get("message_id")
            ]
            if replied:
                message["In-Reply-To"] = replied[-1]
                message["References"] = " ".join(replied)
        message.set_content(mail.body)
        if step is DocumentKind.RECEIPT and document is not None:
            message.add_attachment(
                render_pdf(document),
                maintype="application",
                subtype="pdf",
                filename=f"{document.kind.heading} {document.number}.pdf",
            )
        try:
            sent: SentMessage | None = None
            if context.attempt > 1:
                sent = await self._client.find_sent(ref)
            if sent is None:
                sent = await self._client.send(message, thread_id)
        except GoogleError as error:
            return result(error)
        at = self._clock()
        by = f" by <@{approver}>" if approver else ""
        line = f"Email sent to {email}{by} at {at:%Y-%m-%d %H:%M} UTC ({what})"
        return Done(
            context=self._context(source, line),
            links=(
                Link(
                    kind=kind,
                    external_id=sent.id,
                    url=THREAD_URL.format(thread=sent.thread_id),
                    label=f"email sent to {email}{by}",
                    detail={"thread_id": sent.thread_id, "message_id": ref, "to": email},
                ),
            ),
        )

    def _context(self, source: Source, line: str) -> dict[str, object]:
        earlier = source.context.get(NAME) or {}
        lines = [x for x in earlier.get("lines", []) if isinstance(x, str) and x != line]
        return {"label": "Customer email", "lines": [*lines, line]}

    async def _approval(self, handoff_id: str) -> tuple[str | None, bool, dict[str, Any]]:
        """The last approver, whether any approval confirmed the caller's identity, and the
        last approval's detail (its email choices)."""
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.handoff_id == handoff_id,
                    AuditEntry.action == EventType.APPROVED.value,
                )
                .order_by(AuditEntry.id)
            )
            approvals = list(rows)
        if not approvals:
            return None, False, {}
        confirmed = any((a.detail or {}).get("identity_confirmed") for a in approvals)
        return approvals[-1].actor, confirmed, dict(approvals[-1].detail or {})


def gmail_connector(deps: ConnectorDeps) -> GmailConnector:
    """The factory named in ``connectors.registry.SPECS``."""
    sender = deps.settings.gmail_sender
    assert sender is not None  # the spec is on only with it
    auth = GoogleAuth(deps.settings, deps.http, deps.clock)
    client = GmailClient(deps.settings, auth, sender, http=deps.http)
    return GmailConnector(client, deps.db, deps.settings, deps.clock, lookup=deps.invoice_lookup)
