"""Secrets masked out of every message made from what a platform answered: the configured
secrets (and the forms they travel in) are remembered when an app or a sender is made, and
``mask`` replaces them, and any HTTP credential, with ``****``.

A platform, or a proxy on the way to it, may echo a request in its error (a URL holding a bot
token, an ``Authorization`` header, a body holding an app secret); those errors end up in
logs, the timeline, the incident page and send-test output. Remembered per process, like
logging itself: a secret seen once stays masked.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from pydantic import BaseModel, SecretStr

MASK = "****"
MIN_CHARS = 8  # shorter values are too likely to be ordinary words to mask everywhere
# Credentials in a request line or header, whoever they belong to (a Bearer token fetched at
# run time, a Basic pair, an SMTP AUTH blob): a token has a digit or a sign in it, which
# leaves words alone ("Basic authentication is required").
_CREDENTIALS = re.compile(
    r"\b(Basic|Bearer|AUTH PLAIN|AUTH LOGIN) +(?=[\w.~+/=-]*[\d.~+/=-])[\w.~+/=-]{8,}"
)
_SECRET_HEADERS = re.compile(r"auth|key|token|secret|sign|pass", re.IGNORECASE)

_remembered: set[str] = set()
_by_length: list[str] = []


def mask(text: str) -> str:
    """``text`` with every remembered secret, and any credential, replaced by ``****``."""
    for secret in _by_length:
        if secret in text:
            text = text.replace(secret, MASK)
    return _CREDENTIALS.sub(lambda m: f"{m.group(1)} {MASK}", text)


class MaskingFilter(logging.Filter):
    """Masks secrets in every record a handler writes, whoever logged it: an SDK printing
    its bot token's URL or an answer at DEBUG, a traceback quoting a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message, traceback and stack with secrets masked."""
        if isinstance(record.msg, str):  # not a dict a JSON formatter would spread out
            try:
                message = record.getMessage()
            except (TypeError, ValueError, KeyError):
                return True  # a broken format: logging reports it as it always does
            record.msg, record.args = mask(message), None
        if record.exc_info:
            record.exc_text = mask(record.exc_text or _TRACEBACK.formatException(record.exc_info))
            record.exc_info = None  # formatters would print the original again
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


_TRACEBACK = logging.Formatter()


def remember(settings: BaseModel) -> None:
    """Remember every secret in ``settings`` (a Settings, or any section of one)."""
    found = {form for value in _secrets(settings) for form in _forms(value)}
    fresh = {s for s in found if len(s) >= MIN_CHARS} - _remembered
    if fresh:
        _remembered.update(fresh)
        _by_length[:] = sorted(_remembered, key=len, reverse=True)


def _secrets(node: Any) -> Iterator[str]:
    """Secret values in a settings tree: every SecretStr, the secret parts of webhook and
    gateway URLs (query values, the last path segment), secret-looking header values, a
    database URL's password, and the Basic-auth pairs the platforms are called with."""
    if isinstance(node, SecretStr):
        yield node.get_secret_value()
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            if name == "url" and value is not None:
                yield from _url_secrets(str(value))
            elif name == "headers" and isinstance(value, Mapping):
                yield from (str(v) for k, v in value.items() if _SECRET_HEADERS.search(str(k)))
            else:
                yield from _secrets(value)
        yield from _pairs(node)
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _secrets(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _secrets(value)


def _url_secrets(url: str) -> Iterator[str]:
    """A URL's password; for a web URL (a bot's webhook), its query values and last path
    segment too, where webhook tokens live."""
    parts = urlsplit(url)
    if parts.password:
        yield parts.password
    if parts.scheme not in ("http", "https"):
        return  # a database URL: its path is a file or a database name
    yield from (value for _key, value in parse_qsl(parts.query))
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if last:
        yield last


def _pairs(node: BaseModel) -> Iterator[str]:
    """``id:secret`` as HTTP Basic auth sends it (Zoom's OAuth client, a Twilio account)."""
    for user, secret in (("client_id", "client_secret"), ("account_sid", "auth_token")):
        name, value = getattr(node, user, None), getattr(node, secret, None)
        if isinstance(name, str) and isinstance(value, SecretStr):
            pair = f"{name}:{value.get_secret_value()}"
            yield base64.b64encode(pair.encode()).decode()


def _forms(secret: str) -> Iterator[str]:
    """A secret as it may appear: itself, URL-quoted, and base64 (SMTP AUTH LOGIN)."""
    yield secret
    yield quote(secret, safe="")
    yield quote_plus(secret)
    yield base64.b64encode(secret.encode()).decode()
