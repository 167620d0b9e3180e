"""The HTML surface for people: the incident page, the incident list, the console login, and
the page that confirms a chat account's link mailed to a member.

Plain forms, no JavaScript. Access comes from a signed link (``?t=``), an API token
(``Authorization: Bearer``) or the console session cookie set by ``/login``. These handlers
render their own error pages instead of raising into the JSON error boundary.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from multidict import MultiDictProxy
from yarl import URL

from gateway import messages
from gateway.actions import MAX_COMMENT_CHARS, perform
from gateway.auth import bearer, member_for_token
from gateway.domain import ActionRequest, Incident, Severity, Status, TimelineEntry, Verb
from gateway.errors import ActionRefused, NotFound, Unauthorized
from gateway.links import EmailLinkGrant, LinkExpired
from gateway.runtime import Runtime
from gateway.selflink import (
    EMAIL_LINK_PATH,
    check_mail_link,
    confirm_mail_link,
    platform_name,
    redeem,
    settle_mail,
)
from gateway.web.keys import RUNTIME, SIGNER
from gateway.wire import iso
from storage import repo

log = logging.getLogger(__name__)

SESSION_COOKIE = "ackgate_session"
SESSION_SALT = "ackgate.session.v1"
# The notice shown after an action travels signed, so nobody can make the page say anything.
NOTICE_SALT = "ackgate.notice.v1"
MAIL_DRAIN_S = 10.0  # at shutdown, link mails still being sent get this long
# A link still opens its incident once it is closed, but acts only as the closed page offers:
# reopen it, or add a comment (a changed severity or an ack of a closed incident is not).
AFTER_CLOSE = frozenset({Verb.REOPEN, Verb.COMMENT})
PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_NUMBER_DIGITS = 12

_TEMPLATES = Environment(
    loader=PackageLoader("gateway", "web/templates"),
    autoescape=select_autoescape(),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Pages carry link tokens in URLs and forms: never cache them, never leak them in a Referer,
# never let another site frame the buttons.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

FormData = MultiDictProxy[Any]


def add_routes(app: web.Application) -> None:
    """Register the HTML routes."""
    app.router.add_get("/incidents", incident_list)
    app.router.add_get("/incidents/{number}", incident_page)
    app.router.add_post("/incidents/{number}/actions", incident_action)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_get(EMAIL_LINK_PATH, mail_link_page)
    app.router.add_post(EMAIL_LINK_PATH, mail_link_confirm)
    app.cleanup_ctx.append(_link_mail)


async def _link_mail(_app: web.Application) -> AsyncIterator[None]:
    """Link mails still on their way at shutdown are finished (briefly) before storage goes."""
    yield
    await settle_mail(MAIL_DRAIN_S)


@dataclass(frozen=True, slots=True)
class Access:
    """Who is looking, and the link token to carry on when access came by link."""

    member: str
    link: str | None = None


# --- handlers ---------------------------------------------------------------------------


async def incident_page(request: web.Request) -> web.Response:
    """``GET /incidents/{number}``: the incident with its alerts, timeline and buttons."""
    rt = request.app[RUNTIME]
    lang = _lang(request)
    console = console_member(request)
    try:
        number = _number(request)
        access = _access(request, number, request.query.get("t"), console)
    except Unauthorized as exc:
        return _error(lang, 401, exc.message, console)
    except NotFound:
        return _error(lang, 404, "web_page_not_found", console)
    async with rt.db.read() as conn:
        incident = await repo.load_incident(conn, number, details=True)
    if incident is None:
        return _error(lang, 404, "not_found", console, number=number)
    return _render(
        "incident.html",
        lang,
        console,
        incident=incident,
        member=access.member,
        link=access.link,
        status_by=_status_by(incident, lang),
        notice=_read_notice(rt, request.query.get("msg")),
        action_url=f"/incidents/{number}/actions",
        members=sorted(rt.settings.members),
        max_comment=MAX_COMMENT_CHARS,
    )


async def incident_action(request: web.Request) -> web.Response:
    """``POST /incidents/{number}/actions``: perform a verb, then back to the page (303)."""
    rt = request.app[RUNTIME]
    lang = _lang(request)
    console = console_member(request)
    form = await request.post()
    try:
        number = _number(request)
        access = _access(request, number, _field(form, "t") or None, console)
    except Unauthorized as exc:
        return _error(lang, 401, exc.message, console)
    except NotFound:
        return _error(lang, 404, "web_page_not_found", console)
    verb_text = _field(form, "verb")
    if verb_text == "link":
        try:
            platform = await redeem(rt, _field(form, "code"), access.member, lang)
        except ActionRefused as exc:
            notice = ("refused", exc.message)
        else:
            done = messages.text("web_link_done", lang, platform=platform, member=access.member)
            notice = ("ok", done)
        return _back(rt, number, access, notice)
    try:
        verb = Verb(verb_text)
    except ValueError:
        return _error(lang, 400, "web_unknown_verb", console, verb=verb_text)
    if verb is Verb.COMMENT and not _field(form, "text").strip():
        notice = ("refused", messages.text("web_comment_empty", lang))
    elif access.link and verb not in AFTER_CLOSE and await _closed(rt, number):
        notice = ("refused", messages.text("refused_closed", lang, number=number))
    else:
        req = ActionRequest(
            incident=number, verb=verb, source="web", member=access.member, args=_args(verb, form)
        )
        try:
            outcome = await perform(rt, req, lang)
        except ActionRefused as exc:
            notice = ("refused", exc.message)
        except NotFound:
            return _error(lang, 404, "not_found", console, number=number)
        else:
            notice = ("ok" if outcome.changed else "info", outcome.message)
    return _back(rt, number, access, notice)


async def _closed(rt: Runtime, number: int) -> bool:
    async with rt.db.read() as conn:
        incident = await repo.load_incident(conn, number)
    return incident is not None and incident.status is Status.CLOSED


def _back(rt: Runtime, number: int, access: Access, notice: tuple[str, str]) -> web.Response:
    """303 to the incident page, carrying the signed link and the notice to show."""
    query = {"t": access.link} if access.link else {}
    query["msg"] = _serializer(rt, NOTICE_SALT).dumps(list(notice))
    return _see_other(str(URL.build(path=f"/incidents/{number}", query=query)))


async def incident_list(request: web.Request) -> web.Response:
    """``GET /incidents``: newest first, filtered, 50 a page; for console users only."""
    rt = request.app[RUNTIME]
    lang = _lang(request)
    console = console_member(request)
    if console is None:
        return _see_other("/login")
    status_values = [s.value for s in Status]
    severity_values = [s.value for s in Severity]
    status = _choices(request, "status")
    severity = _choices(request, "severity")
    for name, chosen, allowed in (
        ("status", status, status_values),
        ("severity", severity, severity_values),
    ):
        for value in chosen:
            if value not in allowed:
                return _error(
                    lang,
                    400,
                    "web_bad_filter",
                    console,
                    name=messages.text(f"web_{name}", lang),
                    value=value,
                )
    service = request.query.get("service") or None
    page = _page(request.query.get("page"))
    async with rt.db.read() as conn:
        incidents, total = await repo.list_incidents(
            conn,
            status=status,
            service=service,
            severity=severity,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
    pages = max(1, -(-total // PAGE_SIZE))
    filters = {"status": ",".join(status), "severity": ",".join(severity), "service": service or ""}

    def page_url(n: int) -> str:
        query = {k: v for k, v in filters.items() if v}
        if n > 1:
            query["page"] = str(n)
        return str(URL.build(path="/incidents", query=query))

    services = sorted({*rt.settings.services, *([service] if service else [])})
    return _render(
        "incidents.html",
        lang,
        console,
        incidents=incidents,
        total=total,
        page=page,
        pages=pages,
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None,
        statuses=status_values,
        severities=severity_values,
        services=services,
        chosen={"status": status, "severity": severity, "service": service},
    )


async def login_form(request: web.Request) -> web.Response:
    """``GET /login``: ask for an API token."""
    return _render("login.html", _lang(request), console_member(request), error=None)


async def login(request: web.Request) -> web.Response:
    """``POST /login``: a valid API token opens a console session (cookie), else 401."""
    rt = request.app[RUNTIME]
    lang = _lang(request)
    form = await request.post()
    member = member_for_token(rt.settings, _field(form, "token").strip() or None)
    if member is None:
        log.info("console login refused")
        return _render(
            "login.html", lang, None, status=401, error=messages.text("web_login_failed", lang)
        )
    log.info("console login by %s", member)
    response = _see_other("/incidents")
    response.set_cookie(
        SESSION_COOKIE,
        _serializer(rt, SESSION_SALT).dumps(member),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure or rt.settings.server.base_url.startswith("https://"),
    )
    return response


async def mail_link_page(request: web.Request) -> web.Response:
    """``GET /link/email?t=``: what a mailed link would link, and a button to confirm it.

    Changes nothing: mail scanners open links, so only the button's POST links.
    """
    rt = request.app[RUNTIME]
    lang = _lang(request)
    token = request.query.get("t", "")
    try:
        grant = check_mail_link(rt, token, rt.clock.now())
    except Unauthorized as exc:
        return _mail_link_refused(lang, exc)
    return _mail_link_render(lang, grant, token=token)


async def mail_link_confirm(request: web.Request) -> web.Response:
    """``POST /link/email``: link the account a mailed link names, once."""
    rt = request.app[RUNTIME]
    lang = _lang(request)
    form = await request.post()
    try:
        grant = check_mail_link(rt, _field(form, "t"), rt.clock.now())
    except Unauthorized as exc:
        return _mail_link_refused(lang, exc)
    try:
        platform = await confirm_mail_link(rt, grant, lang)
    except ActionRefused as exc:
        return _error(lang, 410, exc.message, None, literal=True)
    done = messages.text(
        "web_link_done", lang, platform=platform_name(platform, lang), member=grant.member
    )
    return _mail_link_render(lang, grant, done=done)


def _mail_link_render(
    lang: str, grant: EmailLinkGrant, *, token: str = "", done: str | None = None
) -> web.Response:
    return _render(
        "link_confirm.html",
        lang,
        None,
        platform=platform_name(grant.platform, lang),
        account=grant.user_id,
        member=grant.member,
        token=token,
        action_url=EMAIL_LINK_PATH,
        done=done,
    )


def _mail_link_refused(lang: str, exc: Unauthorized) -> web.Response:
    if isinstance(exc, LinkExpired):
        return _error(lang, 410, "web_link_email_used", None)
    return _error(lang, 400, exc.message, None)


# --- access -----------------------------------------------------------------------------


def console_member(request: web.Request) -> str | None:
    """The member behind the request's API token or console session cookie, if any."""
    rt = request.app[RUNTIME]
    member = member_for_token(rt.settings, bearer(request))
    if member is not None:
        return member
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        name = _serializer(rt, SESSION_SALT).loads(cookie)
    except BadSignature:
        return None
    # A member removed from the configuration loses the console at once.
    return name if isinstance(name, str) and name in rt.settings.members else None


