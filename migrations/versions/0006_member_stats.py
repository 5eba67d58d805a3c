"""Member stats from the rollups: each score event's grade score, each member's score sum, and an
index of a member's answer history

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

``score_event.score`` is filled from the grade its answer points at (every scored answer has
one), then ``leaderboard_total.score_sum`` from the events of each row's scope, both by one
``UPDATE ... FROM`` an aggregate (SQLite 3.33 and PostgreSQL both have it). The answer index
``ix_answer_member_id`` becomes ``ix_answer_member_history`` (member, scored, post, kind, current
grade), which serves the same searches and also answers streaks and practice counts by itself;
``ix_daily_post_history`` gives the posts after a date in a channel with whether each is still
open. Downgrade drops the columns and puts the old index back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HISTORY = ["member_id", "scored", "daily_post_id", "kind", "current_grade_id"]
_POSTS = ["channel_id", "local_date", "closed_at", "closes_at"]


def upgrade() -> None:
    with op.batch_alter_table("score_event") as batch:
        batch.add_column(sa.Column("score", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("leaderboard_total") as batch:
        batch.add_column(sa.Column("score_sum", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE score_event SET score = grade.score FROM answer JOIN grade ON grade.id = "
        "answer.current_grade_id WHERE answer.id = score_event.answer_id"
    )
    op.execute(
        "UPDATE leaderboard_total SET score_sum = sums.total FROM (SELECT workspace_id, "
        "member_id, sum(score) AS total FROM score_event GROUP BY workspace_id, member_id) AS sums "
        "WHERE leaderboard_total.channel_id = 0 AND sums.workspace_id = "
        "leaderboard_total.workspace_id AND sums.member_id = leaderboard_total.member_id"
    )
    op.execute(
        "UPDATE leaderboard_total SET score_sum = sums.total FROM (SELECT workspace_id, "
        "channel_id, member_id, sum(score) AS total FROM score_event GROUP BY workspace_id, "
        "channel_id, member_id) AS sums WHERE leaderboard_total.channel_id <> 0 AND "
        "sums.workspace_id = leaderboard_total.workspace_id AND sums.channel_id = "
        "leaderboard_total.channel_id AND sums.member_id = leaderboard_total.member_id"
    )
    op.drop_index("ix_answer_member_id", table_name="answer")
    op.create_index("ix_answer_member_history", "answer", _HISTORY)
    op.create_index("ix_daily_post_history", "daily_post", _POSTS)


def downgrade() -> None:
    op.drop_index("ix_daily_post_history", table_name="daily_post")
    op.drop_index("ix_answer_member_history", table_name="answer")
    op.create_index("ix_answer_member_id", "answer", ["member_id"])
    with op.batch_alter_table("leaderboard_total") as batch:
        batch.drop_column("score_sum")
    with op.batch_alter_table("score_event") as batch:
        batch.drop_column("score")
