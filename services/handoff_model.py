"""The DialNexa finance handoff, version 1, as a typed model.

This mirrors the contract's JSON Schema field for field (``extra="forbid"`` everywhere, the same
patterns and length limits), so that a body that passes here is one the schema accepts. Money stays
a ``Decimal``; times are aware UTC datetimes.
"""

from __future__ import annotations

import functools
import types
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import pycountry
from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

__all__ = [
    "ACCEPTED_CURRENCIES",
    "INVOICE_WORKFLOWS",
    "ISO_4217_CURRENCIES",
    "PLISIO_CRYPTO_CURRENCIES",
    "AffectedRecord",
    "Agent",
    "Billing",
    "BillingAddress",
    "Customer",
    "FollowUp",
    "Handoff",
    "Links",
    "PaymentStatus",
    "Sensitive",
    "SensitiveCategory",
    "Urgency",
    "Workflow",
    "field_limit",
    "infer_workflow",
    "money_problems",
]


class Workflow(StrEnum):
    BILLING_QUESTION = "billing_question"
    REFUND = "refund"
    DISPUTE = "dispute"
    TAX_OR_ADDRESS = "tax_or_billing_address_correction"
    VIP_PAYMENT_BLOCKER = "vip_payment_blocker"
    COLLECTIONS = "collections"
    RECEIPT_RESEND = "receipt_resend"
    CREATE_INVOICE = "create_invoice"
    INVOICE_LOOKUP = "invoice_lookup"
    CREDIT_REQUEST = "credit_request"
    SUBSCRIPTION_CHANGE = "subscription_change"
    OTHER = "other"


# Workflows whose approval creates a Plisio invoice (services.routing re-exports this).
INVOICE_WORKFLOWS = frozenset(
    {Workflow.CREATE_INVOICE, Workflow.VIP_PAYMENT_BLOCKER, Workflow.COLLECTIONS}
)

# ISO 4217 as pycountry ships it (Debian's iso-codes, kept up to date upstream), less the two
# codes that are not money at all: XXX ("no currency involved") and XTS ("for testing").
ISO_4217_CURRENCIES = frozenset(
    currency.alpha_3 for currency in pycountry.currencies if currency.alpha_3 not in {"XXX", "XTS"}
)
# The cryptocurrency ids Plisio accepts, as the official Python SDK lists them
# (Plisio/plisio-python, plisio/plisio_enums.py, class CryptoCurrency; see also
# https://plisio.net/documentation/appendices/supported-cryptocurrencies).
PLISIO_CRYPTO_CURRENCIES = frozenset(
    {
        "APE", "BCH", "BNB", "BTC", "BTT_TRX", "BUSD", "DASH", "DOGE", "ETC", "ETH", "LB",
        "LTC", "SHIB", "SOL", "TON", "TRX", "TUSD", "TZEC", "USDC", "USDT", "USDT_BSC",
        "USDT_SOL", "USDT_TON", "USDT_TRX", "XMR",
    }
)  # fmt: skip
ACCEPTED_CURRENCIES = ISO_4217_CURRENCIES | PLISIO_CRYPTO_CURRENCIES
CURRENCY_REASON = "must be an ISO 4217 currency code (e.g. USD) or a cryptocurrency Plisio accepts"


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _URGENCY_ORDER.index(self)


_URGENCY_ORDER = [Urgency.LOW, Urgency.NORMAL, Urgency.HIGH, Urgency.URGENT]


class PaymentStatus(StrEnum):
    PAID = "paid"
    UNPAID = "unpaid"
    OVERDUE = "overdue"
    PARTIALLY_PAID = "partially_paid"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    UNKNOWN = "unknown"


class SensitiveCategory(StrEnum):
    CARD_NUMBER = "card_number"
    BANK_DETAILS = "bank_details"
    TAX_IDENTIFIER = "tax_identifier"
    PRIVATE_DOCUMENT = "private_document"


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a time zone offset, e.g. 2026-11-25T09:05:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise ValueError("is out of range once converted to UTC") from None


def _http_url(value: AnyUrl) -> AnyUrl:
    if value.scheme not in {"http", "https"}:
        raise ValueError("must be an http(s) URL")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware_utc)]
Url = Annotated[AnyUrl, AfterValidator(_http_url)]


def _bounded(max_length: int, *, min_length: int = 0, pattern: str | None = None) -> object:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=pattern)


