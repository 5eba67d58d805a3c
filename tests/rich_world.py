"""Fixture plugin: a richer world for ranking tests — two workspaces, channels in zones far east
(UTC+14) and far west (UTC-10) of UTC, members with unequal points and ties, grades across the
whole 0-100 range — built by writing score rows directly, plus a brute-force ranking to compare
the SQL leaderboard against.

``RichWorld.score`` records one graded daily answer (post, answer, grade, score event) the way
the grading worker leaves it; ``expected_board`` recomputes a leaderboard from those records in
plain Python with the documented tie-breaks (points, answers, earlier last answer, member id).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import ManualClock
from bot.domain.bank import Difficulty
from bot.services.leaderboard import LeaderboardService
from bot.services.question_rows import sync_bank
from bot.services.scoring import award_points
from bot.storage.models import (
    Answer,
    AnswerKind,
    AnswerStatus,
    Channel,
    DailyPost,
    GradeRecord,
    Member,
    Platform,
    QuestionVersion,
    Workspace,
)
from tests.world import SMALL_BANK

#: Far east of UTC (UTC+14 all year) and far west (UTC-10 all year, no DST).
EAST_ZONE = "Pacific/Kiritimati"
WEST_ZONE = "Pacific/Honolulu"
DST_ZONE = "Europe/Berlin"

_external_ids = itertools.count(1)


@dataclass(frozen=True)
class Recorded:
    """One score event as the test wrote it (what the brute-force ranking reads)."""

    workspace_id: int
    channel_id: int
    member_id: int
    daily_post_id: int
    points: int
    score: int
    occurred_at: datetime


@dataclass
class RichWorld:
    sessions: async_sessionmaker[AsyncSession]
    clock: ManualClock
    questions: dict[Difficulty, int]
    names: dict[int, str] = field(default_factory=dict)
    records: list[Recorded] = field(default_factory=list)
    _posts: dict[tuple[int, date], int] = field(default_factory=dict)

    async def workspace(self, timezone: str, name: str = "Team") -> int:
        async with self.sessions() as session, session.begin():
            row = Workspace(
                platform=Platform.SLACK,
                external_id=f"TRICH{next(_external_ids)}",
                name=name,
                timezone=timezone,
                created_at=self.clock.now(),
            )
            session.add(row)
            await session.flush()
            assert row.id is not None
            return row.id

    async def channel(self, workspace_id: int, name: str, timezone: str) -> int:
        async with self.sessions() as session, session.begin():
            row = Channel(
                workspace_id=workspace_id,
                external_id=f"CRICH{next(_external_ids)}",
                name=name,
                timezone=timezone,
                created_at=self.clock.now(),
                updated_at=self.clock.now(),
            )
            session.add(row)
            await session.flush()
            assert row.id is not None
            return row.id

    async def member(self, workspace_id: int, name: str, timezone: str | None = None) -> int:
        async with self.sessions() as session, session.begin():
            row = Member(
                workspace_id=workspace_id,
                external_id=f"URICH{next(_external_ids)}",
                display_name=name,
                timezone=timezone,
                created_at=self.clock.now(),
            )
            session.add(row)
            await session.flush()
            assert row.id is not None
            self.names[row.id] = name
            return row.id

    async def score(
        self,
        workspace_id: int,
        channel_id: int,
        member_id: int,
        at: datetime,
        score: int,
        difficulty: Difficulty = Difficulty.INTERMEDIATE,
        *,
        local_date: date | None = None,
        resubmit: bool = False,
    ) -> Recorded:
        """A graded daily answer at ``at`` (UTC) to the channel's post of that day, its points
        awarded by ``award_points`` as the grading worker does. With ``resubmit`` it supersedes
        the member's earlier answer to that post, as the answer service does."""
        day = local_date or at.date()
        async with self.sessions() as session, session.begin():
            post = await self._post(session, channel_id, day, at, difficulty)
            assert post.id is not None
            if resubmit:
                await session.execute(
                    sa.update(Answer)
                    .where(
                        Answer.daily_post_id == post.id,  # type: ignore[arg-type]
                        Answer.member_id == member_id,  # type: ignore[arg-type]
                        Answer.superseded.is_(False),  # type: ignore[attr-defined]
                    )
                    .values(superseded=True)
                )
            answer = Answer(
                member_id=member_id,
                question_id=self.questions[difficulty],
                daily_post_id=post.id,
                kind=AnswerKind.DAILY,
                text="an answer",
                status=AnswerStatus.GRADED,
                scored=True,
                submitted_at=at,
                updated_at=at,
            )
            session.add(answer)
            await session.flush()
            assert answer.id is not None
            grade = GradeRecord(answer_id=answer.id, grader="test", score=score, created_at=at)
            session.add(grade)
            await session.flush()
            answer.current_grade_id = grade.id
            question = await session.get(QuestionVersion, self.questions[difficulty])
            member = await session.get(Member, member_id)
            workspace = await session.get(Workspace, workspace_id)
            channel = await session.get(Channel, channel_id)
            assert question and member and workspace and channel
            points = await award_points(
                session,
                answer=answer,
                score=score,
                question=question,
                member=member,
                workspace=workspace,
                post=post,
                channel=channel,
            )
            assert points is not None
        record = Recorded(workspace_id, channel_id, member_id, post.id, points, score, at)
        self.records = [
            kept
            for kept in self.records
            if (kept.daily_post_id, kept.member_id) != (post.id, member_id)
        ] + [record]
        return record

    async def _post(
        self, session: AsyncSession, channel_id: int, day: date, at: datetime, level: Difficulty
    ) -> DailyPost:
        post_id = self._posts.get((channel_id, day))
        if post_id is not None:
            post = await session.get(DailyPost, post_id)
            assert post is not None
            return post
        post = DailyPost(
            channel_id=channel_id,
            local_date=day,
            question_id=self.questions[level],
            opened_at=at - timedelta(hours=1),
            closes_at=at + timedelta(hours=20),
            closed_at=at + timedelta(hours=20),
        )
        session.add(post)
        await session.flush()
        assert post.id is not None
        self._posts[(channel_id, day)] = post.id
        return post

    def expected_board(
        self,
        workspace_id: int,
        start: datetime | None,
        channel_id: int | None = None,
        limit: int = 10,
        keep: Callable[[Recorded], bool] | None = None,
    ) -> list[tuple[int, str, int, int]]:
        """(rank, name, points, answers) recomputed from the records, ties broken as documented;
        ``keep`` (when given) chooses the records of the period."""
        totals: dict[int, list] = {}
        for record in self.records:
            if keep is not None and not keep(record):
                continue
            if record.workspace_id != workspace_id:
                continue
            if channel_id is not None and record.channel_id != channel_id:
                continue
            if start is not None and record.occurred_at < start:
                continue
            entry = totals.setdefault(record.member_id, [0, 0, record.occurred_at])
            entry[0] += record.points
            entry[1] += 1
            entry[2] = max(entry[2], record.occurred_at)
        ordered = sorted(
            totals.items(), key=lambda item: (-item[1][0], -item[1][1], item[1][2], item[0])
        )[:limit]
        return [
            (rank, self.names[member_id], points, answers)
            for rank, (member_id, (points, answers, _)) in enumerate(ordered, start=1)
        ]

    def service(self) -> LeaderboardService:
        return LeaderboardService(self.sessions, self.clock)


def local(zone: str, *args: int) -> datetime:
    """A wall-clock time in ``zone``, as a UTC instant."""
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # type: ignore[misc]


@pytest.fixture
async def rich_world(sessions, clock) -> RichWorld:
    await sync_bank(sessions, SMALL_BANK, clock)
    async with sessions() as session:
        rows = (
            await session.execute(
                sa.select(QuestionVersion.difficulty, sa.func.min(QuestionVersion.id)).group_by(
                    QuestionVersion.difficulty
                )
            )
        ).all()
    return RichWorld(sessions, clock, {Difficulty(level): qid for level, qid in rows})
