"""Database tables (SQLModel). Leaderboards are derived from score events; nothing is cached here.

Times are stored as timezone-aware UTC on both SQLite and PostgreSQL (see ``UTCDateTime``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every dialect (SQLite keeps no zone, so we put it back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_column(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json_column(default: Any) -> Any:
    return Field(default_factory=lambda: default.copy(), sa_type=sa.JSON, nullable=False)


class Platform(StrEnum):
    SLACK = "slack"
    DISCORD = "discord"
    CONSOLE = "console"


class AnswerStatus(StrEnum):
    PENDING = "pending"
    GRADING = "grading"
    GRADED = "graded"
    FAILED = "failed"


class Workspace(SQLModel, table=True):
    """A Slack workspace, a Discord server, or the local terminal."""

    __table_args__ = (sa.UniqueConstraint("platform", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = _utc_column()


class Channel(SQLModel, table=True):
    """A channel that receives the daily question, with its schedule."""

    __table_args__ = (sa.UniqueConstraint("workspace_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    external_id: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    post_time: str = Field(default="09:00", max_length=5)
    timezone: str = Field(default="UTC", max_length=64)
    topics: list[str] = _json_column([])
    answer_window_minutes: int = Field(default=23 * 60)
    enabled: bool = Field(default=True, index=True)
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


class Member(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("workspace_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    external_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    created_at: datetime = _utc_column()


class QuestionVersion(SQLModel, table=True):
    """One version of a bank question. An edit adds a row; answers keep the text they answered."""

    __tablename__ = "question"
    __table_args__ = (
        sa.UniqueConstraint("bank_id", "content_hash"),
        sa.Index("ix_question_active_topic", "active", "topic"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bank_id: str = Field(max_length=80, index=True)
    content_hash: str = Field(max_length=32)
    topic: str = Field(max_length=60)
    difficulty: str = Field(max_length=16)
    prompt: str
    reference: str
    key_points: list[dict[str, Any]] = _json_column([])
    tags: list[str] = _json_column([])
    active: bool = Field(default=True)
    created_at: datetime = _utc_column()


class DailyPost(SQLModel, table=True):
    """The claim on a channel's question for one local date: at most one row per channel and day."""

    __tablename__ = "daily_post"
    __table_args__ = (
        sa.UniqueConstraint("channel_id", "local_date", name="uq_daily_post_channel_date"),
        sa.Index("ix_daily_post_open", "closed_at", "closes_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channel.id")
    local_date: date
    question_id: int = Field(foreign_key="question.id", index=True)
    opened_at: datetime = _utc_column()
    closes_at: datetime = _utc_column()
    closed_at: datetime | None = _utc_column(nullable=True)
    delivered_at: datetime | None = _utc_column(nullable=True)
    message_ref: str | None = Field(default=None, max_length=128)


class Answer(SQLModel, table=True):
    """A submitted answer, stored verbatim before anything else happens to it.

    ``scored`` answers count for points; answers after close and practice answers do not.
    A resubmission supersedes the member's earlier answer to the same daily post: the old row is
    kept (``superseded``) and only the live one earns points.
    """

    __table_args__ = (
        sa.Index("ix_answer_queue", "status", "claimed_at"),
        sa.Index(
            "uq_answer_live_per_post",
            "daily_post_id",
            "member_id",
            unique=True,
            sqlite_where=sa.text("superseded = 0 AND daily_post_id IS NOT NULL"),
            postgresql_where=sa.text("superseded = false AND daily_post_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    question_id: int = Field(foreign_key="question.id")
    daily_post_id: int | None = Field(default=None, foreign_key="daily_post.id", index=True)
    text: str
    status: str = Field(default=AnswerStatus.PENDING.value, max_length=16)
    scored: bool = Field(default=False)
    superseded: bool = Field(default=False)
    attempts: int = Field(default=0)
    claim_token: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _utc_column(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    current_grade_id: int | None = Field(default=None)
    submitted_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


class GradeRecord(SQLModel, table=True):
    """A grade of an answer. Regrading adds a row; the answer points at its current grade."""

    __tablename__ = "grade"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answer.id", index=True)
    grader: str = Field(max_length=32)
    model: str = Field(default="", max_length=100)
    score: int
    verdicts: list[dict[str, Any]] = _json_column([])
    factual_errors: list[dict[str, Any]] = _json_column([])
    flags: list[str] = _json_column([])
    feedback: str = ""
    provisional: bool = Field(default=False)
    prompt_tokens: int = Field(default=0)
    completion_tokens: int = Field(default=0)
    created_at: datetime = _utc_column()


class ScoreEvent(SQLModel, table=True):
    """Points earned by a daily answer. UNIQUE per answer and per (daily post, member), so an
    answer never earns points twice and a resubmission replaces the points instead of adding."""

    __tablename__ = "score_event"
    __table_args__ = (
        sa.UniqueConstraint("answer_id", name="uq_score_event_answer"),
        sa.UniqueConstraint("daily_post_id", "member_id", name="uq_score_event_post_member"),
        sa.Index("ix_score_event_workspace_time", "workspace_id", "occurred_at", "member_id"),
        sa.Index("ix_score_event_channel_time", "channel_id", "occurred_at", "member_id"),
        sa.Index("ix_score_event_member_date", "member_id", "member_local_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    channel_id: int | None = Field(default=None, foreign_key="channel.id")
    member_id: int = Field(foreign_key="member.id")
    answer_id: int = Field(foreign_key="answer.id")
    daily_post_id: int = Field(foreign_key="daily_post.id")
    points: int
    member_local_date: date
    occurred_at: datetime = _utc_column()


class GradeCacheEntry(SQLModel, table=True):
    """LLM grades keyed by (question version, normalised answer, model), so repeats cost nothing."""

    __tablename__ = "grade_cache"

    key: str = Field(primary_key=True, max_length=64)
    grade: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    created_at: datetime = _utc_column()
