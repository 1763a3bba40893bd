"""``field_limit`` answers the handoff model's own JSON Schema ``maxLength``, field by field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from services import handoff_model
from services.handoff_model import Customer, FollowUp, Handoff, field_limit


def _models() -> dict[str, type[BaseModel]]:
    """The contract's models, by the name its JSON Schema ``$defs`` use."""
    return {
        value.__name__: value
        for value in vars(handoff_model).values()
        if isinstance(value, type) and issubclass(value, BaseModel)
    }


def _string_schema(prop: dict[str, Any]) -> dict[str, Any] | None:
    """The ``type: string`` branch of a property (plain or inside ``anyOf``), if it has one."""
    branches: list[dict[str, Any]] = [prop, *prop.get("anyOf", [])]
    for branch in branches:
        if branch.get("type") == "string":
            return branch
    return None


def _string_fields() -> list[tuple[type[BaseModel], str, int | None]]:
    schema = Handoff.model_json_schema()
    models = _models()
    rows: list[tuple[type[BaseModel], str, int | None]] = []
    for name, definition in [("Handoff", schema), *schema["$defs"].items()]:
        for field, prop in definition.get("properties", {}).items():
            string = _string_schema(prop)
            if string is not None:
                rows.append((models[name], field, string.get("maxLength")))
    return rows


STRING_FIELDS = _string_fields()


def test_every_model_and_the_long_text_fields_are_covered() -> None:
    covered = {(model.__name__, field) for model, field, _ in STRING_FIELDS}
    assert {"Handoff", "Customer", "Billing", "FollowUp", "AffectedRecord", "Links"} <= {
        model for model, _ in covered
    }
    assert {
        ("Handoff", "caller_request"),
        ("Handoff", "findings"),
        ("Handoff", "transcript_excerpt"),
        ("Customer", "email"),
        ("Customer", "phone"),
    } <= covered


@pytest.mark.parametrize(
    ("model", "field", "max_length"),
    STRING_FIELDS,
    ids=[f"{model.__name__}.{field}" for model, field, _ in STRING_FIELDS],
)
def test_field_limit_is_the_schema_max_length(
    model: type[BaseModel], field: str, max_length: int | None
) -> None:
    if max_length is None:
        with pytest.raises(LookupError, match=field):
            field_limit(model, field)
    else:
        assert field_limit(model, field) == max_length


@pytest.mark.parametrize(
    ("model", "field", "expected"),
    [
        (Handoff, "caller_request", 2000),
        (Handoff, "findings", 4000),
        (Handoff, "transcript_excerpt", 8000),
        (Customer, "email", 254),
        (Customer, "phone", 32),
        (Customer, "name", 200),
        (FollowUp, "finance_owner", 254),
        (FollowUp, "next_step", 1000),
    ],
)
def test_known_limits(model: type[BaseModel], field: str, expected: int) -> None:
    assert field_limit(model, field) == expected


def test_an_unknown_field_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        field_limit(Customer, "nickname")
