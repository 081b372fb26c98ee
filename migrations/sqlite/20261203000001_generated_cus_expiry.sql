-- A generated CUS ("Genere nueva CUS") stops working after a while if it is never used.
-- Additive: an older node ignores the column. A CUS generated before this migration gets
-- the default week from now.
ALTER TABLE accounts ADD COLUMN pending_cus_expires TEXT;
UPDATE accounts SET pending_cus_expires = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '+7 days')
 WHERE pending_cus_hash IS NOT NULL;
