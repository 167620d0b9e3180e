"""A real Chromium opens a signed incident link on a phone-sized screen and acknowledges."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext, ViewportSize, async_playwright, expect
from pytest_aiohttp import AiohttpServer

from gateway.config import Settings, parse_settings
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME, SIGNER

FIRING = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager" / "firing.json"
PHONE: ViewportSize = {"width": 390, "height": 844}
# Chromium otherwise keeps dialling outside hosts (see the platform notes, section 5).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 15_000


def settings(tmp_path: Path) -> Settings:
    raw = {
        "server": {"listen": "127.0.0.1:8080", "secret_key": "browser-test-secret-0123456789"},
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/t.db"},
        "integrations": {"prometheus": {"format": "alertmanager", "token": "example-token"}},
        "members": {"alice": {"name": "Alice"}, "bob": {"name": "Bob"}},
        "api_tokens": [{"token": "example-api-token", "member": "alice"}],
        "services": {"default": {"escalation": {"levels": [{"targets": ["alice"]}]}}},
    }
    return parse_settings(raw, base_dir=tmp_path)


def chromium_path() -> str:
    """Debian's Chromium; a missing browser fails under CI and skips (visibly) elsewhere."""
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian Chromium not found on PATH (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@asynccontextmanager
async def phone(locale: str) -> AsyncIterator[BrowserContext]:
    """A phone-sized, JavaScript-less browser context in Debian's Chromium.

    Launched inside the test (not in a fixture) so a missing browser under CI is a failure.
    """
    executable = chromium_path()
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                viewport=PHONE,
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                locale=locale,
                java_script_enabled=False,
            )
            context.set_default_timeout(TIMEOUT_MS)
            yield context
            await context.close()
        finally:
            await browser.close()


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, tmp_path: Path) -> TestServer:
    srv = await aiohttp_server(create_app(settings(tmp_path), workers=False), host="127.0.0.1")
    async with aiohttp.ClientSession() as http:
        r = await http.post(
            srv.make_url("/v1/alerts/prometheus"),
            json=json.loads(FIRING.read_text()),
            headers={"Authorization": "Bearer example-token"},
        )
        assert r.status == 202
        assert (await r.json())["incidents"] == [1]
    return srv


async def rest_status(server: TestServer) -> str:
    async with aiohttp.ClientSession() as http:
        r = await http.get(
            server.make_url("/v1/incidents/1"),
            headers={"Authorization": "Bearer example-api-token"},
        )
        assert r.status == 200
        return str((await r.json())["incident"]["status"])


def signed_link(server: TestServer) -> str:
    app = server.app
    assert app is not None
    rt = app[RUNTIME]
    base = str(server.make_url("")).rstrip("/")
    return app[SIGNER].url(base, "alice", 1, rt.clock.now(), timedelta(hours=1))


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
async def test_acknowledge_from_a_phone_without_javascript(
    server: TestServer, tmp_path: Path, locale: str
) -> None:
    async with phone(locale) as context:
        page = await context.new_page()
        response = await page.goto(signed_link(server))
        assert response is not None
        assert response.status == 200
        await expect(page.locator("h1")).to_contain_text("#1 5xx ratio above 5% on checkout")
        await page.screenshot(path=tmp_path / f"incident-{locale}-before.png", full_page=True)

        english = locale == "en-US"
        ack = page.get_by_role("button", name="Acknowledge" if english else "认领", exact=True)
        await ack.click()
        await expect(page.locator("#status-by")).to_have_text(
            "Acknowledged by alice" if english else "已由 alice 认领"
        )
        await expect(page.get_by_role("status")).to_be_visible()
        await expect(ack).to_have_count(0)
        await page.screenshot(path=tmp_path / f"incident-{locale}-after.png", full_page=True)
    assert await rest_status(server) == "acknowledged"


async def test_console_login_lists_and_opens_incidents(server: TestServer, tmp_path: Path) -> None:
    async with phone("en-US") as context:
        page = await context.new_page()
        await page.goto(str(server.make_url("/incidents")))
        await expect(page).to_have_url(str(server.make_url("/login")))
        await page.get_by_label("API token").fill("example-api-token")
        await page.get_by_role("button", name="Log in").click()
        await expect(page).to_have_url(str(server.make_url("/incidents")))
        row_link = page.get_by_role("link", name="#1 5xx ratio above 5% on checkout")
        await expect(row_link).to_be_visible()
        await page.screenshot(path=tmp_path / "incidents.png", full_page=True)
        await row_link.click()
        await expect(page.locator("h1")).to_contain_text("#1 5xx ratio above 5% on checkout")
        await page.get_by_role("button", name="Close").click()
        await expect(page.locator("#status-by")).to_have_text("Closed by alice")
    assert await rest_status(server) == "closed"
