"""People link their own chat accounts: the bot gives the account a one-time code, and the
person enters it on a page only they can open (an incident link sent to them, or the console),
which proves which member they are."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from gateway import messages
from gateway.errors import ActionRefused
from gateway.runtime import Runtime
from storage import repo

CODE_TTL = timedelta(minutes=15)
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
