"""Suppression of a whole handoff: every string in it, however deep, links included.

Fields are found by walking the model, not from a list, so a field added to the model later is
covered without anyone remembering to add it here. Each field's length limit and pattern are read
from the model's own pydantic metadata:

- free text and identifiers get markers, cut to the field's limit if markers made them longer;
- a field with a pattern (currency, country, amount...) cannot hold a marker: a sensitive value
  there is dropped, and so is a value the model refuses once it holds a marker (an e-mail
  address whose local part was a card number). Dropped fields are listed in ``dropped``;
- a link keeps its scheme, host and path; a query value, path segment or fragment holding a
  sensitive value becomes ``redacted`` (the query key is read with its value, so
  ``?acct=12345678`` is an account number); a link whose host or user part holds one is dropped.

``sensitive.categories: ["private_document"]`` also hides the transcript, the recording, the
affected record's link and the transcript excerpt.
"""

from __future__ import annotations

import functools
import re
import types
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Final, Union, get_args, get_origin
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

import annotated_types
from pydantic import AnyUrl, BaseModel, StringConstraints, ValidationError

from services.handoff_model import Handoff, SensitiveCategory
from services.redaction import markers
from services.redaction.normalise import may_say_digits
from services.redaction.text import ALWAYS, nothing_to_find, redact, too_few_digits

__all__ = ["RedactedHandoff", "redact_handoff"]

_Path = tuple[str | int, ...]

# Hidden when the handoff flags private_document: the call itself is the private document.
_DOCUMENT_FIELDS: Final[tuple[tuple[str | None, str], ...]] = (
    ("links", "transcript_url"),
    ("links", "recording_url"),
    ("affected_record", "url"),
    (None, "transcript_excerpt"),
)


@dataclass(frozen=True, slots=True)
class RedactedHandoff:
    """A cleaned copy of a handoff, what was removed from it and which links were hidden."""

    handoff: Handoff
    found: frozenset[SensitiveCategory]
    hidden_links: tuple[str, ...]
    dropped: tuple[str, ...] = ()  # fields removed because no marker fits them


class _Drop:
    """A field to remove rather than rewrite."""


_DROP: Final = _Drop()
_ADDRESS_JOINERS: Final = re.compile(r"[-_.+]")
# A path reads its segments and the words joined by "_" apart ("/ssn_536.22.8726", "/4111/1111").
_LINK_JOINERS: Final = re.compile(r"[/_]")


@dataclass(frozen=True, slots=True)
class _Limits:
    max_length: int | None
    pattern: bool


def _limits_of(annotation: Any, metadata: list[Any]) -> _Limits:
    max_length: int | None = None
    pattern = False
    pending: list[Any] = [annotation]
    found_meta: list[Any] = list(metadata)
    while pending:
        item = pending.pop()
        origin = get_origin(item)
        if origin is Annotated:
            base, *meta = get_args(item)
            pending.append(base)
            found_meta += meta
        elif origin is Union or origin is types.UnionType:
            pending.extend(get_args(item))
    for meta in found_meta:
        if isinstance(meta, StringConstraints):
            if meta.max_length is not None:
                max_length = meta.max_length
            pattern = pattern or meta.pattern is not None
        elif isinstance(meta, annotated_types.MaxLen):
            max_length = meta.max_length
    return _Limits(max_length, pattern)


@functools.cache
def _plan(model: type[BaseModel]) -> dict[str, _Limits]:
    """Each field's length limit and whether it has a pattern, from the model's metadata."""
    return {
        name: _limits_of(info.annotation, list(info.metadata))
        for name, info in model.model_fields.items()
    }


def _fit(text: str, limit: int | None) -> str:
    """Cut ``text`` to ``limit`` characters with an ellipsis, never through a marker."""
    if limit is None or len(text) <= limit:
        return text
    cut = limit - len(markers.ELLIPSIS)
    for marker in markers.MARKER.finditer(text):
        if marker.start() < cut < marker.end():
            cut = marker.start()
    return text[:cut] + markers.ELLIPSIS


