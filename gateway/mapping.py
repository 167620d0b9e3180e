"""Mapping tables: which IM account is which member, for @mentions and for acting from chat.

Config identities (``[[members.NAME.identities]]``) are one source; a CSV export from an IM
directory is the other (``ackgate mapping import``): columns ``email, platform, im_id, phone``,
a header row optional. A row finds its member by email, else by phone.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from gateway.config import Settings
from gateway.contacts import same_phone
from gateway.runtime import Runtime
from storage import repo

HEADER = ("email", "platform", "im_id", "phone")
PLATFORMS = ("slack", "teams", "lark", "dingtalk", "wecom", "telegram", "zoom")


@dataclass
class ImportReport:
    """What an import did, row by row where it could not."""

    added: int = 0
    moved: int = 0
    kept: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the operator."""
        return (
            f"{self.added} added, {self.moved} moved to another member, {self.kept} unchanged, "
            f"{len(self.problems)} skipped"
        )


def member_by(settings: Settings, email: str, phone: str) -> str | None:
    """The member with this email (case-insensitive), else with this phone (digits compared)."""
    if email:
        for name, m in settings.members.items():
            if m.email and m.email.casefold() == email.casefold():
                return name
    if phone:
        for name, m in settings.members.items():
            # "+86 138…" and "138…" are the same mobile.
            if m.phone and same_phone(m.phone, phone):
                return name
    return None


async def import_csv(rt: Runtime, text: str, workspace: str = "") -> ImportReport:
    """Link every row's IM account to its member; rows that cannot be placed are reported."""
    report = ImportReport()
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [c.strip().lower() for c in rows[0][:2]] == list(HEADER[:2]):
        rows = rows[1:]
    async with rt.db.write() as conn:
        now = rt.clock.now()
        for line, row in enumerate(rows, start=1):
            cells = [c.strip() for c in row] + [""] * (4 - len(row))
            if not any(cells):
                continue
            email, platform, im_id, phone = cells[:4]
            if platform not in PLATFORMS:
                report.problems.append(f"row {line}: unknown platform {platform!r}")
                continue
            if not im_id:
                report.problems.append(f"row {line}: no im_id")
                continue
            member = member_by(rt.settings, email, phone)
            if member is None:
                who = email or phone or "(no email or phone)"
                report.problems.append(f"row {line}: no member with email or phone {who}")
                continue
            result = await repo.upsert_identity(
                conn, platform, workspace, im_id, member, "import", now
            )
            if result == "config":
                report.problems.append(
                    f"row {line}: {platform} {im_id} is linked to another member in the config"
                )
            else:
                setattr(report, result, getattr(report, result) + 1)
    return report


async def listing(rt: Runtime) -> list[str]:
    """Every linked account as a line: platform, account, member, where the link came from."""
    async with rt.db.read() as conn:
        rows = await repo.all_identities(conn)
    return [
        f"{r['platform']:<9} {r['platform_user_id']:<28} {r['member']:<16} {r['origin']}"
        + (f"  (workspace {r['workspace']})" if r["workspace"] else "")
        for r in rows
    ]
