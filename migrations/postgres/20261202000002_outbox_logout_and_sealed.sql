-- The outbox also carries back-channel logout notices to relying parties (channel
-- 'logout': recipient = client id, subject = sid, body = sub), keeps the bodies that carry
-- a secret (a generated CUS) sealed with a key derived from the KEK, and gives up on a
-- message that could not be delivered in time (abandoned_at; last_error says why).
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check
    CHECK (channel IN ('email', 'sms', 'logout'));
ALTER TABLE outbox ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE outbox ADD COLUMN abandoned_at TIMESTAMPTZ;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (created_at) WHERE sent_at IS NULL AND abandoned_at IS NULL;
-- Bodies of delivered messages are not kept (see mark_sent); clear those already sent.
UPDATE outbox SET body = '' WHERE sent_at IS NOT NULL;
-- `cus outbox --to …` reads one recipient's messages, newest first.
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
