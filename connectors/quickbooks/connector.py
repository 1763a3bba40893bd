"""QuickBooks Online: the books follow the Slack decisions.

- Plisio invoice created -> an ``Invoice`` (amount, currency, one line from the workflow, the
  call ID and Plisio ``txn_id`` in ``PrivateNote``);
- Plisio invoice paid -> a ``Payment`` applied to it (``Line[].LinkedTxn``);
- underpaid -> nothing applied; the message says what was received;
- a credit request approved (final approval) -> a ``CreditMemo``;
- a tax or billing address correction approved -> the customer's ``BillAddr`` (sparse update)
  when the handoff carries ``customer.billing_address``, and a link to the customer where the
  tax id is to be entered (never through Slack);
- a refund executed (Stripe refunded the money: ``refund_succeeded``; an approver marked a
  manual crypto refund done: ``refund_marked``) -> one ``RefundReceipt`` paid out of the bank
  account the money left (see ``QuickBooksConnector._refund_receipt``).

The customer is found by ``PrimaryEmailAddr``, then ``DisplayName``, else created once. Each write
carries a ``requestid`` from the call ID and the step; a retry first looks for what an earlier try
may have written (the ``PrivateNote`` holding the call ID) before writing again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select

from connectors.base import ConnectorContext, Done, GiveUp, Link, Result
from connectors.quickbooks.client import QuickBooksClient, QuickBooksFailure, request_id
from connectors.quickbooks.oauth import REVOKED_REASON, QuickBooksAuth
from services import external_refs
from services.db.engine import Database
from services.db.models import HandoffRow, InvoiceRow
from services.documents.money import format_money, round_money
from services.events import Event, EventType
from services.handoff_model import Handoff, Workflow
from services.redaction import redact_text
from services.refunds import Refund, RefundLedger, refund_key

if TYPE_CHECKING:
    from connectors.registry import ConnectorDeps

__all__ = ["NAME", "QuickBooksConnector", "app_base_for", "build"]

logger = logging.getLogger(__name__)

NAME = "quickbooks"
# A refund is money going back, recorded where it is executed (not a credit on account).
CREDIT_WORKFLOWS = frozenset({Workflow.CREDIT_REQUEST})
_LINES_KEPT = 4  # blocks.handoff_context.LINES_MAX
_WORKFLOW_LINES = {
    Workflow.CREATE_INVOICE: "Invoice requested on a DialNexa call",
    Workflow.VIP_PAYMENT_BLOCKER: "Payment for a VIP account",
    Workflow.COLLECTIONS: "Outstanding balance (collections)",
    Workflow.CREDIT_REQUEST: "Credit approved",
    Workflow.REFUND: "Refund approved (credit)",
}


def app_base_for(api_base: str) -> str:
    """Where a person opens QuickBooks records for an API base URL (a double: next to it)."""
    host = (urlsplit(api_base).hostname or "").lower()
    if host == "quickbooks.api.intuit.com":
        return "https://app.qbo.intuit.com/app"
    if host == "sandbox-quickbooks.api.intuit.com":
        return "https://app.sandbox.qbo.intuit.com/app"
    return api_base.rstrip("/") + "/app"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _sales_line(amount: Decimal, description: str) -> dict[str, Any]:
    """The one item line every sales form carries (invoice, credit memo, refund receipt)."""
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "Description": description,
        "SalesItemLineDetail": {"Qty": 1, "UnitPrice": amount},
    }


NO_BANK_ACCOUNT = (
    "QuickBooks has no active Bank account to record the refund receipt against: add one "
    "(Chart of accounts, type Bank) or set QUICKBOOKS_REFUND_ACCOUNT_ID, then retry"
)


@dataclass(frozen=True, slots=True)
class _Loaded:
    handoff_id: str
    handoff: Handoff
    amount: Decimal | None
    currency: str | None
    lines: list[str]
    refs: list[external_refs.LinkedRecord]

    def ref(self, kind: str, **match: str) -> external_refs.LinkedRecord | None:
        for ref in reversed(self.refs):
            if ref.kind == kind and all(ref.detail.get(k) == v for k, v in match.items()):
                return ref
        return None


@dataclass(frozen=True, slots=True)
class _Booked:
    """A Plisio invoice's QuickBooks invoice, and its customer."""

    customer_id: str
    customer: Mapping[str, Any] | None  # read or created just now (else only its id is known)
    invoice_id: str
    links: list[Link]  # what was found or created just now
    line: str


