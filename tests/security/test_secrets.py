"""No configured secret ever leaves the gateway: not in a log line (at DEBUG, tracebacks and
aiohttp's access log included), an HTTP answer, /metrics, check-config or send-test output,
nor in the delivery errors and timeline stored in the database and shown on the incident
page, even when every platform answers every call with an error that echoes the call (its
URL with the bot token, its Authorization header, its body with the app secret).

Every platform, bot, SMS, voice, email, integration and API token is configured with its own
value, each holding the marker SEKRET, and given through ``${ENV}`` as the README advises.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from pytest_aiohttp import AiohttpClient, AiohttpServer

from adapters.registry import build_senders
from gateway import cli
from gateway.background import fallback_hook
from gateway.clock import ManualClock
from gateway.config import load_settings
from gateway.logsetup import QUIET, configure
from gateway.masking import MASK, MaskingFilter, remember
from gateway.notices import catch_up
from gateway.outbox import Dispatcher
from gateway.sendtest import send_test
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from storage import tables
from tests.fakes.echo import SHAPES, EchoFake, smtp_echo
from tests.security.rigs import NOW
from tests.support import fixture

MARKER = "SEKRET"
SECRETS = {
    "ACKGATE_SECRET_KEY": "SEKRET-server-key-0001",
    "PROM_TOKEN": "SEKRET-prom-token-0002",
    "API_TOKEN": "SEKRET-api-token-0003",
    "SLACK_BOT_TOKEN": "xoxb-SEKRET-slack-bot-0004",
    "SLACK_SIGNING_SECRET": "SEKRET-slack-signing-0005",
    "SLACK_APP_TOKEN": "xapp-SEKRET-slack-app-0006",
    "TELEGRAM_BOT_TOKEN": "123456:SEKRET-telegram-bot-0007",
    "TELEGRAM_WEBHOOK_SECRET": "SEKRET-telegram-hook-0008",
    "LARK_APP_SECRET": "SEKRET-lark-app-0009",
    "LARK_VERIFICATION_TOKEN": "SEKRET-lark-verify-0010",
    "LARK_ENCRYPT_KEY": "SEKRET-lark-encrypt-0011",
    "WECOM_SECRET": "SEKRET-wecom-app-0012",
    "WECOM_TOKEN": "SEKRET-wecom-token-0013",
    "WECOM_AES_KEY": "SEKRETwecomAESkey0014" + "A" * 22,  # 43 base64 characters
    "ZOOM_CLIENT_SECRET": "SEKRET-zoom-client-0015",
    "ZOOM_SECRET_TOKEN": "SEKRET-zoom-token-0016",
    "TEAMS_APP_PASSWORD": "SEKRET-teams-password-0017",
    "DINGTALK_APP_SECRET": "SEKRET-dingtalk-app-0018",
    "TWILIO_AUTH_TOKEN": "SEKRET-twilio-auth-0019",
    "SMTP_PASSWORD": "SEKRET-smtp-password-0020",
    "SMS_API_KEY": "SEKRET-sms-header-0021",
    "SMS_URL_KEY": "SEKRET-sms-url-0022",
    "WEBHOOK_SECRET": "SEKRET-webhook-signing-0023",
    "WEBHOOK_PATH": "SEKRET-webhook-path-0024",
    "SLACK_HOOK": "SEKRET-slack-hook-0025",
    "DINGTALK_BOT_TOKEN": "SEKRET-dingtalk-bot-0026",
    "DINGTALK_BOT_SECRET": "SEKRET-dingtalk-bot-sign-0027",
    "WECOM_BOT_KEY": "SEKRET-wecom-bot-0028",
    "LARK_BOT_HOOK": "SEKRET-lark-bot-0029",
    "LARK_BOT_SECRET": "SEKRET-lark-bot-sign-0030",
    "ZOOM_BOT_HOOK": "SEKRET-zoom-bot-0031",
    "ZOOM_BOT_TOKEN": "SEKRET-zoom-bot-verify-0032",
    "TELEGRAM_BOT2_TOKEN": "654321:SEKRET-telegram-bot2-0033",
}
ACCOUNT_SID = "AC" + "5" * 32
CONFIG = """
[server]
listen = "127.0.0.1:8080"
public_url = "https://oncall.example.com"
secret_key = "${{ACKGATE_SECRET_KEY}}"

