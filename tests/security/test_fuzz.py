"""Generated input against every alert format and the inbound endpoints: a parser either
understands a body or says why (MalformedPayload), an endpoint answers 4xx or 2xx but never
5xx, and nothing unauthenticated changes anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.clock import ManualClock
from gateway.config import IntegrationSettings
from gateway.errors import MalformedPayload
from gateway.ingest.formats import parse
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from storage import repo
from tests.support import fixture, make_settings

FORMATS = ("alertmanager", "grafana", "generic")
INTEGRATION = IntegrationSettings(format="generic", token="fuzz-token-1")

# JSON-shaped values, biased towards the keys the parsers look for, so generated bodies get
# past the first checks and reach the deeper ones.
KEYS = st.sampled_from(
    [
        "alerts",
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "fingerprint",
        "groupKey",
        "commonLabels",
        "generatorURL",
        "version",
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "summary",
        "severity",
        "source",
        "custom_details",
        "links",
        "alertname",
        "values",
        "title",
        "message",
        "state",
        "x",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "firing",
            "resolved",
            "trigger",
            "acknowledge",
            "resolve",
            "critical",
            "info",
            "2026-11-27T10:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-99-99",
            "",
        ]
    )
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=30,
)


def mutated_fixture(fmt: str) -> st.SearchStrategy[Any]:
    """A real payload with one field replaced by generated JSON."""
    name = {"alertmanager": "firing.json", "grafana": "firing.json", "generic": "trigger.json"}
    folder = {"alertmanager": "alertmanager", "grafana": "grafana", "generic": "generic"}[fmt]
    base = fixture(folder, name[fmt])

    def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [prefix]
        if isinstance(doc, dict):
            for k, v in doc.items():
                found += paths(v, (*prefix, k))
        elif isinstance(doc, list):
            for i, v in enumerate(doc):
                found += paths(v, (*prefix, i))
        return found

    def put(path: tuple[Any, ...], value: Any) -> Any:
        doc = json.loads(json.dumps(base))
        if not path:
            return value
        target = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        return doc

    return st.builds(put, st.sampled_from(paths(base)), JSON)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parsers_understand_or_say_why(fmt: str, data: st.DataObject) -> None:
    body = data.draw(JSON | mutated_fixture(fmt))
    try:
        batch = parse(fmt, body, INTEGRATION)
    except MalformedPayload as exc:
        reason = exc.message  # a reason a person can read
        assert reason
        return
    for event in batch.events:
        assert event.dedup_key
        assert len(event.dedup_key) <= 255
        assert event.title is not None


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> TestClient:  # type: ignore[type-arg]
    config = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        slack={"bot_token": "xoxb-fuzz-token", "signing_secret": "fuzz-signing-secret"},
        sms={"provider": "twilio", "twilio": TWILIO},
        voice={"provider": "twilio", "twilio": TWILIO},
    )
    app = create_app(config, clock=ManualClock(), workers=False)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


BODIES = st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode())
AUTH = {"Authorization": "Bearer example-token"}
TWILIO = {"account_sid": "AC123", "auth_token": "twilio-fuzz-token", "from_number": "+15550000000"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def count_incidents(client: Any) -> int:
    async with client.app[RUNTIME].db.read() as conn:
        _, total = await repo.list_incidents(conn)
    return int(total)


async def test_endpoints_never_answer_5xx_and_strangers_change_nothing(client: Any) -> None:
    """~3,200 generated requests across ingest, actions, Slack and Twilio endpoints."""
    examples: list[bytes] = []

    @settings(max_examples=400, deadline=None, database=None)
    @given(BODIES)
    def collect(body: bytes) -> None:
        examples.append(body)

    collect()
    before = await count_incidents(client)
    for body in examples:
        for path, headers in [
            ("/v1/incidents/1/actions", {"Content-Type": "application/json"}),  # no token
            ("/hooks/slack", {"Content-Type": "application/x-www-form-urlencoded"}),
            ("/hooks/slack", {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"}),
            ("/v1/alerts/prometheus", {"Content-Type": "application/json"}),  # no token
            ("/hooks/sms/twilio", FORM),  # unsigned
            ("/hooks/voice/twilio?n=1&d=1", {**FORM, "X-Twilio-Signature": "AAAA"}),
            ("/hooks/voice/twilio/status?d=1", FORM),
        ]:
            r = await client.post(path, data=body, headers=headers)
            assert 400 <= r.status < 500, (path, body, r.status, await r.text())
        # With the right token, a body is understood (2xx) or refused (4xx), never 5xx.
        r = await client.post("/v1/alerts/prometheus", data=body, headers=AUTH)
        assert r.status < 500, (body, r.status, await r.text())
    # Unauthenticated requests changed nothing; authenticated junk opened nothing either
    # unless it was a valid payload (none of these is a full Alertmanager document).
    assert await count_incidents(client) == before
