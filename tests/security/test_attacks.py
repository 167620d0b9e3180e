"""Every inbound endpoint under every attack its authentication can meet: a forged signature,
a signature over another body, an old timestamp, another app, tenant or audience, a replay of
a callback that already acted, and missing headers.

Each attack must be refused (4xx) or, where the platform expects a 200, only told or ignored,
and the database must be exactly as it was. Each is followed by its control, the same request
built right, which must be accepted and change the database: a refusal that a malformed request
would also get proves nothing. Replays are sent again to the same app and to a second app on
the same database (another replica, or this one restarted), after the incident was put back
where the first request could act again.
"""

from __future__ import annotations

import pytest

from tests.security import tally
from tests.security.rigs import ATTACKS, Env, Rig, changes, snapshot
from tests.security.rigs.core import Ingest, RestAction, WebLink
from tests.security.rigs.dingtalk import DingtalkCardHook, DingtalkClick
from tests.security.rigs.lark import LarkClick
from tests.security.rigs.slack import SlackClick, SlackCommand
from tests.security.rigs.teams import TeamsInvoke
from tests.security.rigs.telegram import TelegramPress
from tests.security.rigs.twilio import TwilioSms, TwilioSmsStatus, TwilioVoice, TwilioVoiceStatus
from tests.security.rigs.wecom import WecomClick, WecomUrlCheck
from tests.security.rigs.zoom import ZoomClick

RIGS: tuple[type[Rig], ...] = (
    SlackClick,
    SlackCommand,
    TelegramPress,
    LarkClick,
    WecomClick,
    WecomUrlCheck,
    ZoomClick,
    TeamsInvoke,
    DingtalkClick,
    DingtalkCardHook,
    TwilioSms,
    TwilioVoice,
    TwilioSmsStatus,
    TwilioVoiceStatus,
    Ingest,
    RestAction,
    WebLink,
)

CASES = [
    pytest.param(rig, attack, id=f"{rig.name}-{attack}".replace(" ", "-"))
    for rig in RIGS
    for attack in ATTACKS
    if attack not in rig.not_applicable
]


def test_every_attack_is_run_or_said_not_to_apply() -> None:
    for rig in RIGS:
        assert set(rig.not_applicable) <= set(ATTACKS), rig.name
        for attack, reason in rig.not_applicable.items():
            assert reason, (rig.name, attack)
            tally.record(rig.platform, rig.name, attack, reason, "n/a")


@pytest.mark.parametrize(("rig_type", "attack"), CASES)
async def test_an_attack_changes_nothing(rig_type: type[Rig], attack: str, env: Env) -> None:
    rig = rig_type()
    await rig.start(env)
    await rig.open()
    if attack == "replay":
        await replay(rig, env)
        return
    case = rig.case(attack)
    for request in case.setup:
        r = await request.send(rig.client)
        await rig.quiet()
        assert r.status < 500, ("setup", r.status, await r.text())
    before = await snapshot(rig.app)
    for variant in case.variants:
        r = await variant.req.send(rig.client)
        await rig.quiet()
        assert r.status == variant.expect, (variant.label, r.status, await r.text())
        assert changes(before, await snapshot(rig.app)) == [], variant.label
        kind = "refused" if 400 <= r.status < 500 else "told"
        tally.record(rig.platform, rig.name, attack, variant.label, f"{kind} {r.status}")
    r = await case.control.send(rig.client)
    await rig.quiet()
    assert await rig.accepted(r), ("control", r.status, await r.text())
    if rig.changes_state:
        assert changes(before, await snapshot(rig.app)), "the control changed nothing"
    tally.record(rig.platform, rig.name, attack, "control", f"accepted {r.status}")


async def replay(rig: Rig, env: Env) -> None:
    """A request that acted, sent again (here, and to another replica): nothing changes."""
    request = rig.act()
    before = await snapshot(rig.app)
    r = await request.send(rig.client)
    await rig.quiet()
    assert await rig.accepted(r), ("first", r.status, await r.text())
    assert changes(before, await snapshot(rig.app)), "the first request changed nothing"
    tally.record(rig.platform, rig.name, "replay", "control: first request", f"accepted {r.status}")
    await rig.reset()
    other = await rig.replica(env)
    settled = await snapshot(rig.app)
    for label, client in (("again", rig.client), ("again, to another replica", other)):
        r = await request.send(client)
        await rig.quiet()
        assert r.status < 500, (label, r.status, await r.text())
        assert changes(settled, await snapshot(rig.app)) == [], label
        kind = "refused" if 400 <= r.status < 500 else "absorbed"
        tally.record(rig.platform, rig.name, "replay", label, f"{kind} {r.status}")
    # The same request made anew (a moment later, fresh ids) does act: the incident could
    # change again, so the replays were refused for being replays.
    rig.clock.advance(seconds=2)
    r = await (await rig.fresh()).send(rig.client)
    await rig.quiet()
    assert await rig.accepted(r), ("fresh", r.status, await r.text())
    assert changes(settled, await snapshot(rig.app)), "a fresh request changed nothing"
    tally.record(rig.platform, rig.name, "replay", "control: made anew", f"accepted {r.status}")
