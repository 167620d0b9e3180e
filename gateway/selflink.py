"""People link their own chat accounts, two ways.

- A code: the bot gives the account a one-time code, and the person enters it on a page only
  they can open (an incident link sent to them, or the console), which proves which member
  they are.
- An email: the account names an address (``link alice@example.com``); when it is a member's,
  that member is mailed a signed, one-time link to a page where they confirm (a POST: a mail
  scanner that opens the link changes nothing). The account is told the same sentence either
  way, so nobody learns who is a member; requests are capped per account and per address.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from gateway import messages
from gateway.errors import ActionRefused, PlatformError
from gateway.links import EmailLinkGrant, EmailLinkSigner
from gateway.runtime import Runtime
from storage import repo

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=15)
EMAIL_LINK_TTL = timedelta(minutes=30)
EMAIL_LINK_PATH = "/link/email"
# Mails asked for, per chat account and per address, in any MAIL_WINDOW: enough for a typo
# and a second try, too few to mail-bomb anyone or to probe the member list.
MAILS_PER_ACCOUNT = 3
MAILS_PER_ADDRESS = 5
MAIL_WINDOW = timedelta(hours=1)
# Easy to read aloud and type: no 0/O, 1/I/L. Eight characters: ~10^12 codes, so guessing one
# within its 15 minutes is out of reach.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 8


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normal(code: str) -> str:
    """What a person typed, as stored: upper case, no spaces or dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


async def issue_code(rt: Runtime, platform: str, workspace: str, user_id: str) -> str:
    """A fresh code for this chat account, valid for CODE_TTL."""
    for _ in range(3):
        code = _new_code()
        try:
            async with rt.db.write() as conn:
                expires = rt.clock.now() + CODE_TTL
                await repo.put_link_code(conn, code, platform, workspace, user_id, expires)
        except IntegrityError:
            continue  # the same code is out there already: draw another
        return code
    raise RuntimeError("no free link code after three draws")


async def redeem(rt: Runtime, code: str, member: str, lang: str = "en") -> str:
    """Link the account the code was given to ``member``; its platform. Raises ActionRefused."""
    async with rt.db.write() as conn:
        now = rt.clock.now()
        found = await repo.take_link_code(conn, normal(code), now)
        if found is None:
            raise ActionRefused(messages.text("link_code_bad", lang), "bad_code")
        platform, workspace, user_id = found
        result = await repo.upsert_identity(conn, platform, workspace, user_id, member, "self", now)
    if result == "config":
        raise ActionRefused(messages.text("link_code_config", lang), "linked_in_config")
    return platform


# --- by email -------------------------------------------------------------------------------

_mailing: set[asyncio.Task[None]] = set()