def _redact_field(
    value: str, limit: int | None, active: frozenset[SensitiveCategory]
) -> tuple[str, frozenset[SensitiveCategory]]:
    found: frozenset[SensitiveCategory] = frozenset()
    # Markers can be longer than what they replace, and cutting to fit could in principle leave a
    # new match at the cut, so alternate until both hold; each round removes digits or characters.
    while True:
        redacted, redacted_found = redact(value, active)
        found |= redacted_found
        fitted = _fit(redacted, limit)
        if fitted == redacted:  # redact() returns a fixed point: nothing left to find
            return redacted, found
        value = fitted


def _worth_reading(text: str) -> bool:
    """Whether a part of a link can hold anything: ``redact`` would skip it at once otherwise."""
    return bool(text) and (not text.isascii() or not too_few_digits(text) or may_say_digits(text))


def _worth_reading_url(url: str) -> bool:
    """Whether any part of a link could hold anything (most links are read no further)."""
    decoded = unquote_plus(url)
    return not decoded.isascii() or not nothing_to_find(decoded) or may_say_digits(decoded)


def _clean_url(
    url: str, active: frozenset[SensitiveCategory]
) -> tuple[str | _Drop, frozenset[SensitiveCategory]]:
    """``url`` with sensitive query values, path segments and fragment replaced."""
    if not _worth_reading_url(url):
        return url, frozenset()
    parts = urlsplit(url)
    found: set[SensitiveCategory] = set()

    def sensitive(text: str) -> bool:
        categories = redact(text, active)[1]
        found.update(categories)
        return bool(categories)

    if _worth_reading(unquote(parts.netloc)) and sensitive(unquote(parts.netloc)):
        return _DROP, frozenset(found)
    path, query, fragment = parts.path, parts.query, parts.fragment
    if _worth_reading(path) and sensitive(_LINK_JOINERS.sub(" ", unquote(path))):
        # The path as a whole decides (a card split over segments); each segment that holds
        # digits is then replaced, keeping the words that say where the link goes.
        segments = path.split("/")
        path = "/".join(
            markers.URL_VALUE
            if any(ch.isdigit() for ch in unquote(s)) or sensitive(unquote(s))
            else s
            for s in segments
        )
    if _worth_reading(query):
        pairs = parse_qsl(query, keep_blank_values=True)
        cleaned = [
            (key, markers.URL_VALUE if sensitive(f"{key.replace('_', ' ')}={value}") else value)
            for key, value in pairs
        ]
        if cleaned != pairs:
            query = urlencode(cleaned, quote_via=quote)
    if _worth_reading(fragment) and sensitive(_LINK_JOINERS.sub(" ", unquote_plus(fragment))):
        fragment = markers.URL_VALUE
    if not found:
        return url, frozenset()
    return urlunsplit((parts.scheme, parts.netloc, path, query, fragment)), frozenset(found)


