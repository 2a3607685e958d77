"""ml predictions and code changes: prediction log (model version, A/B arm) and review history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'ml_predictions',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=True),
        sa.Column('repository', sa.String(length=300), nullable=False),
        sa.Column('issue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('model_name', sa.String(length=200), nullable=False),
        sa.Column('model_version', sa.String(length=100), nullable=False),
        sa.Column('arm', sa.String(length=32), nullable=False),
        sa.Column('predicted_severity', sa.Enum('info', 'low', 'medium', 'high', 'critical',
                                                name='ml_prediction_severity', native_enum=False, length=32),
                  nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['issue_id'], ['review_issues.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('ml_predictions', schema=None) as batch_op:
        batch_op.create_index('ix_ml_predictions_model', ['model_name', 'model_version'], unique=False)
        batch_op.create_index(batch_op.f('ix_ml_predictions_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ml_predictions_repository'), ['repository'], unique=False)
        batch_op.create_index(batch_op.f('ix_ml_predictions_issue_id'), ['issue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ml_predictions_created_at'), ['created_at'], unique=False)

    op.create_table(
        'code_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('repository', sa.String(length=300), nullable=False),
        sa.Column('change_key', sa.String(length=200), nullable=False),
        sa.Column('author', sa.String(length=200), nullable=False),
        sa.Column('files', _JSON, nullable=False),
        sa.Column('reviewers', _JSON, nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('project_id', 'repository', 'change_key', name='uq_code_changes_key'),
    )
    with op.batch_alter_table('code_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_code_changes_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_code_changes_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('code_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_code_changes_created_at'))
        batch_op.drop_index(batch_op.f('ix_code_changes_project_id'))
    op.drop_table('code_changes')
    with op.batch_alter_table('ml_predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ml_predictions_created_at'))
        batch_op.drop_index(batch_op.f('ix_ml_predictions_issue_id'))
        batch_op.drop_index(batch_op.f('ix_ml_predictions_repository'))
        batch_op.drop_index(batch_op.f('ix_ml_predictions_project_id'))
        batch_op.drop_index('ix_ml_predictions_model')
    op.drop_table('ml_predictions')
