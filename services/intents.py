"""What a person asked the bot in plain words: text in, one ``Intent`` out, no language model.

The parser is deterministic and forgiving: case, punctuation and word order do not matter, and a
keyword typed with one slip ("snoze", "stauts", "asign") is still recognised. Times ("2h", "30m",
"tomorrow 9am", "friday", "until 5pm") are read in the person's own Slack time zone by
``services.when``. Unknown input is ``Kind.UNKNOWN`` (answered with help), never silence.

An approver's absence is understood too: "I'm away until Friday, delegate to @ben" (``AWAY``,
with the delegate and the end, a day alone meaning the end of its working day) and "I'm back"
(``BACK``).

A plain reply in a handoff's thread is read strictly (``reply=True``): only a short command that
starts with its verb ("snooze 2h", "done", "assign @ben") acts; anything else is a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from services.keywords import FILLER, canonical, words
from services.when import parse_until, parse_when

__all__ = ["ACTIONS", "MONEY", "Intent", "Kind", "canonical", "parse"]


class Kind(StrEnum):
    """Every thing the bot understands."""

    HELP = "help"
    STATUS = "status"  # one handoff by call ID
    CUSTOMER = "customer"  # handoffs of a customer by name
    INVOICES = "invoices"  # a customer's invoices by email
    OVERDUE = "overdue"
    MY_QUEUE = "my_queue"
    WAITING = "waiting"  # approvals waiting for me
    SNOOZE = "snooze"  # also "remind me friday"
    ASSIGN = "assign"
    DONE = "done"
    APPROVE = "approve"  # money-moving: answered with the buttons, never acted on
    DECLINE = "decline"  # needs a reason: answered with the buttons
    CREATE_INVOICE = "create_invoice"  # money-moving: answered with the form, never acted on
    AWAY = "away"  # "I'm away until Friday, delegate to @ben": user = delegate, until = end
    BACK = "back"  # "I'm back": the delegation ends
    NOTE = "note"  # a plain reply in a handoff's thread
    UNKNOWN = "unknown"


# Intents that act on the handoff of the thread they are typed in.
ACTIONS = frozenset({Kind.SNOOZE, Kind.ASSIGN, Kind.DONE})
# Intents that would move money or decide a handoff: the text never acts, the buttons do.
MONEY = frozenset({Kind.APPROVE, Kind.DECLINE, Kind.CREATE_INVOICE})


@dataclass(frozen=True, slots=True)
class Intent:
    kind: Kind
    call_id: str | None = None
    customer: str | None = None
    email: str | None = None
    user: str | None = None  # a Slack user id (assign)
    until: datetime | None = None  # snooze / remind
    amount: Decimal | None = None  # create invoice (prefill only)
    currency: str | None = None
    text: str = ""  # what was typed, without mentions of the bot


_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<(?:https?://[^|>]*\|)?([^>]*)>")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII)
_CALL_ID = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[_-][A-Za-z0-9]+)*_[A-Za-z0-9]*\d[A-Za-z0-9]*\b")
_WORD = re.compile(r"[a-z0-9][a-z0-9'’:.-]*")
_AMOUNT = re.compile(
    r"(?:(?P<sym>[$€£])\s?)?(?P<num>\d[\d,]*(?:\.\d+)?)\s?(?P<code>[A-Za-z]{3})?(?![A-Za-z0-9])"
)
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
_CURRENCIES = words("usd eur gbp chf cad aud jpy sek nok dkk pln")
REPLY_WORDS_MAX = 8  # a command typed as a thread reply is short; longer text is a note
_AWAY = re.compile(
    r"\b(?:away|ooo|out of (?:the )?office|on (?:vacation|holiday|holidays|leave|pto)|"
    r"off until|off till|off til)\b"
)
_BACK = re.compile(
    r"\b(?:i'?m|i am|im)\s+back\b|\bback (?:now|again|in the office|at work)\b|"
    r"\b(?:end|stop|cancel)\s+(?:my\s+)?(?:delegation|delegating|away)\b"
)
_USER_REF = re.compile(r"@[uw][a-z0-9]+")


def _clean(text: str, bot_user: str | None) -> tuple[str, list[str], str | None]:
    """The text without Slack markup, the users mentioned (not the bot), and an email if any."""
    users = [u for u in _MENTION.findall(text) if u != bot_user]
    email_match = _MAILTO.search(text)
    text = _MENTION.sub(lambda m: "" if m.group(1) == bot_user else f" @{m.group(1)} ", text)
    text = _MAILTO.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    email = email_match.group(1) if email_match else None
    if email is None:
        found = _EMAIL.search(text)
        email = found.group(0) if found else None
    return " ".join(text.split()), users, email


def _customer(text: str, email: str | None) -> str | None:
    """A customer's name: the words left once command words and filler are dropped."""
    words = [w for w in re.split(r"\s+", text.strip(" ?!.")) if w]

    def droppable(word: str) -> bool:
        bare = word.lower().strip("?!.,:;'’\"").replace("'", "").replace("’", "")
        return not bare or bare in FILLER or canonical(bare) is not None

    while words and droppable(words[0]):
        words.pop(0)
    while words and droppable(words[-1]):
        words.pop()
    name = " ".join(words).strip(' ?!.,:;"')
    if not name or (email and name == email) or not any(c.isalpha() for c in name):
        return None
    return name[:150]


