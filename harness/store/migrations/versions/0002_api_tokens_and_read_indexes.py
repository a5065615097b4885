"""api tokens; indexes for the leaderboard's reads; 64-bit parameter counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
        sa.UniqueConstraint('token_hash'),
    )
    # Parameter counts of real verifiers (7e9) overflow PostgreSQL's 32-bit INTEGER.
    with op.batch_alter_table('releases') as batch:
        batch.alter_column('parameters', existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True)
    # The leaderboard reads "the newest succeeded submission of each release under a profile" and then the
    # audit/student rows of those submissions for one task.
    op.create_index('ix_submissions_profile_status_release', 'submissions',
                    ['protocol_profile', 'status', 'release_id'])
    op.create_index('ix_audit_results_task', 'audit_results', ['task', 'submission_id'])
    op.create_index('ix_student_results_task', 'student_results', ['task', 'submission_id'])


def downgrade() -> None:
    op.drop_index('ix_student_results_task', table_name='student_results')
    op.drop_index('ix_audit_results_task', table_name='audit_results')
    op.drop_index('ix_submissions_profile_status_release', table_name='submissions')
    op.drop_table('api_tokens')
    with op.batch_alter_table('releases') as batch:
        batch.alter_column('parameters', existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True)
