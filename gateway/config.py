"""The TOML configuration: pydantic models that refuse unknown keys, ``${ENV}`` secrets,
and cross-reference checks whose errors name the exact key path."""

from __future__ import annotations

import functools
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.domain import Severity, Verb
from gateway.errors import ConfigError
from gateway.matching import RouteRuleSettings
from gateway.policies import (
    DIRECT_CHANNELS,
    EscalationSettings,
    LevelSettings,
    Preferences,
    split_target,
)
from gateway.schedules import ScheduleSettings, check_members
from gateway.strict import Strict
from gateway.templates import TemplateSettings

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# The languages notices and answers are worded in.
Language = Literal["en", "zh"]


class ServerSettings(Strict):
    """The HTTP listener and how links to it are made."""

    listen: str = "127.0.0.1:8080"
    public_url: str | None = None
    secret_key: SecretStr = Field(min_length=16)
    max_body_kb: int = Field(default=1024, gt=0)
    link_ttl_h: float = Field(default=24.0, gt=0)
    # What cards, pages and the bots' answers are worded in, unless a member says otherwise.
    language: Language = "en"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_listen(value)
        return value

    @property
    def base_url(self) -> str:
        """The URL people are sent to, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host, port = split_listen(self.listen)
        return f"http://{host}:{port}"


def split_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` → ``(host, port)``; raises ValueError with a readable message."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


class DatabaseSettings(Strict):
    """Where state lives: SQLite by default, PostgreSQL for several replicas."""

    url: str = "sqlite+aiosqlite:///ackgate.db"
    pool_size: int = Field(default=10, gt=0)
    schema_name: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class IntegrationSettings(Strict):
    """One alert source: its format, token and how its fields map to ours."""

    format: Literal["alertmanager", "grafana", "generic"]
    token: SecretStr = Field(min_length=8)
    severity_label: str = "severity"
    severity_map: dict[str, Severity] = Field(default_factory=dict)
    default_severity: Severity = Severity.WARNING
    close_on_resolve: bool = True


class IdentitySettings(Strict):
    """A chat account that belongs to a member."""

    platform: str
    user_id: str
    workspace: str = ""


class MemberSettings(Strict):
    """A person who can be paged and can act."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    timezone: str = "UTC"
    identities: list[IdentitySettings] = Field(default_factory=list)
    preferences: Preferences = Field(default_factory=dict)
    fallback: list[str] | None = None  # overrides the service's
    language: Language | None = None  # their DMs, mails and the bots' answers to them

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class ApiTokenSettings(Strict):
    """A bearer token for the REST API that acts as one member."""

    token: SecretStr = Field(min_length=8)
    member: str
    admin: bool = False  # may act on behalf of any member (e.g. an automation)


class GroupSettings(Strict):
    """A team of members, paged together as ``group:NAME``."""

    description: str = ""
    members: list[str] = Field(min_length=1)


# Group bots reached through a webhook (no app, no buttons: each notice links to the
# incident page). The token is the bot's platform followed by "_bot".
BOT_KINDS = ("lark_bot", "dingtalk_bot", "wecom_bot", "slack_bot", "zoom_bot", "telegram_bot")
BOT_EVENTS = ("triggered", "acknowledged", "closed", "reopened", "escalated", "commented")
TELEGRAM_API = "https://api.telegram.org"


