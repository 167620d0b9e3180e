"""The OpenAPI 3.1 description served at ``/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


_ERRORS = {
    "400": _resp("Malformed request; `error` names the field", _ERROR),
    "401": _resp("Missing or wrong token", _ERROR),
    "404": _resp("No such integration or incident", _ERROR),
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "ackgate", "version": "1", "description": "On-call gateway API."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                "required": ["error"],
            },
            "Incident": {
                "type": "object",
                "properties": {
                    "number": {"type": "integer"},
                    "title": {"type": "string"},
                    "severity": {"enum": ["critical", "warning", "info"]},
                    "status": {"enum": ["triggered", "acknowledged", "closed"]},
                    "service": {"type": "string"},
                    "acked_by": {"type": ["string", "null"]},
                    "closed_by": {"type": ["string", "null"]},
                    "assignees": {"type": "array", "items": {"type": "string"}},
                    "alerts": {"type": "array", "items": {"type": "object"}},
                    "timeline": {"type": "array", "items": {"type": "object"}},
                },
                "required": ["number", "title", "severity", "status", "service"],
            },
            "Action": {
                "type": "object",
                "properties": {
                    "verb": {
                        "enum": [
                            "ack",
                            "close",
                            "reopen",
                            "escalate",
                            "comment",
                            "snooze",
                            "assign",
                            "severity",
                        ]
                    },
                    "args": {"type": "object"},
                    "member": {"type": "string"},
                },
                "required": ["verb"],
            },
        },
    },
    "paths": {
        "/v1/alerts/{integration}": {
            "post": {
                "summary": "Ingest alerts (Alertmanager, Grafana or generic events)",
                "parameters": [
                    {
                        "name": "integration",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {"name": "token", "in": "query", "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
                "responses": {
                    "202": _resp("Stored; incidents opened or updated"),
                    **_ERRORS,
                    "413": _resp("Body too large", _ERROR),
                },
            }
        },
        "/v1/incidents": {
            "get": {
                "summary": "List incidents, newest first",
                "security": _BEARER,
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": t}}
                    for n, t in (
                        ("status", "string"),
                        ("service", "string"),
                        ("severity", "string"),
                        ("limit", "integer"),
                        ("offset", "integer"),
                    )
                ],
                "responses": {"200": _resp("A page of incidents"), **_ERRORS},
            }
        },
        "/v1/incidents/{number}": {
            "get": {
                "summary": "One incident with its alerts and timeline",
                "security": _BEARER,
                "parameters": [
                    {
                        "name": "number",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {
                    "200": _resp(
                        "The incident",
                        {
                            "type": "object",
                            "properties": {"incident": {"$ref": "#/components/schemas/Incident"}},
                        },
                    ),
                    **_ERRORS,
                },
            }
        },
        "/v1/incidents/{number}/actions": {
            "post": {
                "summary": "Act on an incident; repeating an action is not an error",
                "security": _BEARER,
                "parameters": [
                    {
                        "name": "number",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Action"}}
                    },
                },
                "responses": {
                    "200": _resp("Done, or already done (`changed` false)"),
                    **_ERRORS,
                    "403": _resp("Not allowed", _ERROR),
                    "409": _resp("Not possible in the incident's status", _ERROR),
                    "422": _resp("Bad arguments", _ERROR),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness and database reachability",
                "responses": {"200": _resp("OK"), "503": _resp("Unavailable")},
            }
        },
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": _resp("OK")}}},
    },
}
