"""The optional language model: off by default, asked only about what the parser missed, and only
ever shown suppressed text."""

from __future__ import annotations

from datetime import UTC, datetime

from services.intents import Intent, Kind
from services.understanding import understand

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


class StubModel:
    """Answers every question with one intent and remembers what it was shown."""

    def __init__(self, answer: Intent | None) -> None:
        self.answer = answer
        self.seen: list[str] = []

    async def intent(self, text: str, *, now: datetime, tz: str | None) -> Intent | None:
        self.seen.append(text)
        return self.answer


async def test_without_a_model_the_parser_is_the_whole_behaviour() -> None:
    assert (await understand("could you list the stuff that slipped", now=NOW)).kind is Kind.UNKNOWN


async def test_the_model_is_not_asked_what_the_parser_understood() -> None:
    model = StubModel(Intent(Kind.HELP))
    assert (await understand("what's overdue", now=NOW, model=model)).kind is Kind.OVERDUE
    assert model.seen == []


async def test_the_model_maps_free_text_and_sees_only_suppressed_text() -> None:
    model = StubModel(Intent(Kind.OVERDUE))
    typed = "which ones slipped? my card is 4111 1111 1111 1111"
    intent = await understand(typed, now=NOW, model=model)
    assert intent.kind is Kind.OVERDUE and intent.text == typed
    assert len(model.seen) == 1 and "4111" not in model.seen[0]


async def test_notes_never_reach_the_model_and_a_failing_model_means_help() -> None:
    model = StubModel(Intent(Kind.DONE))
    note = await understand("Customer will pay on Friday", now=NOW, reply=True, model=model)
    assert note.kind is Kind.NOTE and model.seen == []

    class Broken:
        async def intent(self, text: str, *, now: datetime, tz: str | None) -> Intent | None:
            raise RuntimeError("model down")

    assert (await understand("blah blah", now=NOW, model=Broken())).kind is Kind.UNKNOWN
