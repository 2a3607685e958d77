"""project repositories and stored webhook deliveries: bind repositories to projects, keep each delivery's
headers, payload, projects concerned and outcome per workflow

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _rewrite_outcomes(column: str, rewrite) -> None:
    deliveries = sa.table('webhook_deliveries', sa.column('id', _BIG_ID), sa.column(column, _JSON))
    bind = op.get_bind()
    for row_id, entries in bind.execute(sa.select(deliveries.c.id, deliveries.c[column])).all():
        bind.execute(deliveries.update().where(deliveries.c.id == row_id).values({column: rewrite(entries or [])}))


def upgrade() -> None:
    op.create_table(
        'project_repositories',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('full_name', sa.String(length=300), nullable=False),
        sa.Column('full_name_key', sa.String(length=300), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('project_id', 'full_name_key', name='uq_project_repositories_project_repo'),
    )
    with op.batch_alter_table('project_repositories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_repositories_full_name_key'), ['full_name_key'], unique=False)

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.alter_column('runs', new_column_name='outcomes', existing_type=_JSON, existing_nullable=False)
        batch_op.add_column(sa.Column('repository', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('headers', _JSON, nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('payload', _JSON, nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default=sa.text('1')))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        # the defaults only filled the rows already there; the app always writes both
        batch_op.alter_column('headers', existing_type=_JSON, existing_nullable=False, server_default=None)
        batch_op.alter_column('attempts', existing_type=sa.Integer(), existing_nullable=False, server_default=None)
    # runs recorded before: a run id and no error was started, an error was a failed start
    _rewrite_outcomes('outcomes', lambda runs: [
        {**run, 'outcome': 'failed' if run.get('error') else 'started'} for run in runs
    ])

    op.create_table(
        'webhook_delivery_projects',
        sa.Column('delivery_id', _BIG_ID, nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('delivery_id', 'project_id'),
    )
    with op.batch_alter_table('webhook_delivery_projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_delivery_projects_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_delivery_projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_projects_project_id'))
    op.drop_table('webhook_delivery_projects')

    # the old column held attempted starts only
    _rewrite_outcomes('outcomes', lambda outcomes: [
        {k: v for k, v in o.items() if k not in ('outcome', 'reason', 'workflow')}
        for o in outcomes if o.get('outcome') != 'skipped'
    ])
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('payload')
        batch_op.drop_column('headers')
        batch_op.drop_column('repository')
        batch_op.alter_column('outcomes', new_column_name='runs', existing_type=_JSON, existing_nullable=False)

    with op.batch_alter_table('project_repositories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_repositories_full_name_key'))
    op.drop_table('project_repositories')
