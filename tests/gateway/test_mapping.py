"""Mapping tables: a CSV from an IM directory links accounts by email or phone, reports what
it cannot place, never overrides the configuration, and feeds bot @mentions."""

from __future__ import annotations

from pathlib import Path

from gateway.mapping import import_csv, listing
from tests.gateway.test_cli import ROOT, ackgate
from tests.support import make_settings, running

MEMBERS = {
    "alice": {"email": "alice@example.com", "phone": "+86 138 0000 0001"},
    "bob": {
        "email": "bob@example.com",
        "identities": [{"platform": "wecom", "user_id": "wx.bob"}],
    },
}
CSV = """email,platform,im_id,phone
ALICE@example.com,wecom,wx.alice,
,dingtalk,staff-001,13800000001
bob@example.com,wecom,wx.bob,
alice@example.com,wecom,wx.bob,
carol@example.com,wecom,wx.carol,
bob@example.com,fax,123,
bob@example.com,lark,,
"""


async def test_import_links_by_email_or_phone_and_reports_the_rest(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/t.db", members=MEMBERS)
    async with running(settings) as rt:
        report = await import_csv(rt, CSV)
        assert (report.added, report.moved, report.kept) == (2, 0, 1)
        assert report.problems == [
            "row 4: wecom wx.bob is linked to another member in the config",
            "row 5: no member with email or phone carol@example.com",
            "row 6: unknown platform 'fax'",
            "row 7: no im_id",
        ]
        lines = [" ".join(line.split()) for line in await listing(rt)]
        assert lines == [
            "dingtalk staff-001 alice import",
            "wecom wx.alice alice import",
            "wecom wx.bob bob config",
        ]
        again = await import_csv(rt, "bob@example.com,wecom,wx.alice,\n")
        assert (again.moved, again.problems) == (1, [])


def test_mapping_commands(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text())
    sheet = tmp_path / "people.csv"
    sheet.write_text("alice@example.com,dingtalk,staff-alice,\nnobody@x.invalid,wecom,w1,\n")
    done = ackgate("mapping", "import", str(sheet), "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1  # one row could not be placed
    assert done.stdout.strip() == "1 added, 0 moved to another member, 0 unchanged, 1 skipped"
    assert "row 2: no member with email or phone nobody@x.invalid" in done.stderr
    listed = ackgate("mapping", "list", "--config", str(config), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["dingtalk", "staff-alice", "alice", "import"]
