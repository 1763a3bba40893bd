"""The DialNexa finance handoff, version 1, as a typed model.

This mirrors the contract's JSON Schema field for field (``extra="forbid"`` everywhere, the same
patterns and length limits), so that a body that passes here is one the schema accepts. Money stays
a ``Decimal``; times are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

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
    "AffectedRecord",
    "Agent",
    "Billing",
    "Customer",
    "FollowUp",
    "Handoff",
    "Links",
    "PaymentStatus",
    "Sensitive",
    "SensitiveCategory",
    "Urgency",
    "Workflow",
    "infer_workflow",
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Agent(_Strict):
    id: Str128 | None = None
    name: Str200 | None = None


class Customer(_Strict):
    name: Str200 | None = None
    account_id: Str128 | None = None
    email: Annotated[EmailStr, StringConstraints(max_length=254)] | None = None
    email_verified: bool | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    tax_region: Annotated[str, StringConstraints(pattern=TAX_REGION_PATTERN)] | None = None
    vip: bool | None = None


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