[database]
url = "sqlite+aiosqlite:///{db}"

[outbox]
max_attempts = 2
base_delay_s = 0.01
max_delay_s = 0.02
send_timeout_s = 5

[integrations.prometheus]
format = "alertmanager"
token = "${{PROM_TOKEN}}"

[[api_tokens]]
token = "${{API_TOKEN}}"
member = "alice"

[members.alice]
name = "Alice"
email = "alice@example.com"
phone = "+15550100001"
identities = [
  {{ platform = "slack", user_id = "UALICE" }},
  {{ platform = "telegram", user_id = "111" }},
  {{ platform = "lark", user_id = "ou_alice" }},
  {{ platform = "wecom", user_id = "alice.wang" }},
  {{ platform = "zoom", user_id = "alice@xmpp.zoom.us" }},
  {{ platform = "teams", user_id = "{echo}/teams/|aaaaaaaa-0000-4000-8000-00000000a11c" }},
  {{ platform = "dingtalk", user_id = "staff-alice" }},
]
[members.alice.preferences]
critical = [
  {{ channel = "sms" }}, {{ channel = "voice" }}, {{ channel = "email" }},
  {{ channel = "slack" }}, {{ channel = "telegram" }}, {{ channel = "lark" }},
  {{ channel = "wecom" }}, {{ channel = "zoom" }}, {{ channel = "teams" }},
  {{ channel = "dingtalk" }},
]

[services.default.escalation]
levels = [{{ targets = ["alice"], wait_min = 5, chats = [
  "webhook", "slack_bot", "dingtalk_bot", "wecom_bot", "lark_bot", "zoom_bot", "telegram_bot",
] }}]

[[services.default.notify]]
kind = "slack"
chat = "C0INC"
[[services.default.notify]]
kind = "telegram"
chat = "-1001234567890"
[[services.default.notify]]
kind = "lark"
chat = "oc_incidents"
[[services.default.notify]]
kind = "zoom"
chat = "oncall@conference.xmpp.zoom.us"
[[services.default.notify]]
kind = "teams"
chat = "{echo}/teams/|19:oncall@thread.tacv2"
[[services.default.notify]]
kind = "dingtalk"
chat = "cidOnCall=="

[destinations.webhook]
url = "{echo}/webhook/in/${{WEBHOOK_PATH}}"
secret = "${{WEBHOOK_SECRET}}"
[destinations.slack_bot]
kind = "slack_bot"
url = "{echo}/slackbot/services/T0/B0/${{SLACK_HOOK}}"
[destinations.dingtalk_bot]
kind = "dingtalk_bot"
url = "{echo}/dingtalkbot/robot/send?access_token=${{DINGTALK_BOT_TOKEN}}"
secret = "${{DINGTALK_BOT_SECRET}}"
[destinations.wecom_bot]
kind = "wecom_bot"
url = "{echo}/wecombot/cgi-bin/webhook/send?key=${{WECOM_BOT_KEY}}"
[destinations.lark_bot]
kind = "lark_bot"
url = "{echo}/larkbot/open-apis/bot/v2/hook/${{LARK_BOT_HOOK}}"
secret = "${{LARK_BOT_SECRET}}"
[destinations.zoom_bot]
kind = "zoom_bot"
url = "{echo}/zoombot/chat/webhooks/incomingwebhook/${{ZOOM_BOT_HOOK}}"
secret = "${{ZOOM_BOT_TOKEN}}"
[destinations.telegram_bot]
kind = "telegram_bot"
url = "{echo}/telegrambot"
token = "${{TELEGRAM_BOT2_TOKEN}}"
chat_ids = ["-100777"]

[slack]
bot_token = "${{SLACK_BOT_TOKEN}}"
signing_secret = "${{SLACK_SIGNING_SECRET}}"
app_token = "${{SLACK_APP_TOKEN}}"
api_base_url = "{echo}/slack/api/"

