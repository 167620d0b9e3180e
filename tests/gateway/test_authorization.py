"""Who may act on an incident (a service's ``may_act``): every mode, every surface, the refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer
from yarl import URL

from gateway import messages
from gateway.actions import perform
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.domain import ActionRequest, Status, Verb
from gateway.errors import ActionRefused, ConfigError
from gateway.ingest.formats import parse
from gateway.ingest.service import ingest
from gateway.permission import team_of
from gateway.runtime import Runtime
from gateway.web.app import create_app
from gateway.web.keys import SIGNER
from storage import repo
from tests.adapters.slack.conftest import (
    CHANNEL,
    TEAM,
    TOKEN,
    SlackGateway,
    slack_settings,
    text_of,
)
from tests.fakes.slack import API_PREFIX, FakeSlack
from tests.support import fixture, make_settings, pg_schema, pg_url, running

Client = TestClient[web.Request, web.Application]
OpenRuntime = Callable[[str], AbstractAsyncContextManager[Runtime]]

INGEST = {"Authorization": "Bearer example-token"}
ALICE_API = {"Authorization": "Bearer example-api-token"}
BOB_API = {"Authorization": "Bearer bob-api-token-1"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}

MEMBERS: dict[str, Any] = {
    "alice": {"email": "alice@example.com"},
    "bob": {"email": "bob@example.com"},
    "carol": {},  # in group dba, which level 2 pages
    "dave": {},  # takes turns in schedule primary (level 3)
    "erin": {},  # covers primary for a day (an override)
    "frank": {},  # in group leads, which only the service's team list names
    "grace": {},  # named nowhere
}
EVERYONE = sorted(MEMBERS)
GROUPS = {"dba": {"members": ["carol"]}, "leads": {"members": ["frank"]}}
SCHEDULES = {
    "primary": {
        "layers": [{"name": "weekly", "members": ["dave"], "shift_h": 168, "start": "2025-12-01"}],
        "overrides": [
            {"member": "erin", "start": "2026-06-01T09:00:00Z", "end": "2026-06-02T09:00:00Z"}
        ],
    }
}
LEVELS = [
    {"targets": ["alice"], "wait_min": 5},
    {"targets": ["bob", "group:dba"], "wait_min": 5},
    {"targets": ["schedule:primary"], "wait_min": 5},
]


def service(may_act: str, **more: Any) -> dict[str, Any]:
    """The default service, its three levels and ``may_act``."""
    return {"default": {"escalation": {"levels": LEVELS}, "may_act": may_act, **more}}


def services_for(mode: str) -> dict[str, Any]:
    """The service a mode is tried with: in team mode its team list adds group leads."""
    return service(mode, team=["group:leads"]) if mode == "team" else service(mode)


def settings_for(
    db_url: str, services: dict[str, Any], schema: str | None = None, **sections: Any
) -> Settings:
    return make_settings(
        db_url,
        schema,
        members=MEMBERS,
        groups=GROUPS,
        schedules=SCHEDULES,
        services=services,
        **sections,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/t.db"


@pytest.fixture
def open_rt(db_url: str) -> OpenRuntime:
    """A Runtime whose default service lets ``mode`` act."""

    def make(mode: str) -> AbstractAsyncContextManager[Runtime]:
        return running(settings_for(db_url, services_for(mode)))

    return make


async def open_incident(rt: Runtime) -> int:
    integ = rt.settings.integrations["prometheus"]
    batch = parse("alertmanager", fixture("alertmanager", "firing.json"), integ)
    return (await ingest(rt, "prometheus", batch)).opened[0]


async def state(rt: Runtime, number: int) -> tuple[Status, str | None, tuple[str, ...], int]:
    """What an action would change: status, acknowledger, assignees, timeline length."""
    async with rt.db.read() as conn:
        incident = await repo.load_incident(conn, number, details=True)
    assert incident is not None
    return incident.status, incident.acked_by, incident.assignees, len(incident.timeline)


def act(
    number: int, member: str, verb: Verb = Verb.ACK, args: dict[str, Any] | None = None
) -> ActionRequest:
    return ActionRequest(number, verb, "api", args=args or {}, member=member)


def why(mode: str, member: str, number: int, lang: str = "en") -> str:
    return messages.text(
        f"not_allowed_{mode}", lang, member=member, number=number, service="default"
    )


# --- the three modes ---------------------------------------------------------------------

# Incident #1 has paged level 1 (alice) only.
ALLOWED = {
    "everyone": set(EVERYONE),
    "team": {"alice", "bob", "carol", "dave", "erin", "frank"},
    "responders": {"alice"},
}
CASES = [(mode, member, member in ALLOWED[mode]) for mode in ALLOWED for member in EVERYONE]


@pytest.mark.parametrize(
    ("mode", "member", "allowed"),
    CASES,
    ids=[f"{m}-{who}-{'allowed' if ok else 'refused'}" for m, who, ok in CASES],
)
async def test_who_may_ack_in_each_mode(
    open_rt: OpenRuntime, mode: str, member: str, allowed: bool
) -> None:
    async with open_rt(mode) as rt:
        number = await open_incident(rt)
        before = await state(rt, number)
        if allowed:
            outcome = await perform(rt, act(number, member))
            assert outcome.changed
            assert (await state(rt, number))[:2] == (Status.ACKNOWLEDGED, member)
            return
        with pytest.raises(ActionRefused) as refused:
            await perform(rt, act(number, member))
        assert refused.value.code == "not_allowed"
        assert refused.value.message == why(mode, member, number)
        assert await state(rt, number) == before


async def test_every_verb_is_refused_alike_and_changes_nothing(
    open_rt: OpenRuntime,
) -> None:
    args: dict[Verb, dict[str, Any]] = {
        Verb.COMMENT: {"text": "me too"},
        Verb.SNOOZE: {"minutes": 30},
        Verb.ASSIGN: {"member": "grace"},
        Verb.ESCALATE: {"member": "grace"},
        Verb.SEVERITY: {"severity": "info"},
    }
    async with open_rt("team") as rt:
        number = await open_incident(rt)
        before = await state(rt, number)
        for verb in Verb:
            with pytest.raises(ActionRefused) as refused:
                await perform(rt, act(number, "grace", verb, args.get(verb)))
            assert refused.value.code == "not_allowed", verb
        assert await state(rt, number) == before


def test_the_team_expands_groups_and_schedules(db_url: str) -> None:
    settings = settings_for(db_url, service("team", team=["group:leads"]))
    team = team_of(settings, settings.services["default"])
    # carol through group:dba, dave through a layer and erin through an override of
    # schedule:primary, frank through the team list's group:leads.
    assert team == {"alice", "bob", "carol", "dave", "erin", "frank"}

    listed = settings_for(db_url, service("team", team=["grace", "schedule:primary"]))
    assert team_of(listed, listed.services["default"]) == {
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "grace",
    }


async def test_responders_are_whoever_was_paged_assigned_or_acknowledged(
    open_rt: OpenRuntime,
) -> None:
    async with open_rt("responders") as rt:
        await who_responds(rt)


async def test_responders_on_postgres() -> None:
    url = pg_url()
    if url is None:
        pytest.skip("ACKGATE_TEST_POSTGRES_URL not set: PostgreSQL tests need a server")
    async with pg_schema(url) as schema:
        settings = settings_for(url, service("responders"), schema)
        async with running(settings) as rt:
            await who_responds(rt)


async def who_responds(rt: Runtime) -> None:
    """Paged earlier, assigned by hand, acknowledged once: each stays a responder."""
    number = await open_incident(rt)
    # Level 2 pages bob and carol (group dba); dave, on level 3, was not paged.
    await perform(rt, act(number, "alice", Verb.ESCALATE))
    assert (await state(rt, number))[2] == ("bob", "carol")
    with pytest.raises(ActionRefused):
        await perform(rt, act(number, "dave", Verb.COMMENT, {"text": "here"}))
    # Paged by level 1 earlier, alice still may act although no longer an assignee.
    assert (await perform(rt, act(number, "alice", Verb.COMMENT, {"text": "still on it"}))).changed

    # A responder may hand the incident to anyone; that person may then act.
    assert (await perform(rt, act(number, "bob", Verb.ASSIGN, {"member": "grace"}))).changed
    assert (await perform(rt, act(number, "grace"))).changed
    # Escalating clears the acknowledger and the assignees: grace stays a responder
    # because the timeline says she acknowledged.
    await perform(rt, act(number, "carol", Verb.ESCALATE, {"member": "bob"}))
    status, acked_by, assignees, _ = await state(rt, number)
    assert (status, acked_by, assignees) == (Status.TRIGGERED, None, ("bob",))
    assert (await perform(rt, act(number, "grace"))).changed
    # Nobody else joined on the way.
    with pytest.raises(ActionRefused) as refused:
        await perform(rt, act(number, "frank", Verb.CLOSE))
    assert refused.value.message == why("responders", "frank", number)


async def test_an_assignee_may_act_in_the_same_batch_as_the_assignment(
    open_rt: OpenRuntime,
) -> None:
    async with open_rt("responders") as rt:
        number = await open_incident(rt)
        # Submitted together, the two share one transaction; the ack sees the assignment.
        assigned, acked = await asyncio.gather(
            perform(rt, act(number, "alice", Verb.ASSIGN, {"member": "grace"})),
            perform(rt, act(number, "grace")),
        )
        assert assigned.changed
        assert acked.changed
        assert (await state(rt, number))[:2] == (Status.ACKNOWLEDGED, "grace")


async def test_a_refused_callback_is_not_remembered_and_may_be_retried(
    open_rt: OpenRuntime,
) -> None:
    async with open_rt("responders") as rt:
        number = await open_incident(rt)
        click = ActionRequest(
            number, Verb.ACK, "slack", member="bob", platform="slack", callback_id="cb-1"
        )
        with pytest.raises(ActionRefused):
            await perform(rt, click)
        await perform(rt, act(number, "alice", Verb.ESCALATE, {"member": "bob"}))
        retried = await perform(rt, click)
        assert (retried.changed, retried.code) == (True, "ok")
        assert (await state(rt, number))[:2] == (Status.ACKNOWLEDGED, "bob")


async def test_the_refusal_speaks_chinese(open_rt: OpenRuntime) -> None:
    async with open_rt("responders") as rt:
        number = await open_incident(rt)
        with pytest.raises(ActionRefused) as refused:
            await perform(rt, act(number, "bob"), "zh")
        assert refused.value.message == why("responders", "bob", number, "zh")
        assert "只允许此事件的响应人" in refused.value.message


# --- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"team": ["nobody"]}, "services.default.team[0]: no member named 'nobody'"),
        (
            {"team": ["alice", "group:ops"]},
            "services.default.team[1]: no group named 'ops'",
        ),
        ({"team": ["schedule:nights"]}, "services.default.team[0]: no schedule named 'nights'"),
    ],
)
def test_team_entries_must_name_something(db_url: str, extra: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_for(db_url, service("team", **extra))
    assert err.value.errors == [error]


def test_a_team_list_outside_team_mode_is_refused(db_url: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_for(db_url, service("responders", team=["grace"]))
    [line] = err.value.errors
    assert line.startswith('services.default: team is only read with may_act = "team"')


def test_an_unknown_mode_is_refused_with_its_key(db_url: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_for(db_url, service("admins"))
    [line] = err.value.errors
    assert line.startswith("services.default.may_act: ")
    assert "'responders'" in line


def test_by_default_everyone_may_act(db_url: str) -> None:
    settings = make_settings(db_url)
    assert {s.may_act for s in settings.services.values()} == {"everyone"}


# --- over HTTP: the REST API and the signed link -----------------------------------------


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, db_url: str) -> Client:
    app = create_app(
        settings_for(db_url, service("responders")), clock=ManualClock(), workers=False
    )
    c = await aiohttp_client(app)
    r = await c.post(
        "/v1/alerts/prometheus", json=fixture("alertmanager", "firing.json"), headers=INGEST
    )
    assert (await r.json())["opened"] == [1]
    return c


async def incident_doc(client: Client) -> dict[str, Any]:
    r = await client.get("/v1/incidents/1", headers=ALICE_API)
    assert r.status == 200
    doc: dict[str, Any] = (await r.json())["incident"]
    return doc


async def test_rest_refuses_with_403_and_why_and_changes_nothing(client: Client) -> None:
    before = await incident_doc(client)
    r = await client.post("/v1/incidents/1/actions", json={"verb": "ack"}, headers=BOB_API)
    assert r.status == 403
    body = await r.json()
    assert body == {"error": why("responders", "bob", 1), "code": "not_allowed", "status": 403}
    after = await incident_doc(client)
    assert after == before
    assert [e["kind"] for e in after["timeline"]] == ["triggered"]

    r = await client.post(
        "/v1/incidents/1/actions", json={"verb": "ack"}, headers={**BOB_API, **ZH}
    )
    assert r.status == 403
    assert (await r.json())["error"] == why("responders", "bob", 1, "zh")

    # Once alice escalates to bob, bob is a responder.
    r = await client.post(
        "/v1/incidents/1/actions",
        json={"verb": "escalate", "args": {"member": "bob"}},
        headers=ALICE_API,
    )
    assert r.status == 200
    r = await client.post("/v1/incidents/1/actions", json={"verb": "ack"}, headers=BOB_API)
    assert r.status == 200
    assert (await r.json())["incident"]["acked_by"] == "bob"


async def test_a_signed_link_of_someone_not_allowed_shows_why(client: Client) -> None:
    token = client.app[SIGNER].token("grace", 1, datetime(2026, 1, 2, tzinfo=UTC))
    r = await client.post(
        "/incidents/1/actions", data={"verb": "ack", "t": token}, allow_redirects=False
    )
    assert r.status == 303
    r = await client.get(str(URL(r.headers["Location"])))
    html = await r.text()
    assert "service default lets only its responders act" in html
    assert 'class="notice refused"' in html
    assert (await incident_doc(client))["status"] == "triggered"


# --- in chat: a real signed Slack click ----------------------------------------------------


@pytest.fixture
async def slack(aiohttp_server: AiohttpServer) -> FakeSlack:
    fake = FakeSlack(TOKEN, TEAM)
    fake.add_channel(CHANNEL)
    fake.add_user("UALICE", "alice@example.com")
    fake.add_user("UBOB", "bob@example.com")
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(API_PREFIX))
    return fake


@pytest.fixture
async def gateway(aiohttp_client: AiohttpClient, slack: FakeSlack, db_url: str) -> SlackGateway:
    """The real app (outbox running), Slack pointed at ``slack``, only responders may act."""
    services = service("responders", notify=[{"kind": "slack", "chat": CHANNEL}])
    on_slack = [{"platform": "slack", "workspace": TEAM, "user_id": "UALICE"}]
    members = {**MEMBERS, "alice": {**MEMBERS["alice"], "identities": on_slack}}
    settings = make_settings(
        db_url,
        members=members,
        groups=GROUPS,
        schedules=SCHEDULES,
        services=services,
        slack=slack_settings(slack),
        outbox={"poll_interval_s": 0.05, "base_delay_s": 0.01, "max_delay_s": 0.05},
    )
    clock = ManualClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    return SlackGateway(await aiohttp_client(create_app(settings, clock=clock)), slack)


async def test_a_slack_click_from_someone_not_allowed_is_told_why(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    card = await gateway.card()
    before = await gateway.incident(number)

    # bob (linked by his Slack email on the way) is on level 2, not paged yet.
    payload = gateway.click_payload("ack", number, user="UBOB", message_ts=card.ts)
    r = await gateway.interact(payload)
    assert r.status == 200
    [told] = slack.called("chat.postEphemeral")
    assert (told.args["channel"], told.args["user"]) == (CHANNEL, "UBOB")
    assert told.args["text"] == why("responders", "bob", number)
    assert await gateway.incident(number) == before
    r = await gateway.command(f"close {number}", user="UBOB")
    assert r.status == 200
    assert "lets only its responders act" in await r.text()
    assert await gateway.incident(number) == before

    # alice hands it to bob; the very same click, delivered again, now acknowledges.
    r = await gateway.command(f"escalate {number} bob")
    assert r.status == 200
    assert (await gateway.incident(number))["assignees"] == ["bob"]
    r = await gateway.interact(payload)
    assert r.status == 200
    assert (await gateway.incident(number))["acked_by"] == "bob"
    await gateway.wait(lambda: "Acknowledged by bob" in text_of(card.blocks))
    # The card only ever showed what was allowed: the escalation, then bob's ack.
    assert not any("Closed by" in text_of(update["blocks"]) for update in card.updates)
    assert len(slack.called("chat.postEphemeral")) == 1
