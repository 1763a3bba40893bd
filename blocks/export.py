"""What the audit export says in Slack: the acknowledgement, date errors, the DM with the file."""

from __future__ import annotations

from typing import Any

from blocks.common import escape, section
from services.export import DATE_FORMAT, ExportRange, ExportRangeError

__all__ = [
    "EXPORT_USAGE",
    "HOME_EXPORT_BUTTON",
    "HOME_EXPORT_VALUE",
    "export_comment",
    "export_failed_message",
    "export_queued_message",
    "export_range_error",
]

EXPORT_USAGE = f"Usage: /handoff export [from] [to]  (dates {DATE_FORMAT}; default: last 30 days)"
HOME_EXPORT_BUTTON = "Export audit trail (last 30 days)"
HOME_EXPORT_VALUE = "last_30_days"  # what the button carries; a click with anything else is dropped
QUEUED = (
    "📦 Preparing the audit trail for {first} to {last} (UTC, both days included). "
    "The CSV arrives in your DM with me shortly."
)
COMMENT = (
    "📦 Audit trail for {first} to {last} (UTC): {rows} row{s}, one per audit entry. "
    "Suppressed values stay suppressed."
)
COMMENT_EMPTY = "📦 Audit trail for {first} to {last} (UTC): no handoffs were received then."
BAD_DATE = "The {field} date is wrong: {message}.\n{usage}"
FAILED = (
    "⚠️ The audit trail for {first} to {last} could not be uploaded; it has been logged. "
    "Try again in a few minutes."
)


def _days(span: ExportRange) -> dict[str, str]:
    return {"first": span.first.isoformat(), "last": span.last.isoformat()}


def export_queued_message(span: ExportRange) -> dict[str, Any]:
    """The private answer to /handoff export (and the Home button): it is on its way."""
    text = QUEUED.format(**_days(span))
    return {"text": text, "blocks": [section(text)]}


def export_range_error(error: ExportRangeError) -> dict[str, Any]:
    """The private answer to /handoff export with a date it cannot use, naming the field."""
    text = BAD_DATE.format(field=error.field, message=escape(error.message), usage=EXPORT_USAGE)
    return {"text": text, "blocks": [section(text)]}


def export_comment(span: ExportRange, rows: int) -> str:
    """The message that comes with the CSV in the requester's DM."""
    if rows == 0:
        return COMMENT_EMPTY.format(**_days(span))
    return COMMENT.format(rows=rows, s="" if rows == 1 else "s", **_days(span))


def export_failed_message(span: ExportRange) -> dict[str, Any]:
    """The DM when the upload gave up."""
    text = FAILED.format(**_days(span))
    return {"text": text, "blocks": [section(text)]}
