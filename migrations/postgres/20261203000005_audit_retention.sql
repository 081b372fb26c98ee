-- Reading the audit trail newest first (`cus audit`, a page at a time by id) by subject or
-- kind, and the retention purges of the worker: old audit events by time, delivered or
-- abandoned outbox messages by age, expired refresh tokens. Expand-only: indexes.
-- IF NOT EXISTS: on a large trail an operator may build them first without blocking writes
-- (`CREATE INDEX CONCURRENTLY …` with these names, docs/operations.md), and this migration
-- then finds them there.
CREATE INDEX IF NOT EXISTS audit_events_subject_id ON audit_events (subject, id);
CREATE INDEX IF NOT EXISTS audit_events_kind_id ON audit_events (kind, id);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
CREATE INDEX IF NOT EXISTS outbox_done ON outbox (created_at)
    WHERE sent_at IS NOT NULL OR abandoned_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS refresh_tokens_expires ON refresh_tokens (expires_at);
