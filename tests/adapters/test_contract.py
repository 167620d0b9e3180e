"""Every platform, one contract: its inbound endpoint refuses an unsigned or forged request
with a 4xx and changes nothing, and the configuration that enables it also gives it a sender."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.registry import build_senders
from gateway.clock import ManualClock
from gateway.config import CHAT_PLATFORMS
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from storage import repo
from tests.support import make_settings

AES_KEY = "a" * 43
PLATFORMS: dict[str, tuple[dict[str, Any], str, dict[str, str]]] = {
    # platform: (its settings section, its endpoint, headers of a forged request)
    "slack": (
        {"bot_token": "xoxb-contract", "signing_secret": "contract-signing-secret"},
        "/hooks/slack",
        {"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": "v0=" + "0" * 64},
    ),
    "telegram": (
        {"bot_token": "123456:contract-token", "webhook_secret": "contract-secret"},
        "/hooks/telegram",
        {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"},
    ),
    "lark": (
        {"app_id": "cli_contract", "app_secret": "contract-secret", "encrypt_key": "k" * 16},
        "/hooks/lark",
        {
            "X-Lark-Request-Timestamp": "1700000000",
            "X-Lark-Request-Nonce": "n",
            "X-Lark-Signature": "0" * 64,
        },
    ),
    "wecom": (
        {
            "corp_id": "wwcontract",
            "agent_id": 1,
            "secret": "contract-secret",
            "token": "tok",
            "encoding_aes_key": AES_KEY,
        },
        "/hooks/wecom?msg_signature=00&timestamp=1700000000&nonce=1",
        {},
    ),
    "zoom": (
        {
            "client_id": "zc",
            "client_secret": "contract-secret",
            "bot_jid": "bot@xmpp.zoom.us",
            "account_id": "acc",
            "secret_token": "contract-secret",
        },
        "/hooks/zoom",
        {"x-zm-request-timestamp": "1700000000", "x-zm-signature": "v0=" + "0" * 64},
    ),
    "teams": (
        {"app_id": "00000000-0000-0000-0000-000000000001", "app_password": "contract-pass"},
        "/hooks/teams",
        {},  # no Authorization header at all
    ),
    "dingtalk": (
        {
            "client_id": "dingcontract",
            "client_secret": "contract-secret",
            "robot_code": "dingcontract",
            "mode": "http",
        },
        "/hooks/dingtalk",
        {"timestamp": "1700000000000", "sign": "AAAA"},
    ),
}


def test_every_chat_platform_is_covered() -> None:
    assert set(PLATFORMS) == set(CHAT_PLATFORMS)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
async def test_forged_requests_are_refused_and_change_nothing(
    platform: str, aiohttp_client: Any, tmp_path: Path
) -> None:
    section, path, headers = PLATFORMS[platform]
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/t.db", None, **{platform: section})
    app = create_app(settings, clock=ManualClock(), workers=False)
    client = await aiohttp_client(app)
    rt = app[RUNTIME]
    async with rt.db.read() as conn:
        before = await repo.count_by_status(conn)
    for body in (b'{"type":"url_verification","challenge":"x"}', b"", b"\xff\xfe", b"{"):
        r = await client.post(path, data=body, headers=headers)
        assert 400 <= r.status < 500, (platform, body, r.status, await r.text())
    async with rt.db.read() as conn:
        assert await repo.count_by_status(conn) == before


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
async def test_a_configured_platform_has_a_sender(platform: str, tmp_path: Path) -> None:
    section, _, _ = PLATFORMS[platform]
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/t.db", None, **{platform: section})
    async with aiohttp.ClientSession() as session:
        senders = build_senders(settings, session)
        assert senders[platform].channel == platform
