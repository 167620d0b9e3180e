"""The Bot Framework's own check of what arrives: botframework-connector's JWT validation of
the ``Authorization`` header, the only module that imports the Bot Framework SDK.

Microsoft archived the Bot Framework SDK (its successor is the Microsoft 365 Agents SDK):
moving means rewriting this module only. Checked, as the Bot Connector service signs them:
the signature (keys from the OpenID metadata's ``jwks_uri``), issuer
``https://api.botframework.com``, audience = our app id, expiry (5 minutes' leeway), the
key's endorsement of the activity's channel, and ``serviceurl`` = the activity's serviceUrl.

The SDK fetches the OpenID metadata and keys with blocking ``requests`` calls (without a
timeout) from inside its coroutines, so validation runs in a small thread pool, each call on
a loop of its own: a slow key server stalls one worker thread, never the gateway's loop.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botbuilder.schema import Activity
from botframework.connector.auth import (
    AuthenticationConfiguration,
    AuthenticationConstants,
    BotFrameworkAuthenticationFactory,
    PasswordServiceClientCredentialFactory,
)

from gateway.config import TeamsSettings
from gateway.errors import Unauthorized, Unavailable

log = logging.getLogger(__name__)

VALIDATE_TIMEOUT_S = 10.0  # the first request of a day waits for the keys to be fetched
WORKERS = 4
REFUSED = "teams: missing or invalid Bot Framework token"


class ChannelAuth:
    """Checks that a request comes from the Bot Connector service, for this bot."""

    def __init__(self, settings: TeamsSettings, token_url: str, *, workers: int = WORKERS) -> None:
        metadata_url = str(settings.openid_metadata_url)
        self._auth: Any = BotFrameworkAuthenticationFactory.create(
            validate_authority=True,
            to_channel_from_bot_login_url=token_url,
            to_channel_from_bot_oauth_scope=AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
            to_bot_from_channel_token_issuer=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
            oauth_url=AuthenticationConstants.OAUTH_URL,
            to_bot_from_channel_open_id_metadata_url=metadata_url,
            # Emulator and skill tokens are checked against the channel's keys too, so none
            # passes: this bot talks to Teams only, and no token sends us to another key server.
            to_bot_from_emulator_open_id_metadata_url=metadata_url,
            credential_factory=PasswordServiceClientCredentialFactory(
                settings.app_id, settings.app_password.get_secret_value(), settings.tenant_id
            ),
            auth_configuration=AuthenticationConfiguration(),
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="teams-jwt")

    async def check(self, authorization: str, channel_id: str, service_url: str) -> None:
        """Return when ``authorization`` is the Bot Connector's token for this activity.

        Raises:
            Unauthorized: No token, or one that fails any check.
            Unavailable: The signing keys cannot be fetched now (try again later).
        """
        if not authorization:
            # The SDK takes None as "already authenticated": never let it see one.
            raise _refused("no Authorization header")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(VALIDATE_TIMEOUT_S):
                await loop.run_in_executor(
                    self._pool, self._validate, authorization, channel_id, service_url
                )
        # Order matters: TimeoutError and PermissionError are OSErrors too.
        except TimeoutError as exc:
            raise Unavailable("teams: the Bot Framework signing keys did not arrive") from exc
        except PermissionError as exc:
            raise _refused(str(exc)) from exc
        except OSError as exc:  # requests' errors: the OpenID metadata or keys are unreachable
            raise Unavailable(f"teams: cannot fetch the Bot Framework signing keys: {exc}") from exc
        except Exception as exc:  # the SDK raises bare Exception (endorsements), and PyJWT errors
            raise _refused(f"{type(exc).__name__}: {exc}") from exc

    def _validate(self, authorization: str, channel_id: str, service_url: str) -> None:
        """The SDK's check, on this worker thread's own loop (its key fetches block)."""
        activity = Activity(channel_id=channel_id, service_url=service_url)
        asyncio.run(self._auth.authenticate_request(activity, authorization))

    def close(self) -> None:
        """Stop the workers; a validation still waiting on the key server is abandoned."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _refused(reason: str) -> Unauthorized:
    """The 401 to answer: why is logged, not told (it would help a forger)."""
    log.info("teams request refused: %s", reason)
    return Unauthorized(REFUSED)
