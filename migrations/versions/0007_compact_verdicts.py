"""Compact grade verdicts: ``grade.verdicts`` from JSON text to packed bytes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

A new binary column is filled from the JSON one page of rows at a time (packed in Python by
``bot.storage.verdicts``, which reads back exactly the JSON's value), then the JSON column is
dropped and the new one takes its name. Downgrade goes the other way. On SQLite the space the
JSON held becomes free pages of the file: ``VACUUM`` returns it to the disk.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.storage.verdicts import pack_verdicts, unpack_verdicts

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 5_000


def _convert(source: str, target: str, change: Callable[[Any], Any], target_type: Any) -> None:
    """Fill ``grade.<target>`` from ``grade.<source>`` through ``change``, by pages of ids."""
    connection = op.get_bind()
    grade = sa.table("grade", sa.column("id", sa.Integer), sa.column(source), sa.column(target))
    update = (
        sa.update(grade)
        .where(grade.c.id == sa.bindparam("grade_id"))
        .values({target: sa.bindparam("value", type_=target_type)})
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(grade.c.id, grade.c[source])
            .where(grade.c.id > last)
            .order_by(grade.c.id)
            .limit(_PAGE)
        ).all()
        if not rows:
            return
        connection.execute(
            update, [{"grade_id": grade_id, "value": change(value)} for grade_id, value in rows]
        )
        last = rows[-1][0]


def _json_value(value: Any) -> Any:
    """A JSON column's value as the driver returns it: text on SQLite, parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def upgrade() -> None:
    with op.batch_alter_table("grade") as batch:
        batch.add_column(sa.Column("verdicts_packed", sa.LargeBinary(), nullable=True))
    _convert(
        "verdicts",
        "verdicts_packed",
        lambda value: pack_verdicts(_json_value(value) or []),
        sa.LargeBinary(),
    )
    with op.batch_alter_table("grade") as batch:
        batch.drop_column("verdicts")
        batch.alter_column(
            "verdicts_packed",
            new_column_name="verdicts",
            existing_type=sa.LargeBinary(),
            nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("grade") as batch:
        batch.add_column(sa.Column("verdicts_json", sa.JSON(), nullable=True))
    _convert(
        "verdicts",
        "verdicts_json",
        lambda value: unpack_verdicts(bytes(value) if value is not None else b""),
        sa.JSON(),
    )
    with op.batch_alter_table("grade") as batch:
        batch.drop_column("verdicts")
        batch.alter_column(
            "verdicts_json", new_column_name="verdicts", existing_type=sa.JSON(), nullable=False
        )