class DestinationSettings(Strict):
    """Where a service's incidents go besides the people paged.

    ``kind = "webhook"`` POSTs every incident event as JSON to ``url`` (signed with ``secret``);
    a chat platform's token (``kind = "slack"``) posts a card to ``chat`` and keeps it updated;
    a bot kind (``"wecom_bot"``, …) posts a message per event to the bot's webhook ``url``
    (Telegram: ``token`` and ``chat_ids``), filtered by ``severities`` and ``events``, with
    the people paged @mentioned (``mentions``), worded by ``template``.
    """

    kind: str = "webhook"
    alias: str | None = None
    url: HttpUrl | None = None
    secret: SecretStr | None = None
    chat: str | None = Field(default=None, min_length=1)
    severities: list[Severity] | None = None
    events: list[Literal[BOT_EVENTS]] | None = None  # type: ignore[valid-type]
    # Bots only: who is @mentioned, whether @all is, and the bot's own wording per event.
    mentions: Literal["paged", "assignee", "none"] = "paged"
    at_all: bool = False
    template: dict[str, str] = Field(default_factory=dict)
    # Feishu/DingTalk bots may only accept messages holding a keyword: it is added if absent.
    keyword: str | None = Field(default=None, min_length=1)
    token: SecretStr | None = None  # Telegram bot token
    chat_ids: list[str] = Field(default_factory=list)  # Telegram chats

    @model_validator(mode="after")
    def _shape(self) -> DestinationSettings:
        bot = self.kind in BOT_KINDS
        if not bot and (
            self.token or self.chat_ids or self.template or self.at_all or self.keyword
        ):
            raise ValueError("token, chat_ids, template, keyword and at_all are for bot kinds")
        if self.kind == "webhook":
            if self.url is None:
                raise ValueError("a webhook destination needs url")
            if self.chat is not None:
                raise ValueError("a webhook destination takes url, not chat")
        elif self.kind == "telegram_bot":
            if self.token is None or not self.chat_ids:
                raise ValueError("a telegram_bot destination needs token and chat_ids")
        elif bot:
            if self.url is None:
                raise ValueError(f"a {self.kind} destination needs url (the bot's webhook)")
            if self.kind == "zoom_bot" and self.secret is None:
                raise ValueError("a zoom_bot destination needs secret (its verification token)")
        elif self.chat is None:
            raise ValueError(f"a {self.kind} destination needs chat (the channel or chat id)")
        elif self.url is not None or self.secret is not None:
            raise ValueError(f"a {self.kind} destination takes chat, not url or secret")
        if self.template:
            TemplateSettings.model_validate({self.kind: self.template})
        return self

    @functools.cached_property
    def templates(self) -> TemplateSettings | None:
        """The bot's own template as the template engine takes it."""
        return (
            TemplateSettings.model_validate({self.kind: self.template}) if self.template else None
        )


Destination = DestinationSettings


class EmailSettings(Strict):
    """SMTP for incident mail: ``tls = "starttls"`` (port 587), ``"tls"`` (465) or ``"none"``."""

    host: str
    port: int = Field(default=587, gt=0, lt=65536)
    tls: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = Field(min_length=3)
    from_name: str = "ackgate"
    timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _auth_pairs(self) -> EmailSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class TwilioSettings(Strict):
    """A Twilio (or Twilio-compatible) account: SMS and calls, and the signed webhooks back."""

    account_sid: str = Field(min_length=2)
    auth_token: SecretStr = Field(min_length=8)
    from_number: str = Field(pattern=r"^\+[1-9]\d{6,14}$")  # E.164
    api_base_url: HttpUrl = HttpUrl("https://api.twilio.com")


