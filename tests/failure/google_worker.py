"""A worker process for tests/failure/test_google_crash.py: the outbox loop running
ConnectorRuntime with the real Google Drive and Gmail connectors (their Google token from the
double's token endpoint), until it is killed.

    python -m tests.failure.google_worker DATABASE_URL GOOGLE_ROOT KEY_FILE [SCHEMA]
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bot.settings import Settings
from connectors.gmail import gmail_connector
from connectors.google_drive import drive_connector
from connectors.registry import ConnectorDeps
from connectors.runtime import ConnectorRuntime
from services.db.engine import Database
from services.events import EventLog, OutboxKind, Subscriptions
from services.notes import note_for
from services.outbox import Outbox

LEASE = timedelta(seconds=1)  # work a killed process held is taken up again soon
SENDER = "finance@acme.example"
ROOT_FOLDER = "root-folder"


def now() -> datetime:
    return datetime.now(UTC)


def settings(google_root: str, key_file: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        google_service_account_file=Path(key_file),
        google_api_base=google_root,
        google_delegated_user=SENDER,
        google_drive_folder_id=ROOT_FOLDER,
        gmail_sender=SENDER,
    )


async def main(database_url: str, google_root: str, key_file: str, schema: str | None) -> None:
    db = Database(database_url, schema=schema)
    outbox = Outbox(db, clock=now, lease=LEASE)
    async with httpx.AsyncClient(timeout=5) as http:
        deps = ConnectorDeps(settings=settings(google_root, key_file), db=db, http=http, clock=now)
        on = [drive_connector(deps), gmail_connector(deps)]
        # As the bot wires it: each link the runtime records queues one thread note.
        events = EventLog(Subscriptions({c.name: c.handles for c in on}), notes=note_for)
        runtime = ConnectorRuntime(db, outbox, on, now, events)
        while True:
            items = await outbox.claim(5, kind=OutboxKind.CONNECTOR)
            for item in items:
                await runtime.run(item)
            if not items:
                await asyncio.sleep(0.05)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2], args[3] if len(args) > 3 else None))
