"""Shared test helpers: a settings document like the example config, and PostgreSQL access."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.clock import ManualClock
from gateway.config import Settings, parse_settings
from gateway.runtime import Runtime
from gateway.web.app import sync_members
from storage import migrate
from storage.engine import Database

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_ENV = "ACKGATE_TEST_POSTGRES_URL"

BASE: dict[str, Any] = {
    "server": {"listen": "127.0.0.1:8080", "secret_key": "test-secret-key-0123456789"},
    "integrations": {
        "prometheus": {"format": "alertmanager", "token": "example-token"},
        "events": {"format": "generic", "token": "generic-token-1"},
        "grafana": {"format": "grafana", "token": "grafana-token-1"},
    },
    "members": {
        "alice": {
            "name": "Alice",
            "email": "alice@example.com",
            "identities": [{"platform": "slack", "workspace": "T1", "user_id": "UALICE"}],
        },
        "bob": {"name": "Bob", "email": "bob@example.com"},
    },
    "api_tokens": [
        {"token": "example-api-token", "member": "alice"},
        {"token": "bob-api-token-1", "member": "bob"},
    ],
    "services": {
        "default": {
            "escalation": {
                "levels": [
                    {"targets": ["alice"], "wait_min": 5},
                    {"targets": ["bob"], "wait_min": 5},
                ]
            }
        }
    },
}


def settings_doc(**sections: Any) -> dict[str, Any]:
    """A deep copy of BASE with whole top-level sections replaced or added."""
    doc = copy.deepcopy(BASE)
    doc.update(copy.deepcopy(sections))
    return doc


def make_settings(db_url: str, schema: str | None = None, **sections: Any) -> Settings:
    """Settings on ``db_url`` (and PostgreSQL ``schema``), with sections overridden."""
    doc = settings_doc(**sections)
    doc["database"] = {"url": db_url, **({"schema_name": schema} if schema else {})}
    return parse_settings(doc, base_dir=Path("/nonexistent"))


def fixture(*parts: str) -> Any:
    """A JSON fixture from tests/fixtures."""
    return json.loads(FIXTURES.joinpath(*parts).read_text())


def pg_url() -> str | None:
    """The PostgreSQL URL tests may use, or None."""
    return os.environ.get(PG_ENV) or None


@asynccontextmanager
async def pg_schema(url: str) -> AsyncIterator[str]:
    """A fresh, empty schema dropped afterwards, so PostgreSQL tests never see each other."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


@asynccontextmanager
async def running(settings: Settings, clock: Any = None) -> AsyncIterator[Any]:
    """A migrated Runtime (no HTTP, no background workers) for driving the core directly."""
    db = Database(settings.database.url, schema=settings.database.schema_name)
    await migrate.upgrade(db.url, db.schema)
    rt = Runtime(settings=settings, db=db, clock=clock or ManualClock())
    await sync_members(rt)
    try:
        yield rt
    finally:
        await rt.close()
        await db.dispose()
