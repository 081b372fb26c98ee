-- CUS initial schema (PostgreSQL). Released migrations are never edited.

CREATE TABLE accounts (
    id                    UUID PRIMARY KEY,
    rut                   TEXT NOT NULL UNIQUE,          -- compact form, 12345678-5
    tipo                  TEXT NOT NULL CHECK (tipo IN ('natural', 'juridica')),
    nombres               TEXT NOT NULL,
    apellido_paterno      TEXT NOT NULL,
    apellido_materno      TEXT,
    razon_social          TEXT,
    email                 TEXT NOT NULL,
    email_verified        BOOLEAN NOT NULL DEFAULT FALSE,
    celular               TEXT,
    telefono_particular   TEXT,
    telefono_trabajo      TEXT,
    calle                 TEXT,
    numero                TEXT,
    block                 TEXT,
    departamento          TEXT,
    codigo_comuna         INTEGER,
    secret_question       SMALLINT,
    cus_hash              TEXT NOT NULL,
    secret_answer_hash    TEXT,
    cus_must_change       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    tokens_valid_after    TIMESTAMPTZ NOT NULL
);

CREATE TABLE clients (
    client_id                     TEXT PRIMARY KEY,
    name                          TEXT NOT NULL,
    kind                          TEXT NOT NULL CHECK (kind IN ('confidential', 'public')),
    secret_hash                   TEXT,
    redirect_uris                 TEXT NOT NULL,         -- JSON array
    post_logout_redirect_uris     TEXT NOT NULL,         -- JSON array
    grant_types                   TEXT NOT NULL,         -- JSON array
    scopes                        TEXT NOT NULL,         -- JSON array
    token_endpoint_auth_method    TEXT NOT NULL,
    id_token_signed_response_alg  TEXT NOT NULL,
    first_party                   BOOLEAN NOT NULL,
    enabled                       BOOLEAN NOT NULL,
    created_at                    TIMESTAMPTZ NOT NULL,
    updated_at                    TIMESTAMPTZ NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    public_jwk     TEXT NOT NULL,
    private_sealed TEXT NOT NULL,                         -- AES-256-GCM under the configured KEK
    created_at     TIMESTAMPTZ NOT NULL,                  -- published in JWKS from here
    active_from    TIMESTAMPTZ NOT NULL,                  -- signs from here (after the lead time)
    retired_at     TIMESTAMPTZ                            -- superseded: verifies only
);

CREATE TABLE audit_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT,
    ip          TEXT,
    user_agent  TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX audit_events_subject_at ON audit_events (subject, at);

CREATE TABLE outbox (
    id          UUID PRIMARY KEY,
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE sent_at IS NULL;

CREATE TABLE consents (
    account_id  UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,                            -- space-separated
    granted_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE refresh_tokens (
    token_hash        TEXT PRIMARY KEY,                   -- SHA-256 of the opaque token
    family_id         UUID NOT NULL,
    account_id        UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id         TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    grant_json        TEXT NOT NULL,                      -- scopes, auth_time, sid, claims request
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    rotated_at        TIMESTAMPTZ,
    revoked_at        TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id);