def _money(text: str) -> tuple[Decimal | None, str | None]:
    for match in _AMOUNT.finditer(text):
        code = (match.group("code") or "").lower()
        symbol = match.group("sym")
        if code not in _CURRENCIES and symbol is None:
            continue
        try:
            amount = Decimal(match.group("num").replace(",", ""))
        except InvalidOperation:
            continue
        return amount, code.upper() if code in _CURRENCIES else _SYMBOLS[symbol or "$"]
    return None, None


def parse(
    text: str,
    *,
    now: datetime,
    tz: str | None = None,
    bot_user: str | None = None,
    reply: bool = False,
) -> Intent:
    """What ``text`` asks for. ``reply``: a plain thread reply, where non-commands are notes."""
    cleaned, users, email = _clean(text, bot_user)
    lowered = cleaned.lower()
    words = [w.strip("'’.:-") for w in _WORD.findall(lowered.replace("@", " @ "))]
    words = [w for w in words if w]
    keys = [canonical(w) for w in words]
    found = {k for k in keys if k}
    call = _CALL_ID.search(cleaned.replace(email or "\0", " "))
    call_id = call.group(0) if call else None
    user = users[0] if users else None

    if reply:
        first = next((k for k in keys if k != "mark"), None) if keys else None
        leading = keys[0] if keys else None
        commandish = len(words) <= REPLY_WORDS_MAX and (
            leading in {"snooze", "remind", "assign", "done", "mark", "approve", "decline"}
            or (leading == "status" and len(words) <= 2)
            or (leading == "help" and len(words) <= 2)
        )
        if not commandish or first is None:
            return Intent(Kind.NOTE, text=cleaned)

    def when() -> datetime | None:
        return parse_when(lowered, now=now, tz=tz)

    bare = lowered.replace("’", "'")
    if _BACK.search(bare) and not _AWAY.search(bare):
        return Intent(Kind.BACK, text=cleaned)
    if _AWAY.search(bare):
        # Mentions are ids ("@u0ben2"): never read as times. A day alone ends at 18:00 there.
        until = parse_until(_USER_REF.sub(" ", bare), now=now, tz=tz)
        return Intent(Kind.AWAY, user=user, until=until, text=cleaned)
    if ("create" in found and "invoice" in found) or (
        "invoice" in found and _money(cleaned)[0] is not None
    ):
        amount, currency = _money(cleaned)
        return Intent(
            Kind.CREATE_INVOICE,
            email=email,
            amount=amount,
            currency=currency,
            call_id=call_id,
            text=cleaned,
        )
    if "approve" in found and "waiting" not in found:
        return Intent(Kind.APPROVE, call_id=call_id, text=cleaned)
    if "decline" in found:
        return Intent(Kind.DECLINE, call_id=call_id, text=cleaned)
    if "snooze" in found or "remind" in found:
        return Intent(Kind.SNOOZE, until=when(), call_id=call_id, text=cleaned)
    if "assign" in found and (user is not None or "@" in words or "to" in words or reply):
        return Intent(Kind.ASSIGN, user=user, call_id=call_id, text=cleaned)
    if "done" in found and (reply or "mark" in found or len(words) <= 3):
        return Intent(Kind.DONE, call_id=call_id, text=cleaned)
    if email is not None:
        return Intent(Kind.INVOICES, email=email, text=cleaned)
    if call_id is not None:
        return Intent(Kind.STATUS, call_id=call_id, text=cleaned)
    if "overdue" in found or ("past" in words and "due" in words):
        return Intent(Kind.OVERDUE, text=cleaned)
    if "waiting" in found:
        return Intent(Kind.WAITING, text=cleaned)
    if "queue" in found or ("my" in words and len(words) <= 3):
        return Intent(Kind.MY_QUEUE, text=cleaned)
    if "help" in found or lowered.strip(" ?!.") in {"what can you do", "what do you do", ""}:
        return Intent(Kind.HELP, text=cleaned)
    name = _customer(cleaned, email)
    if "status" in found and name:
        return Intent(Kind.CUSTOMER, customer=name, text=cleaned)
    if "status" in found:
        return Intent(Kind.STATUS, text=cleaned)  # of the thread's handoff; elsewhere, help
    return Intent(Kind.UNKNOWN, text=cleaned)