class HttpProviderSettings(Strict):
    """Any SMS or text-to-speech gateway with an HTTP API (Aliyun/Tencent-style or in-house).

    ``body`` is a Jinja template (sandboxed) given ``to``, ``text``, ``number`` and ``url``;
    the answer is a success when its status is 2xx and, if ``ok_json`` is set, the JSON field
    it names (dotted) equals ``ok_value``.
    """

    url: HttpUrl
    method: Literal["POST", "PUT", "GET"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = '{"to": {{ to | tojson }}, "text": {{ text | tojson }}}'
    content_type: str = "application/json"
    ok_json: str | None = None
    ok_value: str = "OK"


class SmsSettings(Strict):
    """Text messages: through Twilio, or an HTTP gateway."""

    provider: Literal["twilio", "http"]
    twilio: TwilioSettings | None = None
    http: HttpProviderSettings | None = None

    @model_validator(mode="after")
    def _provider_section(self) -> SmsSettings:
        if getattr(self, self.provider) is None:
            raise ValueError(f"provider {self.provider!r} needs its [{self.provider}] table")
        return self


class VoiceSettings(SmsSettings):
    """Phone calls that read the incident: Twilio (with a keypad: 1 ack, 2 escalate, 3 repeat)
    or an HTTP text-to-speech gateway (no keypad)."""


class SlackSettings(Strict):
    """The Slack app: bot token and signing secret from the app's settings page."""

    bot_token: SecretStr = Field(min_length=8)
    signing_secret: SecretStr = Field(min_length=8)
    api_base_url: HttpUrl = HttpUrl("https://slack.com/api/")
    app_token: SecretStr | None = None  # Socket Mode, for gateways without a public URL
    workspace: str = ""  # team id; identities link to it ("" accepts any)
    command: str = "/oncall"
    dm_assignees: bool = True
    thread_replies: bool = True


class TelegramSettings(Strict):
    """The Telegram bot: its token, and how updates arrive (a webhook, or long polling)."""

    bot_token: SecretStr = Field(min_length=8)
    api_base_url: HttpUrl = HttpUrl(TELEGRAM_API)  # or a self-hosted Bot API server / proxy
    mode: Literal["webhook", "polling"] = "webhook"
    # Sent by Telegram as X-Telegram-Bot-Api-Secret-Token: without it anyone who knows the
    # URL could act. Required in webhook mode.
    webhook_secret: SecretStr | None = Field(default=None, min_length=8)
    dm_assignees: bool = True
    thread_replies: bool = False

    @model_validator(mode="after")
    def _secret_for_webhooks(self) -> TelegramSettings:
        if self.mode == "webhook" and self.webhook_secret is None:
            raise ValueError("webhook mode needs webhook_secret (1–256 of A-Z a-z 0-9 _ -)")
        return self


LARK_HOSTS = {"feishu": "https://open.feishu.cn", "lark": "https://open.larksuite.com"}


class LarkSettings(Strict):
    """The Feishu/Lark custom app: credentials, event security, and how events arrive.

    ``mode = "webhook"``: Feishu posts to ``/hooks/lark``, proven by the encrypt key or
    the verification token (one is required). ``mode = "long_connection"``: the gateway
    opens the connection with the app id and secret, so neither is needed; set, they
    keep ``/hooks/lark`` working beside it.
    """

    app_id: str = Field(min_length=2)
    app_secret: SecretStr = Field(min_length=8)
    verification_token: SecretStr | None = None
    encrypt_key: SecretStr | None = None
    region: Literal["feishu", "lark"] = "feishu"
    api_base_url: HttpUrl | None = None  # default: the region's open platform host
    mode: Literal["webhook", "long_connection"] = "webhook"
    dm_assignees: bool = True
    thread_replies: bool = True

    @model_validator(mode="after")
    def _event_security(self) -> LarkSettings:
        if self.mode == "webhook" and not self.webhook_guarded:
            raise ValueError(
                "set encrypt_key (recommended) or verification_token: without either, "
                'anyone could post events (or use mode = "long_connection", which needs '
                "neither)"
            )
        return self

    @property
    def webhook_guarded(self) -> bool:
        """Whether ``POST /hooks/lark`` can tell Feishu's requests from forged ones."""
        return self.verification_token is not None or self.encrypt_key is not None

    @property
    def base_url(self) -> str:
        """Where the Open API is, without a trailing slash."""
        return str(self.api_base_url or LARK_HOSTS[self.region]).rstrip("/")


class WecomSettings(Strict):
    """The WeCom self-built app: corp, agent, secret, and the callback's token and AES key."""

    corp_id: str = Field(min_length=2)
    agent_id: int
    secret: SecretStr = Field(min_length=8)
    token: SecretStr = Field(min_length=3)  # the callback's signing token
    encoding_aes_key: SecretStr = Field(min_length=43, max_length=43)
    api_base_url: HttpUrl = HttpUrl("https://qyapi.weixin.qq.com")
    dm_assignees: bool = True
    thread_replies: bool = False


class ZoomSettings(Strict):
    """The Zoom Team Chat chatbot: OAuth client, bot JID, and the webhook secret token."""

    client_id: str = Field(min_length=2)
    client_secret: SecretStr = Field(min_length=8)
    bot_jid: str = Field(min_length=3)
    account_id: str = Field(min_length=2)
    secret_token: SecretStr = Field(min_length=8)  # signs x-zm-signature, answers validation
    api_base_url: HttpUrl = HttpUrl("https://api.zoom.us")
    oauth_url: HttpUrl = HttpUrl("https://zoom.us")
    dm_assignees: bool = True
    thread_replies: bool = False
    # The account's plan sets its API rate (Free 2 a second and 2,000 a day, Pro 20 a
    # second, Business and up 60): the gateway keeps under it.
    plan: Literal["free", "pro", "business"] = "pro"


class TeamsSettings(Strict):
    """The Microsoft Teams bot: its Entra ID (Azure AD) app, and where tokens come from."""

    app_id: str = Field(min_length=2)
    app_password: SecretStr = Field(min_length=8)
    tenant_id: str | None = None  # single-tenant bots: tokens come from this tenant
    openid_metadata_url: HttpUrl = HttpUrl(
        "https://login.botframework.com/v1/.well-known/openidconfiguration"
    )
    token_url: HttpUrl | None = None  # default: login.microsoftonline.com for the tenant
    dm_assignees: bool = True
    thread_replies: bool = True


class DingtalkSettings(Strict):
    """The DingTalk internal app and its robot: Stream mode (no public URL) or HTTP."""

    client_id: str = Field(min_length=2)  # AppKey
    client_secret: SecretStr = Field(min_length=8)  # AppSecret
    robot_code: str = Field(min_length=2)
    api_base_url: HttpUrl = HttpUrl("https://api.dingtalk.com")
    mode: Literal["stream", "http"] = "stream"
    # HTTP mode: where DingTalk posts card button clicks (``https://<gateway>/hooks/dingtalk/card``).
    card_callback_url: HttpUrl | None = None
    dm_assignees: bool = True
    thread_replies: bool = False

    @model_validator(mode="after")
    def _card_callback_in_http_mode(self) -> DingtalkSettings:
        if self.card_callback_url is not None and self.mode != "http":
            raise ValueError(
                'card_callback_url is for mode = "http": in Stream mode card clicks come '
                "over the Stream connection"
            )
        return self


# Who may act on a service's incidents, widest first.
MayAct = Literal["everyone", "team", "responders"]


class ServiceSettings(Strict):
    """Owns incidents: who is paged and which destinations follow them."""

    description: str = ""
    # One policy, or several tried in order (``[[services.NAME.policies]]``); not both.
    escalation: EscalationSettings | None = None
    policies: list[EscalationSettings] = Field(default_factory=list)
    # How members without preferences of their own are reached, per severity.
    preferences: Preferences = Field(default_factory=dict)
    # When a page to a person fails for good, the channels tried next (default sms, email).
    fallback: list[str] | None = None
    notify: list[Destination] = Field(default_factory=list)
    # The buttons its cards offer (of those that fit the incident's status); all by default.
    card_buttons: list[Verb] | None = None
    # Its own wording per channel kind and event (Jinja2, sandboxed); built-ins otherwise.
    templates: TemplateSettings | None = None
    # Which members may act on its incidents (see ``gateway.permission``): any member, its
    # team (everyone its policies name, plus ``team``), or only the people its incident paged,
    # was assigned or acknowledged. Whoever an incident paged may always act on it.
    may_act: MayAct = "everyone"
    # More of the team than the policies name: members, ``group:NAME``, ``schedule:NAME``.
    team: list[str] = Field(default_factory=list)

    @field_validator("team")
    @classmethod
    def _team_entries(cls, value: list[str]) -> list[str]:
        for entry in value:
            split_target(entry)
        return value

    @model_validator(mode="after")
    def _team_needs_team_mode(self) -> ServiceSettings:
        if self.team and self.may_act != "team":
            raise ValueError(f'team is only read with may_act = "team" (here: "{self.may_act}")')
        return self

    def escalation_policies(self) -> list[tuple[str, EscalationSettings]]:
        """Its policies in the order they are tried, each with its key path."""
        if self.escalation is not None:
            return [("escalation", self.escalation)]
        return [(f"policies[{i}]", p) for i, p in enumerate(self.policies)]


class RoutingSettings(Strict):
    """Routing rules and the service that catches the rest."""

    default_service: str = "default"
    rules: list[RouteRuleSettings] = Field(default_factory=list)


class OutboxSettings(Strict):
    """How deliveries are retried."""

    max_attempts: int = Field(default=8, gt=0)
    base_delay_s: float = Field(default=2.0, gt=0)
    max_delay_s: float = Field(default=600.0, gt=0)
    send_timeout_s: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=50, gt=0)
    poll_interval_s: float = Field(default=1.0, gt=0)
    lease_s: float = Field(default=60.0, gt=0)


