"""Many workspaces: Slack's OAuth install flow stores each installation (encrypted) in the
project's database; each workspace's events and messages use its own bot token; one
workspace's data never shows in another's; uninstalling or revoking disables a workspace."""

from __future__ import annotations

import re
from datetime import timedelta

import aiohttp
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from bot.storage.models import OutboxMessage, OutboxStatus, SlackInstallation, Workspace
from tests.adapters.slack.conftest import slack_settings, start_world, stop_world
from tests.fakes.slack_api import Install, Team, all_text, answer_values

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-secret"
KEY = Fernet.generate_key().decode()
TEAMS = {
    "T1": (Team("T1", "Team One", "BT1", "UBOTT1"), "xoxb-installed-one"),
    "T2": (Team("T2", "Team Two", "BT2", "UBOTT2"), "xoxb-installed-two"),
}


@pytest.fixture
async def oauth_world(engine, database_url, fake_slack, clock, rng):
    fake_slack.add_user("U5", "Zed")
    fake_slack.add_user("UADMIN2", "Tom Admin", owner=True)
    settings = slack_settings(
        database_url,
        fake_slack,
        slack_bot_token=None,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_token_encryption_key=KEY,
    )
    assert settings.slack_oauth and settings.chat_adapters == ["slack"]
    world = await start_world(settings, fake_slack, clock, rng)
    yield world
    await stop_world(world)


def base_url(world) -> str:
    return f"http://127.0.0.1:{world.server.bound_port}"


async def install(world, team_id: str, code: str) -> aiohttp.ClientResponse:
    team, token = TEAMS[team_id]
    world.fake.expect_install(code, Install(team, token, CLIENT_ID, CLIENT_SECRET))
    session = world.slack.session
    async with session.get(f"{base_url(world)}/slack/install") as page:
        assert page.status == 200
        html = await page.text()
    state = re.search(r"oauth/v2/authorize\?state=([^&\"]+)", html).group(1)
    async with session.get(
        f"{base_url(world)}/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers={"Cookie": f"slack-app-oauth-state={state}"},
    ) as callback:
        await callback.read()
        callback.state_used = state  # type: ignore[attr-defined]
        return callback


async def test_install_stores_an_encrypted_installation_and_events_use_its_token(oauth_world):
    world = oauth_world
    callback = await install(world, "T1", "code-one")
    assert callback.status == 200
    async with world.app.sessions() as session:
        [row] = (await session.execute(sa.select(SlackInstallation))).scalars().all()
        workspace = (
            await session.execute(sa.select(Workspace).where(Workspace.external_id == "T1"))
        ).scalar_one()
    assert row.team_id == "T1" and row.client_id == CLIENT_ID and row.has_bot
    assert "xoxb-installed-one" not in row.sealed  # encrypted at rest
    assert "xoxb-installed-one" in Fernet(KEY).decrypt(row.sealed.encode()).decode()
    assert workspace.enabled and workspace.name == "Team One"

    # the state is single-use
    session = world.slack.session
    async with session.get(
        f"{base_url(world)}/slack/oauth_redirect",
        params={"code": "code-one", "state": callback.state_used},
        headers={"Cookie": f"slack-app-oauth-state={callback.state_used}"},
    ) as replay:
        assert replay.status == 401

    assert (await install(world, "T2", "code-two")).status == 200
    await world.slack.command("help", user="U1", team="T1", hook="one")
    await world.slack.command("help", user="U5", team="T2", hook="two")
    await world.settle()
    assert world.fake.hook("one") and world.fake.hook("two")
    tokens = {call.data.get("user"): call.token for call in world.fake.of("users.info")}
    assert tokens == {"U1": "xoxb-installed-one", "U5": "xoxb-installed-two"}


