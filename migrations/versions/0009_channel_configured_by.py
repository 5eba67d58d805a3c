"""Who last saved a channel's settings: told in private when the channel's question is refused

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

One nullable column, ``channel.configured_by`` (the member's platform id). Channels saved before
this revision have none until an admin saves their settings again; until then a refused post is
explained only by ``/interview today`` and the settings card. Downgrade drops the column without
asking: it names a person to notify, no record members made, and the next save fills it again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel") as batch:
        batch.add_column(
            sa.Column("configured_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("channel") as batch:
        batch.drop_column("configured_by")
