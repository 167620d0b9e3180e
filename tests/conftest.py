"""Shared fixtures: a fresh SQLite database, PostgreSQL schemas, a fake webhook receiver."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from pytest_aiohttp import AiohttpServer
from sqlalchemy.ext.asyncio import create_async_engine

from storage import tables
from storage.engine import Database
from tests.fakes.webhook import PATH, FakeWebhook

POSTGRES_URL_ENV = "ACKGATE_TEST_POSTGRES_URL"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """An empty SQLite database in a temporary file, with every table."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    async with database.write() as conn:
        await conn.run_sync(tables.metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def pg_databases() -> AsyncIterator[Callable[[], Database]]:
    """Makes Database objects (separate pools, like replicas) over one fresh PostgreSQL schema.

    Skips unless ``ACKGATE_TEST_POSTGRES_URL`` names a server; the schema is dropped after.
    """
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_URL_ENV} not set: PostgreSQL tests need a server")
    schema = f"t_{uuid.uuid4().hex}"
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    made: list[Database] = []

    def make() -> Database:
        database = Database(url, schema=schema)
        made.append(database)
        return database

    async with make().write() as conn:
        await conn.run_sync(tables.metadata.create_all)
    try:
        yield make
    finally:
        for database in made:
            await database.dispose()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def webhook(aiohttp_server: AiohttpServer) -> FakeWebhook:
    """A fake webhook receiver on an ephemeral loopback port; ``webhook.url`` is where to POST."""
    fake = FakeWebhook()
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(PATH))
    return fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session for senders."""
    async with aiohttp.ClientSession() as session:
        yield session