[telegram]
bot_token = "${{TELEGRAM_BOT_TOKEN}}"
webhook_secret = "${{TELEGRAM_WEBHOOK_SECRET}}"
api_base_url = "{echo}/telegram"

[lark]
app_id = "cli_echo"
app_secret = "${{LARK_APP_SECRET}}"
verification_token = "${{LARK_VERIFICATION_TOKEN}}"
encrypt_key = "${{LARK_ENCRYPT_KEY}}"
api_base_url = "{echo}/lark"

[wecom]
corp_id = "wwecho"
agent_id = 1000002
secret = "${{WECOM_SECRET}}"
token = "${{WECOM_TOKEN}}"
encoding_aes_key = "${{WECOM_AES_KEY}}"
api_base_url = "{echo}/wecom"

[zoom]
client_id = "zoom-client"
client_secret = "${{ZOOM_CLIENT_SECRET}}"
bot_jid = "bot@xmpp.zoom.us"
account_id = "zoom-account"
secret_token = "${{ZOOM_SECRET_TOKEN}}"
api_base_url = "{echo}/zoom"
oauth_url = "{echo}/zoomauth"

[teams]
app_id = "00000000-0000-4000-8000-0000000a99ea"
app_password = "${{TEAMS_APP_PASSWORD}}"
tenant_id = "11111111-1111-4111-8111-111111111111"
openid_metadata_url = "{echo}/aad/openid"
token_url = "{echo}/aad/token"

[dingtalk]
client_id = "dingecho"
client_secret = "${{DINGTALK_APP_SECRET}}"
robot_code = "dingecho"
mode = "http"
api_base_url = "{echo}/dingtalk"

[email]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
username = "ackgate"
password = "${{SMTP_PASSWORD}}"
from_address = "oncall@example.com"

[sms]
provider = "http"
[sms.http]
url = "{echo}/sms/send?key=${{SMS_URL_KEY}}"
headers = {{ "X-Api-Key" = "${{SMS_API_KEY}}" }}