def _access(request: web.Request, number: int, link: str | None, console: str | None) -> Access:
    """A link, when given, decides alone: a bad link is refused even for a logged-in user,
    so what the page says about the link is always true."""
    if link:
        rt = request.app[RUNTIME]
        grant = request.app[SIGNER].check(link, number, rt.clock.now())
        return Access(member=grant.member, link=link)
    if console is None:
        raise Unauthorized("web_no_access")
    return Access(member=console)


def _serializer(rt: Runtime, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(rt.settings.server.secret_key.get_secret_value(), salt=salt)


# --- request parsing --------------------------------------------------------------------


def _lang(request: web.Request) -> str:
    return messages.pick_language(request.headers.get("Accept-Language"))


def _number(request: web.Request) -> int:
    raw = request.match_info["number"].lstrip("#")
    if not raw.isdigit() or len(raw) > MAX_NUMBER_DIGITS:
        raise NotFound(raw)
    return int(raw)


def _field(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _args(verb: Verb, form: FormData) -> dict[str, Any]:
    """The verb's arguments from the form; ``actions.check_args`` judges them."""
    if verb is Verb.COMMENT:
        return {"text": _field(form, "text")}
    if verb is Verb.SNOOZE:
        raw = _field(form, "minutes").strip()
        if not raw:
            return {}
        try:
            return {"minutes": int(raw)}
        except ValueError:
            pass
        try:
            return {"minutes": float(raw)}
        except ValueError:
            return {"minutes": raw}
    if verb in (Verb.ESCALATE, Verb.ASSIGN):
        member = _field(form, "member").strip()
        return {"member": member} if member else {}
    if verb is Verb.SEVERITY:
        return {"severity": _field(form, "severity")}
    return {}


def _choices(request: web.Request, key: str) -> list[str]:
    return [v for raw in request.query.getall(key, []) for v in raw.split(",") if v]


def _page(raw: str | None) -> int:
    if raw is None or not raw.isdigit():
        return 1
    return min(max(int(raw), 1), MAX_PAGE)


# --- rendering --------------------------------------------------------------------------


def _read_notice(rt: Runtime, raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        kind, text = _serializer(rt, NOTICE_SALT).loads(raw)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(kind, str) or not isinstance(text, str):
        return None
    return {"kind": kind, "text": text}


def _status_by(incident: Incident, lang: str) -> str | None:
    if incident.status is Status.ACKNOWLEDGED and incident.acked_by:
        return messages.text("acked", lang, actor=incident.acked_by)
    if incident.status is Status.CLOSED:
        who = incident.closed_by or incident.integration or "system"
        return messages.text("closed", lang, actor=who)
    return None


def _when(value: datetime | None) -> str:
    if value is None:
        return "–"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links become clickable: a ``javascript:`` source URL stays text."""
    if url and urlsplit(url).scheme.lower() in ("http", "https"):
        return url
    return None


def channel_name(channel: str, lang: str) -> str:
    """ "Slack DM", "SMS", …: how a channel is called in a sentence."""
    try:
        return messages.text(f"channel_{channel}", lang)
    except KeyError:
        return channel


def delivery_note(entry: TimelineEntry, lang: str) -> str:
    """ "Slack DM to alice failed (channel_not_found); sent by SMS", and its like."""
    data: Mapping[str, Any] = entry.data
    error = str(data.get("error") or "")
    if entry.kind == "delivery_failed":
        where = str(data.get("destination") or channel_name(entry.source, lang))
        return messages.text("web_delivery_failed_note", lang, channel=where, error=error)
    values = {
        "failed": channel_name(str(data.get("failed") or entry.source), lang),
        "member": data.get("member") or "?",
        "error": error,
    }
    if data.get("sent_by"):
        channel = channel_name(str(data["sent_by"]), lang)
        return messages.text("web_fallback_sent", lang, channel=channel, **values)
    return messages.text("web_fallback_none", lang, **values)


def escalation_note(incident: Incident, lang: str) -> str:
    """ "office hours · level 2 of 3 · next step 10:32 UTC", and its like."""
    policy = incident.policy
    if not policy:
        return messages.text("web_escalation_none", lang)
    name = f"{policy['name']} · " if policy.get("name") else ""
    at = _when(incident.escalate_at) if incident.escalate_at else ""
    if incident.escalation_step < 0:
        return messages.text("web_escalation_waiting", lang, policy=name, at=at or "?")
    text = messages.text(
        "web_escalation_level",
        lang,
        policy=name,
        level=incident.escalation_step + 1,
        levels=len(policy.get("levels") or ()),
    )
    if incident.escalate_at is not None:
        return text + messages.text("web_escalation_next", lang, at=at)
    return text + messages.text("web_escalation_stopped", lang)


def _entry_note(entry: TimelineEntry, lang: str = "en") -> str:
    data: Mapping[str, Any] = entry.data
    if entry.kind in ("fallback", "delivery_failed"):
        return delivery_note(entry, lang)
    if isinstance(data.get("text"), str):
        return str(data["text"])
    if data.get("assignees"):
        return "→ " + ", ".join(str(a) for a in data["assignees"])
    if "to" in data:
        return f"{data.get('from', '?')} → {data['to']}"
    if "until" in data:
        return f"→ {data['until']}"
    return ""


def _render(
    name: str, lang: str, console: str | None, *, status: int = 200, **context: Any
) -> web.Response:
    def say(key: str, **values: Any) -> str:
        return messages.text(key, lang, **values)

    def kind_label(kind: str) -> str:
        try:
            return say(f"web_kind_{kind}")
        except KeyError:
            return kind.replace("_", " ")

    def alert_status(value: str) -> str:
        try:
            return say(f"web_alert_{value}")
        except KeyError:
            return value

    html = _TEMPLATES.get_template(name).render(
        lang=lang,
        say=say,
        console=console,
        when=_when,
        iso=iso,
        kind_label=kind_label,
        alert_status=alert_status,
        safe_url=_safe_url,
        entry_note=lambda entry: _entry_note(entry, lang),
        escalation_note=lambda incident: escalation_note(incident, lang),
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=_HEADERS)


_ERROR_TITLES = {
    400: "web_title_bad_request",
    401: "web_title_denied",
    404: "web_title_not_found",
    410: "web_title_gone",
}


def _error(
    lang: str,
    status: int,
    key: str,
    console: str | None,
    *,
    literal: bool = False,
    **values: Any,
) -> web.Response:
    """An HTML error page whose sentence is ``messages.text(key)`` (``key`` itself, already
    worded, when ``literal``)."""
    return _render(
        "error.html",
        lang,
        console,
        status=status,
        code=status,
        title=messages.text(_ERROR_TITLES[status], lang),
        message=key if literal else messages.text(key, lang, **values),
    )


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, **_HEADERS})
