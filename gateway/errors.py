"""The one exception tree: inbound errors become 4xx, refusals are told to the user,
platform errors drive the outbox's retry policy."""

from __future__ import annotations

from gateway.masking import mask


class AckgateError(Exception):
    """Base of every error ackgate raises on purpose."""


# --- inbound: the request itself is wrong (answered 4xx, nothing changes) ---------------


class InboundError(AckgateError):
    """A request we refuse; ``status`` is the HTTP code to answer with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedPayload(InboundError):
    """The body is not what the format promises; ``field`` names where."""

    status = 400

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class Unauthorized(InboundError):
    """Missing or wrong credentials (token, signature, link)."""

    status = 401


class Forbidden(InboundError):
    """Valid credentials that do not allow this."""

    status = 403


class NotFound(InboundError):
    """No such integration, incident or page."""

    status = 404


class PayloadTooLarge(InboundError):
    """The body is over the configured limit."""

    status = 413


# --- refusals: the request is well-formed but the action is not allowed ---------------


class ActionRefused(AckgateError):
    """An action that is shown to the user as a sentence; nothing changed."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- configuration -----------------------------------------------------------------------


class ConfigError(AckgateError):
    """The configuration file is invalid; ``errors`` lists ``key.path: message`` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# --- platform errors: what a sender can raise (the outbox decides what to do) ------------


class PlatformError(AckgateError):
    """A call to an outside service failed; its message never holds a configured secret
    (what the platform answered may echo what it was sent)."""

    retryable = True

    def __init__(self, message: str) -> None:
        super().__init__(mask(message))


class RateLimited(PlatformError):
    """The platform asked us to slow down."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(PlatformError):
    """A transient failure: timeout, connection refused, 5xx."""


class AuthFailed(PlatformError):
    """Our credentials were refused; retrying will not help."""

    retryable = False


class Rejected(PlatformError):
    """The platform refused this message for good (bad target, bad payload)."""

    retryable = False

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code
