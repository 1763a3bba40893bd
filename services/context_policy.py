"""What the connected systems' context means for a handoff: review reasons and urgency.

Pure: from ``handoffs.context`` (Stripe's and HubSpot's shapes) and ``[context]`` of routing.toml
to the review flags and urgent reasons the context contributes (``assess``), and from those to
the handoff's new flags, urgency and reasons (``apply``), the way intake sets them
(``services/routing.decide``): a reason makes a normal or low handoff high and urgent.

The context's contribution is recomputed from scratch each time a connector stores context, so a
refresh that finds the subscription paid again drops its reason (and the urgency it alone
raised); the reasons that came from the handoff itself are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.handoff_model import Urgency
from services.routing import ContextRules, ReviewFlag

__all__ = [
    "CONTEXT_FLAGS",
    "FAILED_PAYMENT",
    "PAST_DUE",
    "ContextFindings",
    "PolicyState",
    "apply",
    "assess",
    "renewal_reason",
    "row_policy",
]

CONTEXT_FLAGS = frozenset({ReviewFlag.PAST_DUE, ReviewFlag.PAYMENT_FAILED, ReviewFlag.RENEWAL_SOON})
PAST_DUE = "past-due subscription"
FAILED_PAYMENT = "failed payment"
# Stripe subscription statuses that mean money is owed.
_PAST_DUE_STATUSES = frozenset({"past_due", "unpaid"})
# resolution keys: the urgent reasons the context added, and the urgency before it raised it.
REASONS_KEY = "context_urgent_reasons"
BEFORE_KEY = "urgency_before_context"


@dataclass(frozen=True, slots=True)
class ContextFindings:
    review_flags: tuple[ReviewFlag, ...] = ()
    urgent_reasons: tuple[str, ...] = ()


def _stripe_flags(stripe: Mapping[str, Any]) -> set[str]:
    if not stripe.get("found", True):
        return set()
    flags = {str(f) for f in stripe.get("flags") or () if isinstance(f, str)}
    for sub in stripe.get("subscriptions") or ():
        if isinstance(sub, Mapping) and sub.get("status") in _PAST_DUE_STATUSES:
            flags.add("past_due")
    payment = stripe.get("latest_payment")
    # The Stripe connector names it in ``flags``; a charge's own "failed" says it too.
    if isinstance(payment, Mapping) and (
        payment.get("status_label") == "Failed" or payment.get("status") == "failed"
    ):
        flags.add("payment_failed")
    return flags


def renewal_reason(days: int) -> str:
    """The reason a renewal ``days`` away gives (negative: its close date has passed)."""
    if days < 0:
        return "renewal date passed"
    if days == 0:
        return "renews today"
    return f"renews in {days} day{'s' if days != 1 else ''}"


def _renewal_days(hubspot: Mapping[str, Any], today: date) -> int | None:
    renewal = hubspot.get("renewal") if hubspot.get("found") else None
    close = renewal.get("close_date") if isinstance(renewal, Mapping) else None
    if not isinstance(close, str):
        return None
    try:
        return (date.fromisoformat(close[:10]) - today).days
    except ValueError:
        return None


def assess(context: Mapping[str, Any], rules: ContextRules, *, today: date) -> ContextFindings:
    """The review flags and urgent reasons the stored context gives under ``rules``."""
    flags: list[ReviewFlag] = []
    reasons: list[str] = []
    stripe = context.get("stripe")
    found = _stripe_flags(stripe) if isinstance(stripe, Mapping) else set()
    if "past_due" in found:
        if rules.past_due_review:
            flags.append(ReviewFlag.PAST_DUE)
        if rules.past_due_urgent:
            reasons.append(PAST_DUE)
    if "payment_failed" in found:
        if rules.failed_payment_review:
            flags.append(ReviewFlag.PAYMENT_FAILED)
        if rules.failed_payment_urgent:
            reasons.append(FAILED_PAYMENT)
    hubspot = context.get("hubspot")
    if isinstance(hubspot, Mapping) and rules.renewal_within_days > 0:
        days = _renewal_days(hubspot, today)
        if days is not None and days <= rules.renewal_within_days:
            flags.append(ReviewFlag.RENEWAL_SOON)
    return ContextFindings(tuple(flags), tuple(reasons))


@dataclass(frozen=True, slots=True)
class PolicyState:
    """The columns of a handoff the policy changes (``handoffs`` row)."""

    review_flags: tuple[str, ...]
    urgency: str
    urgent: bool
    resolution: Mapping[str, Any]


def apply(state: PolicyState, findings: ContextFindings) -> PolicyState:
    """``state`` with the context's earlier contribution replaced by ``findings``."""
    own = {f.value for f in CONTEXT_FLAGS}
    flags = [f for f in state.review_flags if f not in own]
    flags += [f.value for f in findings.review_flags if f.value not in flags]
    resolution = dict(state.resolution)
    earlier = set(resolution.get(REASONS_KEY) or ())
    reasons = [r for r in resolution.get("urgent_reasons") or () if r not in earlier]
    reasons += [r for r in findings.urgent_reasons if r not in reasons]
    resolution["urgent_reasons"] = reasons
    resolution[REASONS_KEY] = list(findings.urgent_reasons)
    urgency, urgent = state.urgency, state.urgent
    before = resolution.get(BEFORE_KEY)
    if findings.urgent_reasons:
        current = Urgency(urgency) if urgency in Urgency._value2member_map_ else Urgency.NORMAL
        if current.rank < Urgency.HIGH.rank:
            resolution[BEFORE_KEY] = urgency
            urgency = Urgency.HIGH.value
        urgent = True
    elif before is not None:
        resolution.pop(BEFORE_KEY, None)
        if urgency == Urgency.HIGH.value:  # still what the context made it: give it back
            urgency = str(before)
            urgent = Urgency(urgency).rank >= Urgency.HIGH.rank
    if not resolution[REASONS_KEY]:
        resolution.pop(REASONS_KEY)
    return PolicyState(tuple(flags), urgency, urgent, resolution)


def row_policy(rules: Callable[[], ContextRules]) -> Callable[[Any, datetime], bool]:
    """A callable for ``ConnectorRuntime``: re-applies the policy to a row after its context
    changed (in the same transaction); says whether anything changed."""

    def run(row: Any, now: datetime) -> bool:
        findings = assess(row.context or {}, rules(), today=now.date())
        before = PolicyState(
            tuple(row.review_flags or ()), row.urgency, bool(row.urgent), row.resolution or {}
        )
        after = apply(before, findings)
        if after == before:
            return False
        row.review_flags = list(after.review_flags)
        row.urgency = after.urgency
        row.urgent = after.urgent
        row.resolution = dict(after.resolution)
        return True

    return run