class LoggingSettings(Strict):
    """Log level and format (JSON lines unless on a terminal, unless told)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool | None = None


class Settings(Strict):
    """The whole configuration file."""

    server: ServerSettings
    database: DatabaseSettings = DatabaseSettings()
    integrations: dict[str, IntegrationSettings] = Field(default_factory=dict)
    members: dict[str, MemberSettings] = Field(default_factory=dict)
    groups: dict[str, GroupSettings] = Field(default_factory=dict)
    schedules: dict[str, ScheduleSettings] = Field(default_factory=dict)
    destinations: dict[str, Destination] = Field(default_factory=dict)
    api_tokens: list[ApiTokenSettings] = Field(default_factory=list)
    services: dict[str, ServiceSettings] = Field(default_factory=dict)
    routing: RoutingSettings = RoutingSettings()
    outbox: OutboxSettings = OutboxSettings()
    logging: LoggingSettings = LoggingSettings()
    slack: SlackSettings | None = None
    telegram: TelegramSettings | None = None
    lark: LarkSettings | None = None
    wecom: WecomSettings | None = None
    zoom: ZoomSettings | None = None
    teams: TeamsSettings | None = None
    dingtalk: DingtalkSettings | None = None
    email: EmailSettings | None = None
    sms: SmsSettings | None = None
    voice: VoiceSettings | None = None

    def language_of(self, member: str | None) -> Language:
        """What a notice to ``member``, or an answer to them, is worded in."""
        found = self.members.get(member) if member else None
        if found is not None and found.language is not None:
            return found.language
        return self.server.language

    def chat_platforms(self) -> set[str]:
        """The chat platforms this gateway is configured for (their sections are present)."""
        return {name for name in CHAT_PLATFORMS if getattr(self, name) is not None}

    def direct_channels(self) -> set[str]:
        """Channels that reach one person: chat platforms' DMs (sms/voice/email when set up)."""
        return self.chat_platforms() | {c for c in DIRECT_CHANNELS if getattr(self, c, None)}


