-- Alerts (tracker/alerts): alerts, their event history and the delivery outbox; times in
-- integer µs. At most one unresolved alert per (rule, subject). JSON is kept as text.

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rule            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    severity        TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state           TEXT    NOT NULL DEFAULT 'open'
                            CHECK (state IN ('open', 'acknowledged', 'resolved')),
    message         TEXT    NOT NULL,
    details         TEXT    NOT NULL DEFAULT '{}',
    since           INTEGER NOT NULL,
    raised_at       INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    resolved_at     INTEGER,
    resolved_by     TEXT,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
CREATE UNIQUE INDEX alerts_unresolved_idx ON alerts (rule, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_state_idx ON alerts (state, raised_at DESC);
CREATE INDEX alerts_raised_idx ON alerts (raised_at DESC);

CREATE TABLE alert_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event    TEXT    NOT NULL CHECK (event IN ('raised', 'acknowledged', 'resolved')),
    time     INTEGER NOT NULL,
    actor    TEXT,
    note     TEXT,
    payload  TEXT    NOT NULL
);
CREATE INDEX alert_events_alert_idx ON alert_events (alert_id, id);

CREATE TABLE alert_targets (
    target        TEXT    PRIMARY KEY,
    registered_at INTEGER NOT NULL
);

CREATE TABLE alert_outbox (
    event_id        INTEGER NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    target          TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    done_at         INTEGER,
    PRIMARY KEY (event_id, target)
) WITHOUT ROWID;
CREATE INDEX alert_outbox_pending_idx ON alert_outbox (target, event_id) WHERE state = 'pending';
