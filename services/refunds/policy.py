"""When a refund may go through without a click, and when none may go through at all.

Pure: ``evaluate`` takes one refund's facts (``RefundCase``) and ``[refunds]`` of routing.toml
(``services.routing.RefundRules``) and says whether the refund is automatic, the rule that
allowed it as a sentence (with the policy version), and each failed condition with a plain
reason. ``guard`` is what every release must pass, automatic or approved: a refund never exceeds
what is left of the payment and a disputed payment is never refunded.

Every condition must hold for an automatic refund:

- the policy is enabled;
- the amount is at or below the limit for its currency (no limit for the currency: never);
- the match confidence is at or above ``min_confidence``;
- the customer's email is verified;
- Stripe's facts about the payment are known, it is not disputed and the customer has no open
  dispute;
- it is the first refund of the payment (no refund counted in the refunds table, and Stripe's
  ``amount_refunded`` is zero);
- the customer is not a VIP and the handoff is not a high-value review case;
- fewer than ``max_per_customer`` automatic refunds (not reversed) for this customer email in
  the last ``period_days``;
- the payment is a Stripe charge or payment intent (crypto is never automatic), in the
  refund's currency, and at least the refund's amount.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from services.handoff_model import PLISIO_CRYPTO_CURRENCIES
from services.routing import RefundRules

__all__ = [
    "STRIPE_KINDS",
    "Condition",
    "Failed",
    "RefundCase",
    "StripePayment",
    "StripeRefundFacts",
    "Verdict",
    "evaluate",
    "format_amount",
    "guard",
    "minor_places",
    "policy_version",
    "round_amount",
    "stripe_refund_facts",
]

STRIPE_KINDS = frozenset({"charge", "payment_intent"})
# ISO 4217 currencies without minor units, and with three (Stripe's lists); crypto keeps eight.
_ZERO_DECIMAL = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX",
        "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
_THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


class Condition(StrEnum):
    """Each condition of an automatic refund (the order the rule sentence names them)."""

    ENABLED = "enabled"
    LIMIT = "limit"
    CONFIDENCE = "confidence"
    EMAIL = "email"
    NO_DISPUTE = "no_dispute"
    FIRST_REFUND = "first_refund"
    NOT_VIP = "not_vip"
    PER_CUSTOMER = "per_customer"
    STRIPE_PAYMENT = "stripe_payment"


@dataclass(frozen=True, slots=True)
class StripePayment:
    """The payment a refund is of, as the Stripe read connector found it."""

    id: str
    kind: str  # "charge" | "payment_intent"
    amount: Decimal
    currency: str
    amount_refunded: Decimal
    status: str
    disputed: bool


@dataclass(frozen=True, slots=True)
class StripeRefundFacts:
    """``context["stripe"]["refund_facts"]``: the payment (None: Stripe has none by that id)
    and the customer's open disputes."""

    payment: StripePayment | None
    open_disputes: int
    looked_up_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefundCase:
    """What the policy needs to know about one refund."""

    amount: Decimal
    currency: str
    system: str  # services.refunds.RefundSystem value: "stripe" | "manual"
    match_confidence: float | None
    email_verified: bool
    vip: bool  # the customer is a VIP, or the handoff is a VIP payment blocker
    high_value: bool  # ReviewFlag.HIGH_VALUE_CUSTOMER
    stripe: StripeRefundFacts | None  # None: not looked up yet (or not a Stripe payment)
    refunded_before: Decimal = Decimal(0)  # other refunds of the payment (COUNTED statuses)
    recent_automatic: int = 0  # automatic refunds of this customer in the period, not reversed


@dataclass(frozen=True, slots=True)
class Failed:
    condition: Condition
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    automatic: bool
    rule: str  # the sentence naming every condition, with the policy version
    version: str
    failed: tuple[Failed, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f.reason for f in self.failed)


def minor_places(currency: str) -> int:
    """Decimal places of ``currency``'s smallest unit (JPY 0, USD 2, KWD 3, crypto 8)."""
    code = currency.upper()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    if code in PLISIO_CRYPTO_CURRENCIES:
        return 8
    return 2


