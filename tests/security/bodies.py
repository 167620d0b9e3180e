"""Generated request bodies: random JSON, a real payload with fields replaced by hostile values
(or removed), raw bytes, and the classics (deep nesting, empty, not UTF-8, too big).

Hypothesis draws them in batches (one example holds many bodies): on a 2-core CI machine its
per-example overhead, not the bodies, is what costs, and ten thousand bodies must stay cheap.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

BATCH = 50  # bodies per Hypothesis example, unless told
ROUNDS = 8  # at most this many runs to gather enough different bodies

# Keys the parsers and platforms look for, so generated objects get past the first checks.
KEYS = st.sampled_from(
    [
        "alerts", "status", "labels", "annotations", "startsAt", "endsAt", "fingerprint",
        "groupKey", "commonLabels", "generatorURL", "version", "routing_key", "event_action",
        "dedup_key", "payload", "summary", "severity", "source", "custom_details", "links",
        "alertname", "values", "title", "message", "state", "type", "event", "header",
        "event_id", "token", "action", "value", "operator", "open_id", "user", "team", "id",
        "actions", "callback_query", "data", "from", "verb", "args", "member", "text",
        "serviceUrl", "channelId", "conversation", "outTrackId", "userId", "content",
        "accountId", "userJid", "toJid", "actionItem", "timestamp", "msgId", "x",
    ]
)  # fmt: skip
HOSTILE: list[Any] = [
    None, True, False, 0, -1, 1, 2**63, 2**70, -(2**70), 1e308, -0.0, 1.5,
    float("nan"), float("inf"), "", " ", "0", "-1", "\x00", "\ud800", "😀",
    "用户", "<script>alert(1)</script>", "' OR 1=1 --", "%s%s%n", "../../etc/passwd",
    "v1:ack:1", "v1:close:1", "v1:escalate:1", "v1:ack:0", "v1:ack:-1",
    "v1:ack:999999999999999999999", "v1:" + "x" * 60, "v1:ack:1:extra", "ack 1",
    "close #1 rolled back", "/ack 1", "comment 1 it was the disk",
    [], {}, [None], {"": None}, [[[[[[]]]]]], {"a": {"a": {"a": {}}}},
    "0001-01-01T00:00:00Z", "9999-99-99", "2026-13-45T25:61:61Z", "1e309", "true", "null",
    "https://hooks.slack.invalid/x", "http://169.254.169.254/latest/meta-data",
]  # fmt: skip
# Long values are made when drawn, so a failure's report does not print them whole.
LONG = st.sampled_from([300, 5_000, 70_000]).map(lambda n: "x" * n)
SCALARS = (
    LONG
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(HOSTILE)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=12,
)
# One level of structure (Hypothesis' recursive strategies cost several times more to draw).
SMALL_JSON = st.lists(SCALARS, max_size=3) | st.dictionaries(KEYS, SCALARS, max_size=3)
CLASSICS: list[bytes] = [
    b"",
    b" ",
    b"null",
    b"[]",
    b"{}",
    b"0",
    b'"x"',
    b"\xff\xfe\x00",
    b"\x00" * 16,
    b'{"a": 1, "a": 2}',
    b"%",
    b"payload=%7B%22type%22%3A%22block_actions%22%7D",
    b"<xml><Encrypt></Encrypt></xml>",
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><xml><x>&a;</x></xml>',
]
# Nesting deeper than any recursive parser goes, and a body over server.max_body_kb.
HUGE = st.sampled_from([("[", 50_000), ('{"a":', 50_000), ("%5B", 20_000), ("x", 1_100_000)]).map(
    lambda part: (part[0] * part[1]).encode()
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``doc`` a value can be put (the whole document too)."""
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += paths(v, (*prefix, i))
    return found


_REMOVE = object()


def mutate(doc: Any, changes: list[tuple[tuple[Any, ...], Any]]) -> Any:
    """A copy of ``doc`` with a value put (or, for ``_REMOVE``, taken away) at each path."""
    doc = copy.deepcopy(doc)
    for path, drawn in changes:
        # A copy: a later change may write into it, and the pool it came from is shared.
        value = drawn if drawn is _REMOVE else copy.deepcopy(drawn)
        if not path:
            doc = value if value is not _REMOVE else {}
            continue
        target = doc
        try:
            for step in path[:-1]:
                target = target[step]
            if value is _REMOVE:
                del target[path[-1]]
            else:
                target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change took that place away
    return doc


def mutated(template: Any) -> st.SearchStrategy[Any]:
    """``template`` with one to three of its values replaced by hostile ones or removed."""
    where = paths(template)
    value = st.one_of(*weighted(st.sampled_from(HOSTILE), 4), LONG, st.just(_REMOVE), SMALL_JSON)
    change = st.tuples(st.sampled_from(where), value)
    return st.lists(change, min_size=1, max_size=3).map(lambda cs: mutate(template, cs))


def weighted(strategy: st.SearchStrategy[Any], times: int) -> list[st.SearchStrategy[Any]]:
    """``strategy`` as ``times`` branches of a ``one_of``, which picks a branch evenly. Distinct
    objects: ``one_of`` keeps one of branches that are the same object."""
    return [strategy.map(_same) for _ in range(times)]


def _same(value: Any) -> Any:
    return value


def documents(template: Any) -> st.SearchStrategy[Any]:
    """Mostly ``template`` mutated, one in twelve a random JSON value (which costs Hypothesis
    several times as much to draw)."""
    return st.one_of(*weighted(mutated(template), 11), JSON)


def encoded(template: Any, encode: Callable[[Any], bytes]) -> st.SearchStrategy[bytes]:
    """Bodies for an endpoint: mostly its own payload mutated; one in eight random JSON, one
    in eight raw bytes or a classic."""
    mutations = mutated(template).map(encode)
    raw = st.binary(max_size=300) | st.sampled_from(CLASSICS) | HUGE
    return st.one_of(*weighted(mutations, 6), JSON.map(encode), raw)


def draw(
    strategy: st.SearchStrategy[Any],
    count: int,
    key: Callable[[Any], Any] = repr,
    batch: int = BATCH,
) -> list[Any]:
    """``count`` different examples of ``strategy``, drawn by Hypothesis ``batch`` at a time
    (Hypothesis repeats itself on purpose: a body seen before is drawn again, not counted).

    A batch must fit in one Hypothesis example (some thousand choices): big bodies (raw
    bytes) want smaller batches."""
    found: dict[Any, Any] = {}

    def collect(items: list[Any]) -> None:
        for item in items:
            found.setdefault(key(item), item)

    for round_ in range(ROUNDS):
        missing = count - len(found)
        if missing <= 0:
            break
        # Each round from its own fixed seed: repeatable, and not the same bodies again
        # (Hypothesis's CI profile derandomizes, which would draw one round over and over).
        run = seed(round_)(
            settings(
                max_examples=-(-missing // batch) + 1,
                deadline=None,
                database=None,
                derandomize=False,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(given(st.lists(strategy, min_size=batch, max_size=batch, unique_by=key))(collect))
        )
        run()
    return list(found.values())[:count]


def as_json(value: Any) -> bytes:
    """A value as a JSON body (lone surrogates escaped, so every value has one)."""
    return json.dumps(value, default=str).encode()
