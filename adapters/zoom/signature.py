"""Zoom's webhook crypto: the ``x-zm-signature`` check and the URL-validation answer.

Written once, small: ``v0=`` + hex(HMAC-SHA256(secret token, ``v0:{timestamp}:{raw body}``)),
and ``encryptedToken`` = hex(HMAC-SHA256(secret token, plainToken)).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
VERSION = "v0"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``x-zm-signature`` value Zoom sends with ``body`` signed at ``timestamp``."""
    message = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}={_hex(secret, message)}"


def signed(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    """Whether ``given`` is the signature of ``body`` at ``timestamp`` (constant time)."""
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), given.encode())


def encrypted_token(secret: str, plain_token: str) -> str:
    """The ``encryptedToken`` that answers an ``endpoint.url_validation`` challenge."""
    return _hex(secret, plain_token.encode())


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