# Every chat platform's settings field on Settings; adding a platform adds its name here.
CHAT_PLATFORMS = ("slack", "telegram", "lark", "wecom", "zoom", "teams", "dingtalk")


def load_settings(path: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Read, substitute, validate and cross-check ``path``; raises ConfigError listing all."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_settings(raw, base_dir=path.resolve().parent, overrides=overrides)


def parse_settings(
    raw: dict[str, Any], base_dir: Path, overrides: dict[str, Any] | None = None
) -> Settings:
    """Validate an already-parsed TOML document (see ``load_settings``)."""
    errors: list[str] = []
    doc = _substitute(raw, (), errors)
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        doc.setdefault(section, {})[key] = value
    if errors:
        raise ConfigError(errors)
    db = doc.get("database")
    if isinstance(db, dict) and isinstance(db.get("url"), str):
        db["url"] = _anchor_sqlite(db["url"], base_dir)
    else:
        doc.setdefault("database", {})
        if isinstance(doc["database"], dict):
            doc["database"]["url"] = _anchor_sqlite(DatabaseSettings().url, base_dir)
    try:
        settings = Settings.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError([_format_error(e) for e in exc.errors()]) from None
    problems = cross_check(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def _substitute(value: Any, path: tuple[str | int, ...], errors: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, (*path, k), errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*path, i), errors) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                errors.append(f"{key_path(path)}: environment variable {name} is not set")
                return ""
            return os.environ[name]

        return _ENV_REF.sub(lookup, value)
    return value


def _anchor_sqlite(url: str, base_dir: Path) -> str:
    """A relative SQLite path means "beside the config file"."""
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix):
        rest = url[len(prefix) :]
        if rest and not rest.startswith("/") and not rest.startswith(":memory:"):
            return prefix + str(base_dir / rest)
    return url


