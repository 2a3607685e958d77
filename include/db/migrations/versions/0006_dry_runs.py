"""dry runs: a workflow run on a stored event with every code-host write captured instead of sent

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'dry_runs',
        sa.Column('id', _BIG_ID, autoincrement=True, nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('workflow_id', sa.Integer(), nullable=False),
        sa.Column('workflow_version', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.String(length=250), nullable=False),
        sa.Column('source', _JSON, nullable=False),
        sa.Column('event', _JSON, nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('nodes', _JSON, nullable=False),
        sa.Column('writes', _JSON, nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('run_id'),
    )
    with op.batch_alter_table('dry_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dry_runs_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dry_runs_workflow_id'), ['workflow_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dry_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dry_runs_workflow_id'))
        batch_op.drop_index(batch_op.f('ix_dry_runs_project_id'))
    op.drop_table('dry_runs')
