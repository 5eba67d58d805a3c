"""The /interview vocabulary shared by every adapter: parsing, and what each subcommand shows."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from bot.services.cards import ButtonAction, CardKind
from bot.services.commands import (
    Command,
    CommandName,
    InterviewCommands,
    UsageError,
    parse_command,
)
from bot.services.disputes import Disputes
from bot.services.grading import GradingWorker
from bot.services.interviews import MockInterviews
from bot.services.practice import PracticeService
from bot.storage.models import Platform
from tests.fakes.graders import ScriptedGrader


@pytest.fixture
def commands(world, sessions, rng) -> InterviewCommands:
    return world.commands(PracticeService(sessions, rng))


@pytest.mark.parametrize(
    ("text", "name", "args", "options", "member"),
    [
        ("", CommandName.HELP, (), {}, None),
        ("leaderboard month", CommandName.LEADERBOARD, ("month",), {}, None),
        ("LB all", CommandName.LEADERBOARD, ("all",), {}, None),
        ("stats <@U123|ada>", CommandName.STATS, (), {}, "U123"),
        ("stats <@!81234>", CommandName.STATS, (), {}, "81234"),
        (
            'config time=09:30 tz=Europe/Berlin topics="cnn, rnn" on',
            CommandName.CONFIG,
            ("on",),
            {"time": "09:30", "tz": "Europe/Berlin", "topics": "cnn, rnn"},
            None,
        ),
        (
            "pause until=2026-04-01 team offsite",
            CommandName.PAUSE,
            ("team", "offsite"),
            {"until": "2026-04-01"},
            None,
        ),
        ("next rnn advanced", CommandName.PRACTICE, ("rnn", "advanced"), {}, None),
    ],
)
def test_parse_command(text, name, args, options, member):
    command = parse_command(text)
    assert (command.name, command.args, command.options, command.member_external_id) == (
        name,
        args,
        options,
        member,
    )


def test_unknown_subcommands_are_usage_errors():
    with pytest.raises(UsageError, match="Unknown command 'dance'"):
        parse_command("dance now")


async def test_today_shows_the_open_question_with_its_answer_button(world, commands):
    opened = await world.open()
    [card] = (await commands.run_text(world.alice, "today")).cards
    assert card.kind is CardKind.QUESTION and card.private
    assert [(b.action, b.value) for b in card.buttons] == [
        (ButtonAction.ANSWER_DAILY, str(opened.post.id))
    ]


async def test_today_in_a_channel_without_a_schedule_offers_practice_and_how_to_schedule(
    world, commands
):
    elsewhere = await world.directory.resolve(
        Platform.SLACK, "T1", "U1", channel_external_id="C-new", member_name="Alice"
    )
    [card] = (await commands.run_text(elsewhere, "today")).cards
    assert card.kind is CardKind.PRACTICE and "/interview config" in card.footer
    assert card.buttons[0].action is ButtonAction.ANSWER_PRACTICE


async def test_today_between_posts_says_when_the_next_one_comes(world, commands, clock):
    clock.advance(timedelta(hours=-1))  # 08:00 in Berlin, the post comes at 09:00
    [card] = (await commands.run_text(world.alice, "today")).cards
    assert "next one comes Mon 02 Mar at 09:00 (Europe/Berlin)" in card.footer


async def test_practice_filters_and_refuses_unknown_topics_with_the_choices(world, commands):
    [card] = (await commands.run_text(world.alice, "practice rnn advanced")).cards
    assert card.kind is CardKind.PRACTICE and card.fields[0].value == "rnn"
    assert "advanced" in card.fields[1].value
    [refusal] = (await commands.run_text(world.alice, "practice knitting")).cards
    assert refusal.kind is CardKind.ERROR and "Unknown topic" in refusal.title
    assert "cnn" in refusal.title and "Usage: /interview practice" in refusal.body


async def test_leaderboard_shows_the_channel_and_the_workspace(world, commands, sessions, clock):
    opened = await world.open()
    await world.submit(world.alice, opened, "gradients weights loss")
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()
    cards = (await commands.run_text(world.bob, "leaderboard all")).cards
    assert [card.title for card in cards] == [
        "🏆 Leaderboard — All time · this channel",
        "🏆 Leaderboard — All time · workspace",
    ]
    assert all(card.private for card in cards)
    [bad] = (await commands.run_text(world.bob, "leaderboard yearly")).cards
    assert bad.kind is CardKind.ERROR


async def test_stats_of_another_member_and_of_oneself(world, commands):
    [mine] = (await commands.run_text(world.alice, "stats")).cards
    assert "Stats for Alice" in mine.title
    [theirs] = (
        await commands.run(world.alice, Command(CommandName.STATS, member_external_id="U2"))
    ).cards
    assert "Stats for Bob" in theirs.title


async def test_config_is_for_admins_and_opens_the_form_or_applies_arguments(world, commands):
    [refusal] = (await commands.run_text(world.alice, "config time=10:00")).cards
    assert refusal.kind is CardKind.ERROR and "admins" in refusal.title
    form = (await commands.run_text(world.admin, "config")).config_form
    assert form is not None and form.post_time == "09:00" and form.timezone == "Europe/Berlin"
    assert "deep-learning" in form.tracks and "rnn" in form.topics_by_track["deep-learning"]
    [saved] = (await commands.run_text(world.admin, "config time=10:15 days=mon-fri")).cards
    assert "saved" in saved.title
    fields = {field.name: field.value for field in saved.fields}
    assert fields["Days"] == "Mon-Fri" and fields["Time"] == "10:15 Europe/Berlin"
    [rejected] = (await commands.run_text(world.admin, "config tz=Mars/Olympus")).cards
    assert rejected.title == "⚠️ Nothing was changed" and "timezone" in rejected.body


async def test_pause_skip_resume_and_the_queue(world, commands):
    [paused] = (await commands.run_text(world.admin, "pause until=2026-03-10 offsite")).cards
    assert {f.name: f.value for f in paused.fields}["Paused"] == "until 2026-03-10 (offsite)"
    [skipped] = (await commands.run_text(world.admin, "skip 2026-03-12 2026-03-13")).cards
    assert "2026-03-12, 2026-03-13" in {f.name: f.value for f in skipped.fields}["Skip dates"]
    [resumed] = (await commands.run_text(world.admin, "resume")).cards
    assert "Paused" not in {f.name for f in resumed.fields}
    [queued] = (await commands.run_text(world.admin, "queue rnn-b 2026-03-04")).cards
    assert "rnn-b — 2026-03-04" in {f.name: f.value for f in queued.fields}["Queue"]
    [missing] = (await commands.run_text(world.admin, "queue no-such-id")).cards
    assert "no active question with id 'no-such-id'" in missing.body
    [member] = (await commands.run_text(world.alice, "queue rnn-a")).cards
    assert "admins" in member.title


async def test_nudges_on_and_off(world, commands):
    [on] = (await commands.run_text(world.alice, "nudges on")).cards
    assert "Nudges on" in on.title
    [bad] = (await commands.run_text(world.alice, "nudges maybe")).cards
    assert bad.kind is CardKind.ERROR


async def test_help_lists_every_subcommand(world, commands):
    [card] = (await commands.run_text(world.alice, "help")).cards
    for name in CommandName:
        assert f"/interview {name.value}" in card.body


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mock ²", "Unknown topic, track, level or length '²'"),  # a digit int() refuses
        ("mock 0", "1 to 10 questions"),  # was a 5-question interview
        ("mock new rnn 0", "1 to 10 questions"),
    ],
)
async def test_mock_refuses_odd_lengths_with_a_reason(world, sessions, clock, rng, text, message):
    practice = PracticeService(sessions, rng)
    commands = world.commands(practice, interviews=MockInterviews(sessions, clock, practice))
    [card] = (await commands.run_text(world.alice, text)).cards
    assert card.kind is CardKind.ERROR and message in card.title + card.body


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("dispute ² the grade missed my point", "answer number"),
        ("dispute 99999999999 a pasted message id", "answer number"),
        ("admin override ² 50 fair", "admin override <answer>"),
        ("admin override 1 ² fair", "admin override <answer>"),
        ("admin override 4294967296 50 fair", "admin override <answer>"),
        ("queue remove ²", "number of the queued entry"),
        ("queue remove 99999999999", "number of the queued entry"),
    ],
)
async def test_numbers_that_are_not_row_ids_get_the_usage_line(world, sessions, clock, text, usage):
    """A superscript digit (a digit to Python, no number to int) or a number beyond the database's
    integer (a pasted message id: an overflow error on PostgreSQL) is refused with the usage
    line, not "Something went wrong"."""
    commands = world.commands(
        PracticeService(sessions, random.Random(1)), disputes=Disputes(sessions, clock)
    )
    [card] = (await commands.run_text(world.admin, text)).cards
    assert card.kind is CardKind.ERROR and usage in card.title + card.body