@dataclass(frozen=True, slots=True)
class _RefundBooked:
    """An executed refund as the refund receipt records it."""

    amount: Decimal  # rounded to the currency's places
    currency: str
    key: str  # the refund's idempotency key (services.refunds.refund_key)
    references: tuple[str, ...]  # the payment refunded, Stripe's refund id: for PrivateNote
    description: str


def _clean(text: str) -> str:
    """Free text bound for QuickBooks, suppressed first."""
    return redact_text(text).text


class QuickBooksConnector:
    """Writes one handoff's accounting records, each exactly once."""

    name = NAME
    handles = frozenset(
        {
            EventType.INVOICE_CREATED,
            EventType.PAID,
            EventType.MISMATCH,
            EventType.PAYMENT_STATUS,
            EventType.APPROVED,
            EventType.REFUND_SUCCEEDED,
            EventType.REFUND_MARKED,
        }
    )

    def __init__(
        self,
        *,
        db: Database,
        client: QuickBooksClient | None,
        app_base: str,
        unavailable: str | None = None,
        refunds: RefundLedger | None = None,
        refund_account: str | None = None,
    ) -> None:
        self._db = db
        self._client = client
        self._app = app_base.rstrip("/")
        self._stopped = unavailable
        self._currencies: dict[str, str | None] = {}  # currency -> why not usable (None: fine)
        self._refunds = refunds
        # The account refunds are paid from: the setting, else the first active Bank account
        # (looked up once per process).
        self._refund_account = refund_account
        self._bank_accounts: list[dict[str, Any]] | None = None

    async def handle(self, event: Event, context: ConnectorContext) -> Result:
        if self._stopped is not None or self._client is None:
            return GiveUp(self._stopped or "QuickBooks is not set up")
        if event.handoff_id is None:
            return Done()
        try:
            return await self._handle(self._client, event, context)
        except QuickBooksFailure as failure:
            if isinstance(failure.result, GiveUp) and failure.result.reason == REVOKED_REASON:
                self._stopped = REVOKED_REASON  # logged once by the auth; no call from now on
            return failure.result

    async def _handle(self, qb: QuickBooksClient, event: Event, ctx: ConnectorContext) -> Result:
        assert event.handoff_id is not None
        loaded = await self._load(event.handoff_id)
        if loaded is None:
            return Done()
        match event.type:
            case EventType.INVOICE_CREATED:
                return await self._invoice(qb, loaded, str(event.detail.get("txn_id") or ""), ctx)
            case EventType.PAID:
                return await self._payment(qb, loaded, ctx)
            case EventType.MISMATCH | EventType.PAYMENT_STATUS:
                if event.detail.get("state") == "underpaid":
                    return self._underpaid(loaded, event.detail)
                return Done()
            case EventType.APPROVED:
                if int(event.detail.get("approval", 1)) < int(event.detail.get("of", 1)):
                    return Done()  # not the final approval yet
                workflow = loaded.handoff.workflow
                if workflow in CREDIT_WORKFLOWS:
                    return await self._credit_memo(qb, loaded, ctx)
                if workflow is Workflow.TAX_OR_ADDRESS:
                    return await self._address(qb, loaded)
            case EventType.REFUND_SUCCEEDED | EventType.REFUND_MARKED:
                return await self._refund_receipt(qb, loaded, event, ctx)
        return Done()

    # -- loading -------------------------------------------------------------------------------

    async def _load(self, handoff_id: str) -> _Loaded | None:
        async with self._db.sessions() as session:
            row = await session.get(HandoffRow, handoff_id)
            if row is None:
                return None
            refs = [
                r for r in await external_refs.for_handoff(session, handoff_id) if r.system == NAME
            ]
            mine = (row.context or {}).get(NAME) or {}
            return _Loaded(
                handoff_id=handoff_id,
                handoff=Handoff.model_validate(row.payload),
                amount=row.amount,
                currency=row.currency,
                lines=[str(line) for line in mine.get("lines") or ()],
                refs=refs,
            )

    async def _plisio_invoice(self, handoff_id: str, txn_id: str | None) -> InvoiceRow | None:
        async with self._db.sessions() as session:
            query = select(InvoiceRow).where(InvoiceRow.handoff_id == handoff_id)
            if txn_id:
                query = query.where(InvoiceRow.txn_id == txn_id)
            else:
                query = query.where(
                    InvoiceRow.paid_at.is_not(None), InvoiceRow.superseded_at.is_(None)
                )
            return await session.scalar(query.order_by(InvoiceRow.id.desc()).limit(1))

    # -- what is shown -------------------------------------------------------------------------

    def _url(self, kind: str, entity_id: str) -> str:
        if kind == "customer":
            return f"{self._app}/customerdetail?nameId={entity_id}"
        page = {
            "invoice": "invoice",
            "payment": "recvpayment",
            "credit_memo": "creditmemo",
            "refund_receipt": "refundreceipt",
        }[kind]
        return f"{self._app}/{page}?txnId={entity_id}"

    def _done(
        self, loaded: _Loaded, customer: Mapping[str, Any] | None, links: list[Link], *new: str
    ) -> Done:
        lines = [line for line in loaded.lines if line not in new]
        lines = [line for line in (lines + list(new)) if line][-_LINES_KEPT:]
        context: dict[str, Any] = {"lines": lines}
        if customer is not None:
            context["url"] = self._url("customer", str(customer["Id"]))
            context["label"] = f"customer {customer.get('DisplayName') or customer['Id']}"
            links = [self._customer_link(customer), *links]
        else:
            cust = loaded.ref("customer")
            if cust is not None:
                context["url"] = cust.url
                context["label"] = f"customer {cust.detail.get('name') or cust.external_id}"
        return Done(context=context, links=tuple(links))

    def _customer_link(self, customer: Mapping[str, Any]) -> Link:
        name = str(customer.get("DisplayName") or customer["Id"])
        return Link(
            "customer",
            str(customer["Id"]),
            self._url("customer", str(customer["Id"])),
            label=f"customer {name}",
            detail={"name": name},
        )

    def _record_link(self, kind: str, entity: Mapping[str, Any], line: str, **detail: str) -> Link:
        number = entity.get("DocNumber") or entity["Id"]
        label = {
            "invoice": "invoice",
            "payment": "payment",
            "credit_memo": "credit memo",
            "refund_receipt": "refund receipt",
        }[kind]
        return Link(
            kind,
            str(entity["Id"]),
            self._url(kind, str(entity["Id"])),
            label=f"{label} {number}",
            detail={**detail, "line": line},
        )

    # -- customer and currency -----------------------------------------------------------------

    async def _customer(
        self, qb: QuickBooksClient, loaded: _Loaded, currency: str | None
    ) -> dict[str, Any]:
        ref = loaded.ref("customer")
        customer: dict[str, Any]
        if ref is not None:
            customer = {"Id": ref.external_id, "DisplayName": ref.detail.get("name")}
        else:
            customer = await self._find_or_create_customer(qb, loaded, currency)
        wanted = (customer.get("CurrencyRef") or {}).get("value")
        if currency and wanted and wanted != currency:
            raise QuickBooksFailure(
                GiveUp(
                    f"the QuickBooks customer {customer.get('DisplayName')} is billed in "
                    f"{wanted}, the amount is in {currency}: nothing recorded"
                )
            )
        return customer

    async def _find_or_create_customer(
        self, qb: QuickBooksClient, loaded: _Loaded, currency: str | None
    ) -> dict[str, Any]:
        person = loaded.handoff.customer
        email = person.email if person else None
        name = (person.name if person else None) or email
        if email:
            found = await qb.find("Customer", "PrimaryEmailAddr", email)
            if found:
                return found[0]
        if name:
            found = await qb.find("Customer", "DisplayName", name)
            if found:
                return found[0]
        if not name:
            raise QuickBooksFailure(
                GiveUp("no customer name or email on the handoff to find a QuickBooks customer")
            )
        body: dict[str, Any] = {"DisplayName": name[:500]}
        if person and person.name:
            body["CompanyName"] = person.name[:100]
        if email:
            body["PrimaryEmailAddr"] = {"Address": email}
        if currency:
            body["CurrencyRef"] = {"value": currency}
        call_id = loaded.handoff.call_id
        return await qb.create("Customer", body, request_id(call_id, "customer"))

    async def _check_currency(self, qb: QuickBooksClient, currency: str) -> None:
        if currency not in self._currencies:
            self._currencies[currency] = await self._currency_problem(qb, currency)
        problem = self._currencies[currency]
        if problem is not None:
            raise QuickBooksFailure(GiveUp(problem))

    async def _currency_problem(self, qb: QuickBooksClient, currency: str) -> str | None:
        prefs = (await qb.preferences()).get("CurrencyPrefs") or {}
        home = (prefs.get("HomeCurrency") or {}).get("value")
        if currency == home:
            return None
        if not prefs.get("MultiCurrencyEnabled"):
            return (
                f"the QuickBooks company works in {home or 'one currency'} only (multicurrency is "
                f"off), so an amount in {currency} cannot be recorded: turn on multicurrency and "
                f"add {currency}, or record it by hand"
            )
        found = await qb.find("CompanyCurrency", "Code", currency)
        if not any(c.get("Active", True) for c in found):
            return (
                f"the QuickBooks company has not enabled {currency} (home currency {home}): "
                f"add it under Settings > Currencies, then retry"
            )
        return None

    async def _find_by_note(
        self,
        qb: QuickBooksClient,
        entity: str,
        customer_id: str,
        note: str,
        *,
        prefix: bool = False,
    ) -> dict[str, Any] | None:
        """The customer's ``entity`` whose ``PrivateNote`` is ``note`` (or, with ``prefix``,
        starts with ``note + " · "``)."""
        found = await qb.find(entity, "CustomerRef", customer_id)
        for candidate in found:
            written = str(candidate.get("PrivateNote") or "")
            if written == note or (prefix and written.startswith(note + " · ")):
                return candidate
        return None

    # -- records -------------------------------------------------------------------------------

    async def _invoice(
        self, qb: QuickBooksClient, loaded: _Loaded, txn_id: str, ctx: ConnectorContext
    ) -> Result:
        invoice = await self._plisio_invoice(loaded.handoff_id, txn_id or None)
        if invoice is None:
            return Done()
        booked = await self._ensure_invoice(qb, loaded, invoice, ctx)
        return self._done(loaded, booked.customer, booked.links, booked.line)

    async def _ensure_invoice(
        self, qb: QuickBooksClient, loaded: _Loaded, invoice: InvoiceRow, ctx: ConnectorContext
    ) -> _Booked:
        """The QuickBooks invoice of a Plisio invoice: recorded already, found, or created.

        The payment step calls this too (same ``requestid``, so never a second invoice): a
        payment that arrives while the invoice's own step is still running or retrying is
        recorded now instead of waiting for it.
        """
        txn = invoice.txn_id or invoice.order_number
        done = loaded.ref("invoice", txn_id=txn)
        customer_ref = loaded.ref("customer")
        if done is not None and customer_ref is not None:
            line = str(done.detail.get("line") or "")
            return _Booked(customer_ref.external_id, None, done.external_id, [], line)
        amount, currency = Decimal(invoice.amount), invoice.currency.upper()
        await self._check_currency(qb, currency)
        customer = await self._customer(qb, loaded, currency)
        call_id = loaded.handoff.call_id
        note = f"DialNexa call {call_id} · Plisio txn {txn}"
        created = None
        if ctx.attempt > 1:
            created = await self._find_by_note(qb, "Invoice", str(customer["Id"]), note)
        if created is None:
            workflow = loaded.handoff.workflow or Workflow.CREATE_INVOICE
            body = {
                "CustomerRef": {"value": str(customer["Id"])},
                "CurrencyRef": {"value": currency},
                "Line": [_sales_line(amount, _WORKFLOW_LINES.get(workflow, "DialNexa call"))],
                "PrivateNote": note,
            }
            if invoice.email:
                body["BillEmail"] = {"Address": invoice.email}
            created = await qb.create("Invoice", body, request_id(call_id, f"invoice:{txn}"))
        line = f"Invoice {created.get('DocNumber') or created['Id']} · {_money(amount, currency)}"
        link = self._record_link("invoice", created, line, txn_id=txn)
        return _Booked(str(customer["Id"]), customer, str(created["Id"]), [link], line)

    async def _payment(
        self, qb: QuickBooksClient, loaded: _Loaded, ctx: ConnectorContext
    ) -> Result:
        invoice = await self._plisio_invoice(loaded.handoff_id, None)
        if invoice is None:
            return Done()
        txn = invoice.txn_id or invoice.order_number
        if loaded.ref("payment", txn_id=txn) is not None:
            return Done()
        booked = await self._ensure_invoice(qb, loaded, invoice, ctx)
        amount, currency = Decimal(invoice.amount), invoice.currency.upper()
        call_id = loaded.handoff.call_id
        note = f"DialNexa call {call_id} · Plisio txn {txn} paid"
        created = None
        if ctx.attempt > 1:
            created = await self._find_by_note(qb, "Payment", booked.customer_id, note)
        if created is None:
            body = {
                "CustomerRef": {"value": booked.customer_id},
                "CurrencyRef": {"value": currency},
                "TotalAmt": amount,
                "Line": [
                    {
                        "Amount": amount,
                        "LinkedTxn": [{"TxnId": booked.invoice_id, "TxnType": "Invoice"}],
                    }
                ],
                "PrivateNote": note,
            }
            created = await qb.create("Payment", body, request_id(call_id, f"payment:{txn}"))
        line = f"Payment recorded · {_money(amount, currency)}"
        link = self._record_link("payment", created, line, txn_id=txn)
        lines = [booked.line, line] if booked.links else [line]
        return self._done(loaded, booked.customer, [*booked.links, link], *lines)

    def _underpaid(self, loaded: _Loaded, detail: Mapping[str, Any]) -> Result:
        received = detail.get("received") or "less"
        received_currency = detail.get("received_currency") or ""
        expected = detail.get("expected") or "the amount"
        expected_currency = detail.get("expected_currency") or ""
        line = (
            f"Underpaid: {received} {received_currency} received of {expected} "
            f"{expected_currency}; no payment applied in QuickBooks"
        ).replace("  ", " ")
        done = self._done(loaded, None, [], line)
        return Done(note=line, context=done.context, links=done.links)

    async def _credit_memo(
        self, qb: QuickBooksClient, loaded: _Loaded, ctx: ConnectorContext
    ) -> Result:
        if loaded.ref("credit_memo") is not None:
            return Done()
        amount, currency = loaded.amount, loaded.currency
        billing = loaded.handoff.billing
        if amount is None and billing and billing.amount:
            try:
                amount = Decimal(billing.amount)
            except InvalidOperation:
                amount = None
        currency = currency or (billing.currency if billing else None)
        if amount is None or not currency:
            return GiveUp("no amount and currency on the approved credit: no credit memo made")
        currency = currency.upper()
        await self._check_currency(qb, currency)
        customer = await self._customer(qb, loaded, currency)
        call_id = loaded.handoff.call_id
        note = f"DialNexa call {call_id} · credit approved"
        created = None
        if ctx.attempt > 1:
            created = await self._find_by_note(qb, "CreditMemo", str(customer["Id"]), note)
        if created is None:
            workflow = loaded.handoff.workflow or Workflow.CREDIT_REQUEST
            body = {
                "CustomerRef": {"value": str(customer["Id"])},
                "CurrencyRef": {"value": currency},
                "Line": [_sales_line(amount, _WORKFLOW_LINES.get(workflow, "Credit approved"))],
                "PrivateNote": note,
            }
            created = await qb.create("CreditMemo", body, request_id(call_id, "credit_memo"))
        number = created.get("DocNumber") or created["Id"]
        line = f"Credit memo {number} · {_money(amount, currency)}"
        link = self._record_link("credit_memo", created, line)
        return self._done(loaded, customer, [link], line)

    async def _refund_receipt(
        self, qb: QuickBooksClient, loaded: _Loaded, event: Event, ctx: ConnectorContext
    ) -> Result:
        """One ``RefundReceipt`` for the handoff's executed refund: the money paid back to the
        customer (by Stripe, or by hand for a crypto payment), out of the bank account.

        Only money that went back is booked here. A refund given as account credit rather than
        money back (not offered in this version) would need nothing from this step: the credit
        is a ``CreditMemo``, recorded when the credit is approved.
        """
        if loaded.ref("refund_receipt") is not None:
            return Done()
        refund = await self._refund(loaded, event)
        if refund is None:
            return GiveUp("no refund amount and currency recorded: no refund receipt made")
        await self._check_currency(qb, refund.currency)
        customer = await self._customer(qb, loaded, refund.currency)
        account = await self._refund_account_for(qb, refund.currency)
        call_id = loaded.handoff.call_id
        head = f"DialNexa call {call_id} · refund {refund.key}"
        note = " · ".join([head, *refund.references])
        created = None
        if ctx.attempt > 1:
            created = await self._find_by_note(
                qb, "RefundReceipt", str(customer["Id"]), head, prefix=True
            )
        if created is None:
            body: dict[str, Any] = {
                "CustomerRef": {"value": str(customer["Id"])},
                "CurrencyRef": {"value": refund.currency},
                "Line": [_sales_line(refund.amount, refund.description)],
                "DepositToAccountRef": {"value": account},
                "PrivateNote": note,
            }
            created = await qb.create("RefundReceipt", body, request_id(call_id, "refund_receipt"))
        number = created.get("DocNumber") or created["Id"]
        line = f"Refund receipt {number} · {format_money(refund.amount, refund.currency)}"
        link = self._record_link("refund_receipt", created, line)
        return self._done(loaded, customer, [link], line)

    async def _refund(self, loaded: _Loaded, event: Event) -> _RefundBooked | None:
        """What was refunded: the ledger's refund, else what the event says."""
        found: Refund | None = None
        if self._refunds is not None:
            found = await self._refunds.for_handoff(loaded.handoff_id)
        detail = event.detail
        raw_amount = found.amount if found is not None else detail.get("amount")
        currency = found.currency if found is not None else detail.get("currency")
        try:
            amount = Decimal(str(raw_amount)) if raw_amount is not None else None
        except InvalidOperation:
            amount = None
        if amount is None or not currency or not amount.is_finite() or amount <= 0:
            return None
        currency = str(currency).upper()
        payment_ref = found.payment_ref if found is not None else detail.get("payment_ref")
        external_id = (found.external_id if found is not None else None) or detail.get(
            "external_id"
        )
        key = found.key if found is not None else refund_key(loaded.handoff.call_id)
        references = []
        if payment_ref:
            references.append(f"payment {_clean(str(payment_ref))}")
        by_stripe = event.type is EventType.REFUND_SUCCEEDED
        if external_id and by_stripe:
            references.append(f"Stripe refund {_clean(str(external_id))}")
        description = "Refund via Stripe" if by_stripe else "Refund paid by hand"
        if payment_ref:
            description += f" · payment {_clean(str(payment_ref))}"
        return _RefundBooked(
            amount=round_money(amount, currency),
            currency=currency,
            key=key,
            references=tuple(references),
            description=description,
        )

    async def _refund_account_for(self, qb: QuickBooksClient, currency: str) -> str:
        """The account a refund is paid from: ``QUICKBOOKS_REFUND_ACCOUNT_ID``, else the first
        active Bank account (in the refund's currency when the company keeps several)."""
        if self._refund_account is not None:
            return self._refund_account
        if self._bank_accounts is None:
            found = await qb.find("Account", "AccountType", "Bank")
            active = [a for a in found if a.get("Active", True) and a.get("Id")]
            if not active:
                raise QuickBooksFailure(GiveUp(NO_BANK_ACCOUNT))
            self._bank_accounts = active  # looked up once per process
        for account in self._bank_accounts:
            if (account.get("CurrencyRef") or {}).get("value") == currency:
                return str(account["Id"])
        return str(self._bank_accounts[0]["Id"])

    async def _address(self, qb: QuickBooksClient, loaded: _Loaded) -> Result:
        customer = await self._customer(qb, loaded, None)
        url = self._url("customer", str(customer["Id"]))
        lines = [f"Tax id: enter it on the QuickBooks customer, never in Slack: {url}"]
        person = loaded.handoff.customer
        address = person.billing_address if person else None
        if address is not None:
            current = await qb.read("Customer", str(customer["Id"]))
            bill = {
                "Line1": address.line1,
                "Line2": address.line2,
                "City": address.city,
                "CountrySubDivisionCode": address.region,
                "PostalCode": address.postal_code,
                "Country": address.country,
            }
            body = {
                "Id": str(customer["Id"]),
                "SyncToken": str(current.get("SyncToken", "0")),
                "BillAddr": {k: v for k, v in bill.items() if v},
            }
            await qb.sparse_update(
                "Customer", body, request_id(loaded.handoff.call_id, "bill_addr")
            )
            lines.insert(0, f"Billing address updated: {address.one_line()}")
        return self._done(loaded, customer, [], *lines)


