-- A generated CUS ("Genere nueva CUS") stops working after a while if it is never used.
-- Additive: an older node ignores the column. A CUS generated before this migration gets
-- the default week from now.
ALTER TABLE accounts ADD COLUMN pending_cus_expires TIMESTAMPTZ;
UPDATE accounts SET pending_cus_expires = now() + INTERVAL '7 days'
 WHERE pending_cus_hash IS NOT NULL;