class _Walk:
    """Every string of a handoff, read once; what changes is collected by its path."""

    def __init__(self, active: frozenset[SensitiveCategory], skip: set[_Path]) -> None:
        self.active = active
        self.skip = skip
        self.changes: dict[_Path, object] = {}
        self.found: set[SensitiveCategory] = set()

    def model(self, model: BaseModel, path: _Path) -> None:
        plan = _plan(type(model))
        # A pydantic model keeps its field values in __dict__; unset fields are None (or, for a
        # list, empty), so reading them all is the same as reading the set ones, and cheaper.
        skip = self.skip
        for name, value in model.__dict__.items():
            if value is None or (skip and (*path, name) in skip):
                continue
            if type(value) is str:  # most fields: read here, without building their path
                self.text(value, path, name, plan[name])
            else:
                self.value(value, (*path, name), plan[name])

    def text(self, value: str, path: _Path, name: str | int, limits: _Limits) -> None:
        cleaned, found = _redact_field(value, limits.max_length, self.active)
        if cleaned != value:
            self.found |= found
            self.changes[(*path, name)] = _DROP if limits.pattern else cleaned
        elif "@" in value and " " not in value:
            # An address reads its words joined by "-", "_", "." or "+": read them apart too
            # ("wire-to-12345678@bank.example"). One that holds a secret cannot be rewritten.
            found = redact(_ADDRESS_JOINERS.sub(" ", value), self.active)[1]
            if found:
                self.found |= found
                self.changes[(*path, name)] = _DROP

    def value(self, value: object, where: _Path, limits: _Limits) -> None:
        if type(value) is not str and isinstance(value, Enum | bool | int | float):
            return
        if isinstance(value, BaseModel):
            self.model(value, where)
        elif isinstance(value, str):
            self.text(value, where[:-1], where[-1], limits)
        elif isinstance(value, AnyUrl):
            url = str(value)
            cleaned_url, found = _clean_url(url, self.active)
            if cleaned_url != url:
                self.found |= found
                self.changes[where] = cleaned_url
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                self.value(item, (*where, index), limits)


def _set(data: dict[str, Any], path: _Path, value: object) -> None:
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    if isinstance(value, _Drop):
        if isinstance(target, dict):
            target.pop(path[-1], None)
        else:
            target[path[-1]] = None
    else:
        target[path[-1]] = value


def _dotted(path: _Path) -> str:
    return ".".join(str(part) for part in path)


def redact_handoff(handoff: Handoff) -> RedactedHandoff:
    """Return a copy of ``handoff`` safe to store, log and show, with what was removed.

    When nothing had to be removed the "copy" is ``handoff`` itself: the model is frozen.
    """
    flags = frozenset(handoff.sensitive.categories) if handoff.sensitive else frozenset()
    hidden: list[str] = []
    skip: set[_Path] = set()
    if SensitiveCategory.PRIVATE_DOCUMENT in flags:
        for section_name, name in _DOCUMENT_FIELDS:
            section = handoff if section_name is None else getattr(handoff, section_name)
            if section_name is not None and section_name not in handoff.model_fields_set:
                continue
            if isinstance(section, BaseModel) and name in section.model_fields_set:
                where: _Path = (name,) if section_name is None else (section_name, name)
                skip.add(where)  # dropped even when set to null
                if getattr(section, name) is not None:
                    hidden.append(_dotted(where))

    walk = _Walk(ALWAYS | flags, skip)
    walk.model(handoff, ())
    found = set(walk.found)
    if hidden:
        found.add(SensitiveCategory.PRIVATE_DOCUMENT)
    if not skip and not walk.changes:
        # Nothing to take out. Handoff is a frozen model, so the original serves as its own copy;
        # dumping and validating it again would only build an equal object at some cost.
        return RedactedHandoff(handoff=handoff, found=frozenset(found), hidden_links=())

    data = handoff.model_dump(exclude_unset=True)
    for path in skip:
        _set(data, path, _DROP)
    dropped = [path for path, change in walk.changes.items() if isinstance(change, _Drop)]
    for path, change in walk.changes.items():
        _set(data, path, change)
    # A marker can make a value the model refuses (an e-mail address, a link): drop those too.
    for _ in range(3):
        try:
            cleaned = Handoff.model_validate(data)
            break
        except ValidationError as exc:
            refused = {tuple(error["loc"]) for error in exc.errors(include_url=False)}
            refused_known = [path for path in refused if path in walk.changes]
            if not refused_known:
                raise
            for path in refused_known:
                _set(data, path, _DROP)
                dropped.append(path)
    else:  # pragma: no cover - every refusal drops a field that changed
        raise RuntimeError("redacted handoff still refused by its model")
    return RedactedHandoff(
        handoff=cleaned,
        found=frozenset(found),
        hidden_links=tuple(hidden),
        dropped=tuple(sorted(_dotted(path) for path in dropped)),
    )
