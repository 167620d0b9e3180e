"""Signed incident links: an expired or tampered link opens nothing and acts on nothing, with a
page that says which; and a link used again after its incident was closed cannot act on it,
except to reopen it (the closed page's one button) or to add a comment (its one form).

The attack matrix (``test_attacks.py``, rig "signed link") sends the same forgeries to the
action form with a control; these look at the pages people see.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from gateway import messages
from gateway.clock import ManualClock
from gateway.links import LinkSigner
from gateway.web.app import create_app
from gateway.web.keys import SIGNER
from tests.security.rigs import API, NOW, changes, ingest, snapshot
from tests.support import make_settings

Client = TestClient[Any, Any]
INVALID = messages.text("link_invalid", "en")
EXPIRED = messages.text("link_expired", "en")


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, database: Path) -> Client:
    """The app with incident #1 open (and #2, for links to another incident)."""
    settings = make_settings(f"sqlite+aiosqlite:///{database}")
    c: Client = await aiohttp_client(create_app(settings, clock=ManualClock(NOW), workers=False))
    assert await ingest(c) == 1
    assert await ingest(c, "dba-firing.json") == 2
    return c


def token(client: Client, member: str = "alice", number: int = 1, ttl_h: float = 1) -> str:
    """A link token as a notice carries it (the app's clock stands at NOW)."""
    signer: LinkSigner = client.app[SIGNER]
    return signer.token(member, number, NOW + timedelta(hours=ttl_h))


def edited(link: str, member: str, number: int, expires: int) -> str:
    """``link``'s signature on a payload that says something else."""
    signature = link.rpartition(".")[2]
    raw = json.dumps([member, number, expires], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + signature


async def act(client: Client, link: str, verb: str, **form: str) -> tuple[int, str]:
    """Press ``verb`` on incident 1's page opened through ``link``; status and page shown."""
    r = await client.post(
        "/incidents/1/actions", data={"verb": verb, "t": link, **form}, allow_redirects=False
    )
    if r.status != 303:
        return r.status, await r.text()
    shown = await client.get(r.headers["Location"])
    return r.status, await shown.text()


async def incident(client: Client) -> dict[str, Any]:
    r = await client.get("/v1/incidents/1", headers=API)
    doc: dict[str, Any] = (await r.json())["incident"]
    return doc


async def test_an_expired_link_says_so_and_acts_on_nothing(client: Client) -> None:
    link = token(client, ttl_h=-0.01)
    before = await snapshot(client.app)
    r = await client.get("/incidents/1", params={"t": link})
    assert r.status == 401
    page = await r.text()
    assert EXPIRED in page
    assert "5xx ratio" not in page  # nothing of the incident is shown
    status, page = await act(client, link, "ack")
    assert (status, EXPIRED in page) == (401, True)
    assert changes(before, await snapshot(client.app)) == []
    fresh = token(client)
    assert (await client.get("/incidents/1", params={"t": fresh})).status == 200  # control


@pytest.mark.parametrize(
    "tamper",
    ["member", "incident", "expiry", "signature", "truncated"],
)
async def test_a_tampered_link_opens_nothing(client: Client, tamper: str) -> None:
    link = token(client)
    expires = int((NOW + timedelta(hours=1)).timestamp())
    forged = {
        "member": edited(link, "bob", 1, expires),
        "incident": edited(link, "alice", 2, expires),
        "expiry": edited(link, "alice", 1, expires + 30 * 86_400),
        "signature": link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"),
        "truncated": link[: len(link) // 2],
    }[tamper]
    before = await snapshot(client.app)
    r = await client.get("/incidents/1", params={"t": forged})
    assert r.status == 401
    page = await r.text()
    assert INVALID in page
    assert "5xx ratio" not in page
    status, page = await act(client, forged, "ack")
    assert (status, INVALID in page) == (401, True)
    assert changes(before, await snapshot(client.app)) == []
    status, _page = await act(client, link, "ack")  # control: the genuine link acts
    assert status == 303
    assert (await incident(client))["status"] == "acknowledged"


async def test_a_genuine_link_opens_only_its_own_incident(client: Client) -> None:
    link = token(client, number=2)
    assert (await client.get("/incidents/2", params={"t": link})).status == 200
    r = await client.get("/incidents/1", params={"t": link})
    assert r.status == 401
    assert INVALID in await r.text()


async def test_a_link_after_close_cannot_act_but_reopen_or_comment(client: Client) -> None:
    link = token(client)
    status, page = await act(client, link, "ack")
    assert status == 303
    status, page = await act(client, link, "close")
    assert "Closed by alice" in page
    closed = await snapshot(client.app)
    refused = messages.text("refused_closed", "en", number=1)
    for verb, form in (
        ("close", {}),
        ("ack", {}),
        ("escalate", {}),
        ("escalate", {"member": "bob"}),
        ("snooze", {"minutes": "60"}),
        ("assign", {"member": "bob"}),
        ("severity", {"severity": "info"}),
    ):
        status, page = await act(client, link, verb, **form)
        assert status == 303, verb
        assert refused in page, verb
        assert changes(closed, await snapshot(client.app)) == [], verb
    doc = await incident(client)
    assert (doc["status"], doc["severity"]) == ("closed", "critical")

    # What the closed page offers still works: a comment, and an explicit reopen.
    status, page = await act(client, link, "comment", text="root cause: the disk")
    assert "root cause: the disk" in page
    status, page = await act(client, link, "reopen")
    assert (await incident(client))["status"] == "triggered"
    status, page = await act(client, link, "ack")  # open again, the link acts again
    assert (await incident(client))["status"] == "acknowledged"