[voice]
provider = "twilio"
[voice.twilio]
account_sid = "{account_sid}"
auth_token = "${{TWILIO_AUTH_TOKEN}}"
from_number = "+15005550006"
api_base_url = "{echo}/twilio"
"""
BROKEN = """
[server]
secret_key = "${{ACKGATE_SECRET_KEY}}"
[integrations.prometheus]
format = "alertmanager"
token = "${{PROM_TOKEN}}"
tokn = "${{PROM_TOKEN}}"
[slack]
bot_token = "${{SLACK_BOT_TOKEN}}"
signing_secret = 12345
[telegram]
bot_token = "${{TELEGRAM_BOT_TOKEN}}"
webhook_secret = "${{TELEGRAM_WEBHOOK_SECRET}}"
mode = "${{TELEGRAM_BOT_TOKEN}}"
[wecom]
corp_id = "ww"
agent_id = 1
secret = "${{WECOM_SECRET}}"
token = "${{WECOM_TOKEN}}"
encoding_aes_key = "${{WECOM_SECRET}}"
[destinations.bot]
kind = "slack_bot"
url = "not a url ${{SLACK_HOOK}}"
[[api_tokens]]
token = "${{API_TOKEN}}"
member = "nobody ${{API_TOKEN}}"
"""


HOOKS = (
    "/hooks/slack",
    "/hooks/telegram",
    "/hooks/lark",
    "/hooks/wecom?msg_signature=1&timestamp=1&nonce=1",
    "/hooks/zoom",
    "/hooks/teams",
    "/hooks/dingtalk",
    "/hooks/sms/twilio",
    "/hooks/voice/twilio?n=1",
    "/v1/alerts/prometheus",
    "/v1/incidents/1/actions",
)


def leaks(text: str) -> list[str]:
    """Every secret (or a form of one: URL-quoted, in an HTTP Basic or SMTP AUTH blob) in
    ``text``; the marker alone catches a secret cut short too."""
    found = [name for name, value in SECRETS.items() if value in text]
    for label, blob in _encoded().items():
        if blob in text:
            found.append(label)
    if MARKER in text and not found:
        at = text.index(MARKER)
        found.append(f"marker: …{text[max(0, at - 80) : at + 40]}…")
    return found


def _encoded() -> dict[str, str]:
    def b64(raw: str) -> str:
        return base64.b64encode(raw.encode()).decode()

    return {
        "zoom basic auth": b64(f"zoom-client:{SECRETS['ZOOM_CLIENT_SECRET']}"),
        "twilio basic auth": b64(f"{ACCOUNT_SID}:{SECRETS['TWILIO_AUTH_TOKEN']}"),
        "smtp auth plain": b64(f"\0ackgate\0{SECRETS['SMTP_PASSWORD']}"),
        "smtp auth login": b64(SECRETS["SMTP_PASSWORD"]),
        **{f"{name} in base64": b64(value) for name, value in SECRETS.items()},
    }


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every secret in the environment, as the README advises (the TOML holds ``${NAME}``)."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
async def echo(aiohttp_server: AiohttpServer) -> EchoFake:
    """The fake that refuses everything, echoing it."""
    fake = EchoFake()
    # Its own access log would print what the gateway sent it: that is the platform's log.
    server = await aiohttp_server(fake.app, access_log=None)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[int, list[str]]]:
    """An SMTP server that refuses AUTH, echoing it: its port and what it was told."""
    said: list[str] = []
    server = await smtp_echo(said)
    port = server.sockets[0].getsockname()[1]
    yield port, said
    server.close()
    await server.wait_closed()


@pytest.fixture
def config(
    tmp_path: Path, secret_env: None, echo: EchoFake, smtp: tuple[int, list[str]], database: Path
) -> Path:
    """The configuration file: every section, every secret as ``${NAME}``."""
    path = tmp_path / "ackgate.toml"
    text = CONFIG.format(db=database, echo=echo.url, smtp_port=smtp[0], account_sid=ACCOUNT_SID)
    path.write_text(text)
    assert MARKER not in text
    return path


def test_check_config_says_ok_or_what_is_wrong_without_a_secret(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "OK"
    broken = tmp_path / "broken.toml"
    broken.write_text(BROKEN.format())
    assert cli.main(["check-config", "--config", str(broken)]) == 1
    out = capsys.readouterr()
    assert "slack.signing_secret" in out.out  # it does say what is wrong
    assert "integrations.prometheus.tokn: unknown key" in out.out
    assert leaks(out.out + out.err) == [], out.out


@pytest.fixture
def masked(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """``caplog`` writing through the filter ``logsetup.configure`` puts on its handler (and
    only for this test: pytest keeps one capture handler for the whole session)."""
    masking = MaskingFilter()
    caplog.handler.addFilter(masking)
    yield caplog
    caplog.handler.removeFilter(masking)


async def test_no_secret_in_logs_answers_or_stored_errors(
    config: Path,
    echo: EchoFake,
    smtp: tuple[int, list[str]],
    aiohttp_client: AiohttpClient,
    masked: pytest.LogCaptureFixture,
) -> None:
    caplog = masked
    # Logs as ackgate's handler writes them (logsetup.configure): everything at DEBUG, the
    # libraries at the levels it sets, but aiohttp's access log let through as well.
    caplog.set_level(logging.DEBUG)
    for name, level in QUIET.items():
        caplog.set_level(level, logger=name)
    caplog.set_level(logging.DEBUG, logger="aiohttp.access")
    settings = load_settings(config)
    clock = ManualClock(NOW)
    client = await aiohttp_client(create_app(settings, clock=clock, workers=False))
    rt = client.app[RUNTIME]
    seen: list[str] = []

    async def answer(method: str, path: str, **kwargs: Any) -> int:
        r = await client.request(method, path, allow_redirects=False, **kwargs)
        seen.append(f"{method} {path} {r.status} {dict(r.headers)} {await r.text()}")
        return r.status

    api = {"Authorization": f"Bearer {SECRETS['API_TOKEN']}"}
    ingest = {"Authorization": f"Bearer {SECRETS['PROM_TOKEN']}"}
    assert (
        await answer(
            "POST",
            "/v1/alerts/prometheus",
            json=fixture("alertmanager", "firing.json"),
            headers=ingest,
        )
        == 202
    )

    # Every delivery fails against the echo, then fails for good, then falls back.
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(
            rt.db,
            build_senders(settings, session),
            settings.outbox,
            clock,
            rt.metrics,
            on_posted=lambda conn, cards, now: catch_up(conn, settings, cards, now),
            on_failed=fallback_hook(rt),
        )
        for _ in range(12):
            await dispatcher.run_once()
            clock.advance(seconds=1)
        # send-test, as the CLI and POST /v1/destinations/{name}/test run it
        refs = [*sorted(settings.destinations), "sms:alice", "voice:alice", "email:alice"]
        seen.extend([await send_test(settings, ref) for ref in refs])
        for name in sorted(settings.destinations):
            assert await answer("POST", f"/v1/destinations/{name}/test", headers=api) == 502

    # Forged calls to every endpoint, and the pages and feeds anyone can see.
    forged = {"Authorization": "Bearer SEKRIT-guess", "X-Slack-Signature": "v0=00"}
    for path in HOOKS:
        assert 400 <= await answer("POST", path, data=b'{"type":"x"}', headers=forged) < 500
    for path in ("/healthz", "/metrics", "/v1/openapi.json", "/login", "/incidents/1"):
        await answer("GET", path)
    for path in (
        "/v1/incidents/1",
        "/v1/incidents",
        "/v1/destinations",
        "/incidents/1",
        "/incidents",
    ):
        assert await answer("GET", path, headers=api) == 200
    await asyncio.sleep(0)  # let background answers (Telegram's setWebhook) log their end

    stored = await _stored(client.app)
    # Every platform was called (and echoed secrets back), every kind of failure was stored
    # and shown: the checks below look at real errors, masked.
    called = {call.split(" ", 2)[1].strip("/").split("/", 1)[0] for call in echo.calls}
    unreached = {"teams", "zoom"}  # their APIs are called with a token the echo never gives
    assert called >= set(SHAPES) - unreached, set(SHAPES) - called
    assert any(MARKER in call for call in echo.calls), "the echo should have held secrets"
    assert "delivery_failed" in stored, "no delivery failed for good"
    assert MASK in stored, "no stored error held a masked secret"
    [page] = [s for s in seen if s.startswith("GET /incidents/1 200") and "Bearer" not in s[:40]]
    assert MASK in page, "the incident page shows no delivery error"
    assert leaks(stored) == [], stored
    assert leaks("\n".join(seen)) == [], [s for s in seen if leaks(s)]
    logged = caplog.text
    assert leaks(logged) == [], [line[:300] for line in logged.splitlines() if leaks(line)][:40]


async def _stored(app: Any) -> str:
    """The delivery errors and the timeline, as stored (what the incident page shows)."""
    t = tables
    async with app[RUNTIME].db.read() as conn:
        errors = (await conn.execute(sa.select(t.deliveries.c.last_error))).scalars().all()
        attempts = (await conn.execute(sa.select(t.delivery_attempts.c.error))).scalars().all()
        timeline = (await conn.execute(sa.select(t.timeline.c.kind, t.timeline.c.data))).all()
    return json.dumps(
        {"last_error": errors, "attempts": attempts, "timeline": [list(r) for r in timeline]},
        default=str,
    )


def test_the_log_handler_masks_what_it_writes(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The handler ``ackgate serve`` installs masks secrets: what the test above relies on."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in QUIET})
    try:
        configure("DEBUG", json_lines=True)
        [handler] = root.handlers
        assert any(isinstance(f, MaskingFilter) for f in handler.filters)
        remember(load_settings(config))
        try:
            _echo_a_token()
        except ValueError:
            logging.getLogger("telegram.Bot").exception(
                "Set Bot API URL: %s", f"https://x/bot{SECRETS['TELEGRAM_BOT_TOKEN']}"
            )
        written = capsys.readouterr().err
    finally:
        root.handlers[:], level, levels = saved
        root.setLevel(level)
        for name, was in levels.items():
            logging.getLogger(name).setLevel(was)
    assert "Set Bot API URL: https://x/bot****" in written
    assert "echoed ****" in written
    assert leaks(written) == []


def _echo_a_token() -> None:
    raise ValueError(f"echoed {SECRETS['SLACK_BOT_TOKEN']}")