async def test_two_workspaces_are_kept_apart(oauth_world):
    world = oauth_world
    fake, slack, app = world.fake, world.slack, world.app
    await install(world, "T1", "c1")
    await install(world, "T2", "c2")
    await world.schedule(channel="C1", team="T1", admin="UADMIN")
    await world.schedule(channel="C9", team="T2", admin="UADMIN2")
    await app.scheduler.sweep()
    await world.settle()
    posts = {call.data["channel"]: call for call in await fake.wait_for("chat.postMessage", 2)}
    assert posts["C1"].token == "xoxb-installed-one"
    assert posts["C9"].token == "xoxb-installed-two"

    members = (("T1", "C1", "U1"), ("T2", "C9", "U5"))
    for index, (team, channel, user) in enumerate(members, start=1):
        blocks = posts[channel].blocks
        button = next(e for b in blocks if b["type"] == "actions" for e in b["elements"])
        await slack.click(
            button["action_id"], button["value"], user=user, team=team, channel=channel
        )
        view = (await fake.wait_for("views.open", index))[-1].view
        answer = answer_values("ReLU outputs max(0, x), zero for negatives.")
        response = await slack.submit(view, answer, user=user, team=team)
        assert response.json()["response_action"] == "update"
    await world.settle()
    grades = {call.data["user"]: call for call in await fake.wait_for("chat.postEphemeral", 2)}
    assert grades["U1"].token == "xoxb-installed-one" and grades["U1"].data["channel"] == "C1"
    assert grades["U5"].token == "xoxb-installed-two" and grades["U5"].data["channel"] == "C9"

    await slack.command("leaderboard all", user="U1", team="T1", channel="C1", hook="lb1")
    await slack.command("leaderboard all", user="U5", team="T2", channel="C9", hook="lb2")
    await slack.command("stats <@U5>", user="U1", team="T1", channel="C1", hook="st1")
    await world.settle()
    board_one = "\n".join(all_text(r["blocks"]) for r in fake.hook("lb1"))
    board_two = "\n".join(all_text(r["blocks"]) for r in fake.hook("lb2"))
    assert "Alice" in board_one and "Zed" not in board_one
    assert "Zed" in board_two and "Alice" not in board_two
    stats = all_text(fake.hook("st1")[0]["blocks"])  # Zed as seen from T1: unknown there
    assert "has not played here yet" in stats and "Points" not in stats

    app.clock.advance(timedelta(days=1))
    await app.scheduler.sweep()
    await world.settle()
    reveals = [c for c in fake.of("chat.postMessage") if c.data.get("thread_ts")]
    by_channel = {call.data["channel"]: all_text(call.blocks) for call in reveals}
    assert "Alice" in by_channel["C1"] and "Zed" not in by_channel["C1"]
    assert "Zed" in by_channel["C9"] and "Alice" not in by_channel["C9"]
    assert {call.token for call in reveals if call.data["channel"] == "C9"} == {
        "xoxb-installed-two"
    }


async def test_uninstall_and_revocation_disable_the_workspace(oauth_world):
    world = oauth_world
    fake, app = world.fake, world.app
    await install(world, "T1", "c1")
    await install(world, "T2", "c2")
    await world.schedule(channel="C9", team="T2", admin="UADMIN2")

    response = await world.slack.event({"type": "app_uninstalled"}, team="T2")
    assert response.status == 200
    await world.settle()
    async with app.sessions() as session:
        enabled = dict(
            (await session.execute(sa.select(Workspace.external_id, Workspace.enabled))).all()
        )
        teams = set((await session.execute(sa.select(SlackInstallation.team_id))).scalars())
    assert enabled["T2"] is False and enabled["T1"] is True
    assert teams == {"T1"}
    await app.scheduler.sweep()  # a disabled workspace gets no question
    await world.settle()
    assert [call for call in fake.of("chat.postMessage") if call.data.get("channel") == "C9"] == []

    # a message already queued for it is given up, not sent with another workspace's token
    await world.schedule(channel="C1", team="T1", admin="UADMIN")
    async with app.sessions() as session:
        session.add(
            OutboxMessage(
                platform="slack", workspace_external_id="T2", channel_external_id="C9",
                action="post", card={"kind": "notice", "title": "late"}, topic="question",
                next_attempt_at=app.clock.now(), created_at=app.clock.now(),
            )
        )  # fmt: skip
        await session.commit()
    await world.settle()  # the background dispatcher may be the one that takes it
    async with app.sessions() as session:
        late = (
            await session.execute(
                sa.select(OutboxMessage).where(OutboxMessage.workspace_external_id == "T2")
            )
        ).scalar_one()
    assert (
        late.status is OutboxStatus.DEAD
        and late.last_error == "PermanentDeliveryError:not_installed"
    )

    revoked = {"type": "tokens_revoked", "tokens": {"bot": ["UBOTT1"]}}
    assert (await world.slack.event(revoked, team="T1")).status == 200
    await world.settle()
    async with app.sessions() as session:
        workspace = (
            await session.execute(sa.select(Workspace).where(Workspace.external_id == "T1"))
        ).scalar_one()
        assert (await session.execute(sa.select(SlackInstallation))).scalars().all() == []
    assert workspace.enabled is False

    # installing again re-enables it
    assert (await install(world, "T1", "c3")).status == 200
    async with app.sessions() as session:
        workspace = (
            await session.execute(sa.select(Workspace).where(Workspace.external_id == "T1"))
        ).scalar_one()
    assert workspace.enabled is True
