"""Generated input against every alert format and every inbound endpoint: a parser either
understands a body or says why (MalformedPayload); an endpoint answers 4xx or 2xx but never
5xx; nothing unauthenticated changes anything.

Each endpoint gets its own payload with fields replaced by hostile values, random JSON, raw
bytes and the classics (deep nesting, not UTF-8, too big), drawn by Hypothesis, plus its
payload with each field in turn a lone surrogate. Each drawn body is sent twice: forged
(refused, 4xx, the database untouched), then authenticated as the platform would send it
(encrypted and signed), which must never be a 5xx; the surrogates are sent authenticated.
The totals are printed at the end of the run.
"""

from __future__ import annotations

import time

import pytest

from gateway.config import IntegrationSettings
from gateway.errors import MalformedPayload
from gateway.ingest.formats import parse
from tests.security import tally
from tests.security.bodies import documents, draw, encoded, mutate, paths
from tests.security.rigs import Env, Rig, changes, snapshot
from tests.security.test_attacks import RIGS
from tests.support import fixture

FORMATS = {
    "alertmanager": ("alertmanager", "firing.json"),
    "grafana": ("grafana", "firing.json"),
    "generic": ("generic", "trigger.json"),
}
INTEGRATION = IntegrationSettings(format="generic", token="fuzz-token-1")
PARSER_BODIES = 2_300  # per format: cheap to check, so most of the 10,000 are here
ENDPOINT_BODIES = 200  # per endpoint, each sent forged and then authenticated


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_parsers_understand_or_say_why(fmt: str) -> None:
    template = fixture(*FORMATS[fmt])
    bodies = draw(documents(template), PARSER_BODIES, batch=100)
    assert len(bodies) >= PARSER_BODIES * 0.9, len(bodies)  # Hypothesis does repeat itself
    unexplained = []
    for body in bodies:
        try:
            batch = parse(fmt, body, INTEGRATION)
        except MalformedPayload as exc:
            if not exc.message:  # a refusal says why, in words a person can read
                unexplained.append(body)
            continue
        for event in batch.events:
            assert event.dedup_key, body
            assert len(event.dedup_key) <= 255, body
            assert event.title is not None, body
    assert unexplained == []
    tally.fuzzed(f"parser {fmt}", len(bodies), 0)


@pytest.mark.parametrize("rig_type", RIGS, ids=[r.name.replace(" ", "-") for r in RIGS])
async def test_endpoints_never_answer_5xx_and_strangers_change_nothing(
    rig_type: type[Rig], env: Env
) -> None:
    rig = rig_type()
    await rig.start(env)
    await rig.open()
    template = rig.template()
    drawn: list[bytes] = draw(encoded(template, rig.encode), ENDPOINT_BODIES, key=bytes)
    assert len(drawn) >= ENDPOINT_BODIES * 0.9, len(drawn)
    # And, authenticated, every field of the payload once as half a UTF-16 pair, which
    # json.loads decodes and nothing after it can store or send.
    halves = [rig.encode(mutate(template, [(p, "\ud800")])) for p in paths(template)]
    started = time.perf_counter()
    before = await snapshot(rig.app)
    for body in drawn:
        r = await rig.forge(body).send(rig.client)
        assert 400 <= r.status < 500, (rig.name, "forged", body[:300], r.status, await r.text())
    await rig.quiet()
    assert changes(before, await snapshot(rig.app)) == [], rig.name
    statuses: dict[int, int] = {}
    for body in drawn + halves:
        r = await rig.wrap(body).send(rig.client)
        ok = r.status < 500 or r.status in rig.protocol_5xx
        assert ok, (rig.name, "signed", body[:300], r.status, await r.text())
        statuses[r.status] = statuses.get(r.status, 0) + 1
    await rig.quiet()
    # Some authenticated bodies must get past the checks, or the fuzzing proved little.
    assert any(s < 400 for s in statuses), (rig.name, statuses)
    requests = 2 * len(drawn) + len(halves)
    tally.fuzzed(rig.name, len(drawn), requests, time.perf_counter() - started)