Str64 = Annotated[str, _bounded(64)]
Str128 = Annotated[str, _bounded(128)]
Str200 = Annotated[str, _bounded(200)]
Str1000 = Annotated[str, _bounded(1000)]
UrlField = Annotated[Url, Field()]

# JSON Schema patterns from the contract, kept verbatim.
CALL_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
AMOUNT_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,8})?$"
THRESHOLD_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,8})?$"
CURRENCY_PATTERN = r"^[A-Z0-9_]{3,10}$"
TAX_REGION_PATTERN = r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Agent(_Strict):
    id: Str128 | None = None
    name: Str200 | None = None


class BillingAddress(_Strict):
    """The billing address as the caller confirmed it (for address corrections); optional."""

    line1: Str200 | None = None
    line2: Str200 | None = None
    city: Annotated[str, _bounded(100)] | None = None
    region: Annotated[str, _bounded(100)] | None = None
    postal_code: Annotated[str, _bounded(32)] | None = None
    country: Annotated[str, StringConstraints(pattern=COUNTRY_PATTERN)] | None = None

    def one_line(self) -> str:
        """The address on one line, parts that are set only, in postal order."""
        parts = (self.line1, self.line2, self.city, self.region, self.postal_code, self.country)
        return ", ".join(part for part in parts if part)


class Customer(_Strict):
    name: Str200 | None = None
    account_id: Str128 | None = None
    email: Annotated[EmailStr, StringConstraints(max_length=254)] | None = None
    email_verified: bool | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    tax_region: Annotated[str, StringConstraints(pattern=TAX_REGION_PATTERN)] | None = None
    vip: bool | None = None
    billing_address: BillingAddress | None = None


class Billing(_Strict):
    invoice_number: Str128 | None = None
    payment_id: Str128 | None = None
    subscription_id: Str128 | None = None
    amount: Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN)] | None = None
    currency: Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)] | None = None
    due_date: date | None = None
    payment_status: PaymentStatus | None = None
    refund_reason: Str1000 | None = None
    dispute_reason: Str1000 | None = None
    credit_request: Str1000 | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        # The pattern lets "ZZZ" through; Plisio would refuse it only once an approver clicked.
        if value is not None and value not in ACCEPTED_CURRENCIES:
            raise ValueError(CURRENCY_REASON)
        return value

    @property
    def amount_decimal(self) -> Decimal | None:
        """The amount as an exact Decimal (the wire keeps it a string so no float creeps in)."""
        return Decimal(self.amount) if self.amount is not None else None


class FollowUp(_Strict):
    finance_owner: Annotated[str, StringConstraints(max_length=254)] | None = None
    approval_threshold: Annotated[str, StringConstraints(pattern=THRESHOLD_PATTERN)] | None = None
    escalation_reason: Str1000 | None = None
    next_step: Str1000 | None = None
    deadline: AwareDatetime | None = None

    @property
    def approval_threshold_decimal(self) -> Decimal | None:
        return Decimal(self.approval_threshold) if self.approval_threshold is not None else None


class AffectedRecord(_Strict):
    system: Str64 | None = None
    object: Str64 | None = None
    id: Str128 | None = None
    url: Annotated[Url, StringConstraints(max_length=2048)] | None = None


class Links(_Strict):
    transcript_url: Url | None = None
    recording_url: Url | None = None
    crm_url: Url | None = None
    support_ticket_url: Url | None = None
    payment_platform_url: Url | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _max_len(cls, value: object) -> object:
        if isinstance(value, str) and len(value) > 2048:
            raise ValueError("must be at most 2048 characters")
        return value


class Sensitive(_Strict):
    suppress: bool | None = None
    categories: list[SensitiveCategory] = Field(default_factory=list)

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: list[SensitiveCategory]) -> list[SensitiveCategory]:
        if len(set(value)) != len(value):
            raise ValueError("items must be unique")
        return value


