"""Routing policy: where a handoff goes, how urgent it is, what needs review, who may approve.

Pure functions over the handoff and ``routing.toml``; nothing here talks to Slack or a database.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.handoff_model import INVOICE_WORKFLOWS, Handoff, Urgency, Workflow

__all__ = [
    "INVOICE_WORKFLOWS",
    "MONEY_WORKFLOWS",
    "ContextRules",
    "Finance",
    "LadderStep",
    "MetricsRules",
    "RefundRules",
    "ReviewFlag",
    "RouteDecision",
    "RoutingConfig",
    "RoutingConfigError",
    "decide",
    "is_approver",
    "load_routing",
    "needs_two_approvers",
]


class RoutingConfigError(Exception):
    """routing.toml is missing or malformed; the message names the key."""


class ReviewFlag(StrEnum):
    LOW_CONFIDENCE = "low_confidence"
    SENSITIVE_DATA = "sensitive_data"
    HIGH_VALUE_CUSTOMER = "high_value_customer"
    CHANGES_MONEY = "changes_money"
    CHANGES_ACCESS = "changes_access"
    LEGAL_TERMS = "legal_terms"
    CUSTOMER_COMMITMENT = "customer_commitment"
    UNVERIFIED_EMAIL = "unverified_email"
    # From what the connected systems said (services/context_policy.py).
    PAST_DUE = "past_due"
    PAYMENT_FAILED = "payment_failed"
    RENEWAL_SOON = "renewal_soon"


MONEY_WORKFLOWS = INVOICE_WORKFLOWS | {
    Workflow.REFUND,
    Workflow.DISPUTE,
    Workflow.CREDIT_REQUEST,
    Workflow.SUBSCRIPTION_CHANGE,
}
_ACCESS_WORKFLOWS = frozenset({Workflow.SUBSCRIPTION_CHANGE, Workflow.VIP_PAYMENT_BLOCKER})
_LEGAL_WORKFLOWS = frozenset({Workflow.DISPUTE, Workflow.TAX_OR_ADDRESS})

Money = Mapping[str, Decimal]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Channels(_Section):
    model_config = ConfigDict(extra="allow")
    default: str
    escalation: str | None = None

    def for_workflow(self, workflow: Workflow) -> str:
        extra = self.model_extra or {}
        value = extra.get(workflow.value)
        return str(value) if value else self.default


class Mentions(_Section):
    finance_group: str | None = None
    finance_lead: str | None = None


class Approvers(_Section):
    users: list[str] = Field(default_factory=list)
    usergroups: list[str] = Field(default_factory=list)
    # Approval requests waiting for a specific person also go to their DM: those listed in
    # ``dm``, or everyone when ``dm_default = "dm"``. Each person's Home-tab choice wins.
    dm: list[str] = Field(default_factory=list)
    dm_default: Literal["channel", "dm"] = "channel"


class Finance(_Section):
    """Finance members: who may look things up, escalate, own and follow up handoffs.

    Approvers and ``mentions.finance_lead`` count as members without being listed here.
    """

    users: list[str] = Field(default_factory=list)
    usergroups: list[str] = Field(default_factory=list)


class Approvals(_Section):
    two_person_at: dict[str, Decimal] = Field(default_factory=dict)


class UrgencyRules(_Section):
    high_amount_at: dict[str, Decimal] = Field(default_factory=dict)
    deadline_within_hours: float = 24


class ReviewRules(_Section):
    low_confidence_below: float = Field(default=0.8, ge=0, le=1)
    high_value_at: dict[str, Decimal] = Field(default_factory=dict)


class LadderStep(_Section):
    after_minutes: int = Field(ge=0)
    notify: Literal["owner", "lead", "channel"]


def _default_ladder() -> list[LadderStep]:
    return [
        LadderStep(after_minutes=0, notify="owner"),
        LadderStep(after_minutes=60, notify="lead"),
        LadderStep(after_minutes=300, notify="channel"),
    ]


class Reminders(_Section):
    heads_up_before_minutes: int = Field(default=0, ge=0)
    ladder: list[LadderStep] = Field(default_factory=_default_ladder)
    # An approver's question (Request info) is due this long after it was asked; the ladder
    # above then nudges the person asked, then the lead.
    info_answer_within_hours: float = Field(default=4, gt=0)

    @field_validator("ladder")
    @classmethod
    def _ordered(cls, value: list[LadderStep]) -> list[LadderStep]:
        offsets = [step.after_minutes for step in value]
        if offsets != sorted(offsets):
            raise ValueError("steps must be in order of after_minutes")
        return value


class Digest(_Section):
    enabled: bool = False
    cron: str = "0 9 * * 1-5"
    timezone: str = "UTC"


class MetricsRules(_Section):
    """The finance leads' numbers (``[metrics]``; services/metrics.py) and their weekly DM."""

    weekly_summary: bool = False  # opt-in: a DM to the finance lead once a week
    weekly_summary_cron: str = "0 9 * * 1"  # crontab (min hour day month weekday): Monday 09:00
    timezone: str | None = None  # the cron's timezone; unset = [digest] timezone
    period_days: int = Field(default=7, ge=1, le=90)  # the Home tab's and the DM's window

    @field_validator("weekly_summary_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from services.digest import crontab_trigger  # digest reads this module's Digest

        crontab_trigger(value, "UTC")  # a bad field raises ValueError, named by the caller
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone {value!r}") from None
        return value


class ContextRules(_Section):
    """What the connected systems' context adds (``[context]``; services/context_policy.py)."""

    past_due_review: bool = True  # a past-due Stripe subscription is a review reason
    failed_payment_review: bool = True  # so is a failed latest Stripe payment
    past_due_urgent: bool = True  # both count toward urgency
    failed_payment_urgent: bool = True
    renewal_within_days: int = Field(
        default=14, ge=0
    )  # HubSpot renewal this close: a reason; 0 off


class RefundRules(_Section):
    """When a refund may go through without a click (``[refunds]``; services/refunds/policy.py).

    Off by default: every refund waits for an approver until finance turns it on.
    """

    enabled: bool = False
    version: str | None = Field(default=None, min_length=1, max_length=64)  # else a digest
    limits: dict[str, Decimal] = Field(default_factory=dict)  # per currency, inclusive
    min_confidence: float = Field(default=0.9, ge=0, le=1)
    max_per_customer: int = Field(default=1, ge=0)  # automatic refunds per customer ...
    period_days: int = Field(default=30, ge=1)  # ... in this many days
    grace_minutes: int = Field(default=15, ge=0)  # who may approve can reverse it meanwhile

    @field_validator("limits")
    @classmethod
    def _positive(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = sorted(currency for currency, limit in value.items() if limit <= 0)
        if bad:
            raise ValueError(f"limits must be above zero ({', '.join(bad)})")
        return {currency.upper(): limit for currency, limit in value.items()}


class RoutingConfig(_Section):
    """The parsed routing.toml."""

    channels: Channels
    mentions: Mentions = Field(default_factory=Mentions)
    approvers: Approvers = Field(default_factory=Approvers)
    finance: Finance = Field(default_factory=Finance)
    approvals: Approvals = Field(default_factory=Approvals)
    urgency: UrgencyRules = Field(default_factory=UrgencyRules)
    review: ReviewRules = Field(default_factory=ReviewRules)
    reminders: Reminders = Field(default_factory=Reminders)
    digest: Digest = Field(default_factory=Digest)
    context: ContextRules = Field(default_factory=ContextRules)
    refunds: RefundRules = Field(default_factory=RefundRules)
    metrics: MetricsRules = Field(default_factory=MetricsRules)

    @property
    def metrics_timezone(self) -> str:
        """The weekly summary's timezone: ``[metrics] timezone``, else ``[digest] timezone``."""
        return self.metrics.timezone or self.digest.timezone

    @property
    def escalation_channel(self) -> str:
        return self.channels.escalation or self.channels.default


def load_routing(path: Path) -> RoutingConfig:
    """Read routing.toml; raise RoutingConfigError naming every bad key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoutingConfigError(
            f"{path} not found: copy routing.example.toml to {path} and name your channels"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RoutingConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_routing(data, source=str(path))


def parse_routing(data: Mapping[str, object], *, source: str = "routing") -> RoutingConfig:
    """Validate an already-parsed routing document."""
    try:
        return RoutingConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise RoutingConfigError(f"{source}: {problems}") from None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    channel: str
    urgency: Urgency
    urgent: bool
    urgent_reasons: tuple[str, ...]
    review_flags: tuple[ReviewFlag, ...]
    missing_fields: tuple[str, ...]
    two_person: bool

    @property
    def needs_mapping(self) -> bool:
        return bool(self.missing_fields)


def _at_or_above(amount: Decimal | None, currency: str | None, limits: Money) -> bool:
    if amount is None or currency is None:
        return False
    limit = limits.get(currency)
    return limit is not None and abs(amount) >= limit


def needs_two_approvers(
    amount: Decimal | None,
    currency: str | None,
    config: RoutingConfig,
    *,
    handoff_threshold: Decimal | None = None,
) -> bool:
    """Two approvers at or above the configured amount (or the threshold DialNexa captured)."""
    if _at_or_above(amount, currency, config.approvals.two_person_at):
        return True
    return amount is not None and handoff_threshold is not None and abs(amount) >= handoff_threshold


def _missing_fields(handoff: Handoff) -> tuple[str, ...]:
    record = handoff.affected_record
    follow_up = handoff.follow_up
    billing = handoff.billing
    checks = {
        "destination object": record is not None and bool(record.object or record.system),
        "owner": follow_up is not None and bool(follow_up.finance_owner),
        "status": billing is not None and billing.payment_status is not None,
        "urgency": handoff.urgency is not None,
        "next step": follow_up is not None and bool(follow_up.next_step),
        "record URL": record is not None and record.url is not None,
    }
    return tuple(name for name, present in checks.items() if not present)


def decide(
    handoff: Handoff,
    config: RoutingConfig,
    *,
    now: datetime,
    sensitive_found: bool = False,
    from_slack: bool = False,
) -> RouteDecision:
    """Route one (already redacted) handoff.

    ``from_slack`` marks a request typed in Slack (``/invoice new``): its next step is the
    bot's own, not something promised to a customer on a call.
    """
    workflow = handoff.effective_workflow
    customer = handoff.customer
    billing = handoff.billing
    follow_up = handoff.follow_up
    amount = billing.amount_decimal if billing else None
    currency = billing.currency if billing else None
    vip = bool(customer and customer.vip)

    reasons: list[str] = []
    if vip:
        reasons.append("VIP customer")
    if _at_or_above(amount, currency, config.urgency.high_amount_at):
        reasons.append("high amount")
    if workflow is Workflow.DISPUTE:
        reasons.append("dispute")
    deadline = follow_up.deadline if follow_up else None
    if deadline is not None and deadline - now <= timedelta(
        hours=config.urgency.deadline_within_hours
    ):
        reasons.append("deadline within 24 h" if deadline > now else "deadline passed")

    urgency = handoff.urgency or Urgency.NORMAL
    if reasons and urgency.rank < Urgency.HIGH.rank:
        urgency = Urgency.HIGH
    urgent = urgency.rank >= Urgency.HIGH.rank

    flags: list[ReviewFlag] = []
    confidence = handoff.match_confidence
    if confidence is not None and confidence < config.review.low_confidence_below:
        flags.append(ReviewFlag.LOW_CONFIDENCE)
    suppress = bool(
        handoff.sensitive and (handoff.sensitive.suppress or handoff.sensitive.categories)
    )
    if sensitive_found or suppress:
        flags.append(ReviewFlag.SENSITIVE_DATA)
    if vip or _at_or_above(amount, currency, config.review.high_value_at):
        flags.append(ReviewFlag.HIGH_VALUE_CUSTOMER)
    if workflow in MONEY_WORKFLOWS:
        flags.append(ReviewFlag.CHANGES_MONEY)
    if workflow in _ACCESS_WORKFLOWS:
        flags.append(ReviewFlag.CHANGES_ACCESS)
    if workflow in _LEGAL_WORKFLOWS:
        flags.append(ReviewFlag.LEGAL_TERMS)
    if not from_slack and follow_up is not None and (follow_up.next_step or follow_up.deadline):
        flags.append(ReviewFlag.CUSTOMER_COMMITMENT)
    if customer is not None and customer.email and not customer.email_verified:
        flags.append(ReviewFlag.UNVERIFIED_EMAIL)

    return RouteDecision(
        channel=config.channels.for_workflow(workflow),
        urgency=urgency,
        urgent=urgent,
        urgent_reasons=tuple(reasons),
        review_flags=tuple(flags),
        missing_fields=_missing_fields(handoff),
        two_person=needs_two_approvers(
            amount,
            currency,
            config,
            handoff_threshold=follow_up.approval_threshold_decimal if follow_up else None,
        ),
    )


def is_approver(user_id: str, config: RoutingConfig, group_members: Iterable[str] = ()) -> bool:
    """True when the user is a named approver or in one of the approver user groups.

    ``group_members`` are the members of ``config.approvers.usergroups``, resolved by the caller.
    """
    return user_id in config.approvers.users or user_id in set(group_members)
