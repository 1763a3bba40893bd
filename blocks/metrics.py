"""The finance lead's numbers: the Home tab's "Last 7 days" section and the weekly summary DM."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from blocks.common import (
    HEADER_MAX,
    JSON,
    SECTION_TEXT_MAX,
    context,
    escape,
    humanize_duration,
    plain,
    section,
    slack_date,
)
from blocks.handoff_state import WORKFLOW_LABELS
from services.handoff_model import Workflow
from services.metrics import GroupMetrics, MetricsReport, Timing

__all__ = ["MAX_APPROVERS", "MAX_WORKFLOWS", "lead_metrics_blocks", "weekly_summary_message"]

MAX_WORKFLOWS, MAX_APPROVERS = 8, 8
TITLE = "*Last {days}* · {received} received · {escalations} escalated · {overdue} overdue now"
STAGE_LINE = "{label}: {value}"
STAGE_LABELS = {
    "first_action": "First action",
    "decision": "Decision",
    "payment": "Payment",
}
TIMING = "median *{median}* · p90 {p90} ({count})"
NOT_YET = "none yet"
WORKFLOWS_TITLE = "*By workflow* · median time to first action / decision / payment"
WORKFLOW_LINE = "{label} · {received} received · {first} / {decision} / {payment}{extra}"
APPROVERS_TITLE = "*By approver* · decisions, median time to decision · first actions"
APPROVER_LINE = "<@{user}> · {decisions} decided ({decision}) · {firsts} first actions ({first})"
ESCALATED = " · {count} escalated"
OVERDUE = " · ⏰ {count} overdue"
DASH = "–"
EMPTY = "No handoffs received in this period."
PERIOD = "{since} – {until} · times from receipt; overdue is as of now"
SUMMARY_HEADER = "Finance handoffs: your week"
SUMMARY_TEXT = (
    "Last {days}: {received} received, median time to decision {decision}, {overdue} overdue now."
)
MORE = "…and {count} more"


def _days(period: timedelta) -> str:
    days = max(1, round(period.total_seconds() / 86400))
    return "day" if days == 1 else f"{days} days"


def _short(seconds: float | None) -> str:
    return DASH if seconds is None else humanize_duration(timedelta(seconds=seconds))


def _timing(value: Timing) -> str:
    if not value.count:
        return NOT_YET
    return TIMING.format(median=_short(value.median), p90=_short(value.p90), count=value.count)


def _label(workflow: str) -> str:
    try:
        return escape(WORKFLOW_LABELS[Workflow(workflow)])
    except (ValueError, KeyError):  # a workflow this version does not know
        return escape(workflow.replace("_", " ").capitalize())


def _workflow_line(workflow: str, group: GroupMetrics) -> str:
    extra = ""
    if group.escalations:
        extra += ESCALATED.format(count=group.escalations)
    if group.overdue:
        extra += OVERDUE.format(count=group.overdue)
    return WORKFLOW_LINE.format(
        label=_label(workflow),
        received=group.received,
        first=_short(group.first_action.median),
        decision=_short(group.decision.median),
        payment=_short(group.payment.median),
        extra=extra,
    )


def _approver_line(user: str, group: GroupMetrics) -> str:
    return APPROVER_LINE.format(
        user=escape(user),
        decisions=group.decision.count,
        decision=_short(group.decision.median),
        firsts=group.first_action.count,
        first=_short(group.first_action.median),
    )


def _lines(title: str, lines: list[str], cap: int) -> JSON:
    shown = lines[:cap]
    if len(lines) > cap:
        shown.append(MORE.format(count=len(lines) - cap))
    text = "\n".join([title, *shown])
    return section(text[:SECTION_TEXT_MAX])


def lead_metrics_blocks(report: MetricsReport) -> list[JSON]:
    """The compact "Last 7 days" section: totals, then per workflow and per approver."""
    total = report.total
    days = _days(report.until - report.since)
    title = TITLE.format(
        days=days,
        received=total.received,
        escalations=total.escalations,
        overdue=total.overdue,
    )
    blocks: list[JSON] = [{"type": "divider"}]
    if not total.received:
        blocks.append(section(f"{title}\n{escape(EMPTY)}"))
    else:
        stages = [
            STAGE_LINE.format(label=label, value=_timing(total.stage(stage)))
            for stage, label in STAGE_LABELS.items()
        ]
        blocks.append(section("\n".join([title, *stages])))
        workflows = [
            _workflow_line(w, g) for w, g in _busiest(report.by_workflow) if g.received or g.overdue
        ]
        if workflows:
            blocks.append(_lines(WORKFLOWS_TITLE, workflows, MAX_WORKFLOWS))
        approvers = [
            _approver_line(u, g)
            for u, g in _busiest(report.by_approver)
            if g.decision.count or g.first_action.count
        ]
        if approvers:
            blocks.append(_lines(APPROVERS_TITLE, approvers, MAX_APPROVERS))
    period = PERIOD.format(since=slack_date(report.since), until=slack_date(report.until))
    blocks.append(context(period))
    return blocks


def _busiest(groups: Mapping[str, GroupMetrics]) -> list[tuple[str, GroupMetrics]]:
    """Busiest first (then by name), so a cut list keeps what matters most."""
    return sorted(groups.items(), key=lambda item: (-item[1].received, -item[1].overdue, item[0]))


def weekly_summary_message(report: MetricsReport) -> JSON:
    """The weekly summary DM to a finance lead (with its notification text)."""
    total = report.total
    text = SUMMARY_TEXT.format(
        days=_days(report.until - report.since),
        received=total.received,
        decision=_short(total.decision.median) if total.decision.count else NOT_YET,
        overdue=total.overdue,
    )
    blocks = [
        {"type": "header", "text": plain(SUMMARY_HEADER, HEADER_MAX)},
        *lead_metrics_blocks(report)[1:],  # no divider under the header
    ]
    return {"text": text, "blocks": blocks}
