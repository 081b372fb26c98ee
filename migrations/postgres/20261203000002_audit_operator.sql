-- Who acted for SENCE (a help-desk operator at the CLI, an admin client), when it was not
-- the subject. Expand-only: the previous release writes NULL here.
ALTER TABLE audit_events ADD COLUMN operator TEXT;