def _hashed(secret: str) -> str:
    """What ``link_codes`` keeps of a mailed link's secret: lower-case hex, which no code
    typed on a page can ever be (those are upper-cased), so it opens nothing but the link."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _window_key(kind: str, *parts: str) -> str:
    return f"selflink-{kind}:" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def member_with_email(rt: Runtime, email: str) -> str | None:
    """The one member configured with ``email`` (case-insensitive), if exactly one."""
    wanted = email.strip().lower()
    found = [n for n, m in rt.settings.members.items() if (m.email or "").lower() == wanted]
    return found[0] if len(found) == 1 else None


def platform_name(platform: str, lang: str = "en") -> str:
    """ "Telegram", "Microsoft Teams", "企业微信"…: a platform as people call it."""
    try:
        return messages.text(f"platform_{platform}", lang)
    except KeyError:
        return platform


async def mail_link(
    rt: Runtime, platform: str, workspace: str, user_id: str, email: str, lang: str = "en"
) -> str:
    """Answer ``link <email>`` from a chat account: what to tell it.

    When ``email`` is a member's and ``[email]`` is set, a one-time confirmation link valid
    EMAIL_LINK_TTL is mailed to that member (after this returns: the answer never waits on
    the mail server, so it takes about as long either way). Its secret replaces any code the
    account had. Each call counts against the account's and the address's MAIL_WINDOW caps, whether
    or not the address is anyone's.
    """
    if rt.settings.email is None:
        return messages.text("link_email_off", lang)
    address = email.strip()
    member = member_with_email(rt, address)
    now = rt.clock.now()
    keys = [
        _window_key("account", platform, workspace, user_id),
        _window_key("address", address.lower()),
    ]
    limits = dict(zip(keys, (MAILS_PER_ACCOUNT, MAILS_PER_ADDRESS), strict=True))
    secret = secrets.token_urlsafe(24)
    async with rt.db.write() as conn:
        windows = await repo.load_paces(conn, keys)
        since = (now - MAIL_WINDOW).timestamp()
        for key in keys:
            window = windows.setdefault(key, repo.PaceWindow())
            window.sent = [t for t in window.sent if t > since]
        if any(len(windows[k].sent) >= limits[k] for k in keys):
            log.info("%s account %s: too many link mails asked for", platform, user_id)
            return messages.text("link_email_busy", lang)
        for key in keys:
            windows[key].sent.append(now.timestamp())
        await repo.save_paces(conn, windows)
        # Stored whoever's address it is (unmailed, it just expires): the account's earlier
        # code is replaced either way, so that does not tell members from strangers either.
        expires = now + EMAIL_LINK_TTL
        await repo.put_link_code(conn, _hashed(secret), platform, workspace, user_id, expires)
    minutes = int(EMAIL_LINK_TTL.total_seconds() // 60)
    sentence = messages.text("link_email_sent", lang, minutes=minutes)
    if member is None:
        log.info("%s account %s asked for a link mail to no member's address", platform, user_id)
        return sentence
    grant = EmailLinkGrant(secret, member, platform, workspace, user_id, now + EMAIL_LINK_TTL)
    _spawn(_send_link(rt, grant, lang))
    return sentence


async def _send_link(rt: Runtime, grant: EmailLinkGrant, lang: str) -> None:
    """Mail the confirmation link to the member; a failure is logged (nobody else to tell)."""
    from adapters.email.plain import send_plain  # noqa: PLC0415 - adapters load lazily

    settings = rt.settings
    assert settings.email is not None
    to = settings.members[grant.member].email or ""
    token = EmailLinkSigner(settings.server.secret_key.get_secret_value()).token(grant)
    values = {
        "platform": platform_name(grant.platform, lang),
        "account": grant.user_id,
        "member": grant.member,
        "minutes": int(EMAIL_LINK_TTL.total_seconds() // 60),
        "url": f"{settings.server.base_url}{EMAIL_LINK_PATH}?t={token}",
    }
    try:
        await send_plain(
            settings.email,
            to=to,
            subject=messages.text("link_mail_subject", lang, **values),
            text=messages.text("link_mail_body", lang, **values),
            clock=rt.clock,
        )
    except PlatformError as exc:
        log.warning("link mail to member %s not sent: %s", grant.member, exc)
        return
    log.info(
        "link mail sent to member %s for %s account %s",
        grant.member,
        grant.platform,
        grant.user_id,
    )


def _spawn(work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.create_task(work, name="selflink-mail")
    _mailing.add(task)
    task.add_done_callback(_sent)


def _sent(task: asyncio.Task[None]) -> None:
    _mailing.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("link mail failed", exc_info=task.exception())


async def settle_mail(timeout_s: float | None = None) -> None:
    """Until every link mail being sent has gone (or failed); at shutdown, at most
    ``timeout_s``, then the rest is dropped (the person can ask again)."""
    if not _mailing:
        return
    _done, pending = await asyncio.wait(set(_mailing), timeout=timeout_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def confirm_mail_link(rt: Runtime, grant: EmailLinkGrant, lang: str = "en") -> str:
    """Link the account a checked mailed link names to its member, once; the platform.

    Raises:
        ActionRefused: The link was used, replaced by a newer request, or has expired; or
            the configuration links that account to someone else.
    """
    async with rt.db.write() as conn:
        now = rt.clock.now()
        found = await repo.take_link_code(conn, _hashed(grant.secret), now)
        if found != (grant.platform, grant.workspace, grant.user_id):
            raise ActionRefused(messages.text("web_link_email_used", lang), "bad_code")
        if grant.member not in rt.settings.members:
            raise ActionRefused(messages.text("web_link_email_used", lang), "unknown_member")
        result = await repo.upsert_identity(
            conn, grant.platform, grant.workspace, grant.user_id, grant.member, "self", now
        )
    if result == "config":
        raise ActionRefused(messages.text("link_code_config", lang), "linked_in_config")
    log.info("%s account %s linked to %s by mail", grant.platform, grant.user_id, grant.member)
    return grant.platform


def check_mail_link(rt: Runtime, token: str, now: datetime) -> EmailLinkGrant:
    """The grant of a mailed link's token; raises Unauthorized or LinkExpired."""
    return EmailLinkSigner(rt.settings.server.secret_key.get_secret_value()).check(token, now)