class Handoff(_Strict):
    """One finance handoff from a DialNexa call."""

    schema_version: Literal["1"]
    call_id: Annotated[str, StringConstraints(pattern=CALL_ID_PATTERN)]
    occurred_at: AwareDatetime
    agent: Agent | None = None
    workflow: Workflow | None = None
    urgency: Urgency | None = None
    match_confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    caller_request: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    findings: Annotated[str, StringConstraints(max_length=4000)] | None = None
    transcript_excerpt: Annotated[str, StringConstraints(max_length=8000)] | None = None
    customer: Customer | None = None
    billing: Billing | None = None
    follow_up: FollowUp | None = None
    affected_record: AffectedRecord | None = None
    links: Links | None = None
    sensitive: Sensitive | None = None

    @field_validator("call_id")
    @classmethod
    def _call_id_holds_no_secret(cls, value: str) -> str:
        # The call ID is an idempotency key and an order number: it cannot be rewritten with a
        # marker, so one holding a card number, bank detail or tax id is refused instead.
        # Imported here: services.redaction imports this module.
        from services.redaction import identifier_holds_sensitive

        if identifier_holds_sensitive(value):
            raise ValueError(
                "must not contain a card number, bank detail or tax identifier "
                "(it is stored and shown as it is, so it cannot be redacted)"
            )
        return value

    @field_validator("match_confidence", mode="before")
    @classmethod
    def _number_not_bool(cls, value: object) -> object:
        # JSON Schema "number" excludes booleans and strings; pydantic's lax mode would coerce.
        if isinstance(value, bool) or not isinstance(value, int | float | None):
            raise ValueError("must be a number between 0 and 1")
        return value

    @property
    def effective_workflow(self) -> Workflow:
        """The workflow DialNexa named, or the one the other fields imply."""
        return self.workflow or infer_workflow(self)


def infer_workflow(handoff: Handoff) -> Workflow:
    """Infer a workflow from the fields present when DialNexa did not name one."""
    billing = handoff.billing
    follow_up = handoff.follow_up
    customer = handoff.customer
    if billing is not None:
        if billing.dispute_reason or billing.payment_status == PaymentStatus.DISPUTED:
            return Workflow.DISPUTE
        if billing.refund_reason:
            return Workflow.REFUND
        if billing.credit_request:
            return Workflow.CREDIT_REQUEST
    if (
        customer is not None
        and customer.vip
        and billing is not None
        and billing.payment_status
        in {
            PaymentStatus.OVERDUE,
            PaymentStatus.UNPAID,
        }
    ):
        return Workflow.VIP_PAYMENT_BLOCKER
    if billing is not None:
        if billing.payment_status == PaymentStatus.OVERDUE:
            return Workflow.COLLECTIONS
        if billing.subscription_id and not billing.invoice_number:
            return Workflow.SUBSCRIPTION_CHANGE
        if billing.invoice_number and billing.payment_status == PaymentStatus.PAID:
            return Workflow.RECEIPT_RESEND
        if billing.invoice_number:
            return Workflow.INVOICE_LOOKUP
        if billing.amount and billing.currency:
            return Workflow.CREATE_INVOICE
    if customer is not None and customer.tax_region and follow_up is not None:
        return Workflow.OTHER
    return Workflow.OTHER


def money_problems(handoff: Handoff) -> list[tuple[str, str]]:
    """(field, reason) for money an invoice cannot be made of: a zero or negative amount on an
    invoice workflow (named or inferred). Refunds, credits and other workflows keep the schema's
    signed amounts, since a negative figure there is a credit the caller is owed."""
    billing = handoff.billing
    if billing is None or billing.amount is None:
        return []
    workflow = handoff.effective_workflow
    if workflow in INVOICE_WORKFLOWS and Decimal(billing.amount) <= 0:
        return [("billing.amount", f"must be greater than zero for a {workflow.value} handoff")]
    return []


@functools.cache
def field_limit(model: type[BaseModel], name: str) -> int:
    """The ``max_length`` a string field of ``model`` declares (its JSON Schema ``maxLength``).

    Read from the field's pydantic metadata, so builders and services that fit a value to its
    field use the contract's number instead of restating it. ``KeyError`` for an unknown field,
    ``LookupError`` for a field that declares no length limit (a pattern, a URL, a number).
    """
    info = model.model_fields[name]
    found: list[Any] = list(info.metadata)
    pending: list[Any] = [info.annotation]
    while pending:
        item = pending.pop()
        origin = get_origin(item)
        if origin is Annotated:
            base, *meta = get_args(item)
            pending.append(base)
            found += meta
        elif origin is Union or origin is types.UnionType:
            pending.extend(get_args(item))
    for meta in found:
        if isinstance(meta, StringConstraints) and meta.max_length is not None:
            return meta.max_length
        if isinstance(meta, annotated_types.MaxLen):
            return meta.max_length
    raise LookupError(f"{model.__name__}.{name} declares no max_length")
