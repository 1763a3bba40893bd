"""Objects a connector created or found for a handoff: one row per external object.

``record`` is idempotent on (system, kind, external id): recording the same object again (a
retry, a second replica, a callback and a look-up both finding it) updates its url and detail
and never adds a second row. Connectors ``find`` what they made before creating anything, and
``/handoff`` lists ``for_handoff``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.models import ExternalRef

__all__ = ["LinkedRecord", "find", "for_handoff", "record"]


@dataclass(frozen=True, slots=True)
class LinkedRecord:
    """One external object linked to a handoff."""

    system: str  # the connector's name: "plisio", "zendesk", ...
    kind: str  # "invoice", "ticket", "customer", ...
    external_id: str
    url: str | None
    handoff_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: ExternalRef) -> LinkedRecord:
        return cls(
            system=row.system,
            kind=row.kind,
            external_id=row.external_id,
            url=row.url,
            handoff_id=row.handoff_id,
            detail=dict(row.detail or {}),
        )


async def record(
    session: AsyncSession,
    *,
    handoff_id: str | None,
    system: str,
    kind: str,
    external_id: str,
    url: str | None,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Link an object to ``handoff_id`` in ``session``'s transaction; again: update, not add."""
    table = cast(Table, ExternalRef.__table__)
    sqlite = session.get_bind().dialect.name == "sqlite"
    insert = sqlite_insert(table) if sqlite else postgresql_insert(table)
    statement = insert.values(
        handoff_id=handoff_id,
        system=system,
        kind=kind,
        external_id=external_id,
        url=url,
        detail=dict(detail or {}),
        created_at=now,
        updated_at=now,
    )
    changes: dict[str, Any] = {"updated_at": now}
    if url is not None:
        changes["url"] = url
    if detail is not None:
        changes["detail"] = dict(detail)
    if handoff_id is not None:
        changes["handoff_id"] = handoff_id
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.system, table.c.kind, table.c.external_id], set_=changes
        )
    )


async def find(
    session: AsyncSession, handoff_id: str, system: str, kind: str
) -> LinkedRecord | None:
    """The newest object of this system and kind linked to the handoff, if any."""
    row = await session.scalar(
        select(ExternalRef)
        .where(
            ExternalRef.handoff_id == handoff_id,
            ExternalRef.system == system,
            ExternalRef.kind == kind,
        )
        .order_by(ExternalRef.id.desc())
        .limit(1)
    )
    return None if row is None else LinkedRecord.from_row(row)


async def for_handoff(session: AsyncSession, handoff_id: str) -> list[LinkedRecord]:
    """Every object linked to the handoff, oldest first."""
    rows = await session.scalars(
        select(ExternalRef).where(ExternalRef.handoff_id == handoff_id).order_by(ExternalRef.id)
    )
    return [LinkedRecord.from_row(row) for row in rows]
