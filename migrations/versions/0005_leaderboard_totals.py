"""Leaderboard totals: per member, scope and period, kept with the score events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

One new table, ``leaderboard_total``, filled from the existing score events (every member's
all-time totals per workspace and channel, and those of the latest week and month they scored
in, in the scope's zone). The backfill reads the events once, in order of nothing, and writes the
rows in chunks; a million events take some tens of seconds. Downgrade drops the table: the score
events are untouched, so upgrading again rebuilds it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.models
from bot.storage.rollups import rebuild_rollups_sync

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = bot.storage.models.UTCDateTime(timezone=True)

#: (name, columns) of the board indexes; the first three columns pick one board's rows
_INDEXES = {
    "ix_leaderboard_total_all": ("", ["points", "answers"], ["last_at"]),
    "ix_leaderboard_total_week": ("week_start", ["week_points", "week_answers"], ["week_last_at"]),
    "ix_leaderboard_total_month": (
        "month_start",
        ["month_points", "month_answers"],
        ["month_last_at"],
    ),
}


def upgrade() -> None:
    op.create_table(
        "leaderboard_total",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("last_at", UTC, nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("week_points", sa.Integer(), nullable=False),
        sa.Column("week_answers", sa.Integer(), nullable=False),
        sa.Column("week_last_at", UTC, nullable=False),
        sa.Column("month_start", sa.Date(), nullable=False),
        sa.Column("month_points", sa.Integer(), nullable=False),
        sa.Column("month_answers", sa.Integer(), nullable=False),
        sa.Column("month_last_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        sa.PrimaryKeyConstraint("workspace_id", "channel_id", "member_id"),
    )
    # filled before the indexes exist: each is then built once instead of row by row
    rebuild_rollups_sync(op.get_bind(), scores=False)  # 0006 adds the scores
    for name, (start, best_first, then) in _INDEXES.items():
        columns = ["workspace_id", "channel_id", *([start] if start else [])]
        columns += [sa.column(column).desc() for column in best_first]
        op.create_index(name, "leaderboard_total", [*columns, *then, "member_id"])


def downgrade() -> None:
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name="leaderboard_total")
    op.drop_table("leaderboard_total")
