-- The outbox also carries back-channel logout notices to relying parties (channel
-- 'logout': recipient = client id, subject = sid, body = sub), and keeps the bodies that
-- carry a secret (a generated CUS) sealed with a key derived from the KEK.
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check
    CHECK (channel IN ('email', 'sms', 'logout'));
ALTER TABLE outbox ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;
-- Bodies of delivered messages are not kept (see mark_sent); clear those already sent.
UPDATE outbox SET body = '' WHERE sent_at IS NOT NULL;
