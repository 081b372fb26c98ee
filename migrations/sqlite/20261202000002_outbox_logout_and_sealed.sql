-- The outbox also carries back-channel logout notices to relying parties (channel
-- 'logout': recipient = client id, subject = sid, body = sub), keeps the bodies that carry
-- a secret (a generated CUS) sealed with a key derived from the KEK, and gives up on a
-- message that could not be delivered in time (abandoned_at; last_error says why). SQLite cannot
-- alter a CHECK constraint, so the table is rebuilt with its rows (in the migration's
-- transaction: all or nothing). Bodies of delivered messages are not kept (see mark_sent).
CREATE TABLE outbox_new (
    id              BLOB PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'logout')),
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    sealed          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TEXT,
    locked_until    TEXT,
    abandoned_at    TEXT
);
INSERT INTO outbox_new (id, channel, recipient, subject, body, created_at, sent_at, attempts,
                        last_error, next_attempt_at, locked_until)
    SELECT id, channel, recipient, subject,
           CASE WHEN sent_at IS NULL THEN body ELSE '' END,
           created_at, sent_at, attempts, last_error, next_attempt_at, locked_until
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (created_at) WHERE sent_at IS NULL AND abandoned_at IS NULL;
-- `cus outbox --to …` reads one recipient's messages, newest first.
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
