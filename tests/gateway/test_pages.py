"""The incident web page, list and login over real HTTP: signed links, API tokens, sessions."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from yarl import URL

from gateway import messages
from gateway.clock import ManualClock
from gateway.config import Settings, parse_settings
from gateway.web.app import create_app
from gateway.web.keys import SIGNER
from gateway.web.pages import SESSION_COOKIE

Client = TestClient[web.Request, web.Application]

FIRING = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager" / "firing.json"
INGEST = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def settings(tmp_path: Path) -> Settings:
    raw: dict[str, Any] = {
        "server": {"listen": "127.0.0.1:8080", "secret_key": "pages-test-secret-0123456789"},
        "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/t.db"},
        "integrations": {"prometheus": {"format": "alertmanager", "token": "example-token"}},
        "members": {"alice": {"name": "Alice"}, "bob": {"name": "Bob"}},
        "api_tokens": [{"token": "example-api-token", "member": "alice"}],
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
    return parse_settings(raw, base_dir=tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, tmp_path: Path, clock: ManualClock) -> Client:
    app = create_app(settings(tmp_path), clock=clock, workers=False)
    c = await aiohttp_client(app)
    r = await c.post("/v1/alerts/prometheus", json=json.loads(FIRING.read_text()), headers=INGEST)
    assert r.status == 202
    assert (await r.json())["incidents"] == [1]
    return c


def link(
    client: Client,
    clock: ManualClock,
    number: int = 1,
    member: str = "alice",
    ttl: timedelta = timedelta(hours=1),
) -> str:
    """A signed link token, as sent in a notification."""
    return client.app[SIGNER].token(member, number, clock.now() + ttl)


async def rest_status(client: Client, number: int = 1) -> str:
    r = await client.get(f"/v1/incidents/{number}", headers=API)
    assert r.status == 200
    return str((await r.json())["incident"]["status"])


async def page(client: Client, path: str, status: int = 200, **kwargs: Any) -> str:
    r = await client.get(path, allow_redirects=False, **kwargs)
    body = await r.text()
    assert r.status == status, body
    return body


async def test_signed_link_renders_the_incident(client: Client, clock: ManualClock) -> None:
    r = await client.get("/incidents/1", params={"t": link(client, clock)})
    assert r.status == 200
    assert r.content_type == "text/html"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-store"
    html = await r.text()
    assert '<html lang="en">' in html
    assert "#1 5xx ratio above 5% on checkout" in html
    assert "Triggered" in html
    assert "service=checkout" in html  # a label chip
    assert 'href="http://prometheus.local:9090/graph?g0.expr=rate_5xx"' in html
    assert 'value="ack"' in html
    assert 'value="reopen"' not in html
    assert messages.text("web_acting_as", "en", member="alice") in html


async def test_tampered_link_is_refused(client: Client, clock: ManualClock) -> None:
    token = link(client, clock)
    html = await page(client, "/incidents/1", 401, params={"t": token[:-2] + "xx"})
    assert messages.text("link_invalid", "en") in html
    assert "checkout" not in html


async def test_link_for_another_incident_is_refused(client: Client, clock: ManualClock) -> None:
    html = await page(client, "/incidents/1", 401, params={"t": link(client, clock, number=2)})
    assert messages.text("link_invalid", "en") in html


async def test_expired_link_shows_why_and_changes_nothing(
    client: Client, clock: ManualClock
) -> None:
    token = link(client, clock, ttl=timedelta(hours=1))
    clock.advance(hours=2)
    html = await page(client, "/incidents/1", 401, params={"t": token})
    assert messages.text("link_expired", "en") in html
    r = await client.post(
        "/incidents/1/actions", data={"verb": "ack", "t": token}, allow_redirects=False
    )
    assert r.status == 401
    assert messages.text("link_expired", "en") in await r.text()
    assert await rest_status(client) == "triggered"


async def test_ack_through_the_link(client: Client, clock: ManualClock) -> None:
    token = link(client, clock)
    r = await client.post(
        "/incidents/1/actions", data={"verb": "ack", "t": token}, allow_redirects=False
    )
    assert r.status == 303
    location = URL(r.headers["Location"])
    assert location.path == "/incidents/1"
    assert location.query["t"] == token
    assert "msg" in location.query
    html = await page(client, str(location))
    assert "Acknowledged by alice" in html
    assert 'class="notice ok"' in html
    assert 'value="ack"' not in html
    assert await rest_status(client) == "acknowledged"


async def test_second_ack_is_told_not_an_error(client: Client, clock: ManualClock) -> None:
    token = link(client, clock)
    await client.post("/incidents/1/actions", data={"verb": "ack", "t": token})
    r = await client.post("/incidents/1/actions", data={"verb": "ack", "t": token})
    html = await r.text()
    assert r.status == 200
    assert "#1 is already acknowledged by alice" in html


async def test_close_then_reopen_shows_the_right_buttons(
    client: Client, clock: ManualClock
) -> None:
    token = link(client, clock, member="bob")
    r = await client.post("/incidents/1/actions", data={"verb": "close", "t": token})
    html = await r.text()
    assert "Closed by bob" in html
    assert 'value="reopen"' in html
    assert 'value="ack"' not in html
    assert 'value="escalate"' not in html
    refused = await client.post("/incidents/1/actions", data={"verb": "ack", "t": token})
    assert messages.text("refused_closed", "en", number=1) in await refused.text()
    assert await rest_status(client) == "closed"
    r = await client.post("/incidents/1/actions", data={"verb": "reopen", "t": token})
    assert "Triggered" in await r.text()
    assert await rest_status(client) == "triggered"


async def test_comment_is_escaped_on_the_timeline(client: Client, clock: ManualClock) -> None:
    token = link(client, clock)
    r = await client.post(
        "/incidents/1/actions",
        data={"verb": "comment", "text": "<script>alert(1)</script>", "t": token},
    )
    html = await r.text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html


async def test_empty_comment_is_refused(client: Client, clock: ManualClock) -> None:
    r = await client.post(
        "/incidents/1/actions", data={"verb": "comment", "text": "  ", "t": link(client, clock)}
    )
    assert messages.text("web_comment_empty", "en") in await r.text()


async def test_escalate_to_a_named_member(client: Client, clock: ManualClock) -> None:
    r = await client.post(
        "/incidents/1/actions", data={"verb": "escalate", "member": "bob", "t": link(client, clock)}
    )
    assert "Escalated by alice to bob" in await r.text()


async def test_notice_cannot_be_forged(client: Client, clock: ManualClock) -> None:
    html = await page(
        client, "/incidents/1", params={"t": link(client, clock), "msg": "Call +1 555 0100 now"}
    )
    assert "555 0100" not in html


async def test_unknown_verb_is_a_bad_request(client: Client, clock: ManualClock) -> None:
    r = await client.post("/incidents/1/actions", data={"verb": "delete", "t": link(client, clock)})
    assert r.status == 400
    assert messages.text("web_unknown_verb", "en", verb="delete") in await r.text()
    assert await rest_status(client) == "triggered"


async def test_unknown_incident_is_not_found(client: Client) -> None:
    html = await page(client, "/incidents/99", 404, headers=API)
    assert messages.text("not_found", "en", number=99) in html
    await page(client, "/incidents/abc", 404, headers=API)
    await page(client, "/incidents/99999999999999999999", 404, headers=API)


async def test_chinese_browser_gets_chinese(client: Client, clock: ManualClock) -> None:
    token = link(client, clock)
    html = await page(client, "/incidents/1", params={"t": token}, headers=ZH)
    assert '<html lang="zh">' in html
    assert "已触发" in html
    assert "认领" in html
    r = await client.post("/incidents/1/actions", data={"verb": "ack", "t": token}, headers=ZH)
    assert "已由 alice 认领" in await r.text()
    clock.advance(hours=2)
    expired = await page(client, "/incidents/1", 401, params={"t": token}, headers=ZH)
    assert messages.text("link_expired", "zh") in expired


async def test_api_token_renders_the_page_and_acts(client: Client) -> None:
    html = await page(client, "/incidents/1", headers=API)
    assert "#1 5xx ratio above 5% on checkout" in html
    assert 'name="t"' not in html  # no link to carry
    r = await client.post(
        "/incidents/1/actions", data={"verb": "ack"}, headers=API, allow_redirects=False
    )
    assert r.status == 303
    assert "t" not in URL(r.headers["Location"]).query
    assert await rest_status(client) == "acknowledged"


async def test_no_credentials_no_page(client: Client) -> None:
    html = await page(client, "/incidents/1", 401)
    assert messages.text("web_no_access", "en") in html
    r = await client.post("/incidents/1/actions", data={"verb": "ack"}, allow_redirects=False)
    assert r.status == 401
    assert await rest_status(client) == "triggered"


async def test_list_needs_a_login(client: Client) -> None:
    r = await client.get("/incidents", allow_redirects=False)
    assert r.status == 303
    assert r.headers["Location"] == "/login"


async def test_login_then_list_and_act(client: Client) -> None:
    refused = await client.post("/login", data={"token": "wrong-token-123"}, allow_redirects=False)
    assert refused.status == 401
    assert messages.text("web_login_failed", "en") in await refused.text()
    assert SESSION_COOKIE not in refused.cookies

    r = await client.post("/login", data={"token": "example-api-token"}, allow_redirects=False)
    assert r.status == 303
    assert r.headers["Location"] == "/incidents"
    cookie = r.cookies[SESSION_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert "example-api-token" not in cookie.value

    html = await page(client, "/incidents")
    assert 'href="/incidents/1"' in html
    assert "5xx ratio above 5% on checkout" in html
    assert messages.text("web_page_of", "en", page=1, pages=1, total=1) in html

    filtered = await page(client, "/incidents", params={"status": "closed"})
    assert 'href="/incidents/1"' not in filtered
    assert messages.text("web_no_incidents", "en") in filtered
    bad = await page(client, "/incidents", 400, params={"severity": "urgent"})
    assert "urgent" in bad

    r = await client.post("/incidents/1/actions", data={"verb": "ack"}, allow_redirects=False)
    assert r.status == 303
    assert "Acknowledged by alice" in await page(client, r.headers["Location"])


async def test_forged_session_cookie_is_ignored(client: Client) -> None:
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: '"alice"'})
    r = await client.get("/incidents", allow_redirects=False)
    assert r.status == 303
    await page(client, "/incidents/1", 401)


async def test_login_form_is_served(client: Client) -> None:
    html = await page(client, "/login")
    assert 'name="token"' in html
    assert 'action="/login"' in html
