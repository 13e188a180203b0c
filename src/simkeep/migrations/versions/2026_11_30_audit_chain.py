"""the audit log's hash chain: seq, prev_hash and hash on audit_log, existing entries chained in (at, id) order,
and triggers that refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of audit_log

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from simkeep.audit import chain

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

# audit_log as this revision sees it (the model may grow later; the chain of old entries must not change with it)
audit_log = sa.table(
    'audit_log',
    sa.column('id', sa.Uuid()), sa.column('seq', sa.BigInteger()), sa.column('actor', sa.String()),
    sa.column('action', sa.String()), sa.column('subject_type', sa.String()), sa.column('subject_id', sa.String()),
    sa.column('reason', sa.String()), sa.column('details', simkeep.db.JsonType),
    sa.column('at', simkeep.db.UtcDateTime()), sa.column('prev_hash', sa.String()), sa.column('hash', sa.String()),
)

PG_GUARD = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""
SQLITE_GUARD = [  # SQLite has no TRUNCATE: a DELETE without WHERE still fires the row trigger
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
]


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _chain_existing_entries()
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_seq'), ['seq'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_GUARD)
    else:
        for statement in SQLITE_GUARD:
            op.execute(statement)


def _chain_existing_entries() -> None:
    """Entries written before the chain existed get chained in the order they were made, (at, id) (ids are
    time-ordered UUIDv7). Their content is vouched for from this migration on, not before."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(audit_log).order_by(audit_log.c.at, audit_log.c.id)).mappings().all()
    prev_hash = chain.GENESIS
    for seq, row in enumerate(rows, start=1):
        content = dict(id=row['id'], seq=seq, at=row['at'], actor=row['actor'], action=row['action'],
                       subject_type=row['subject_type'], subject_id=row['subject_id'], reason=row['reason'],
                       details=chain.canonical_details(row['details'] or {}), prev_hash=prev_hash)
        entry_hash = chain.entry_hash(**content)
        bind.execute(audit_log.update().where(audit_log.c.id == row['id']).values(
            seq=seq, prev_hash=prev_hash, hash=entry_hash, details=content['details']))
        prev_hash = entry_hash


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_no_update_delete ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
