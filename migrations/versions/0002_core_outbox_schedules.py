"""core for many platforms and processes (outbox, scopes, enums), schedules and streaks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Existing rows keep their behaviour: channels keep posting every day at their time, answers
before this revision become daily or practice answers, questions belong to the built-in bank.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: What a downgrade below this revision drops for good (`db downgrade` asks first).
DOWNGRADE_LOSES = (
    "every channel's schedule settings (days, cadence, track, pauses, skip dates, champion "
    "options), workspace admin lists, members' nudge choices, queued questions and the outbox"
)

UTC = bot.storage.models.UTCDateTime(timezone=True)
TRACKS = ("deep-learning", "ml-system-design", "statistics", "classical-ml", "llm-engineering",
          "behavioural")  # fmt: skip
# SQLite reflects the 0001 unique constraint without a name; this convention names it.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _enum(name: str, values: Sequence[str], length: int = 16) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=length)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", _enum("platform", ("slack", "discord", "console")), nullable=False),
        sa.Column("workspace_external_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("channel_external_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("member_external_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("action", _enum("deliveryaction", ("post", "reply", "edit", "private")), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("reply_context", sa.JSON(), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("status", _enum("outboxstatus", ("pending", "sending", "sent", "dead")), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("lease_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("leased_until", UTC, nullable=True),
        sa.Column("message_ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "platform", "next_attempt_at"])
    op.create_index("ix_outbox_parent", "outbox", ["parent_id"])

    op.create_table(
        "monthly_award",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("champion_member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["champion_member_id"], ["member.id"]),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id", "month", name="uq_monthly_award"),
    )
    op.create_table(
        "nudge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("daily_post_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["daily_post_id"], ["daily_post.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("daily_post_id", "member_id", name="uq_nudge"),
    )
    op.create_table(
        "queued_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("for_date", sa.Date(), nullable=True),
        sa.Column("queued_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.Column("daily_post_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"]),
        sa.ForeignKeyConstraint(["daily_post_id"], ["daily_post.id"]),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_queued_question_channel", "queued_question", ["channel_id", "used_at"])

    # answers: kind, reply context, retry time; the live-answer index now covers late answers
    # (they keep their post id and are simply not scored)
    op.drop_index("uq_answer_live_per_post", table_name="answer")
    with op.batch_alter_table("answer") as batch_op:
        batch_op.add_column(
            sa.Column("kind", _enum("answerkind", ("daily", "practice", "mock")), nullable=False,
                      server_default="practice")  # fmt: skip
        )
        batch_op.add_column(sa.Column("retry_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("reply_context", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("intake_key", sa.Uuid(), nullable=True))
    op.execute("UPDATE answer SET kind = 'daily' WHERE daily_post_id IS NOT NULL OR scored")
    op.create_index(
        "uq_answer_live_per_post",
        "answer",
        ["daily_post_id", "member_id"],
        unique=True,
        sqlite_where=sa.text("superseded = 0 AND scored = 1"),
        postgresql_where=sa.text("superseded = false AND scored = true"),
    )

    # channels: the schedule (existing channels keep posting every day)
    if _sqlite():  # the batch copy CASTs to TIME (numeric affinity): keep the text aside
        op.add_column("channel", sa.Column("post_time_text", sa.Text(), nullable=True))
        op.execute("UPDATE channel SET post_time_text = post_time")
    with op.batch_alter_table("channel") as batch_op:
        batch_op.add_column(sa.Column("post_days", sa.JSON(), nullable=False, server_default="[0, 1, 2, 3, 4, 5, 6]"))
        batch_op.add_column(sa.Column("cadence", _enum("cadence", ("daily", "weekly")), nullable=False, server_default="daily"))
        batch_op.add_column(sa.Column("track", _enum("track", TRACKS, 32), nullable=True))
        batch_op.add_column(sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("paused_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("pause_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("skip_dates", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("announce_champions", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("mention_champion", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("champion_role_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.alter_column(
            "post_time",
            existing_type=sa.VARCHAR(length=5),
            type_=sa.Time(),
            existing_nullable=False,
            postgresql_using="post_time::time",
        )
        batch_op.create_index("ix_channel_updated_at", ["updated_at"])
    if _sqlite():
        op.execute(
            sa.text(r"UPDATE channel SET post_time = post_time_text || '\:00.000000'")
        )
        with op.batch_alter_table("channel") as batch_op:
            batch_op.drop_column("post_time_text")

    # posts: the outbox row that posted it replaces the delivery columns
    with op.batch_alter_table("daily_post") as batch_op:
        batch_op.add_column(sa.Column("outbox_id", sa.Integer(), nullable=True))
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("message_ref")

    with op.batch_alter_table("member") as batch_op:
        batch_op.add_column(sa.Column("nudges", sa.Boolean(), nullable=False, server_default=sa.false()))

    # questions: scopes (custom banks per workspace), tracks, LLM-only
    with op.batch_alter_table("question", naming_convention=SQLITE_NAMES) as batch_op:
        batch_op.add_column(sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("track", _enum("track", TRACKS, 32), nullable=False, server_default="deep-learning"))
        batch_op.add_column(sa.Column("llm_only", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.drop_constraint(
            "uq_question_bank_id" if _sqlite() else "question_bank_id_content_hash_key", type_="unique"
        )
        batch_op.create_index("ix_question_scope", ["scope"])
        batch_op.create_unique_constraint("uq_question_scope_version", ["scope", "bank_id", "content_hash"])

    with op.batch_alter_table("workspace") as batch_op:
        batch_op.add_column(sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("admin_ids", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("workspace") as batch_op:
        batch_op.drop_column("admin_ids")
        batch_op.drop_column("enabled")

    with op.batch_alter_table("question") as batch_op:
        batch_op.drop_constraint("uq_question_scope_version", type_="unique")
        batch_op.drop_index("ix_question_scope")
        batch_op.drop_column("llm_only")
        batch_op.drop_column("track")
        batch_op.drop_column("scope")
        batch_op.create_unique_constraint(
            "uq_question_bank_id" if _sqlite() else "question_bank_id_content_hash_key", ["bank_id", "content_hash"]
        )

    with op.batch_alter_table("member") as batch_op:
        batch_op.drop_column("nudges")

    with op.batch_alter_table("daily_post") as batch_op:
        batch_op.add_column(sa.Column("message_ref", sa.VARCHAR(length=128), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", UTC, nullable=True))
        batch_op.drop_column("outbox_id")

    with op.batch_alter_table("channel") as batch_op:
        batch_op.drop_index("ix_channel_updated_at")
        batch_op.alter_column(
            "post_time",
            existing_type=sa.Time(),
            type_=sa.VARCHAR(length=5),
            existing_nullable=False,
            postgresql_using="to_char(post_time, 'HH24:MI')",
        )
        for column in ("champion_role_id", "mention_champion", "announce_champions", "skip_dates",
                       "pause_reason", "paused_until", "paused", "track", "cadence", "post_days"):  # fmt: skip
            batch_op.drop_column(column)
    if _sqlite():
        op.execute("UPDATE channel SET post_time = substr(post_time, 1, 5)")

    op.drop_index("uq_answer_live_per_post", table_name="answer")
    with op.batch_alter_table("answer") as batch_op:
        batch_op.drop_column("intake_key")
        batch_op.drop_column("reply_context")
        batch_op.drop_column("retry_at")
        batch_op.drop_column("kind")
    op.execute("UPDATE answer SET daily_post_id = NULL WHERE NOT scored")
    op.create_index(
        "uq_answer_live_per_post",
        "answer",
        ["daily_post_id", "member_id"],
        unique=True,
        sqlite_where=sa.text("superseded = 0 AND daily_post_id IS NOT NULL"),
        postgresql_where=sa.text("superseded = false AND daily_post_id IS NOT NULL"),
    )

    op.drop_index("ix_queued_question_channel", table_name="queued_question")
    op.drop_table("queued_question")
    op.drop_table("nudge")
    op.drop_table("monthly_award")
    op.drop_index("ix_outbox_parent", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
