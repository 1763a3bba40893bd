"""The private confirmation an /invoice new requester gets: sent, where it will appear, the link."""

from __future__ import annotations

from decimal import Decimal

from blocks.common import JSON, URL_MAX, context, escape, format_money, link, section

__all__ = ["request_confirmation"]

SENT = "📨 Your invoice request for *{amount}* to {email} was sent to finance for approval."
ABOUT_CALL = " It is about DialNexa call `{call_id}`."
ALREADY = " It was already on file."
WILL_APPEAR = "It will appear in {channel}; the link follows here once it is posted."
POSTED = "It is posted in {channel}: {link}"
OPEN = "open your request"
IDS = "Request `{request_id}`"


def request_confirmation(
    *,
    amount: Decimal,
    currency: str,
    email: str,
    request_id: str,
    channel: str | None,
    permalink: str | None = None,
    about_call: str | None = None,
    duplicate: bool = False,
) -> JSON:
    """The DM: what was sent, then where it will appear or, once posted, a link to it."""
    money = format_money(amount, escape(currency))
    lead = SENT.format(amount=money, email=escape(email))
    if about_call:
        lead += ABOUT_CALL.format(call_id=escape(about_call))
    if duplicate:
        lead += ALREADY
    where = f"<#{channel}>" if channel and channel.isalnum() else "the finance channel"
    if permalink and permalink.startswith("https://") and len(permalink) <= URL_MAX:
        follow = POSTED.format(channel=where, link=link(permalink, OPEN))
    else:
        follow = WILL_APPEAR.format(channel=where)
    text = f"{lead} {follow}"
    blocks = [section(text), context(IDS.format(request_id=escape(request_id)))]
    return {"text": text, "blocks": blocks}
