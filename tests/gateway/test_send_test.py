"""``ackgate send-test``: a destination is checked end to end before any incident needs it."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from tests.fakes.webhook import PATH, FakeWebhook, Reply

ROOT = Path(__file__).resolve().parents[2]


async def run(config: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "send-test",
        *args,
        "--config",
        str(config),
        cwd=config.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def config_with_webhook(aiohttp_server: Any, tmp_path: Path) -> tuple[FakeWebhook, Path]:
    fake = FakeWebhook()
    server: TestServer = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(PATH))
    shutil.copy(ROOT / "config.example.toml", tmp_path / "config.toml")
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text()
        + f'''
[[services.default.notify]]
kind = "webhook"
url = "{fake.url}"
'''
    )
    return fake, config


async def test_send_test_reaches_the_destination(aiohttp_server: Any, tmp_path: Path) -> None:
    fake, config = await config_with_webhook(aiohttp_server, tmp_path)
    code, out, err = await run(config, "services.default.notify[0]")
    assert code == 0, err
    assert out.startswith("OK services.default.notify[0] (webhook)")
    [received] = fake.received
    assert received.json["event"] == "incident.test"
    assert received.json["incident"]["title"].startswith("ackgate test notice")
    assert not (tmp_path / "ackgate.db").exists()  # nothing stored


async def test_send_test_reports_a_refusal(aiohttp_server: Any, tmp_path: Path) -> None:
    fake, config = await config_with_webhook(aiohttp_server, tmp_path)
    fake.script(Reply(403, {"error": "no"}))
    code, out, _ = await run(config, "services.default.notify[0]")
    assert code == 1
    assert out.startswith("FAILED services.default.notify[0] (webhook): AuthFailed")


async def test_send_test_names_a_bad_destination(aiohttp_server: Any, tmp_path: Path) -> None:
    _, config = await config_with_webhook(aiohttp_server, tmp_path)
    code, _, err = await run(config, "services.default.notify[3]")
    assert code == 1
    assert "services.default has 1 destination(s)" in err
    code, _, err = await run(config, "default")
    assert "services.<service>.notify[<n>]" in err
