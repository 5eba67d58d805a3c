"""Database tables (SQLModel): platforms' entities, the bank, daily posts, answers, grades, points,
schedules and the delivery outbox.

Times are stored as timezone-aware UTC on both SQLite and PostgreSQL (see ``UTCDateTime``).
Enumerations are stored as their string values (``StrEnumType``), so the columns stay readable and
a new member needs no schema change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel, col

from bot.domain.bank import Difficulty, Track
from bot.domain.schedule import Cadence
from bot.storage.grade_body import GradeContent, GradeContext, pack_grade, unpack_grade


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


def id_column(primary_key: int | None) -> Mapped[int]:
    """A table's ``id`` as a column to select: the models type it ``int | None`` (unset until the
    first flush), but a row read back from the database always has one. Same object as
    ``col(Model.id)``; only its type is narrower."""
    return cast("Mapped[int]", col(primary_key))


def StrEnumType(enum: type[StrEnum], length: int = 16) -> sa.Enum:
    """A string column holding an enum's values (not its member names), with no database enum
    type and no CHECK constraint, so adding a member needs no migration."""
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def _utc_column(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _filled(server_default: Any) -> dict[str, Any]:
    """The server default a migration gave a NOT NULL column it added to a table that had rows
    (each existing row got this value). The model keeps it, so a database built from the models
    (``bot.storage.migrate.build_schema``) equals a migrated one; the ORM always writes the
    Python-side default anyway."""
    return {"server_default": server_default}


def _json_column(default: Any, server_default: str | None = None) -> Any:
    extra = _filled(server_default) if server_default is not None else {}
    return Field(
        default_factory=lambda: default.copy(),
        sa_type=sa.JSON,
        nullable=False,
        sa_column_kwargs=extra,
    )


def _enum_column(
    enum: type[StrEnum], default: Any = None, length: int = 16, server_default: str | None = None
) -> Any:
    extra = _filled(server_default) if server_default is not None else {}
    if default is None:
        return Field(sa_type=StrEnumType(enum, length), nullable=False, sa_column_kwargs=extra)
    return Field(
        default=default, sa_type=StrEnumType(enum, length), nullable=False, sa_column_kwargs=extra
    )


class Platform(StrEnum):
    SLACK = "slack"
    DISCORD = "discord"
    CONSOLE = "console"


class AnswerStatus(StrEnum):
    PENDING = "pending"
    GRADING = "grading"
    GRADED = "graded"
    #: Every attempt failed (the fallback grader too): kept, listed by ``grades failed``.
    FAILED = "failed"


class AnswerKind(StrEnum):
    """Why the answer was written: the channel's daily question, practice, a mock interview."""

    DAILY = "daily"
    PRACTICE = "practice"
    MOCK = "mock"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    #: Given up after the last attempt, or refused for good by the platform.
    DEAD = "dead"


class DeliveryAction(StrEnum):
    """What the platform must do with a card."""

    #: A new message in a channel.
    POST = "post"
    #: A reply in the thread of the parent message (a reply to it where threads are impossible).
    REPLY = "reply"
    #: Replace the parent message.
    EDIT = "edit"
    #: A message only one member sees (ephemeral, follow-up or direct message).
    PRIVATE = "private"


