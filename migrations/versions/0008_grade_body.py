"""Grade bodies: ``grade.verdicts`` and ``grade.feedback`` packed together into ``grade.body``
against the grade's answer and question version

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A new binary column is filled one page of grades at a time: each grade's verdicts (revision
0007's packed form) and feedback are read with its answer's text and its question version's
reference and key points, and packed by ``bot.storage.grade_body`` against them; then the two
old columns are dropped. Downgrade unpacks every body with the same context and writes the
verdicts back in 0007's form and the feedback as text. On SQLite the old columns' space becomes
free pages of the file: ``VACUUM`` returns it to the disk.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

from bot.storage.grade_body import GradeContext, pack_grade, unpack_grade
from bot.storage.verdicts import pack_verdicts, unpack_verdicts

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 5_000


def _key_points(value: Any) -> list[Any]:
    """A JSON column's value as the driver returns it: text on SQLite, parsed on PostgreSQL."""
    loaded = json.loads(value) if isinstance(value, str | bytes) else value
    return list(loaded or [])


def _convert(
    columns: Sequence[str], change: Callable[[sa.Row[Any], GradeContext], dict[str, Any]]
) -> None:
    """Set ``grade``'s ``columns`` of every row to ``change(row, context)``, by pages of ids;
    ``row`` holds the grade's id, verdicts, feedback and body (those that exist)."""
    connection = op.get_bind()
    present = {column["name"] for column in sa.inspect(connection).get_columns("grade")}
    read = [name for name in ("verdicts", "feedback", "body") if name in present]
    grade = sa.table(
        "grade",
        sa.column("id", sa.Integer),
        sa.column("answer_id", sa.Integer),
        *(sa.column(name) for name in {*read, *columns}),
    )
    answer = sa.table(
        "answer", sa.column("id", sa.Integer), sa.column("text"), sa.column("question_id")
    )
    question = sa.table(
        "question", sa.column("id", sa.Integer), sa.column("reference"), sa.column("key_points")
    )
    update = (
        sa.update(grade)
        .where(grade.c.id == sa.bindparam("grade_id"))
        .values(
            {
                name: sa.bindparam(
                    f"new_{name}",
                    type_=sa.LargeBinary() if name in ("body", "verdicts") else sa.Text(),
                )
                for name in columns
            }
        )
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(
                grade.c.id,
                *(grade.c[name] for name in read),
                answer.c.text,
                question.c.reference,
                question.c.key_points,
            )
            .join(answer, answer.c.id == grade.c.answer_id)
            .join(question, question.c.id == answer.c.question_id)
            .where(grade.c.id > last)
            .order_by(grade.c.id)
            .limit(_PAGE)
        ).all()
        if not rows:
            return
        values = []
        for row in rows:
            context = GradeContext.of(row.text, row.reference, _key_points(row.key_points))
            new = change(row, context)
            values.append({"grade_id": row.id, **{f"new_{name}": new[name] for name in columns}})
        connection.execute(update, values)
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("grade") as batch:
        batch.add_column(sa.Column("body", sa.LargeBinary(), nullable=True))
    _convert(
        ["body"],
        lambda row, context: {
            "body": pack_grade(
                unpack_verdicts(bytes(row.verdicts or b"")), row.feedback or "", context
            )
        },
    )
    with op.batch_alter_table("grade") as batch:
        batch.drop_column("verdicts")
        batch.drop_column("feedback")
        batch.alter_column("body", existing_type=sa.LargeBinary(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("grade") as batch:
        batch.add_column(sa.Column("verdicts", sa.LargeBinary(), nullable=True))
        batch.add_column(
            sa.Column("feedback", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )

    def unpacked(row: sa.Row[Any], context: GradeContext) -> dict[str, Any]:
        content = unpack_grade(bytes(row.body or b""), context)
        return {"verdicts": pack_verdicts(content.verdicts), "feedback": content.feedback}

    _convert(["verdicts", "feedback"], unpacked)
    with op.batch_alter_table("grade") as batch:
        batch.drop_column("body")
        batch.alter_column("verdicts", existing_type=sa.LargeBinary(), nullable=False)
        batch.alter_column(
            "feedback", existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False
        )
