"""Bring a database to the newest schema with Alembic (``ackgate db upgrade``, and on start)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, schema: str | None = None) -> Config:
    """An Alembic config for ``url`` without an alembic.ini on disk."""
    cfg = Config()
    if schema:
        cfg.set_main_option("schema", schema)
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(url: str, schema: str | None = None) -> None:
    """Apply every pending migration (Alembic runs its own loop, so in a thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(url, schema), "head")
