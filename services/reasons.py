"""What a person types into a decision modal, made fit to store: trimmed, checked, redacted.

Decline and escalate reasons and a reassign note are typed by a person, then stored in the audit
log and shown in Slack, so card and bank details are redacted exactly as in handoffs themselves.
"""

from __future__ import annotations

from services.redaction import redact_text

__all__ = [
    "MAX_EMAIL_TEXT",
    "MAX_REASON",
    "NO_REASON",
    "TOO_LONG",
    "clean_email_text",
    "clean_note",
    "clean_reason",
    "email_text_problem",
    "reason_problem",
]

MAX_REASON = 1000
NO_REASON = "Please give a reason."
TOO_LONG = f"Keep it under {MAX_REASON} characters."


def clean_reason(value: object) -> str | None:
    """The reason as stored (trimmed, then redacted), or None when nothing was typed."""
    if not isinstance(value, str) or not value.strip():
        return None
    return redact_text(value.strip()).text


def reason_problem(reason: str | None) -> str | None:
    """What to say under the reason field when ``reason`` cannot be accepted, else None."""
    if reason is None:
        return NO_REASON
    if len(reason) > MAX_REASON:
        return TOO_LONG
    return None


def clean_note(value: object) -> str | None:
    """An optional note, redacted; None when there is no text."""
    return redact_text(value).text if isinstance(value, str) else None


# A collections follow-up's body, as the approver leaves it in the approve dialog.
MAX_EMAIL_TEXT = 3000
MIN_EMAIL_TEXT = 20
NO_EMAIL_TEXT = "Write the email, or untick sending it."
EMAIL_TOO_SHORT = f"Write at least {MIN_EMAIL_TEXT} characters, or untick sending it."
EMAIL_TOO_LONG = f"Keep the email under {MAX_EMAIL_TEXT} characters."


def clean_email_text(value: object) -> str | None:
    """The email body as stored and sent: line endings made plain, trailing space trimmed,
    then redacted (a card or bank number typed into it goes); None when nothing was typed."""
    if not isinstance(value, str) or not value.strip():
        return None
    lines = value.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n")
    return redact_text("\n".join(line.rstrip() for line in lines)).text


def email_text_problem(text: str | None) -> str | None:
    """What to say under the email field when ``text`` cannot be sent, else None."""
    if text is None:
        return NO_EMAIL_TEXT
    if len(text) < MIN_EMAIL_TEXT:
        return EMAIL_TOO_SHORT
    if len(text) > MAX_EMAIL_TEXT:
        return EMAIL_TOO_LONG
    return None