class Workspace(SQLModel, table=True):
    """A Slack workspace, a Discord server, or the local terminal."""

    __table_args__ = (sa.UniqueConstraint("platform", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = _enum_column(Platform)
    external_id: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    #: False once the app was uninstalled or the bot left the server: nothing is posted there.
    enabled: bool = Field(default=True, sa_column_kwargs=_filled(sa.true()))
    #: Platform ids of members an admin allowed to run ``config`` (besides the platform's admins).
    admin_ids: list[str] = _json_column([], server_default="[]")
    created_at: datetime = _utc_column()

    @property
    def scope_key(self) -> str:
        """The key of this workspace's own questions (custom banks)."""
        return f"{self.platform.value}:{self.external_id}"


class Channel(SQLModel, table=True):
    """A channel that receives the daily question, with its schedule."""

    __table_args__ = (sa.UniqueConstraint("workspace_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    external_id: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    post_time: time = Field(default=time(9, 0), sa_type=sa.Time)
    timezone: str = Field(default="UTC", max_length=64)
    #: Weekdays it posts on, 0 = Monday ... 6 = Sunday (weekly cadence: exactly one).
    #: (channels that existed before schedules kept posting every day)
    post_days: list[int] = _json_column([0, 1, 2, 3, 4], server_default="[0, 1, 2, 3, 4, 5, 6]")
    cadence: Cadence = _enum_column(Cadence, Cadence.DAILY, server_default="daily")
    track: Track | None = Field(default=None, sa_type=StrEnumType(Track, 32), nullable=True)
    topics: list[str] = _json_column([])
    answer_window_minutes: int = Field(default=23 * 60)
    enabled: bool = Field(default=True, index=True)
    paused: bool = Field(default=False, sa_column_kwargs=_filled(sa.false()))
    #: The first local date it posts again (None with ``paused``: until someone resumes it).
    paused_until: date | None = None
    pause_reason: str = Field(default="", max_length=200, sa_column_kwargs=_filled(""))
    #: Local dates with no post (holidays), ISO strings.
    skip_dates: list[str] = _json_column([], server_default="[]")
    #: Post the month's champions when a month ends; mention the champion; a Discord role the
    #: champion is given.
    announce_champions: bool = Field(default=True, sa_column_kwargs=_filled(sa.true()))
    mention_champion: bool = Field(default=False, sa_column_kwargs=_filled(sa.false()))
    champion_role_id: str | None = Field(default=None, max_length=64)
    #: The platform id of the member who last saved the settings: told in private when the
    #: channel's question is refused by the platform (the bot was removed, lost a permission).
    configured_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column(index=True)


class Member(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("workspace_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    external_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    #: Opted in to a private reminder before an open question closes (streak of 2 or more).
    nudges: bool = Field(default=False, sa_column_kwargs=_filled(sa.false()))
    #: Practice and mock interviews bring back due and weak questions first (opt-out).
    spaced_repetition: bool = Field(default=True, sa_column_kwargs=_filled(sa.true()))
    created_at: datetime = _utc_column()


class QuestionVersion(SQLModel, table=True):
    """One version of a bank question. An edit adds a row; answers keep the text they answered.

    ``scope`` is "" for the built-in bank (every workspace), a workspace's scope key
    (``slack:T123``) for its own custom questions, and ``oneoff:<scope>`` for a single queued
    custom question that the automatic pick never chooses.
    """

    __tablename__ = "question"
    __table_args__ = (
        sa.UniqueConstraint("scope", "bank_id", "content_hash", name="uq_question_scope_version"),
        sa.Index("ix_question_active_topic", "active", "topic"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(default="", max_length=100, index=True, sa_column_kwargs=_filled(""))
    bank_id: str = Field(max_length=80, index=True)
    content_hash: str = Field(max_length=32)
    track: Track = Field(
        default=Track.DEEP_LEARNING,
        sa_type=StrEnumType(Track, 32),
        sa_column_kwargs=_filled(Track.DEEP_LEARNING.value),
    )
    topic: str = Field(max_length=60)
    difficulty: Difficulty = _enum_column(Difficulty)
    llm_only: bool = Field(default=False, sa_column_kwargs=_filled(sa.false()))
    prompt: str
    reference: str
    key_points: list[dict[str, Any]] = _json_column([])
    tags: list[str] = _json_column([])
    active: bool = Field(default=True)
    created_at: datetime = _utc_column()


class DailyPost(SQLModel, table=True):
    """The claim on a channel's question for one local date: at most one row per channel and day.

    ``outbox_id`` is the outbox row that posts it; the closing edit and the reveal reply to it.
    """

    __tablename__ = "daily_post"
    __table_args__ = (
        sa.UniqueConstraint("channel_id", "local_date", name="uq_daily_post_channel_date"),
        sa.Index("ix_daily_post_open", "closed_at", "closes_at"),
        # a channel's posts after a date and whether each is still open, from the index alone
        # (member streaks)
        sa.Index("ix_daily_post_history", "channel_id", "local_date", "closed_at", "closes_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channel.id")
    local_date: date
    question_id: int = Field(foreign_key="question.id", index=True)
    opened_at: datetime = _utc_column()
    closes_at: datetime = _utc_column()
    closed_at: datetime | None = _utc_column(nullable=True)
    outbox_id: int | None = Field(default=None)


class Answer(SQLModel, table=True):
    """A submitted answer, stored verbatim before anything else happens to it.

    ``scored`` answers count for points; answers after close and practice answers do not.
    A resubmission supersedes the member's earlier scored answer to the same daily post: the old
    row is kept (``superseded``) and only the live one earns points. ``reply_context`` is what
    the member's platform needs to deliver the result privately (opaque to the core).
    """

    __table_args__ = (
        sa.Index("ix_answer_queue", "status", "claimed_at"),
        # a member's posts answered (streaks) and graded practice (stats), read from the index
        sa.Index(
            "ix_answer_member_history",
            "member_id",
            "scored",
            "daily_post_id",
            "kind",
            "current_grade_id",
        ),
        sa.Index(
            "uq_answer_live_per_post",
            "daily_post_id",
            "member_id",
            unique=True,
            sqlite_where=sa.text("superseded = 0 AND scored = 1"),
            postgresql_where=sa.text("superseded = false AND scored = true"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: (searched through ``ix_answer_member_history``, which starts with it)
    member_id: int = Field(foreign_key="member.id")
    question_id: int = Field(foreign_key="question.id")
    daily_post_id: int | None = Field(default=None, foreign_key="daily_post.id", index=True)
    #: (answers from before kinds existed were practice ones; 0002 sets the daily ones)
    kind: AnswerKind = _enum_column(AnswerKind, AnswerKind.DAILY, server_default="practice")
    text: str
    status: AnswerStatus = _enum_column(AnswerStatus, AnswerStatus.PENDING)
    scored: bool = Field(default=False)
    superseded: bool = Field(default=False)
    attempts: int = Field(default=0)
    claim_token: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _utc_column(nullable=True)
    #: Not graded before this instant (the LLM is needed and down; a member's rate limit).
    retry_at: datetime | None = _utc_column(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    current_grade_id: int | None = Field(default=None)
    reply_context: dict[str, Any] = Field(
        default_factory=dict, sa_type=sa.JSON, nullable=False, sa_column_kwargs=_filled("{}")
    )
    #: A client-side key per row: lets one INSERT store a whole intake batch and still match
    #: every new id to its submission (SQLAlchemy's "insert sentinel").
    intake_key: uuid.UUID | None = Field(
        default_factory=uuid.uuid4, sa_type=sa.Uuid, sa_column_kwargs={"insert_sentinel": True}
    )
    submitted_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


class GradeRecord(SQLModel, table=True):
    """A grade of an answer. Regrading adds a row; the answer points at its current grade.

    What the grade says (verdicts, feedback) is packed in ``body`` against the answer's text and
    the question version's reference and key points, which it mostly quotes: reading it needs
    those rows too (:meth:`content`)."""

    __tablename__ = "grade"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answer.id", index=True)
    grader: str = Field(max_length=32)
    model: str = Field(default="", max_length=100)
    score: int
    #: The verdicts and the feedback, packed against the answer and question they are about
    #: (``bot.storage.grade_body``): written by :meth:`with_content`, read by :meth:`content`.
    body: bytes = Field(default=b"", sa_type=sa.LargeBinary, nullable=False)
    factual_errors: list[dict[str, Any]] = _json_column([])
    flags: list[str] = _json_column([])
    provisional: bool = Field(default=False)
    prompt_tokens: int = Field(default=0)
    completion_tokens: int = Field(default=0)
    created_at: datetime = _utc_column()

    def content(self, answer: Answer, question: QuestionVersion) -> GradeContent:
        """The verdicts and feedback; ``answer`` is the graded one, ``question`` its version."""
        if answer.id != self.answer_id:
            raise ValueError("a grade's body is read against its own answer")
        return unpack_grade(self.body, grade_context(answer, question))

    def with_content(
        self,
        verdicts: list[dict[str, Any]],
        feedback: str,
        answer: Answer,
        question: QuestionVersion,
    ) -> GradeRecord:
        """This grade holding these verdicts and feedback (packed into ``body``)."""
        if answer.id != self.answer_id:
            raise ValueError("a grade's body is packed against its own answer")
        self.body = pack_grade(verdicts, feedback, grade_context(answer, question))
        return self


def grade_context(answer: Answer, question: QuestionVersion) -> GradeContext:
    """What a grade of ``answer`` (to ``question``, its version) is packed against."""
    if answer.question_id != question.id:
        raise ValueError("a grade is packed against its own answer's question version")
    return GradeContext.of(answer.text, question.reference, question.key_points)


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
    #: The 0-100 score of the grade that earned the points (kept so a replacement can take the
    #: old score out of the member's ``score_sum``).
    score: int = Field(default=0, sa_column_kwargs=_filled("0"))
    member_local_date: date
    occurred_at: datetime = _utc_column()


class LeaderboardTotal(SQLModel, table=True):
    """A member's points in one scope (``channel_id`` 0: the whole workspace; else one channel):
    all time, and the latest week and month they scored in (local start dates in the scope's
    zone). Kept by the score event's own transaction (``bot.storage.rollups``) so boards and
    ranks are read in index order instead of aggregating ``score_event``."""

    __tablename__ = "leaderboard_total"
    __table_args__ = (
        # each board reads one of these in its own order (best first); the scope and period
        # come first, so a board never visits another scope's rows
        sa.Index(
            "ix_leaderboard_total_all",
            "workspace_id",
            "channel_id",
            sa.column("points").desc(),
            sa.column("answers").desc(),
            "last_at",
            "member_id",
        ),
        sa.Index(
            "ix_leaderboard_total_week",
            "workspace_id",
            "channel_id",
            "week_start",
            sa.column("week_points").desc(),
            sa.column("week_answers").desc(),
            "week_last_at",
            "member_id",
        ),
        sa.Index(
            "ix_leaderboard_total_month",
            "workspace_id",
            "channel_id",
            "month_start",
            sa.column("month_points").desc(),
            sa.column("month_answers").desc(),
            "month_last_at",
            "member_id",
        ),
    )

    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True)
    #: 0 for the workspace's own board (no foreign key: 0 is no channel)
    channel_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    member_id: int = Field(foreign_key="member.id", primary_key=True)
    points: int
    answers: int
    #: The sum of the events' grade scores (all time): ``score_sum / answers`` is the average.
    score_sum: int = Field(default=0, sa_column_kwargs=_filled("0"))
    last_at: datetime = _utc_column()
    week_start: date
    week_points: int
    week_answers: int
    week_last_at: datetime = _utc_column()
    month_start: date
    month_points: int
    month_answers: int
    month_last_at: datetime = _utc_column()


class GradeCacheEntry(SQLModel, table=True):
    """LLM grades keyed by (question version, normalised answer, model), so repeats cost nothing."""

    __tablename__ = "grade_cache"

    key: str = Field(primary_key=True, max_length=64)
    grade: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    created_at: datetime = _utc_column()


class OutboxMessage(SQLModel, table=True):
    """One message to deliver, written in the same transaction as the fact it announces.

    A dispatcher of a process that serves ``platform`` claims the row (a lease), hands it to the
    platform's notifier, and records the platform's reference to the sent message. A row with a
    ``parent_id`` (a closing edit, a reveal in a thread) waits until its parent was sent.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index("ix_outbox_due", "status", "platform", "next_attempt_at"),
        sa.Index("ix_outbox_parent", "parent_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = _enum_column(Platform)
    workspace_external_id: str = Field(max_length=64)
    channel_external_id: str | None = Field(default=None, max_length=64)
    member_external_id: str | None = Field(default=None, max_length=64)
    action: DeliveryAction = _enum_column(DeliveryAction)
    parent_id: int | None = Field(default=None, foreign_key="outbox.id")
    #: What the adapter needs to reach the member privately (interaction token, response URL...).
    reply_context: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    #: The finished neutral card (``bot.services.cards.Card``), serialised.
    card: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    #: What the message is about (question, grade, reveal...), for logs, metrics and listings.
    topic: str = Field(default="", max_length=32)
    status: OutboxStatus = _enum_column(OutboxStatus, OutboxStatus.PENDING)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _utc_column()
    lease_token: str | None = Field(default=None, max_length=64)
    leased_until: datetime | None = _utc_column(nullable=True)
    #: The platform's reference to the delivered message (to edit it or reply to it later).
    message_ref: str | None = Field(default=None, max_length=200)
    #: The class of the last delivery error (never its text: it can quote user content).
    last_error: str | None = Field(default=None, max_length=200)
    created_at: datetime = _utc_column()
    sent_at: datetime | None = _utc_column(nullable=True)


class QueuedQuestion(SQLModel, table=True):
    """An admin's choice for a coming post: a bank question (or a one-off custom question) for
    the next post, or for a given local date."""

    __tablename__ = "queued_question"
    __table_args__ = (sa.Index("ix_queued_question_channel", "channel_id", "used_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channel.id")
    question_id: int = Field(foreign_key="question.id")
    #: None: the next post; otherwise the post of that local date.
    for_date: date | None = None
    queued_by: str = Field(default="", max_length=64)
    created_at: datetime = _utc_column()
    used_at: datetime | None = _utc_column(nullable=True)
    daily_post_id: int | None = Field(default=None, foreign_key="daily_post.id")


class MonthlyAward(SQLModel, table=True):
    """The claim on a channel's month-end champions post: exactly one per channel and month."""

    __tablename__ = "monthly_award"
    __table_args__ = (sa.UniqueConstraint("channel_id", "month", name="uq_monthly_award"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channel.id")
    #: The first day of the month awarded (in the channel's time zone).
    month: date
    champion_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _utc_column()


class Nudge(SQLModel, table=True):
    """A reminder sent to a member before a post closed: at most one per post and member."""

    __table_args__ = (sa.UniqueConstraint("daily_post_id", "member_id", name="uq_nudge"),)

    id: int | None = Field(default=None, primary_key=True)
    daily_post_id: int = Field(foreign_key="daily_post.id")
    member_id: int = Field(foreign_key="member.id")
    created_at: datetime = _utc_column()


# --- mock interviews, spaced repetition, disputes ------------------------------------------


class MockStatus(StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"
    STOPPED = "stopped"
    EXPIRED = "expired"
    ABANDONED = "abandoned"


class TurnStatus(StrEnum):
    ASKED = "asked"
    ANSWERED = "answered"
    GRADED = "graded"
    SKIPPED = "skipped"


class MockSession(SQLModel, table=True):
    """A member's private mock interview: its settings, where it stands and its report."""

    __tablename__ = "mock_session"
    __table_args__ = (sa.Index("ix_mock_session_member", "member_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    workspace_id: int = Field(foreign_key="workspace.id")
    status: MockStatus = _enum_column(MockStatus, MockStatus.ACTIVE)
    track: Track | None = Field(default=None, sa_type=StrEnumType(Track, 32), nullable=True)
    topic: str | None = Field(default=None, max_length=60)
    difficulty: Difficulty = _enum_column(Difficulty)
    length: int = Field(default=5)
    #: Where the member started it (results and next questions go back there, privately).
    channel_external_id: str | None = Field(default=None, max_length=64)
    reply_context: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    overall_score: float | None = None
    report: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    started_at: datetime = _utc_column()
    last_activity_at: datetime = _utc_column()
    finished_at: datetime | None = _utc_column(nullable=True)


class MockTurn(SQLModel, table=True):
    """One question of a mock interview (or its follow-up) and the answer to it."""

    __tablename__ = "mock_turn"
    __table_args__ = (sa.Index("ix_mock_turn_session", "session_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="mock_session.id")
    #: Which question of the interview this is ("Question 2 of 5"); a follow-up shares it.
    number: int
    follow_up: bool = Field(default=False)
    question_id: int = Field(foreign_key="question.id")
    difficulty: Difficulty = _enum_column(Difficulty)
    status: TurnStatus = _enum_column(TurnStatus, TurnStatus.ASKED)
    answer_id: int | None = Field(default=None, foreign_key="answer.id")
    score: int | None = None
    created_at: datetime = _utc_column()


class ReviewCard(SQLModel, table=True):
    """A member's spaced-repetition card for one question (fsrs state), due date indexed."""

    __tablename__ = "review_card"
    __table_args__ = (
        sa.UniqueConstraint("member_id", "bank_id", name="uq_review_card"),
        sa.Index("ix_review_card_due", "member_id", "due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    bank_id: str = Field(max_length=80)
    card: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    due: datetime = _utc_column()
    last_score: int = Field(default=0)
    reviews: int = Field(default=0)
    updated_at: datetime = _utc_column()


class DisputeStatus(StrEnum):
    #: Re-grading with the member's reason.
    REGRADING = "regrading"
    #: Re-graded; the member may accept or escalate.
    REGRADED = "regraded"
    #: The member still disagrees: waiting for an admin.
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class Dispute(SQLModel, table=True):
    """A member contests a grade: one dispute per answer."""

    __table_args__ = (sa.UniqueConstraint("answer_id", name="uq_dispute_answer"),)

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answer.id")
    member_id: int = Field(foreign_key="member.id")
    workspace_id: int = Field(foreign_key="workspace.id")
    reason: str = Field(max_length=1000)
    status: DisputeStatus = _enum_column(DisputeStatus, DisputeStatus.REGRADING)
    original_score: int | None = None
    regraded_score: int | None = None
    resolution: str = Field(default="", max_length=500)
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


class QuestionReport(SQLModel, table=True):
    """A member flags a question as wrong or unclear; admins see the open ones."""

    __tablename__ = "question_report"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    bank_id: str = Field(max_length=80)
    reason: str = Field(max_length=1000)
    open: bool = Field(default=True)
    created_at: datetime = _utc_column()


class DisabledQuestion(SQLModel, table=True):
    """A question an admin took out of a workspace's rotation."""

    __tablename__ = "disabled_question"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "bank_id", name="uq_disabled_question"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    bank_id: str = Field(max_length=80)
    reason: str = Field(default="", max_length=500)
    created_at: datetime = _utc_column()


class AuditEntry(SQLModel, table=True):
    """Who changed a grade or the bank, when, why, and from what to what."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    actor_external_id: str = Field(max_length=64)
    action: str = Field(max_length=32)
    target: str = Field(max_length=100)
    old_value: str = Field(default="", max_length=200)
    new_value: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=500)
    created_at: datetime = _utc_column()


# --- Slack installations (OAuth mode: many workspaces) ----------------------------------------


class SlackInstallation(SQLModel, table=True):
    """The latest installation of the Slack app by one installer in one workspace (or org).

    The lookup keys are plain; every token lives in ``sealed``: the whole installation as JSON,
    encrypted with the key from ``SLACK_TOKEN_ENCRYPTION_KEY`` (``bot.adapters.slack.installations``).
    """

    __tablename__ = "slack_installation"
    __table_args__ = (
        sa.Index(
            "ix_slack_installation_lookup", "client_id", "enterprise_id", "team_id", "installed_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64)
    app_id: str | None = Field(default=None, max_length=32)
    enterprise_id: str | None = Field(default=None, max_length=32)
    team_id: str | None = Field(default=None, max_length=32)
    user_id: str = Field(default="", max_length=32)
    is_enterprise_install: bool = Field(default=False)
    has_bot: bool = Field(default=False)
    installed_at: datetime = _utc_column()
    sealed: str = Field(sa_type=sa.Text, nullable=False)


class SlackOAuthState(SQLModel, table=True):
    """An OAuth ``state`` handed out by the install page: stored as a keyed hash, used once."""

    __tablename__ = "slack_oauth_state"
    __table_args__ = (sa.UniqueConstraint("state_hash", name="uq_slack_oauth_state_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64)
    expires_at: datetime = _utc_column(index=True)
