"""Request info: the question modal, the asked person's DM and Answer modal, the answer's DM to
the approver, and the question's reminders."""

from __future__ import annotations

from datetime import datetime

from blocks.common import (
    JSON,
    LABEL_MAX,
    MODAL_TEXT_MAX,
    PLACEHOLDER_MAX,
    URL_MAX,
    button,
    clip_mrkdwn,
    context,
    escape,
    humanize_duration,
    link,
    plain,
    section,
    slack_date,
    truncate,
    who,
)
from blocks.conversation import REMOVED_WORDS
from blocks.handoff_state import WORKFLOW_LABELS, card_amount
from blocks.ids import (
    ActionId,
    BlockId,
    CallbackId,
    InputId,
    ModalMetadata,
    encode_button_value,
    encode_metadata,
    link_action_id,
)
from services.cards import HandoffCard
from services.info_requests import MAX_ANSWER, MAX_QUESTION, InfoRequest
from services.reminders import NudgeKind

__all__ = [
    "answer_dm",
    "answer_modal",
    "info_nudge",
    "question_dm",
    "removed_message",
    "request_info_modal",
]

SANDBOX_PREFIX = "[SANDBOX] "
UNKNOWN_CALLER = "unknown caller"
TEXT_WORDS_MAX = 120  # a person's words in a notification's fallback text
WORDS_MAX = 2500
CANCEL = "Cancel"
ASK_TITLE, ASK_SUBMIT = "Request info", "Ask"
ASK_INTRO = (
    "Ask a question about {title} before deciding. The person you ask gets it in a DM; the "
    "handoff shows it is waiting for their answer, and their reply in the thread (or the "
    "*Answer* button) brings it back to you."
)
QUESTION_LABEL = "Your question"
QUESTION_PLACEHOLDER = "e.g. Did the customer confirm which of the two charges to keep?"
QUESTION_HINT = "Card and bank numbers are removed before it is stored or sent."
ASKED_LABEL = "Who should answer?"
ASKED_HINT = "A finance member (the owner by default), or the person who requested it."
ASKED_PLACEHOLDER = "Choose a person"
ANSWER_TITLE, ANSWER_SUBMIT = "Answer question", "Send answer"
ANSWER_INTRO = "{asker} asked about {title}:\n> {question}"
ANSWER_LABEL = "Your answer"
ANSWER_HINT = "Card and bank numbers are removed before it is stored or sent."
QUESTION_DM = "❓ {asker} asks you about {title} before deciding:\n> {question}"
QUESTION_DUE = "Answer by {when}: reply in the handoff's thread, or use *Answer*."
QUESTION_TEXT = "{asker} asks you about {title}: {question}"
ANSWER = "Answer"
OPEN_HANDOFF = "Open handoff"
ANSWER_DM = "💬 {person} answered your question on {title}:\n> {answer}"
ANSWER_DM_QUESTION = "Your question: {question}"
ANSWER_TEXT = "{person} answered your question on {title}: {answer}"
NUDGE_DUE_IN = "⏳ *Answer due in {when}:* {asker} asked you about {title}\n> {question}"
NUDGE_LATE = "⏰ *Answer overdue by {when}:* {asker} asked you about {title}\n> {question}"
NUDGE_LEAD = (
    "⏰ {asker}'s question to {person} on {title} is *unanswered, overdue by {when}*\n> {question}"
)
NUDGE_CHANNEL = (
    "⏰ {person} {asker}'s question on this handoff is *unanswered, overdue by {when}*. "
    "Reply in this thread to answer it.\n> {question}"
)
NUDGE_TEXT_LATE = "Question overdue by {when}: {title}"
NUDGE_TEXT_DUE = "Question due in {when}: {title}"
REMOVED = "I removed {what} from your answer before storing and sending it."
CONTEXT_LINE = "Call ID `{call_id}` · handoff `{handoff_id}`"


def _label(card: HandoffCard) -> str:
    customer = card.handoff.customer
    name = (customer.name or customer.account_id) if customer else None
    label = f"{WORKFLOW_LABELS[card.workflow]} · {truncate(name or UNKNOWN_CALLER, 120)}"
    amount = card_amount(card, escaped=False)
    return f"{label} · {amount}" if amount else label


