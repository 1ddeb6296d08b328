-- Users, sessions, API tokens and the audit log (tracker/auth.py); times in integer µs.

CREATE TABLE users (
    name          TEXT    PRIMARY KEY,
    display_name  TEXT,
    role          TEXT    NOT NULL CHECK (role IN ('porter', 'biomed', 'admin')),
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    secret_hash TEXT    NOT NULL UNIQUE,
    user_name   TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_name);

CREATE TABLE api_tokens (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('porter', 'biomed', 'admin')),
    secret_hash TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    time    INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    role    TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    details TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_time_idx ON audit_log (time DESC);
CREATE INDEX audit_log_subject_idx ON audit_log (subject, time DESC);
