"""A member's home: their points, rank, streak, recent grades and the questions open for them
now, as one neutral card (Slack's App Home tab renders it; any adapter may).

Read-only: it queries the tables and reuses ``LeaderboardService.member_stats``; it never
changes anything. Only the member's own grades appear, and only the score and topic of each
(never the rubric of a question that is still open).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.services.cards import ButtonAction, Card, CardButton, CardField, CardKind, quote_user_text
from bot.services.directory import Actor
from bot.services.leaderboard import LeaderboardService, MemberStats
from bot.storage.models import (
    Answer,
    AnswerKind,
    Channel,
    DailyPost,
    GradeRecord,
    QuestionVersion,
    Workspace,
    id_column,
)

RECENT_GRADES = 5
MAX_OPEN_QUESTIONS = 5


@dataclass(frozen=True)
class RecentGrade:
    topic: str
    kind: AnswerKind
    scored: bool
    score: int
    provisional: bool
    submitted_at: datetime


@dataclass(frozen=True)
class OpenQuestion:
    post_id: int
    channel_name: str
    topic: str
    closes_at: datetime
    answered: bool


class HomeService:
    """Builds the home card of a member (read-only)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        leaderboards: LeaderboardService,
    ):
        self._sessions = sessions
        self._clock = clock
        self._leaderboards = leaderboards

    async def recent_grades(self, member_id: int, limit: int = RECENT_GRADES) -> list[RecentGrade]:
        """The member's latest graded answers (current grade of each), newest first."""
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(
                    col(QuestionVersion.topic),
                    col(Answer.kind),
                    col(Answer.scored),
                    col(GradeRecord.score),
                    col(GradeRecord.provisional),
                    col(Answer.submitted_at),
                )
                .join(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
                .join(QuestionVersion, col(QuestionVersion.id) == Answer.question_id)
                .where(col(Answer.member_id) == member_id)
                .order_by(col(Answer.submitted_at).desc(), col(Answer.id).desc())
                .limit(limit)
            )
            return [RecentGrade(*row) for row in rows.all()]

    async def open_questions(
        self, workspace_id: int, member_id: int, limit: int = MAX_OPEN_QUESTIONS
    ) -> list[OpenQuestion]:
        """The daily questions open now in the member's workspace, soonest to close first."""
        now = self._clock.now()
        async with self._sessions() as session:
            answered = (
                sa.select(col(Answer.id))
                .where(
                    col(Answer.daily_post_id) == DailyPost.id,
                    col(Answer.member_id) == member_id,
                    col(Answer.scored).is_(True),
                    col(Answer.superseded).is_(False),
                )
                .exists()
            )
            rows = await session.execute(
                sa.select(
                    id_column(DailyPost.id),
                    col(Channel.name),
                    col(Channel.external_id),
                    col(QuestionVersion.topic),
                    col(DailyPost.closes_at),
                    answered,
                )
                .join(Channel, col(Channel.id) == DailyPost.channel_id)
                .join(Workspace, col(Workspace.id) == Channel.workspace_id)
                .join(QuestionVersion, col(QuestionVersion.id) == DailyPost.question_id)
                .where(
                    col(Channel.workspace_id) == workspace_id,
                    col(Workspace.enabled).is_(True),
                    col(DailyPost.closed_at).is_(None),
                    col(DailyPost.closes_at) > now,
                )
                .order_by(col(DailyPost.closes_at), col(DailyPost.id))
                .limit(limit)
            )
            return [
                OpenQuestion(post_id, name or external_id, topic, closes_at, bool(done))
                for post_id, name, external_id, topic, closes_at, done in rows.all()
            ]

    async def _zone(self, workspace_id: int) -> ZoneInfo:
        async with self._sessions() as session:
            workspace = await session.get(Workspace, workspace_id)
        return ZoneInfo(workspace.timezone if workspace else "UTC")

    async def card(self, actor: Actor) -> Card:
        stats = await self._leaderboards.member_stats(actor.member_id)
        grades = await self.recent_grades(actor.member_id)
        questions = await self.open_questions(actor.workspace_id, actor.member_id)
        return home_card(stats, grades, questions, await self._zone(actor.workspace_id))


def home_card(
    stats: MemberStats,
    grades: list[RecentGrade],
    questions: list[OpenQuestion],
    zone: ZoneInfo,
) -> Card:
    """The member's home: stats, recent grades, open questions with their Answer buttons and a
    practice button."""
    average = f"{stats.average_score:.0f}/100" if stats.average_score is not None else "—"
    streak = f"{stats.streak.current} in a row (best {stats.streak.longest})"
    grade_lines = []
    for grade in grades:
        kind = "practice" if not grade.scored else "daily"
        when = grade.submitted_at.astimezone(zone)
        line = f"{grade.score}/100 · {quote_user_text(grade.topic, 60)} · {kind} · {when:%a %d %b}"
        if grade.provisional:
            line += " (provisional)"
        grade_lines.append(line)
    question_lines = []
    buttons = []
    for question in questions:
        name = quote_user_text(question.channel_name, 60)
        state = "answered ✅" if question.answered else "not answered yet"
        question_lines.append(f"#{name} · {quote_user_text(question.topic, 60)} · {state}")
        label = f"{'Improve' if question.answered else 'Answer'} today's question in #{name}"
        buttons.append(
            CardButton(
                action=ButtonAction.ANSWER_DAILY,
                label=label[:75],
                value=str(question.post_id),
                primary=not question.answered,
            )
        )
    buttons.append(CardButton(action=ButtonAction.PRACTICE, label="Practice question"))
    return Card(
        kind=CardKind.STATS,
        title=f"🧠 Interview practice · {quote_user_text(stats.display_name, 80) or 'you'}",
        fields=(
            CardField(name="Points", value=str(stats.points), inline=True),
            CardField(name="Rank", value=f"#{stats.rank}" if stats.rank else "—", inline=True),
            CardField(name="Streak", value=streak, inline=True),
            CardField(name="Average daily score", value=average, inline=True),
            CardField(
                name="Recent grades", value="\n".join(grade_lines) or "No graded answers yet."
            ),
            CardField(
                name="Open questions",
                value="\n".join(question_lines) or "No question is open in your workspace now.",
            ),
        ),
        buttons=tuple(buttons),
        footer=stats.streak_note
        or "Answers are private: the Answer button opens a form only you see.",
        private=True,
    )
