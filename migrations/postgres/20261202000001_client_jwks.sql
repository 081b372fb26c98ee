-- private_key_jwt (OpenID Core §9): the client's public keys, a JWK Set as JSON text.
ALTER TABLE clients ADD COLUMN jwks TEXT;
