"""The sandbox keeps its world: snapshot round trip, debounced saves, restore, and reset."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from sandbox.persist import WORLD_TABLE, SandboxWorld
from sandbox.plisio import FakePlisio
from sandbox.slack_state import Demo, SlackWorkspace
from sandbox.snapshot import SnapshotError, dump_world, load_world
from services.db.engine import Database

MODAL = {
    "type": "modal",
    "callback_id": "escalate",
    "title": {"type": "plain_text", "text": "Escalate"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Why?"}}],
}
HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "3"}}]}


def busy_world() -> tuple[SlackWorkspace, FakePlisio]:
    """A workspace with a post, a thread reply, an ephemeral, a Home tab and an open modal."""
    ws = SlackWorkspace.demo()
    parent = ws.post_message(Demo.FINANCE, text="Create invoice · Harbor & Finch", blocks=[])
    ws.post_message(Demo.FINANCE, text="Approved by Ana", thread_ts=parent.ts)
    ws.post_ephemeral(Demo.FINANCE, Demo.OUTSIDER, text="Only finance approvers may approve")
    ws.publish_home(Demo.APPROVER_1, HOME)
    ws.open_view(ws.issue_trigger_id(Demo.APPROVER_1), MODAL)
    plisio = FakePlisio("secret", public_url="http://127.0.0.1:8080/sandbox/plisio")
    plisio.add_invoice(
        order_number="handoff-1",
        order_name="Harbor & Finch",
        source_amount=Decimal("4200.50"),
        email="ap@harborfinch.example",
        callback_url="http://127.0.0.1:8080/plisio/callback",
    )
    return ws, plisio


def fresh() -> tuple[SlackWorkspace, FakePlisio]:
    return SlackWorkspace.demo(), FakePlisio("another secret")


def test_a_round_trip_keeps_channels_threads_home_and_invoices_but_not_modals() -> None:
    ws, plisio = busy_world()
    stored = json.loads(json.dumps(dump_world(ws, plisio)))  # what the database holds
    again, fake = fresh()
    load_world(again, fake, stored)

    finance = again.channels[Demo.FINANCE]
    assert [m.text for m in finance.visible()] == ["Create invoice · Harbor & Finch"]
    parent = finance.visible()[0]
    assert [finance.messages[r].text for r in parent.replies] == ["Approved by Ana"]
    assert [e.user for e in again.ephemerals] == [Demo.OUTSIDER]
    home = again.views[again.home_views[Demo.APPROVER_1]]
    assert home.blocks == HOME["blocks"]
    assert again.open_modals() == []  # a restart closes every modal
    (invoice,) = fake.invoices.values()
    assert invoice.source_amount == Decimal("4200.50")
    assert invoice.email == "ap@harborfinch.example"
    assert fake.invoices_for_order("handoff-1") == [invoice]
    # New posts and invoices follow the old ones instead of colliding with them.
    later = again.post_message(Demo.FINANCE, text="later")
    assert float(later.ts) > float(parent.ts)
    assert fake.add_invoice(order_number="h2", order_name="x", source_amount=Decimal(1)).seq == 2
    # Home can be published again over the restored view (same id, as in Slack).
    assert again.publish_home(Demo.APPROVER_1, HOME).id == home.id


@pytest.mark.parametrize(
    "stored",
    [{"format": 0}, {"format": 1}, {"format": 1, "slack": {}, "plisio": {}}, []],
)
def test_an_unreadable_snapshot_changes_nothing(stored: object) -> None:
    ws, plisio = busy_world()
    before = dump_world(ws, plisio)
    with pytest.raises(SnapshotError):
        load_world(ws, plisio, stored)  # type: ignore[arg-type]
    assert dump_world(ws, plisio) == before


async def saved_rows(db: Database) -> int:
    async with db.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(WORLD_TABLE)) or 0)


async def test_changes_are_saved_once_after_a_pause_and_restored_after_a_restart(
    database: Database,
) -> None:
    ws, plisio = fresh()
    world = SandboxWorld(database, ws, plisio, delay=0.05)
    ws.on_change.append(world.mark_changed)
    plisio.on_change.append(world.mark_changed)
    assert await world.restore() is False  # nothing saved yet: the demo workspace as it is
    saves: list[int] = []
    original = world.save

    async def counted() -> None:
        saves.append(1)
        await original()

    world.save = counted  # type: ignore[method-assign]
    for n in range(20):
        ws.post_message(Demo.FINANCE, text=f"message {n}")
    plisio.add_invoice(order_number="h1", order_name="Harbor", source_amount=Decimal("10"))
    await asyncio.sleep(0.3)
    assert len(saves) == 1  # twenty-one changes, one write
    ws.post_message(Demo.DISPUTES, text="just before shut-down")
    await world.flush()  # does not wait for the pause
    assert len(saves) == 2

    after, fake = fresh()
    changed: list[bool] = []
    restarted = SandboxWorld(database, after, fake, changed=lambda: changed.append(True))
    assert await restarted.restore() is True
    assert len(after.channels[Demo.FINANCE].visible()) == 20
    assert [m.text for m in after.channels[Demo.DISPUTES].visible()] == ["just before shut-down"]
    assert [i.order_number for i in fake.invoices.values()] == ["h1"]
    assert changed == [True]  # the page is told to redraw
    assert await saved_rows(database) == 1


async def test_a_restore_keeps_channels_and_people_added_since_the_save(
    database: Database,
) -> None:
    ws, plisio = fresh()
    ws.post_message(Demo.FINANCE, text="kept")
    await SandboxWorld(database, ws, plisio).save()
    after, fake = fresh()
    after.add_channel("C0NEWROUTE", "finance-new")  # an operator's routing names a new channel
    after.add_user("U0NEWLEAD", "nia", "Nia New")
    await SandboxWorld(database, after, fake).restore()
    assert after.resolve_channel("#finance-new").id == "C0NEWROUTE"
    assert after.user("U0NEWLEAD").real_name == "Nia New"
    assert [m.text for m in after.channels[Demo.FINANCE].visible()] == ["kept"]


async def test_a_damaged_save_is_ignored(database: Database) -> None:
    ws, plisio = fresh()
    await SandboxWorld(database, ws, plisio).save()
    async with database.engine.begin() as connection:
        await connection.execute(WORLD_TABLE.update().values(body="{not json"))
    after, fake = fresh()
    after.post_message(Demo.FINANCE, text="still here")
    assert await SandboxWorld(database, after, fake).restore() is False
    assert [m.text for m in after.channels[Demo.FINANCE].visible()] == ["still here"]


async def test_reset_empties_the_bots_tables_the_workspace_and_plisio_together(
    database: Database,
) -> None:
    ws, plisio = fresh()
    world = SandboxWorld(database, ws, plisio, delay=0.05)
    ws.on_change.append(world.mark_changed)
    ws.post_message(Demo.FINANCE, text="a handoff")
    plisio.add_invoice(order_number="h1", order_name="Harbor", source_amount=Decimal("10"))
    async with database.engine.begin() as connection:
        # An audit row: append-only (triggers refuse DELETE), so only dropping the table empties it.
        await connection.execute(
            text(
                "INSERT INTO audit_log (handoff_id, action, actor, at, detail)"
                " VALUES (NULL, 'handoff.received', 'dialnexa', CURRENT_TIMESTAMP, '{}')"
            )
        )
    await world.reset()

    assert ws.channels[Demo.FINANCE].messages == {}
    assert plisio.invoices == {}
    assert Demo.APPROVER_1 in ws.users  # the demo directory stays
    async with database.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM audit_log")) == 0
        assert await connection.scalar(text("SELECT count(*) FROM handoffs")) == 0
    # The audit log is append-only again after the re-migration.
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_log (handoff_id, action, actor, at, detail)"
                " VALUES (NULL, 'handoff.received', 'dialnexa', CURRENT_TIMESTAMP, '{}')"
            )
        )
    with pytest.raises(Exception, match="append-only"):
        async with database.engine.begin() as connection:
            await connection.execute(text("DELETE FROM audit_log"))
    after, fake = fresh()
    await SandboxWorld(database, after, fake).restore()
    assert after.channels[Demo.FINANCE].messages == {}
    assert fake.invoices == {}