def round_amount(amount: Decimal, currency: str) -> Decimal:
    """``amount`` in ``currency``'s smallest unit, rounded down (a refund never grows)."""
    return amount.quantize(Decimal(1).scaleb(-minor_places(currency)), rounding=ROUND_DOWN)


def format_amount(amount: Decimal, currency: str) -> str:
    """``49.00 USD``, ``1,000 JPY``: the currency's own places, thousands separated."""
    places = max(minor_places(currency), -_exponent(amount))
    return f"{amount:,.{places}f} {currency}"


def _exponent(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def policy_version(rules: RefundRules) -> str:
    """``rules.version``, else the first 12 hex digits of the section's canonical JSON."""
    if rules.version:
        return rules.version
    canonical = json.dumps(
        rules.model_dump(mode="json", exclude={"version"}), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def stripe_refund_facts(context: Mapping[str, Any] | None) -> StripeRefundFacts | None:
    """The Stripe read connector's ``refund_facts`` from a handoff's context; None when absent
    or not in the agreed shape (unknown facts never allow an automatic refund)."""
    stripe = (context or {}).get("stripe")
    facts = stripe.get("refund_facts") if isinstance(stripe, Mapping) else None
    if not isinstance(facts, Mapping):
        return None
    disputes = facts.get("open_disputes")
    if isinstance(disputes, bool) or not isinstance(disputes, int):
        return None
    looked = facts.get("looked_up_at")
    try:
        looked_up_at = datetime.fromisoformat(looked) if isinstance(looked, str) else None
    except ValueError:
        looked_up_at = None
    if looked_up_at is not None and looked_up_at.tzinfo is None:
        looked_up_at = None  # a time without its zone cannot be compared; read it as unknown
    raw = facts.get("payment")
    if raw is None:
        return StripeRefundFacts(None, disputes, looked_up_at)
    if not isinstance(raw, Mapping):
        return None
    amount, refunded = _decimal(raw.get("amount")), _decimal(raw.get("amount_refunded"))
    if amount is None or refunded is None or not isinstance(raw.get("id"), str):
        return None
    payment = StripePayment(
        id=str(raw["id"]),
        kind=str(raw.get("kind") or ""),
        amount=amount,
        currency=str(raw.get("currency") or "").upper(),
        amount_refunded=refunded,
        status=str(raw.get("status") or ""),
        disputed=raw.get("disputed") is True,
    )
    return StripeRefundFacts(payment, disputes, looked_up_at)


def _rule(case: RefundCase, rules: RefundRules, version: str) -> str:
    limit = rules.limits.get(case.currency.upper())
    up_to = (
        f"refunds up to {format_amount(limit, case.currency)}"
        if limit is not None
        else f"no automatic refunds in {case.currency}"
    )
    per = rules.max_per_customer
    parts = [
        up_to,
        f"match confidence ≥ {rules.min_confidence:.2f}",
        "verified email",
        "no dispute",
        "first refund of this payment",
        "not a VIP or high-value case",
        f"at most {per} per customer in {rules.period_days} days",
    ]
    return f"{', '.join(parts)} (policy {version})"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def evaluate(case: RefundCase, rules: RefundRules) -> Verdict:
    """Is this refund automatic under ``rules``? Every failed condition comes with its reason."""
    version = policy_version(rules)
    failed: list[Failed] = []

    def fail(condition: Condition, reason: str) -> None:
        failed.append(Failed(condition, reason))

    currency = case.currency.upper()
    amount = format_amount(case.amount, currency)
    if not rules.enabled:
        fail(Condition.ENABLED, "automatic refunds are off ([refunds] enabled = false)")
    limit = rules.limits.get(currency)
    if limit is None:
        fail(Condition.LIMIT, f"no automatic refund limit is set for {currency}")
    elif case.amount > limit:
        limit_text = format_amount(limit, currency)
        fail(Condition.LIMIT, f"{amount} is above the {limit_text} limit for automatic refunds")
    confidence = case.match_confidence
    if confidence is None:
        fail(Condition.CONFIDENCE, "the match confidence is unknown")
    elif confidence < rules.min_confidence:
        fail(
            Condition.CONFIDENCE,
            f"match confidence {confidence:.2f} is below {rules.min_confidence:.2f}",
        )
    if not case.email_verified:
        fail(Condition.EMAIL, "the customer's email is not verified")
    stripe = case.stripe
    payment = stripe.payment if stripe is not None else None
    if stripe is None:
        fail(Condition.NO_DISPUTE, "Stripe has not said yet whether the payment is disputed")
    elif payment is not None and payment.disputed:
        fail(Condition.NO_DISPUTE, "the payment is disputed")
    elif stripe.open_disputes:
        fail(
            Condition.NO_DISPUTE,
            f"the customer has {_plural(stripe.open_disputes, 'open dispute')} in Stripe",
        )
    if case.refunded_before > 0:
        before = format_amount(case.refunded_before, currency)
        fail(Condition.FIRST_REFUND, f"{before} of this payment is already refunded or on its way")
    elif payment is not None and payment.amount_refunded > 0:
        before = format_amount(payment.amount_refunded, payment.currency or currency)
        fail(Condition.FIRST_REFUND, f"Stripe already refunded {before} of this payment")
    if case.vip:
        fail(Condition.NOT_VIP, "the customer is a VIP")
    elif case.high_value:
        fail(Condition.NOT_VIP, "it is a high-value review case")
    if case.recent_automatic >= rules.max_per_customer:
        fail(
            Condition.PER_CUSTOMER,
            f"the customer already had {_plural(case.recent_automatic, 'automatic refund')} in "
            f"the last {rules.period_days} days (at most {rules.max_per_customer})",
        )
    if case.system != "stripe":
        fail(
            Condition.STRIPE_PAYMENT,
            "the payment is not a Stripe charge or payment intent (crypto is never automatic)",
        )
    elif stripe is not None and payment is None:
        fail(Condition.STRIPE_PAYMENT, "Stripe has no payment by that id")
    elif payment is not None and payment.kind not in STRIPE_KINDS:
        fail(Condition.STRIPE_PAYMENT, "the payment is not a Stripe charge or payment intent")
    elif payment is not None and payment.currency != currency:
        fail(Condition.STRIPE_PAYMENT, f"the payment is in {payment.currency}, not {currency}")
    elif payment is not None and case.amount > payment.amount:
        paid = format_amount(payment.amount, currency)
        fail(Condition.STRIPE_PAYMENT, f"{amount} is more than the {paid} paid")
    return Verdict(not failed, _rule(case, rules, version), version, tuple(failed))


def guard(
    amount: Decimal,
    currency: str,
    stripe: StripeRefundFacts | None,
    refunded_before: Decimal = Decimal(0),
) -> str | None:
    """Why this refund must not be released (a plain reason), or None.

    A disputed payment is never refunded; when the payment is known, the refund never exceeds
    what is left of it: paid − what Stripe had refunded when it was read − ``refunded_before``,
    this bot's other refunds of the payment that Stripe could not show yet (on their way, or
    finished after the read; see ``services.refunds.service``), compared in the currency's
    smallest unit. The Stripe refund connector checks again against the live payment before it
    writes. Unknown facts refuse nothing: an approver decided.
    """
    payment = stripe.payment if stripe is not None else None
    if payment is None:
        return None
    if payment.disputed:
        return "the charge is disputed"
    code = currency.upper()
    if payment.currency and payment.currency != code:
        return f"the payment is in {payment.currency}, the refund in {code}"
    left = payment.amount - payment.amount_refunded - refunded_before
    if round_amount(amount, code) > round_amount(left, code):
        wanted = format_amount(amount, code)
        remaining = format_amount(max(left, Decimal(0)), code)
        return (
            f"{wanted} is more than the {remaining} left of the payment "
            f"({format_amount(payment.amount, code)} paid)"
        )
    return None