def key_path(loc: tuple[str | int, ...]) -> str:
    """``("services", "db", "levels", 1, "wait_min")`` → ``services.db.levels[1].wait_min``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _format_error(err: Any) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind == "greater_than":
        message = f"must be > {ctx.get('gt'):g}"
    elif kind == "greater_than_equal":
        message = f"must be >= {ctx.get('ge'):g}"
    elif kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "required"
    elif kind == "too_short":
        message = f"needs at least {ctx.get('min_length')} item(s)"
    elif kind == "string_too_short":
        message = f"must be at least {ctx.get('min_length')} characters"
    else:
        message = err["msg"][0].lower() + err["msg"][1:]
        message = message.removeprefix("value error, ")
    return f"{key_path(loc)}: {message}"


_UNION_TAGS: set[str] = set()


def _check_targets(settings: Settings, path: str, targets: list[str]) -> list[str]:
    """Members, ``group:NAME`` and ``schedule:NAME`` entries that name nothing configured."""
    known = {
        "member": set(settings.members),
        "group": set(settings.groups),
        "schedule": set(settings.schedules),
    }
    problems: list[str] = []
    for i, target in enumerate(targets):
        kind, name = split_target(target)
        if name not in known[kind]:
            problems.append(f"{path}[{i}]: no {kind} named {name!r}")
    return problems


def _check_level(settings: Settings, path: str, level: LevelSettings) -> list[str]:
    problems = _check_targets(settings, f"{path}.targets", level.targets)
    channels = settings.direct_channels()
    problems.extend(
        f"{path}.channels[{ci}]: {channel!r} is not configured (known here: "
        f"{', '.join(sorted(channels)) or 'none'})"
        for ci, channel in enumerate(level.channels or ())
        if channel not in channels
    )
    problems.extend(
        f"{path}.chats[{ci}]: no destination named {chat!r} (see [destinations])"
        for ci, chat in enumerate(level.chats)
        if chat not in settings.destinations
    )
    return problems


def _check_preferences(settings: Settings, path: str, preferences: Preferences) -> list[str]:
    channels = settings.direct_channels()
    return [
        f"{path}.preferences.{severity.value}[{i}].channel: {step.channel!r} is not configured "
        f"(known here: {', '.join(sorted(channels)) or 'none'})"
        for severity, steps in preferences.items()
        for i, step in enumerate(steps)
        if step.channel not in channels
    ]


def cross_check(settings: Settings) -> list[str]:
    """References between sections that pydantic cannot see."""
    problems: list[str] = []
    members = settings.members
    for i, api in enumerate(settings.api_tokens):
        if api.member not in members:
            problems.append(f"api_tokens[{i}].member: no member named {api.member!r}")
    for name, schedule in settings.schedules.items():
        problems.extend(check_members(name, schedule, members))
    for name, group in settings.groups.items():
        problems.extend(
            f"groups.{name}.members[{i}]: no member named {m!r}"
            for i, m in enumerate(group.members)
            if m not in members
        )
    for name, service in settings.services.items():
        if service.escalation is not None and service.policies:
            problems.append(f"services.{name}: give escalation or policies, not both")
        for key, policy in service.escalation_policies():
            for li, level in enumerate(policy.levels):
                problems.extend(
                    _check_level(settings, f"services.{name}.{key}.levels[{li}]", level)
                )
        problems.extend(_check_preferences(settings, f"services.{name}", service.preferences))
        problems.extend(_check_targets(settings, f"services.{name}.team", service.team))
    for name, member in members.items():
        problems.extend(_check_preferences(settings, f"members.{name}", member.preferences))
    if settings.routing.default_service not in settings.services:
        problems.append(
            f"routing.default_service: no service named {settings.routing.default_service!r}"
        )
    for i, rule in enumerate(settings.routing.rules):
        if rule.service not in settings.services:
            problems.append(f"routing.rules[{i}].service: no service named {rule.service!r}")
        problems.extend(
            f"routing.rules[{i}].integration: no integration named {name!r}"
            for name in rule.integration or ()
            if name not in settings.integrations
        )
    platforms = settings.chat_platforms()
    named = [(f"destinations.{n}", d) for n, d in settings.destinations.items()]
    inline = [
        (f"services.{name}.notify[{i}]", d)
        for name, service in settings.services.items()
        for i, d in enumerate(service.notify)
    ]
    for path, dest in named + inline:
        if dest.kind not in ("webhook", *BOT_KINDS) and dest.kind not in platforms:
            known = ", ".join(["webhook", *BOT_KINDS, *sorted(platforms)])
            problems.append(f"{path}.kind: {dest.kind!r} is not configured (known here: {known})")
    seen_tokens: dict[str, str] = {}
    for name, integ in settings.integrations.items():
        token = integ.token.get_secret_value()
        if token in seen_tokens:
            problems.append(
                f"integrations.{name}.token: the same token as integrations.{seen_tokens[token]}"
            )
        seen_tokens[token] = name
    seen_identities: set[tuple[str, str, str]] = set()
    for name, member in members.items():
        for i, ident in enumerate(member.identities):
            account = (ident.platform, ident.workspace, ident.user_id)
            if account in seen_identities:
                problems.append(f"members.{name}.identities[{i}]: linked to two members")
            seen_identities.add(account)
    return problems
