"""Chat accounts and members: who an account belongs to, and linking one by its email."""

from __future__ import annotations

import logging

from gateway.runtime import Runtime
from storage import repo

log = logging.getLogger(__name__)


async def member_for(rt: Runtime, platform: str, workspace: str, user_id: str) -> str | None:
    """The member a chat account is linked to, if any."""
    async with rt.db.read() as conn:
        found = await repo.members_for_identities(conn, [(platform, workspace, user_id)])
    return found.get((platform, workspace, user_id))


async def link_by_email(
    rt: Runtime, platform: str, workspace: str, user_id: str, email: str | None
) -> str | None:
    """Link the account to the member with this email (case-insensitive); returns the member.

    Only an exact, unique match links; nothing is linked when two members share the address.
    """
    if not email:
        return None
    wanted = email.strip().lower()
    matches = [name for name, m in rt.settings.members.items() if (m.email or "").lower() == wanted]
    if len(matches) != 1:
        return None
    member = matches[0]
    async with rt.db.write() as conn:
        known = await repo.members_for_identities(conn, [(platform, workspace, user_id)])
        if (platform, workspace, user_id) in known:
            return known[(platform, workspace, user_id)]
        await repo.link_identity(
            conn, platform, workspace, user_id, member, "email", rt.clock.now()
        )
    log.info("%s account %s linked to %s by email", platform, user_id, member)
    return member
