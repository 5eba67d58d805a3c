"""Every /interview subcommand through the real discord.py client and CommandTree, against the
loopback fake: tree sync, options mapped onto the shared vocabulary, admin checks, autocomplete,
and what each reply looks like on Discord."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from bot.services.answers import AnswerTarget
from bot.services.commands import CommandName
from bot.storage.models import Channel, Member, QueuedQuestion
from tests.fakes.discord_api import (
    ADMIN,
    ALICE,
    BOB,
    CHANNEL_A,
    CHANNEL_A2,
    MANAGE_GUILD,
    FakeDiscord,
    InteractionRef,
    custom_ids,
    embeds_text,
    option,
)

#: One subcommand per word of the shared vocabulary (the same game as Slack and the terminal).
SUBCOMMANDS = {name.value for name in CommandName}


async def reply_of(fake: FakeDiscord, ref: InteractionRef) -> dict[str, Any]:
    """The first message the bot answered with (the response, or the deferred one's edit)."""
    return await fake.first_reply(ref)


async def admin(fake: FakeDiscord, subcommand: str, *options: dict[str, Any], **kwargs: Any):
    return await fake.slash(
        subcommand, list(options), member=ADMIN, permissions=MANAGE_GUILD, **kwargs
    )


async def test_tree_sync_registers_one_group_usable_in_servers_and_dms(world):
    synced = await world.adapter.client.tree.sync()
    assert [command.name for command in synced] == ["interview"]
    [payload] = world.fake.synced["global"]
    assert {item["name"] for item in payload["options"]} == SUBCOMMANDS
    assert payload["contexts"] == [0, 1]  # guild and bot DM
    assert payload["integration_types"] == [0]
    # members use the group, so it carries no default permission (see commands.py)
    assert payload["default_member_permissions"] is None
    config = next(item for item in payload["options"] if item["name"] == "config")
    names = {item["name"]: item for item in config["options"]}
    assert set(names) == {
        "channel",
        "enabled",
        "time",
        "timezone",
        "days",
        "cadence",
        "window",
        "track",
        "topics",
    }
    assert names["timezone"]["autocomplete"] is True
    practice = next(item for item in payload["options"] if item["name"] == "practice")
    topic = next(item for item in practice["options"] if item["name"] == "topic")
    assert topic["autocomplete"] is True

    # what Discord would refuse: long descriptions and names, too many options or choices
    def check(item: dict[str, Any]) -> None:
        assert re.fullmatch(r"[a-z0-9_-]{1,32}", item["name"]), item["name"]
        assert 1 <= len(item["description"]) <= 100, item["description"]
        assert len(item.get("options") or []) <= 25 and len(item.get("choices") or []) <= 25
        for choice in item.get("choices") or []:
            assert 1 <= len(choice["name"]) <= 100
        for child in item.get("options") or []:
            check(child)

    check(payload)


async def test_dev_guild_sync_copies_the_commands_to_that_guild(
    engine, database_url, fake_discord, clock, rng
):
    from tests.adapters.discord.conftest import discord_settings, start_world, stop_world
    from tests.fakes.graders import ScriptedGrader

    settings = discord_settings(database_url, fake_discord, discord_dev_guild_id=777)
    world = await start_world(settings, fake_discord, clock, rng, ScriptedGrader())
    try:
        assert [command["name"] for command in fake_discord.synced["777"]] == ["interview"]
        assert "global" not in fake_discord.synced  # global sync is `discord sync`'s job
    finally:
        await stop_world(world)


async def test_help_lists_every_subcommand_with_its_options(world):
    body = await reply_of(world.fake, await world.fake.slash("help"))
    text = embeds_text(body)
    for name in SUBCOMMANDS:
        assert f"/interview {name}" in text
    assert "/interview practice [topic] [difficulty]" in text
    assert "/interview nudges state:" in text
    assert body["flags"] == 64


async def test_practice_with_topic_and_difficulty_and_an_unknown_topic(world):
    ref = await world.fake.slash(
        "practice", [option("topic", "regularization"), option("difficulty", "intermediate")]
    )
    body = await reply_of(world.fake, ref)
    assert "Practice question" in embeds_text(body)
    assert "regularization" in embeds_text(body)
    [button] = custom_ids(body)
    assert button.startswith("iv:b:answer-practice:")

    body = await reply_of(world.fake, await world.fake.slash("practice", [option("topic", "cnn")]))
    assert "Unknown topic, track or level 'cnn'" in embeds_text(body)


async def test_topic_timezone_and_question_autocomplete(world):
    fake = world.fake
    ref = await fake.autocomplete("practice", "topic", "reg")
    body = await fake.wait_callback(ref)
    assert body["type"] == 8
    assert [choice["value"] for choice in body["data"]["choices"]] == ["regularization"]

    ref = await fake.autocomplete("config", "timezone", "europe/ber", permissions=MANAGE_GUILD)
    body = await fake.wait_callback(ref)
    assert body["data"]["choices"][0]["value"] == "Europe/Berlin"
    assert len(body["data"]["choices"]) <= 25

    ref = await fake.autocomplete("queue", "question", "soft", permissions=MANAGE_GUILD)
    body = await fake.wait_callback(ref)
    assert [choice["value"] for choice in body["data"]["choices"]] == ["basics-softmax"]
    # members without Manage Server get no bank ids
    ref = await fake.autocomplete("queue", "question", "soft")
    assert (await fake.wait_callback(ref))["data"]["choices"] == []


async def test_config_with_options_saves_and_the_channel_option_targets_another_channel(world):
    fake = world.fake
    ref = await admin(
        fake,
        "config",
        option("enabled", True, 5),
        option("time", "07:30"),
        option("timezone", "Europe/Berlin"),
        option("days", "mon-fri"),
        option("window", "8h"),
        option("cadence", "daily"),
    )
    text = embeds_text(await reply_of(fake, ref))
    assert "Channel settings saved" in text and "07:30 Europe/Berlin" in text and "Mon-Fri" in text

    ref = await admin(
        fake,
        "config",
        option("channel", CHANNEL_A2, 7),
        option("enabled", True, 5),
        option("days", "funday"),
        resolved={
            "channels": {
                CHANNEL_A2: {"id": CHANNEL_A2, "name": "second", "type": 0, "permissions": "0"}
            }
        },
    )
    text = embeds_text(await reply_of(fake, ref))
    assert "Nothing was changed" in text and "not a day of the week" in text
    async with world.app.sessions() as session:
        channels = {
            row.external_id: row for row in (await session.execute(sa.select(Channel))).scalars()
        }
    assert channels[CHANNEL_A].enabled and channels[CHANNEL_A].post_days == [0, 1, 2, 3, 4]
    assert not channels[CHANNEL_A2].enabled and channels[CHANNEL_A2].name == "second"


async def test_config_form_prefills_and_shows_each_error_under_its_input(world):
    fake = world.fake
    callback = await fake.wait_callback(await admin(fake, "config"))
    assert callback["type"] == 9
    form = callback["data"]
    assert custom_ids(callback) == ["state", "when", "days", "window", "topics"]
    assert form["title"] == "Settings · #interview-prep"
    when = form["components"][1]["component"]
    assert when["value"] == "09:00 UTC"

    values = {
        "state": ["on-daily"],
        "when": "25:00 Mars/Olympus",
        "days": "every day",
        "window": "8h",
        "topics": "activations",
    }
    ref = await fake.submit_modal(form["custom_id"], values, member=ADMIN, permissions=MANAGE_GUILD)
    assert (await fake.wait_callback(ref)) == {"type": 5, "data": {"flags": 64}}
    body = await fake.wait_original(ref)
    text = embeds_text(body)
    assert "Nothing was changed" in text
    [field] = body["embeds"][0]["fields"]
    assert field["name"] == "Time and time zone" and "HH:MM" in field["value"]
    [edit_again] = custom_ids(body)
    assert edit_again == f"iv:cfg:{CHANNEL_A}"

    # "Edit the settings" reopens the form with what was typed
    message = fake.messages["@original:" + ref.token]
    ref = await fake.click(message, edit_again, member=ADMIN, permissions=MANAGE_GUILD)
    reopened = await fake.wait_callback(ref)
    assert reopened["type"] == 9
    assert reopened["data"]["components"][1]["component"]["value"] == "25:00 Mars/Olympus"

    values["when"] = "08:15 Europe/Berlin"
    ref = await fake.submit_modal(form["custom_id"], values, member=ADMIN, permissions=MANAGE_GUILD)
    text = embeds_text(await fake.wait_original(ref))
    assert "Channel settings saved" in text and "08:15 Europe/Berlin" in text
    assert "activations" in text


async def test_a_member_without_manage_server_is_refused_config(world):
    fake = world.fake
    ref = await fake.slash("config", [option("enabled", True, 5)], member=ALICE)
    body = await reply_of(fake, ref)
    assert "Manage Server" in embeds_text(body) and body["flags"] == 64
    # the form is refused too, and so is a forged form submit (the service checks again)
    body = await reply_of(fake, await fake.slash("config", member=ALICE))
    assert "Manage Server" in embeds_text(body)
    admin_actor = await world.actor()
    ref = await fake.submit_modal(
        f"iv:mc:{admin_actor.channel_id}",
        {"state": ["on-daily"], "when": "09:00", "days": "daily", "window": "8h", "topics": ""},
        member=ALICE,
    )
    assert "Only workspace admins" in embeds_text(await fake.wait_original(ref))
    assert not (await world.app.channels.view(admin_actor.channel_id)).enabled
    # in a direct message there is no channel to configure
    body = await reply_of(fake, await fake.slash("pause", member=ADMIN, guild_id=None))
    assert "server channel" in embeds_text(body)


async def test_pause_resume_skip_and_queue(world):
    fake = world.fake
    await reply_of(fake, await admin(fake, "config", option("enabled", True, 5)))

    text = embeds_text(
        await reply_of(
            fake,
            await admin(fake, "pause", option("until", "2026-03-09"), option("reason", "offsite")),
        )
    )
    assert "Paused" in text and "until 2026-03-09 (offsite)" in text
    text = embeds_text(await reply_of(fake, await admin(fake, "resume")))
    assert "Resumed" in text and "until 2026-03-09" not in text

    text = embeds_text(
        await reply_of(fake, await admin(fake, "skip", option("dates", "2026-03-04, 2026-03-05")))
    )
    assert "2026-03-04, 2026-03-05" in text
    text = embeds_text(
        await reply_of(
            fake,
            await admin(fake, "skip", option("dates", "2026-03-04"), option("remove", True, 5)),
        )
    )
    assert "Skip dates" in text and "2026-03-04" not in text

    text = embeds_text(
        await reply_of(fake, await admin(fake, "queue", option("question", "basics-softmax")))
    )
    assert "Queued" in text and "basics-softmax" in text
    text = embeds_text(await reply_of(fake, await admin(fake, "queue")))
    assert "1. basics-softmax" in text
    text = embeds_text(await reply_of(fake, await admin(fake, "queue", option("remove", 1, 4))))
    assert "Removed from the queue" in text
    async with world.app.sessions() as session:
        assert (await session.execute(sa.select(QueuedQuestion))).scalars().all() == []


async def test_queue_custom_opens_a_yaml_form_and_queues_the_question(world):
    fake = world.fake
    await reply_of(fake, await admin(fake, "config", option("enabled", True, 5)))
    callback = await fake.wait_callback(await admin(fake, "queue", option("custom", True, 5)))
    assert callback["type"] == 9
    assert custom_ids(callback) == ["yaml", "date"]
    yaml_text = (
        "id: team-attention\n"
        "topic: attention\n"
        "difficulty: intermediate\n"
        "prompt: Why do transformers scale dot products by the square root of the key size?\n"
        "reference: >-\n"
        "  Dot products grow with the dimension, which pushes softmax into saturation and makes\n"
        "  gradients vanish; dividing by sqrt(d_k) keeps the variance near one.\n"
        "key_points:\n"
        "  - text: dot products grow with the key dimension\n"
        "    weight: 5\n"
        "  - text: scaling keeps softmax out of saturation\n"
        "    weight: 5\n"
        "tags: []\n"
        "sources: []\n"
    )
    ref = await fake.submit_modal(
        callback["data"]["custom_id"],
        {"yaml": yaml_text, "date": ""},
        member=ADMIN,
        permissions=MANAGE_GUILD,
    )
    text = embeds_text(await fake.wait_original(ref))
    assert "Custom question queued" in text and "team-attention (custom)" in text

    ref = await fake.submit_modal(
        callback["data"]["custom_id"],
        {"yaml": "id: broken\n", "date": ""},
        member=ADMIN,
        permissions=MANAGE_GUILD,
    )
    assert "Nothing was changed" in embeds_text(await fake.wait_original(ref))


async def test_leaderboard_streaks_stats_and_nudges(world):
    fake = world.fake
    await reply_of(
        fake,
        await admin(
            fake,
            "config",
            option("enabled", True, 5),
            option("days", "daily"),
            option("time", "08:00"),
        ),
    )
    admin_actor = await world.actor()
    opened = await world.app.daily.open_due(admin_actor.channel_id)
    alice = await world.actor(ALICE, is_admin=False)
    await world.app.answers.submit(
        alice, AnswerTarget.daily(opened.post.id), "ReLU outputs max(0, x); gradient is 1"
    )
    await world.settle()

    ref = await fake.slash("leaderboard", [option("period", "month")], member=BOB)
    first = await reply_of(fake, ref)
    [second] = await fake.wait_followups(ref)
    assert "This month · this channel" in embeds_text(first) and "Alice" in embeds_text(first)
    assert "This month · workspace" in embeds_text(second)
    assert fake.replied_privately(ref) and second["flags"] == 64

    text = embeds_text(await reply_of(fake, await fake.slash("streaks", member=BOB)))
    assert "Alice — 1 in a row" in text

    text = embeds_text(await reply_of(fake, await fake.slash("stats", member=ALICE)))
    assert "Stats for Alice" in text
    ref = await fake.slash(
        "stats",
        [option("member", ALICE["id"], 6)],
        member=BOB,
        resolved={"users": {ALICE["id"]: ALICE}},
    )
    assert "Stats for Alice" in embeds_text(await reply_of(fake, ref))
    # someone never seen before gets a row with their Discord name
    ref = await fake.slash(
        "stats",
        [option("member", "2100000000000000099", 6)],
        member=BOB,
        resolved={
            "users": {
                "2100000000000000099": {**ALICE, "id": "2100000000000000099", "global_name": "Zed"}
            }
        },
    )
    assert "Stats for Zed" in embeds_text(await reply_of(fake, ref))

    text = embeds_text(await reply_of(fake, await fake.slash("nudges", [option("state", "on")])))
    assert "Nudges on" in text
    async with world.app.sessions() as session:
        row = (
            await session.execute(sa.select(Member).where(Member.external_id == ALICE["id"]))
        ).scalar_one()
    assert row.nudges is True


async def test_today_shows_the_open_question_with_its_button(world):
    fake = world.fake
    await reply_of(
        fake, await admin(fake, "config", option("enabled", True, 5), option("time", "08:00"))
    )
    admin_actor = await world.actor()
    opened = await world.app.daily.open_due(admin_actor.channel_id)
    body = await reply_of(fake, await fake.slash("today", member=BOB))
    assert "Today's interview question" in embeds_text(body)
    assert custom_ids(body) == [
        f"iv:b:answer-daily:{opened.post.id}:{admin_actor.workspace_external_id}"
    ]
    closes = int(opened.post.closes_at.timestamp())
    assert f"<t:{closes}:R>" in embeds_text(body)


async def test_a_slow_command_is_deferred_in_time_and_answered_after(world, monkeypatch):
    import asyncio

    from bot.adapters.discord import interactions

    monkeypatch.setattr(interactions, "RESPONSE_BUDGET_SECONDS", 0.05)
    gate = asyncio.Event()
    run = world.app.commands.run

    async def slow_run(actor, command):
        await gate.wait()
        return await run(actor, command)

    monkeypatch.setattr(world.app.commands, "run", slow_run)
    fake = world.fake
    ref = await fake.slash("streaks")
    assert (await fake.wait_callback(ref)) == {"type": 5, "data": {"flags": 64}}
    gate.set()
    assert "streaks" in embeds_text(await fake.wait_original(ref))

    # the settings form cannot open after a defer: a button opens it instead
    gate.clear()
    ref = await admin(fake, "config")
    assert (await fake.wait_callback(ref))["type"] == 5
    gate.set()
    body = await fake.wait_original(ref)
    assert custom_ids(body) == [f"iv:cfg:{CHANNEL_A}"]
    message = fake.messages["@original:" + ref.token]
    click = await fake.click(message, f"iv:cfg:{CHANNEL_A}", member=ADMIN, permissions=MANAGE_GUILD)
    assert (await fake.wait_callback(click))["type"] == 9


async def test_today_in_an_unscheduled_channel_gives_a_practice_question_with_the_button(world):
    body = await reply_of(world.fake, await world.fake.slash("today"))
    text = embeds_text(body)
    assert "Practice question" in text and "No daily question is scheduled here yet" in text
    [button] = custom_ids(body)
    assert button.startswith("iv:b:answer-practice:")
    assert body["allowed_mentions"] == {"parse": []}


async def test_in_a_thread_of_the_channel_commands_act_for_the_channel(world):
    """Members talk in the reveal's thread on the question: there ``today``, ``leaderboard``,
    ``streaks`` and ``config`` are the channel's, not an empty new channel's. A forum post (a
    thread of a forum, which takes no message of its own) stays a place of its own."""
    from tests.fakes.discord_api import GUILD_A, guild_payload

    fake = world.fake
    forum, post = "4100000000000000010", "4100000000000000011"
    channels = [
        {"id": CHANNEL_A, "type": 0, "name": "interview-prep", "position": 0},
        {"id": forum, "type": 15, "name": "questions-forum", "position": 1},
    ]
    await fake.dispatch(
        "GUILD_CREATE", {**guild_payload(GUILD_A, "Server A"), "channels": channels}
    )
    thread = "4100000000000000009"
    in_thread = {"channel_id": thread, "thread_of": CHANNEL_A}
    await reply_of(
        fake,
        await admin(
            fake, "config", option("enabled", True, 5), option("time", "08:00"), **in_thread
        ),
    )
    admin_actor = await world.actor()
    assert (await world.app.channels.view(admin_actor.channel_id)).enabled
    opened = await world.app.daily.open_due(admin_actor.channel_id)
    assert opened is not None
    await world.app.answers.submit(
        await world.actor(ALICE, is_admin=False),
        AnswerTarget.daily(opened.post.id),
        "ReLU outputs max(0, x); gradient is 1",
    )
    await world.settle()

    body = await reply_of(fake, await fake.slash("today", member=BOB, **in_thread))
    assert "Today's interview question" in embeds_text(body)
    assert custom_ids(body) == [f"iv:b:answer-daily:{opened.post.id}:{GUILD_A}"]
    ref = await fake.slash("leaderboard", member=BOB, **in_thread)
    assert "Alice" in embeds_text(await reply_of(fake, ref))
    text = embeds_text(await reply_of(fake, await fake.slash("streaks", member=BOB, **in_thread)))
    assert "Alice — 1 in a row" in text

    ref = await admin(fake, "config", option("enabled", True, 5), channel_id=post, thread_of=forum)
    assert "Channel settings saved" in embeds_text(await reply_of(fake, ref))
    async with world.app.sessions() as session:
        configured = {
            row.external_id for row in (await session.execute(sa.select(Channel))).scalars()
        }
    assert thread not in configured and forum not in configured and post in configured


async def test_number_options_stop_at_the_largest_id_the_database_holds(world):
    """A message id pasted as an answer number (19 digits) overflowed PostgreSQL's integer ids:
    the member saw "Something went wrong". Discord's client now refuses it in the option."""
    await world.adapter.client.tree.sync()
    [payload] = world.fake.synced["global"]
    subcommands = {item["name"]: item for item in payload["options"]}
    for subcommand, name in (("dispute", "answer"), ("admin", "answer"), ("queue", "remove")):
        [number] = [item for item in subcommands[subcommand]["options"] if item["name"] == name]
        assert (number["min_value"], number["max_value"]) == (1, 2**31 - 1), subcommand

    ref = await world.fake.slash(
        "dispute", [option("answer", 2**31 - 1, 4), option("reason", "too harsh")]
    )
    assert "not one of your answers" in embeds_text(await reply_of(world.fake, ref))


async def test_a_command_discord_still_shows_in_an_older_form_says_so(world, caplog):
    """After an upgrade changes /interview, members' clients keep the old form for a while:
    a subcommand that is gone, a required option they could not fill. "Something went wrong,
    try again in a moment" sent them round in circles."""
    fake = world.fake
    for ref in (
        await fake.slash("weekly-digest"),  # a subcommand this bot does not have
        # required options their client's copy did not ask for
        await fake.slash("skip", member=ADMIN, permissions=MANAGE_GUILD),
        await fake.slash("nudges"),
    ):
        body = await reply_of(fake, ref)
        assert "Discord still shows an older form of this command" in embeds_text(body)
        assert body["flags"] == 64
    assert "discord sync" in caplog.text and "failed" not in caplog.text