def build(deps: ConnectorDeps) -> QuickBooksConnector:
    """The connector from its settings (``connectors.registry``)."""
    settings = deps.settings
    app_base = app_base_for(settings.quickbooks_api_base)
    store = deps.credentials
    if store is None:
        reason = (
            "QuickBooks needs CONNECTOR_ENCRYPTION_KEY to keep its rotating refresh token: "
            "set it and restart"
        )
        logger.error("quickbooks connector stopped: %s", reason)
        return QuickBooksConnector(db=deps.db, client=None, app_base=app_base, unavailable=reason)
    secret = settings.quickbooks_client_secret
    seed = settings.quickbooks_refresh_token
    realm = str(settings.quickbooks_realm_id)
    auth = QuickBooksAuth(
        http=deps.http,
        store=store,
        token_url=settings.quickbooks_token_url,
        client_id=str(settings.quickbooks_client_id),
        client_secret=secret.get_secret_value() if secret else "",
        seed_refresh_token=seed.get_secret_value() if seed else "",
        realm=realm,
        clock=deps.clock,
    )
    client = QuickBooksClient(deps.http, auth, base_url=settings.quickbooks_api_base, realm=realm)
    return QuickBooksConnector(
        db=deps.db,
        client=client,
        app_base=app_base,
        refunds=deps.refunds,
        refund_account=settings.quickbooks_refund_account_id,
    )
