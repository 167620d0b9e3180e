"""The JSON surface: alert ingest, REST incidents and actions, health and metrics."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from gateway.actions import outcome_json, perform
from gateway.auth import bearer, member_for_token, require_api_member
from gateway.config import IntegrationSettings
from gateway.domain import ActionRequest, Severity, Status, Verb
from gateway.errors import Forbidden, MalformedPayload, NotFound, Unauthorized
from gateway.ingest.formats import parse
from gateway.ingest.service import ingest
from gateway.messages import pick_language
from gateway.sendtest import send_test
from gateway.web.keys import RUNTIME
from gateway.web.openapi import OPENAPI
from gateway.wire import incident_json
from storage import repo

MAX_PAGE = 200


def add_routes(app: web.Application) -> None:
    """Register the JSON routes."""
    app.router.add_post("/v1/alerts/{integration}", ingest_alerts)
    app.router.add_put("/v1/alerts/{integration}", ingest_alerts)
    app.router.add_get("/v1/incidents", list_incidents)
    app.router.add_get("/v1/incidents/{number}", get_incident)
    app.router.add_post("/v1/incidents/{number}/actions", act)
    app.router.add_get("/v1/destinations", list_destinations)
    app.router.add_post("/v1/destinations/{name}/test", test_destination)
    app.router.add_get("/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)


def _integration_token(request: web.Request) -> str | None:
    """Bearer, ``?token=``, or the password of HTTP Basic auth (Grafana's contact point)."""
    token = bearer(request) or request.query.get("token")
    if token:
        return token
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            _, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or None
    return None


def _check_token(integ: IntegrationSettings, token: str | None) -> None:
    expected = integ.token.get_secret_value().encode()
    if not token or not hmac.compare_digest(expected, token.encode()):
        raise Unauthorized("missing or wrong integration token")


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; raises MalformedPayload (and 413 past the size limit)."""
    raw = await request.read()
    if not raw.strip():
        raise MalformedPayload("the body is empty; expected JSON")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"the body is not valid JSON: {exc}") from None


async def ingest_alerts(request: web.Request) -> web.Response:
    """``POST /v1/alerts/{integration}``: store first, answer 202 after the commit."""
    rt = request.app[RUNTIME]
    name = request.match_info["integration"]
    integ = rt.settings.integrations.get(name)
    if integ is None:
        raise NotFound(f"no integration named {name!r}")
    try:
        _check_token(integ, _integration_token(request))
        batch = parse(integ.format, await read_json(request), integ)
    except (Unauthorized, MalformedPayload) as exc:
        rt.metrics.ingest_rejected.labels(name, str(exc.status)).inc()
        raise
    except web.HTTPRequestEntityTooLarge:
        rt.metrics.ingest_rejected.labels(name, "413").inc()
        raise
    result = await ingest(rt, name, batch)
    return web.json_response(
        {
            "status": "accepted",
            "incidents": result.incidents,
            "opened": result.opened,
            "closed": result.closed,
            "alerts": len(batch.events),
            "ignored": result.ignored,
            "dedup_keys": result.dedup_keys,
        },
        status=202,
    )


def _int_query(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    value = request.query.get(key)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise MalformedPayload("must be an integer", field=key) from None
    if not low <= number <= high:
        raise MalformedPayload(f"must be between {low} and {high}", field=key)
    return number


def _enum_list(request: web.Request, key: str, allowed: set[str]) -> list[str]:
    values = [v for raw in request.query.getall(key, []) for v in raw.split(",") if v]
    for v in values:
        if v not in allowed:
            raise MalformedPayload(f"must be one of {', '.join(sorted(allowed))}", field=key)
    return values


async def list_incidents(request: web.Request) -> web.Response:
    """``GET /v1/incidents``: filter by status, service, severity; paginated."""
    rt = request.app[RUNTIME]
    require_api_member(request, rt.settings)
    status = _enum_list(request, "status", {s.value for s in Status})
    severity = _enum_list(request, "severity", {s.value for s in Severity})
    limit = _int_query(request, "limit", 50, 1, MAX_PAGE)
    offset = _int_query(request, "offset", 0, 0, 10**9)
    async with rt.db.read() as conn:
        incidents, total = await repo.list_incidents(
            conn,
            status=status,
            service=request.query.get("service"),
            severity=severity,
            limit=limit,
            offset=offset,
        )
    return web.json_response(
        {
            "incidents": [incident_json(i) for i in incidents],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


def _number(request: web.Request) -> int:
    raw = request.match_info["number"].lstrip("#")
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"no incident {request.match_info['number']!r}")
    return int(raw)


async def get_incident(request: web.Request) -> web.Response:
    """``GET /v1/incidents/{number}``: with alerts and timeline."""
    rt = request.app[RUNTIME]
    require_api_member(request, rt.settings)
    number = _number(request)
    async with rt.db.read() as conn:
        incident = await repo.load_incident(conn, number, details=True)
    if incident is None:
        raise NotFound(f"incident #{number} does not exist")
    return web.json_response({"incident": incident_json(incident, details=True)})


async def act(request: web.Request) -> web.Response:
    """``POST /v1/incidents/{number}/actions`` with ``{"verb", "args"}``."""
    rt = request.app[RUNTIME]
    member = require_api_member(request, rt.settings)
    number = _number(request)
    doc = await read_json(request)
    if not isinstance(doc, dict):
        raise MalformedPayload("expected a JSON object")
    verb_text = doc.get("verb")
    try:
        verb = Verb(str(verb_text))
    except ValueError:
        raise MalformedPayload(
            f"must be one of {', '.join(v.value for v in Verb)}", field="verb"
        ) from None
    args = doc.get("args", {})
    if not isinstance(args, dict):
        raise MalformedPayload("must be an object", field="args")
    acting_as = doc.get("member", member)
    if acting_as != member and not _is_admin(request):
        raise Forbidden("this API token may only act as its own member")
    if not isinstance(acting_as, str):
        raise MalformedPayload("must be a member name", field="member")
    lang = pick_language(request.headers.get("Accept-Language"))
    req = ActionRequest(incident=number, verb=verb, source="api", args=args, member=acting_as)
    outcome = await perform(rt, req, lang)
    return web.json_response(outcome_json(outcome))


def _is_admin(request: web.Request) -> bool:
    rt = request.app[RUNTIME]
    token = bearer(request)
    return (
        any(
            api.admin
            and hmac.compare_digest(api.token.get_secret_value().encode(), (token or "").encode())
            for api in rt.settings.api_tokens
        )
        and member_for_token(rt.settings, token) is not None
    )


async def list_destinations(request: web.Request) -> web.Response:
    """``GET /v1/destinations``: the named destinations (kind and alias; never a secret)."""
    rt = request.app[RUNTIME]
    require_api_member(request, rt.settings)
    return web.json_response(
        {
            "destinations": [
                {"name": name, "kind": d.kind, "alias": d.alias}
                for name, d in sorted(rt.settings.destinations.items())
            ]
        }
    )


async def test_destination(request: web.Request) -> web.Response:
    """``POST /v1/destinations/{name}/test``: send a marked test notice there now.

    200 when the platform took it, 502 with the platform's own words when it did not.
    """
    rt = request.app[RUNTIME]
    require_api_member(request, rt.settings)
    name = request.match_info["name"]
    try:
        line = await send_test(rt.settings, name)
    except ValueError as exc:
        raise NotFound(str(exc)) from None
    ok = line.startswith("OK ")
    return web.json_response({"ok": ok, "result": line}, status=200 if ok else 502)


async def openapi(_request: web.Request) -> web.Response:
    """The OpenAPI description of this surface."""
    return web.json_response(OPENAPI)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, else 503."""
    rt = request.app[RUNTIME]
    try:
        await rt.db.ping()
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        return web.json_response({"status": "unavailable", "error": str(exc)}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition, with incident counts read fresh."""
    rt = request.app[RUNTIME]
    async with rt.db.read() as conn:
        counts = await repo.count_by_status(conn)
    for status in Status:
        rt.metrics.incidents.labels(status.value).set(counts.get(status.value, 0))
    body = generate_latest(rt.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