def _title(card: HandoffCard, permalink: str | None = None) -> str:
    label = _label(card)
    if permalink and permalink.startswith("https://") and len(permalink) <= URL_MAX:
        return link(permalink, label)
    return f"*{escape(label)}*"


def _words(text: str | None) -> str:
    """A person's (already suppressed) words, quoted inert: no mention or link comes alive."""
    return clip_mrkdwn(text or "…", WORDS_MAX, inert=True)[0].replace("\n", "\n> ")


def _text(card: HandoffCard, template: str, **values: str) -> str:
    """The notification fallback: mentions stay mentions, a person's words are made inert."""
    prefix = SANDBOX_PREFIX if card.sandbox else ""
    return prefix + template.format(title=escape(_label(card)), **values)


def _short(words: str | None) -> str:
    return clip_mrkdwn(words or "…", TEXT_WORDS_MAX, inert=True)[0]


def _ids(card: HandoffCard) -> JSON:
    return context(
        CONTEXT_LINE.format(call_id=escape(card.call_id), handoff_id=escape(card.handoff_id))
    )


def _open_button(permalink: str | None) -> JSON | None:
    if permalink and permalink.startswith("https://") and len(permalink) <= URL_MAX:
        return button(OPEN_HANDOFF, link_action_id("handoff"), url=permalink)
    return None


def _modal(
    callback_id: CallbackId,
    title: str,
    submit: str,
    meta: ModalMetadata,
    card: HandoffCard,
    blocks: list[JSON],
) -> JSON:
    if meta.handoff_id != card.handoff_id:
        raise ValueError(f"modal metadata is for {meta.handoff_id}, not {card.handoff_id}")
    return {
        "type": "modal",
        "callback_id": callback_id.value,
        "title": plain(title, MODAL_TEXT_MAX),
        "submit": plain(submit, MODAL_TEXT_MAX),
        "close": plain(CANCEL, MODAL_TEXT_MAX),
        "private_metadata": encode_metadata(meta),
        "blocks": [*blocks, _ids(card)],
    }


def request_info_modal(card: HandoffCard, meta: ModalMetadata, *, ask: str | None) -> JSON:
    """The question and whom to ask (``ask``: the person chosen first, the requester or owner)."""
    question = {
        "type": "input",
        "block_id": BlockId.QUESTION.value,
        "label": plain(QUESTION_LABEL, LABEL_MAX),
        "hint": plain(QUESTION_HINT, LABEL_MAX),
        "element": {
            "type": "plain_text_input",
            "action_id": InputId.QUESTION.value,
            "multiline": True,
            "max_length": MAX_QUESTION,
            "placeholder": plain(QUESTION_PLACEHOLDER, PLACEHOLDER_MAX),
        },
    }
    element: JSON = {
        "type": "users_select",
        "action_id": InputId.ASKED.value,
        "placeholder": plain(ASKED_PLACEHOLDER, PLACEHOLDER_MAX),
    }
    if ask:
        element["initial_user"] = ask
    asked = {
        "type": "input",
        "block_id": BlockId.ASKED.value,
        "label": plain(ASKED_LABEL, LABEL_MAX),
        "hint": plain(ASKED_HINT, LABEL_MAX),
        "element": element,
    }
    intro = section(ASK_INTRO.format(title=_title(card)))
    return _modal(
        CallbackId.REQUEST_INFO_MODAL, ASK_TITLE, ASK_SUBMIT, meta, card, [intro, question, asked]
    )


def answer_modal(card: HandoffCard, meta: ModalMetadata, request: InfoRequest) -> JSON:
    """The asked person's answer to the open question."""
    intro = ANSWER_INTRO.format(
        asker=who(request.asked_by), title=_title(card), question=_words(request.question)
    )
    answer = {
        "type": "input",
        "block_id": BlockId.ANSWER.value,
        "label": plain(ANSWER_LABEL, LABEL_MAX),
        "hint": plain(ANSWER_HINT, LABEL_MAX),
        "element": {
            "type": "plain_text_input",
            "action_id": InputId.ANSWER.value,
            "multiline": True,
            "max_length": MAX_ANSWER,
        },
    }
    return _modal(
        CallbackId.ANSWER_INFO_MODAL,
        ANSWER_TITLE,
        ANSWER_SUBMIT,
        meta,
        card,
        [section(intro), answer],
    )


