-- Users, sessions, API tokens and the audit log (tracker/auth.py).
-- Secrets are never stored: passwords as scrypt hashes, session and token secrets as SHA-256.

CREATE TABLE users (
    name          text        PRIMARY KEY,
    display_name  text,
    role          text        NOT NULL CHECK (role IN ('porter', 'biomed', 'admin')),
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
    id          text        PRIMARY KEY,
    secret_hash text        NOT NULL UNIQUE,
    user_name   text        NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_name);

CREATE TABLE api_tokens (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    role        text        NOT NULL CHECK (role IN ('porter', 'biomed', 'admin')),
    secret_hash text        NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz
);

CREATE TABLE audit_log (
    id      bigserial   PRIMARY KEY,
    time    timestamptz NOT NULL,
    actor   text        NOT NULL,
    role    text        NOT NULL,
    action  text        NOT NULL,
    subject text        NOT NULL,
    details jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_time_idx ON audit_log (time DESC);
CREATE INDEX audit_log_subject_idx ON audit_log (subject, time DESC);
