"""Engines and transactions: SQLite (WAL, one writer) by default, PostgreSQL for replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


class Database:
    """Hands out read and write transactions.

    SQLite allows one writer at a time, so writes go through a one-connection engine that
    opens ``BEGIN IMMEDIATE`` (no lock upgrades that fail mid-transaction); reads use a
    separate engine and never wait for a writer under WAL. PostgreSQL uses one pool for both.
    """

    def __init__(self, url: str, pool_size: int = 10, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.writer = _sqlite_engine(url, immediate=True, pool_size=1)
            self.reader = _sqlite_engine(url, immediate=False, pool_size=pool_size)
        else:
            self.writer = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                connect_args=postgres_connect_args(schema),
                **JSON_CODEC,
            )
            self.reader = self.writer

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.writer.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that may write; commits on success, rolls back on error."""
        async with self.writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def dry_run(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction that is always rolled back: see what would happen, keep nothing."""
        async with self.writer.connect() as conn:
            tx = await conn.begin()
            try:
                yield conn
            finally:
                await tx.rollback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (a consistent snapshot)."""
        async with self.reader.connect() as conn, conn.begin():
            yield conn

    async def ping(self) -> None:
        """Raises if the database cannot answer a trivial query."""
        async with self.reader.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def postgres_connect_args(schema: str | None) -> dict[str, Any]:
    """asyncpg arguments that put every table in ``schema`` (when given)."""
    return {"server_settings": {"search_path": schema}} if schema else {}


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (card payloads, labels) are encoded on every write: orjson does it several
# times faster than the standard library, which shows in the latency of every click.
JSON_CODEC: dict[str, Any] = {"json_serializer": _dumps, "json_deserializer": orjson.loads}


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> AsyncEngine:
    memory = ":memory:" in url
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 30}}
    if memory:
        kwargs["poolclass"] = NullPool
    else:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = 0
    engine = create_async_engine(url, **kwargs, **JSON_CODEC)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
