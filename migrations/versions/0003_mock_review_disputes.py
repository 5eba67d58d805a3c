"""mock interviews, spaced repetition, disputes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.models


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: What a downgrade below this revision drops for good (`db downgrade` asks first).
DOWNGRADE_LOSES = (
    "mock interviews, spaced-repetition cards, disputes, question reports, disabled questions "
    "and the audit log"
)


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('actor_external_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('old_value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('new_value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('disabled_question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'bank_id', name='uq_disabled_question')
    )
    op.create_table('mock_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'finished', 'stopped', 'expired', 'abandoned', name='mockstatus', native_enum=False, length=16), nullable=False),
    sa.Column('track', sa.Enum('deep-learning', 'ml-system-design', 'statistics', 'classical-ml', 'llm-engineering', 'behavioural', name='track', native_enum=False, length=32), nullable=True),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
    sa.Column('difficulty', sa.Enum('beginner', 'intermediate', 'advanced', name='difficulty', native_enum=False, length=16), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.Column('channel_external_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reply_context', sa.JSON(), nullable=False),
    sa.Column('overall_score', sa.Float(), nullable=True),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('started_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_activity_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', bot.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mock_session', schema=None) as batch_op:
        batch_op.create_index('ix_mock_session_member', ['member_id', 'status'], unique=False)

    op.create_table('question_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('question_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_report_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('review_card',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('card', sa.JSON(), nullable=False),
    sa.Column('due', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_score', sa.Integer(), nullable=False),
    sa.Column('reviews', sa.Integer(), nullable=False),
    sa.Column('updated_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_id', 'bank_id', name='uq_review_card')
    )
    with op.batch_alter_table('review_card', schema=None) as batch_op:
        batch_op.create_index('ix_review_card_due', ['member_id', 'due'], unique=False)

    op.create_table('dispute',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('status', sa.Enum('regrading', 'regraded', 'escalated', 'resolved', name='disputestatus', native_enum=False, length=16), nullable=False),
    sa.Column('original_score', sa.Integer(), nullable=True),
    sa.Column('regraded_score', sa.Integer(), nullable=True),
    sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answer.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('answer_id', name='uq_dispute_answer')
    )
    op.create_table('mock_turn',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('follow_up', sa.Boolean(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('difficulty', sa.Enum('beginner', 'intermediate', 'advanced', name='difficulty', native_enum=False, length=16), nullable=False),
    sa.Column('status', sa.Enum('asked', 'answered', 'graded', 'skipped', name='turnstatus', native_enum=False, length=16), nullable=False),
    sa.Column('answer_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('created_at', bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answer.id'], ),
    sa.ForeignKeyConstraint(['question_id'], ['question.id'], ),
    sa.ForeignKeyConstraint(['session_id'], ['mock_session.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mock_turn', schema=None) as batch_op:
        batch_op.create_index('ix_mock_turn_session', ['session_id', 'id'], unique=False)

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spaced_repetition', sa.Boolean(), nullable=False, server_default=sa.true()))



def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('spaced_repetition')

    with op.batch_alter_table('mock_turn', schema=None) as batch_op:
        batch_op.drop_index('ix_mock_turn_session')

    op.drop_table('mock_turn')
    op.drop_table('dispute')
    with op.batch_alter_table('review_card', schema=None) as batch_op:
        batch_op.drop_index('ix_review_card_due')

    op.drop_table('review_card')
    with op.batch_alter_table('question_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_question_report_workspace_id'))

    op.drop_table('question_report')
    with op.batch_alter_table('mock_session', schema=None) as batch_op:
        batch_op.drop_index('ix_mock_session_member')

    op.drop_table('mock_session')
    op.drop_table('disabled_question')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_workspace_id'))

    op.drop_table('audit_log')
