"""The bank sync: new questions added, an edited question versioned, metadata kept current in
place, removed questions retired and brought back, one-off questions untouched, scopes apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.clock import ManualClock
from bot.domain.bank import Bank, Difficulty, KeyPoint, Track
from bot.services.question_rows import ScopedBank, SyncReport, question_row, sync_bank
from bot.storage.db import transaction
from bot.storage.models import QuestionVersion
from tests.world import SMALL_BANK, make_question

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def table(sessions) -> list[tuple]:
    async with sessions() as session:
        rows = (
            (await session.execute(sa.select(QuestionVersion).order_by(QuestionVersion.id)))
            .scalars()
            .all()
        )
    return [
        (
            row.scope,
            row.bank_id,
            row.content_hash,
            row.track,
            row.topic,
            row.difficulty,
            row.llm_only,
            row.tags,
            row.active,
            row.prompt,
            row.key_points,
            row.created_at,
        )
        for row in rows
    ]


async def test_a_new_bank_is_added_and_a_second_sync_changes_nothing(sessions):
    clock = ManualClock(START)
    assert await sync_bank(sessions, SMALL_BANK, clock) == SyncReport(6, 0, 0, 0)
    rows = await table(sessions)
    assert [row[1] for row in rows] == [q.id for q in SMALL_BANK.questions]
    first = SMALL_BANK.questions[0]
    assert rows[0] == (
        "",
        first.id,
        first.content_hash,
        Track.DEEP_LEARNING,
        "cnn",
        Difficulty.BEGINNER,
        False,
        [],
        True,
        first.prompt,
        [point.model_dump(exclude_defaults=True) for point in first.key_points],
        START,
    )
    clock.advance(timedelta(hours=1))  # a later sync writes nothing, not even a time
    assert await sync_bank(sessions, SMALL_BANK, clock) == SyncReport(0, 0, 6, 0)
    assert await table(sessions) == rows


async def test_an_edit_versions_metadata_updates_in_place_and_removal_retires(sessions):
    clock = ManualClock(START)
    await sync_bank(sessions, SMALL_BANK, clock)
    before = {row[1]: row for row in await table(sessions)}
    questions = list(SMALL_BANK.questions)
    # cnn-a: graded content edited; cnn-b: only topic, difficulty, tags and llm_only change;
    # rnn-c: removed from the bank
    questions[0] = questions[0].model_copy(
        update={"key_points": (KeyPoint(text="a different rubric point", weight=10),)}
    )
    questions[1] = questions[1].model_copy(
        update={
            "topic": "vision",
            "difficulty": Difficulty.ADVANCED,
            "tags": ("pooling",),
            "llm_only": True,
        }
    )
    del questions[5]
    report = await sync_bank(sessions, Bank(tuple(questions)), clock)
    assert report == SyncReport(added=0, new_versions=1, unchanged=4, retired=2)
    rows = await table(sessions)
    versions = [row for row in rows if row[1] == "cnn-a"]
    assert [(row[2], row[8]) for row in versions] == [
        (before["cnn-a"][2], False),
        (questions[0].content_hash, True),
    ]
    assert versions[1][10] == [{"text": "a different rubric point", "weight": 10}]
    [cnn_b] = [row for row in rows if row[1] == "cnn-b"]
    assert cnn_b[2] == before["cnn-b"][2]  # same version, same row
    assert cnn_b[3:9] == (
        Track.DEEP_LEARNING,
        "vision",
        Difficulty.ADVANCED,
        True,
        ["pooling"],
        True,
    )
    assert [row[8] for row in rows if row[1] == "rnn-c"] == [False]
    # the removed question comes back: its old row is active again, no new row
    assert await sync_bank(sessions, SMALL_BANK, clock) == SyncReport(0, 0, 6, 1)
    rows = await table(sessions)
    assert len(rows) == 7
    assert {row[1] for row in rows if row[8]} == {q.id for q in SMALL_BANK.questions}
    assert [row[2] for row in rows if row[1] == "cnn-a" and row[8]] == [before["cnn-a"][2]]


async def test_scopes_are_apart_and_one_off_questions_are_left_alone(sessions):
    clock = ManualClock(START)
    own = make_question("team-only", "cnn", Difficulty.BEGINNER)
    oneoff = question_row(own, clock, scope="oneoff:slack:T1", active=True)
    async with transaction(sessions) as session:
        session.add(oneoff)
    report = await sync_bank(
        sessions, ScopedBank({"": SMALL_BANK, "slack:T1": Bank((own,))}), clock
    )
    assert report == SyncReport(7, 0, 0, 0)
    assert await sync_bank(sessions, SMALL_BANK, clock) == SyncReport(0, 0, 6, 1)
    rows = await table(sessions)
    assert [(row[0], row[8]) for row in rows if row[1] == "team-only"] == [
        ("oneoff:slack:T1", True),
        ("slack:T1", False),
    ]