def question_dm(card: HandoffCard, request: InfoRequest, *, permalink: str | None) -> JSON:
    """The DM to the person asked: the question, when it is due, and Answer."""
    line = QUESTION_DM.format(
        asker=who(request.asked_by),
        title=_title(card, permalink),
        question=_words(request.question),
    )
    elements = [
        button(
            ANSWER,
            ActionId.ANSWER_INFO,
            value=encode_button_value(card.handoff_id),
            style="primary",
        )
    ]
    opened = _open_button(permalink)
    if opened is not None:
        elements.append(opened)
    text = _text(
        card, QUESTION_TEXT, asker=who(request.asked_by), question=_short(request.question)
    )
    return {
        "text": text,
        "blocks": [
            section(line),
            context(QUESTION_DUE.format(when=slack_date(request.due_at))),
            {"type": "actions", "block_id": BlockId.DECISIONS.value, "elements": elements},
            _ids(card),
        ],
    }


def answer_dm(card: HandoffCard, request: InfoRequest, *, permalink: str | None) -> JSON:
    """The DM to the approver who asked: who answered what, with a link to the message."""
    person = request.answer_by or request.asked_to
    line = ANSWER_DM.format(
        person=who(person), title=_title(card, permalink), answer=_words(request.answer)
    )
    blocks: list[JSON] = [
        section(line),
        context(
            ANSWER_DM_QUESTION.format(question=clip_mrkdwn(request.question, 500, inert=True)[0])
        ),
    ]
    opened = _open_button(permalink)
    if opened is not None:
        blocks.append({"type": "actions", "block_id": BlockId.LINKS.value, "elements": [opened]})
    blocks.append(_ids(card))
    text = _text(card, ANSWER_TEXT, person=who(person), answer=_short(request.answer))
    return {"text": text, "blocks": blocks}


def info_nudge(
    card: HandoffCard,
    request: InfoRequest,
    kind: NudgeKind,
    *,
    now: datetime,
    permalink: str | None,
    mention: str | None = None,
) -> JSON:
    """One reminder step about an unanswered question: the person asked (heads-up or overdue,
    with Answer), the lead, or the thread (mentioning the person asked)."""
    late = now >= request.due_at
    when = humanize_duration(now - request.due_at if late else request.due_at - now)
    values = {
        "asker": who(request.asked_by),
        "person": who(request.asked_to),
        "title": _title(card, permalink),
        "question": _words(request.question),
        "when": when,
    }
    elements: list[JSON] = []
    if kind is NudgeKind.LEAD:
        line = NUDGE_LEAD.format(**values)
    elif kind is NudgeKind.CHANNEL:
        line = NUDGE_CHANNEL.format(**values)
    else:
        line = (NUDGE_LATE if late else NUDGE_DUE_IN).format(**values)
        elements.append(
            button(
                ANSWER,
                ActionId.ANSWER_INFO,
                value=encode_button_value(card.handoff_id),
                style="primary",
            )
        )
    if mention:
        line = f"{who(mention)} {line}"
    opened = _open_button(permalink)
    if opened is not None and kind is not NudgeKind.CHANNEL:
        elements.append(opened)
    blocks: list[JSON] = [section(line)]
    if elements:
        blocks.append(
            {"type": "actions", "block_id": BlockId.DECISIONS.value, "elements": elements}
        )
    blocks.append(_ids(card))
    text = _text(card, NUDGE_TEXT_LATE if late else NUDGE_TEXT_DUE, when=when)
    return {"text": text, "blocks": blocks}


def removed_message(removed: tuple[str, ...]) -> JSON | None:
    """Said in the thread after an answer typed there lost a card number or bank details."""
    words = [REMOVED_WORDS[r] for r in removed if r in REMOVED_WORDS]
    if not words:
        return None
    what = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    text = REMOVED.format(what=what)
    return {"text": text, "blocks": [section(text)]}
