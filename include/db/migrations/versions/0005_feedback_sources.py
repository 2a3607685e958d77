"""feedback from the code host: where each feedback row came from (source), explicit or inferred (strength),
the event it came from (idempotency key) and the code-host user; linked identities, the reaction poll's finding
comments and cursors, and what a comment delivery said as feedback

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('ml_feedback', schema=None) as batch_op:
        # every row before this revision came through the API and was said by a person
        batch_op.add_column(sa.Column('source', sa.String(length=32), nullable=False, server_default='api'))
        batch_op.add_column(sa.Column('strength', sa.String(length=16), nullable=False, server_default='explicit'))
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('codehost_login', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint('uq_ml_feedback_idempotency_key', ['idempotency_key'])
    with op.batch_alter_table('ml_feedback', schema=None) as batch_op:
        # the defaults only filled the rows already there; the app always writes both
        batch_op.alter_column('source', existing_type=sa.String(length=32), existing_nullable=False,
                              server_default=None)
        batch_op.alter_column('strength', existing_type=sa.String(length=16), existing_nullable=False,
                              server_default=None)

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback', _JSON, nullable=True))

    op.create_table(
        'codehost_identities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('login', sa.String(length=200), nullable=False),
        sa.Column('login_key', sa.String(length=200), nullable=False),
        sa.Column('username', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('provider', 'login_key', name='uq_codehost_identities_login'),
    )
    with op.batch_alter_table('codehost_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_codehost_identities_username'), ['username'], unique=False)

    op.create_table(
        'codehost_finding_comments',
        sa.Column('id', _BIG_ID, autoincrement=True, nullable=False),
        sa.Column('repository_key', sa.String(length=300), nullable=False),
        sa.Column('comment_id', sa.BigInteger(), nullable=False),
        sa.Column('pr_number', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=32), nullable=False),
        sa.Column('author_login', sa.String(length=200), nullable=False),
        sa.Column('fixed', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('repository_key', 'comment_id', name='uq_codehost_finding_comments_comment'),
    )
    with op.batch_alter_table('codehost_finding_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_codehost_finding_comments_repository_key'), ['repository_key'],
                              unique=False)

    op.create_table(
        'codehost_feedback_cursors',
        sa.Column('repository_key', sa.String(length=300), nullable=False),
        sa.Column('comments_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('polled_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('repository_key'),
    )


def downgrade() -> None:
    op.drop_table('codehost_feedback_cursors')
    with op.batch_alter_table('codehost_finding_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_codehost_finding_comments_repository_key'))
    op.drop_table('codehost_finding_comments')
    with op.batch_alter_table('codehost_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_codehost_identities_username'))
    op.drop_table('codehost_identities')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('feedback')
    with op.batch_alter_table('ml_feedback', schema=None) as batch_op:
        batch_op.drop_constraint('uq_ml_feedback_idempotency_key', type_='unique')
        batch_op.drop_column('codehost_login')
        batch_op.drop_column('idempotency_key')
        batch_op.drop_column('strength')
        batch_op.drop_column('source')
