"""The sandbox's world as JSON: the pretend Slack workspace, the fake Plisio's invoices and the
other writable vendor doubles (Zendesk, QuickBooks, the Google sheet, Drive and Gmail).

``dump_world`` / ``load_world`` are pure and synchronous, so a round trip is unit-tested without a
database. What is kept: the directory (members, groups, channels), every message and thread,
ephemerals, shared files, Home tabs and the id counters. What is not: open modals and trigger ids (a restart
closes every modal, as quitting Slack would) and the fake's request log and injected failures.
Each other double (a ``Persistent``) keeps its own part under its name; a snapshot from before a
double was kept has no such key and leaves that double empty (``reset``), so it still loads.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict
from decimal import Decimal
from typing import Any, Protocol

from sandbox.plisio import FakeInvoice, FakePlisio
from sandbox.slack_objects import (
    Channel,
    Ephemeral,
    JsonDict,
    Message,
    SlackFile,
    User,
    Usergroup,
    View,
)
from sandbox.slack_workspace import SlackWorkspace

__all__ = ["FORMAT", "Persistent", "SnapshotError", "dump_world", "load_world"]

logger = logging.getLogger(__name__)

FORMAT = 1  # bump when the shape changes; an older snapshot is then ignored, not misread
_DECIMALS = ("source_amount", "amount", "received_amount")


class SnapshotError(ValueError):
    """A stored snapshot this code cannot read (another format, or damaged)."""


class Persistent(Protocol):
    """A vendor double the sandbox keeps: pure ``dump``/``load`` (in place), ``reset`` to empty,
    and ``on_change`` listeners told after each write."""

    on_change: list[Callable[[], None]]

    def dump(self) -> dict[str, Any]: ...

    def load(self, data: dict[str, Any]) -> None: ...

    def reset(self) -> None: ...


def _dump_workspace(ws: SlackWorkspace) -> JsonDict:
    homes = {user: view_id for user, view_id in ws.home_views.items() if view_id in ws.views}
    return {
        "users": [asdict(u) for u in ws.users.values()],
        "usergroups": [asdict(g) for g in ws.usergroups.values()],
        "channels": [
            {**asdict(c), "messages": [asdict(m) for m in c.messages.values()]}
            for c in ws.channels.values()
        ],
        "ephemerals": [asdict(e) for e in ws.ephemerals],
        # Shared files with their bytes, so a download link still works after a restart.
        "files": [_dump_file(f) for f in ws.files.values() if f.completed],
        "home_views": homes,
        "views": [asdict(ws.views[view_id]) for view_id in homes.values()],
        "last_ts_micros": ws._last_ts_micros,
        "serial": ws._serial,
    }


def _dump_file(file: SlackFile) -> JsonDict:
    out = asdict(file)
    out["content"] = base64.b64encode(file.content or b"").decode()
    return out


def _file(data: dict[str, Any]) -> SlackFile:
    return SlackFile(**{**data, "content": base64.b64decode(data["content"])})


def _dump_invoice(invoice: FakeInvoice) -> JsonDict:
    out = asdict(invoice)
    for name in _DECIMALS:
        out[name] = str(out[name])
    return out


def dump_world(
    workspace: SlackWorkspace,
    plisio: FakePlisio,
    doubles: Mapping[str, Persistent] | None = None,
) -> JsonDict:
    """The workspace, the fake's invoices and each double's state as plain JSON values."""
    return {
        "format": FORMAT,
        "slack": _dump_workspace(workspace),
        "plisio": {
            "seq": plisio._seq,
            "invoices": [_dump_invoice(i) for i in plisio.invoices.values()],
        },
        **{name: double.dump() for name, double in (doubles or {}).items()},
    }


def _channel(data: dict[str, Any]) -> Channel:
    messages = [Message(**m) for m in data.pop("messages")]
    channel = Channel(**data)
    channel.messages = {m.ts: m for m in messages}
    return channel


def _invoice(data: dict[str, Any]) -> FakeInvoice:
    return FakeInvoice(**{**data, **{name: Decimal(data[name]) for name in _DECIMALS}})


def load_world(
    workspace: SlackWorkspace,
    plisio: FakePlisio,
    data: JsonDict,
    doubles: Mapping[str, Persistent] | None = None,
) -> None:
    """Replace the workspace's, the fake's and the doubles' state with ``data`` (``dump_world``).

    Objects are replaced in place, so every holder of the workspace and the fakes sees the new
    state. Raises ``SnapshotError`` (and changes nothing) when the workspace or Plisio part cannot
    be read; a double whose part is missing or damaged starts empty (the rest still loads).
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotError(f"not a format {FORMAT} sandbox snapshot")
    try:
        slack, fake = data["slack"], data["plisio"]
        users = {u["id"]: User(**u) for u in slack["users"]}
        groups = {g["id"]: Usergroup(**g) for g in slack["usergroups"]}
        channels = {c["id"]: _channel(dict(c)) for c in slack["channels"]}
        ephemerals = [Ephemeral(**e) for e in slack["ephemerals"]]
        files = {f["id"]: _file(f) for f in slack.get("files", [])}
        views = {v["id"]: View(**v) for v in slack["views"]}
        homes = {str(k): str(v) for k, v in slack["home_views"].items() if v in views}
        last_ts, serial = int(slack["last_ts_micros"]), int(slack["serial"])
        invoices = {i["txn_id"]: _invoice(i) for i in fake["invoices"]}
        seq = int(fake["seq"])
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise SnapshotError(f"damaged sandbox snapshot: {exc!r}") from None
    workspace.users, workspace.usergroups, workspace.channels = users, groups, channels
    workspace.ephemerals, workspace.views, workspace.home_views = ephemerals, views, homes
    workspace._last_ts_micros, workspace._serial = last_ts, serial
    workspace.files = files
    workspace._triggers.clear()
    workspace._modal_stacks.clear()
    plisio.invoices, plisio._seq = invoices, seq
    plisio.requests.clear()
    for name, double in (doubles or {}).items():
        part = data.get(name)
        if part is None:
            double.reset()
            continue
        try:
            double.load(part)
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            logger.warning("sandbox: ignored the saved %s (%r); it starts empty", name, exc)
            double.reset()
