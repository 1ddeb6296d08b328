-- Alerts (tracker/alerts): one row per alert, its event history, and the delivery outbox.
-- An alert is raised (state 'open'), may be acknowledged, and is resolved automatically when
-- its condition clears or by a user. At most one unresolved alert exists per (rule, subject):
-- a condition that keeps firing is one alert. JSON is kept as text (the exact bytes delivered).

CREATE TABLE alerts (
    id              bigserial   PRIMARY KEY,
    rule            text        NOT NULL,
    kind            text        NOT NULL,
    subject         text        NOT NULL,
    severity        text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state           text        NOT NULL DEFAULT 'open'
                                CHECK (state IN ('open', 'acknowledged', 'resolved')),
    message         text        NOT NULL,
    details         text        NOT NULL DEFAULT '{}',
    since           timestamptz NOT NULL,
    raised_at       timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    resolved_by     text,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
CREATE UNIQUE INDEX alerts_unresolved_idx ON alerts (rule, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_state_idx ON alerts (state, raised_at DESC);
CREATE INDEX alerts_raised_idx ON alerts (raised_at DESC);

-- Every transition with who (actor NULL: the alert engine) and when; payload is the JSON
-- delivered to MQTT and webhooks.
CREATE TABLE alert_events (
    id       bigserial   PRIMARY KEY,
    alert_id bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event    text        NOT NULL CHECK (event IN ('raised', 'acknowledged', 'resolved')),
    time     timestamptz NOT NULL,
    actor    text,
    note     text,
    payload  text        NOT NULL
);
CREATE INDEX alert_events_alert_idx ON alert_events (alert_id, id);

-- Where events are delivered ('mqtt', 'webhook:<name>'), registered by the process that
-- delivers them; every event gets one outbox row per target in the transaction that records it.
CREATE TABLE alert_targets (
    target        text        PRIMARY KEY,
    registered_at timestamptz NOT NULL
);

CREATE TABLE alert_outbox (
    event_id        bigint      NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    target          text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    done_at         timestamptz,
    PRIMARY KEY (event_id, target)
);
CREATE INDEX alert_outbox_pending_idx ON alert_outbox (target, event_id) WHERE state = 'pending';
