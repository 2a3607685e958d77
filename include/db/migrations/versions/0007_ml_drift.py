"""ml drift: per-model-version counts the serving side observed, and the drift watch's reports

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'ml_drift_windows',
        sa.Column('id', _BIG_ID, autoincrement=True, nullable=False),
        sa.Column('model_name', sa.String(length=200), nullable=False),
        sa.Column('model_version', sa.String(length=100), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('predictions', sa.Integer(), nullable=False),
        sa.Column('counts', _JSON, nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('ml_drift_windows', schema=None) as batch_op:
        batch_op.create_index('ix_ml_drift_windows_model', ['model_name', 'model_version', 'ended_at'], unique=False)

    op.create_table(
        'ml_drift_reports',
        sa.Column('id', _BIG_ID, autoincrement=True, nullable=False),
        sa.Column('model_name', sa.String(length=200), nullable=False),
        sa.Column('model_version', sa.String(length=100), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('max_psi', sa.Float(), nullable=True),
        sa.Column('report', _JSON, nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('ml_drift_reports', schema=None) as batch_op:
        batch_op.create_index('ix_ml_drift_reports_model', ['model_name', 'computed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ml_drift_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_ml_drift_reports_model')
    op.drop_table('ml_drift_reports')
    with op.batch_alter_table('ml_drift_windows', schema=None) as batch_op:
        batch_op.drop_index('ix_ml_drift_windows_model')
    op.drop_table('ml_drift_windows')
