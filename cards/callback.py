"""Button callback data: ``v1:<verb>:<incident>``, small enough for every platform (64 bytes)."""

from __future__ import annotations

import re

from gateway.domain import Verb
from gateway.errors import MalformedPayload

MAX_BYTES = 64  # Telegram's callback_data limit, the smallest of the platforms
VERSION = "v1"
MAX_INCIDENT = 2**63 - 1  # the largest number a BIGINT column holds

_FIELD = "callback"
_PATTERN = re.compile(r"(?P<version>[a-z0-9]+):(?P<verb>[a-z_]+):(?P<incident>[1-9][0-9]{0,18})")
_VERBS = {verb.value: verb for verb in Verb}


def encode(verb: Verb, incident: int) -> str:
    """The callback data for pressing ``verb`` on incident ``incident``."""
    if not 1 <= incident <= MAX_INCIDENT:
        raise ValueError(f"incident must be between 1 and {MAX_INCIDENT}, got {incident}")
    data = f"{VERSION}:{Verb(verb).value}:{incident}"
    # Holds for every verb and number allowed above; kept as a guard against a long new verb.
    assert len(data.encode()) <= MAX_BYTES, data
    return data


def decode(data: str) -> tuple[Verb, int]:
    """The verb and incident in ``data``; raises MalformedPayload on anything else."""
    if not isinstance(data, str):
        raise MalformedPayload(f"must be a string, got {type(data).__name__}", _FIELD)
    if not data:
        raise MalformedPayload("is empty", _FIELD)
    if len(data.encode("utf-8", "replace")) > MAX_BYTES:
        raise MalformedPayload(f"longer than {MAX_BYTES} bytes", _FIELD)
    match = _PATTERN.fullmatch(data)
    if match is None:
        raise MalformedPayload("must look like v1:<verb>:<incident>", _FIELD)
    if match["version"] != VERSION:
        raise MalformedPayload(f"unsupported version {match['version']!r}", _FIELD)
    verb = _VERBS.get(match["verb"])
    if verb is None:
        raise MalformedPayload(f"unknown verb {match['verb']!r}", _FIELD)
    incident = int(match["incident"])
    if incident > MAX_INCIDENT:
        raise MalformedPayload(f"incident number above {MAX_INCIDENT}", _FIELD)
    return verb, incident
