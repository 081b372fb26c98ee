-- The help desk: accounts it disabled, and the indexes its searches use (tens of millions
-- of accounts: every search is an index lookup or an index range). Expand-only: the
-- previous release ignores the column and the indexes.
ALTER TABLE accounts ADD COLUMN disabled_at TIMESTAMPTZ;
-- E-mail, case-insensitively; the mobile as stored (E.164).
CREATE INDEX accounts_email_lower ON accounts (lower(email));
CREATE INDEX accounts_rep_email_lower ON accounts (lower(rep_email));
CREATE INDEX accounts_celular ON accounts (celular);
CREATE INDEX accounts_rep_celular ON accounts (rep_celular);
-- Name prefixes: byte order ("C"), so a prefix is one range of the index whatever the
-- database's collation.
CREATE INDEX accounts_apellido_prefix ON accounts ((lower(apellido_paterno) COLLATE "C"));
CREATE INDEX accounts_nombres_prefix ON accounts ((lower(nombres) COLLATE "C"));
