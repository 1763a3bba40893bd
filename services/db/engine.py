"""The database: an async engine, sessions, start-up migrations and a health check.

SQLite (aiosqlite) is the embedded default: WAL so readers never block the writer, a busy timeout
so writers queue instead of failing, and ``BEGIN IMMEDIATE`` so a transaction that reads then
writes takes the write lock up front (a deferred one can fail with "database is locked" when it
tries to upgrade). PostgreSQL (asyncpg) is the scale-out path.
"""

from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = ["Database", "DatabaseUnavailable", "is_unavailable", "normalise_url"]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# PostgreSQL's counterpart: a statement waiting this long for a lock gives up (SQLSTATE 55P03), so
# a table locked by hand or by a stuck session answers "busy, retry" instead of hanging requests.
POSTGRES_LOCK_TIMEOUT_MS = 5000
# SQLSTATEs worth a retry: lock not available, query cancelled (timeouts), serialization failure,
# deadlock, and the connection-exception class.
_RETRYABLE_SQLSTATES = frozenset({"55P03", "57014", "40001", "40P01"})
READ_ONLY_OPTION = "finance_bot_read_only"  # execution option of ``Database.reads`` sessions


def _json_dumps(value: Any) -> str:
    """JSON columns' serializer: orjson (several times faster than ``json``), else ``json``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # what orjson will not write (an integer beyond 64 bits, say)
        return json.dumps(value)


class DatabaseUnavailable(Exception):
    """The database could not be reached or stayed locked; the caller should retry later."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means "the database is busy or away for now" rather than a bug."""
    if isinstance(exc, OperationalError | PoolTimeout | OSError):
        return True
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(code, str) and (code in _RETRYABLE_SQLSTATES or code.startswith("08"))
    return False


def normalise_url(url: str) -> str:
    """Pick the async driver for a plain URL (postgresql:// -> asyncpg, sqlite:// -> aiosqlite)."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # ``Database.reads`` sessions only read: a deferred BEGIN reads the WAL snapshot without
        # taking the one write lock (an IMMEDIATE read queued behind every writer, and made them
        # wait for it: "database is locked" after the busy timeout under load).
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory."""

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = 10, schema: str | None = None
    ) -> None:
        self.url = normalise_url(url)
        self.schema = schema
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {
            "echo": echo,
            "pool_pre_ping": not self.is_sqlite,
            "json_serializer": _json_dumps,
            "json_deserializer": orjson.loads,
        }
        if self.is_sqlite:
            _prepare_sqlite_file(self.url)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            server_settings = {"lock_timeout": str(POSTGRES_LOCK_TIMEOUT_MS)}
            if schema:
                # Tests (and shared servers) keep each instance in its own schema.
                server_settings["search_path"] = schema
            kwargs["connect_args"] = {"server_settings": server_settings}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_pragmas(self.engine)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        # Sessions that only read (a connector loading its handoff, a message being drawn): on
        # SQLite they never take the write lock; elsewhere they are ordinary sessions.
        self.reads: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    @property
    def backend(self) -> str:
        return "sqlite" if self.is_sqlite else make_url(self.url).get_backend_name()

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return config

    async def migrate(self) -> None:
        """Apply every Alembic migration not yet applied (run at start-up)."""
        config = self.alembic_config()

        def _upgrade(connection: Any) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

        async with self.engine.begin() as connection:
            if not self.is_sqlite:
                # Replicas starting together take turns: the first migrates, the rest find the
                # schema at head (SQLite's BEGIN IMMEDIATE already serialises them).
                key = zlib.crc32(f"finance-handoff-bot:migrate:{self.schema or ''}".encode())
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            await connection.run_sync(_upgrade)
        logger.info("database schema up to date", extra={"backend": self.backend})

    async def ping(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            logger.warning("database ping failed", exc_info=True)
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
