-- Account lifecycle: a generated CUS waiting for its first use, e-mail verification, and
-- outbox delivery with leases (several nodes) and retry backoff.
ALTER TABLE accounts ADD COLUMN pending_cus_hash TEXT;
ALTER TABLE accounts ADD COLUMN email_verify_hash TEXT;
ALTER TABLE accounts ADD COLUMN email_verify_expires TIMESTAMPTZ;
CREATE UNIQUE INDEX accounts_email_verify_hash ON accounts (email_verify_hash) WHERE email_verify_hash IS NOT NULL;

ALTER TABLE outbox ADD COLUMN next_attempt_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN locked_until TIMESTAMPTZ;
