-- Back-channel logout: the outbox also carries logout notices to relying parties
-- (channel 'logout': recipient = client id, subject = sid, body = sub).
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check
    CHECK (channel IN ('email', 'sms', 'logout'));
