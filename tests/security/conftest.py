"""Security fixtures: an ``Env`` to start rigs in, and the attack matrix's summary."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from storage import migrate
from tests.security import tally
from tests.security.rigs import Env


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the newest schema, made once: a hundred apps start here, and
    each would otherwise spend most of its start-up migrating an empty file."""
    path = tmp_path_factory.mktemp("schema") / "t.db"
    asyncio.run(migrate.upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def database(tmp_path: Path, migrated: Path) -> Path:
    """``tmp_path/t.db``, already migrated (the app still runs its migrations, which find
    nothing to do): where every rig's settings point."""
    path = tmp_path / "t.db"
    shutil.copyfile(migrated, path)
    return path


@pytest.fixture
async def env(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, tmp_path: Path, database: Path
) -> AsyncIterator[Env]:
    """Where a rig starts its fakes and apps (on ``database``); closed after the test."""
    async with aiohttp.ClientSession() as http, AsyncExitStack() as stack:
        yield Env(aiohttp_client, aiohttp_server, tmp_path, http, stack)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the attack matrix's counts per platform (and what did not apply, and why) and
    how many generated bodies each parser and endpoint was fed."""
    lines = tally.table()
    if lines:
        terminalreporter.section("inbound under attack")
        for line in lines:
            terminalreporter.write_line(line)
        terminalreporter.write_line("")
        for line in tally.not_applicable():
            terminalreporter.write_line(f"n/a  {line}")
    totals = tally.fuzz_totals()
    if totals:
        terminalreporter.section("generated bodies")
        for line in totals:
            terminalreporter.write_line(line)
