"""Zendesk's ticket and comment objects, only the fields the connector uses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Comment", "Ticket"]


class _Vendor(BaseModel):
    # Zendesk adds fields over time: keep what we read, ignore the rest.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Ticket(_Vendor):
    id: int
    url: str | None = None  # the API url of the ticket (not the agent page)
    external_id: str | None = None
    subject: str | None = None
    status: str | None = None
    requester_id: int | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: str | None = None


class Comment(_Vendor):
    id: int
    body: str = ""
    public: bool = True
    author_id: int | None = None
    created_at: str | None = None
