"""training seeds: per-seed student results, seed columns on predictions and training curves

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Protocol 2 runs self-DPO once per training seed; a student's row holds the seed mean (its CI covers items and
seeds) and each seed gets a row of its own. Rows written before keep their meaning: one run, seed 0.
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'student_seed_results',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('task', sa.String(length=100), nullable=False),
        sa.Column('student', sa.String(length=200), nullable=False),
        sa.Column('seed', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('failure', sa.Text(), nullable=True),
        sa.Column('post', sa.Float(), nullable=True),
        sa.Column('delta', sa.Float(), nullable=True),
        sa.Column('delta_ci_low', sa.Float(), nullable=True),
        sa.Column('delta_ci_high', sa.Float(), nullable=True),
        sa.Column('mcnemar_p', sa.Float(), nullable=True),
        sa.Column('loss_fell', sa.Boolean(), nullable=True),
        sa.Column('rounds', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('submission_id', 'task', 'student', 'seed', name='uq_student_seed'),
    )
    with op.batch_alter_table('student_results') as batch:
        batch.add_column(sa.Column('seeds', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('seed_sd', sa.Float(), nullable=True))
        batch.add_column(sa.Column('seed_deltas', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('loss_fell', sa.Boolean(), nullable=True))
    with op.batch_alter_table('training_curves') as batch:
        batch.add_column(sa.Column('seed', sa.Integer(), nullable=False, server_default='0'))
        batch.drop_constraint('uq_curve_point', type_='unique')
        batch.create_unique_constraint('uq_curve_point', ['submission_id', 'task', 'student', 'seed', 'step'])
    with op.batch_alter_table('eval_predictions') as batch:
        batch.add_column(sa.Column('seed', sa.Integer(), nullable=False, server_default='0'))
        batch.drop_constraint('uq_prediction', type_='unique')
        batch.create_unique_constraint('uq_prediction', ['submission_id', 'task', 'student', 'phase', 'seed',
                                                         'item_id'])


def downgrade() -> None:
    # Only seed 0 fits the old unique keys: the other seeds' predictions and curve points are dropped.
    op.execute("DELETE FROM eval_predictions WHERE seed <> 0")
    op.execute("DELETE FROM training_curves WHERE seed <> 0")
    with op.batch_alter_table('eval_predictions') as batch:
        batch.drop_constraint('uq_prediction', type_='unique')
        batch.create_unique_constraint('uq_prediction', ['submission_id', 'task', 'student', 'phase', 'item_id'])
        batch.drop_column('seed')
    with op.batch_alter_table('training_curves') as batch:
        batch.drop_constraint('uq_curve_point', type_='unique')
        batch.create_unique_constraint('uq_curve_point', ['submission_id', 'task', 'student', 'step'])
        batch.drop_column('seed')
    with op.batch_alter_table('student_results') as batch:
        batch.drop_column('loss_fell')
        batch.drop_column('seed_deltas')
        batch.drop_column('seed_sd')
        batch.drop_column('seeds')
    op.drop_table('student_seed_results')
