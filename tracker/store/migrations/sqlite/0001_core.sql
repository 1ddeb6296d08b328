-- Sporing core schema for the embedded SQLite store. Times are integer microseconds since the
-- Unix epoch (UTC), so keys are exact and match the PostgreSQL store's microsecond timestamps.

CREATE TABLE positions (
    time            INTEGER NOT NULL,
    tag             TEXT    NOT NULL,
    asset           TEXT,
    site            TEXT    NOT NULL,
    building        TEXT,
    level           TEXT,
    room            TEXT,
    x               REAL    NOT NULL,
    y               REAL    NOT NULL,
    accuracy_m      REAL    NOT NULL,
    room_confidence REAL    NOT NULL,
    moving          INTEGER NOT NULL,
    PRIMARY KEY (tag, time)
) WITHOUT ROWID;
CREATE INDEX positions_time_idx ON positions (time);
CREATE INDEX positions_asset_time_idx ON positions (asset, time) WHERE asset IS NOT NULL;

CREATE TABLE current_location (
    tag             TEXT    PRIMARY KEY,
    time            INTEGER NOT NULL,
    asset           TEXT,
    site            TEXT    NOT NULL,
    building        TEXT,
    level           TEXT,
    room            TEXT,
    x               REAL    NOT NULL,
    y               REAL    NOT NULL,
    accuracy_m      REAL    NOT NULL,
    room_confidence REAL    NOT NULL,
    moving          INTEGER NOT NULL
);
CREATE INDEX current_location_room_idx ON current_location (room);
CREATE INDEX current_location_asset_idx ON current_location (asset);

CREATE TABLE stays (
    tag        TEXT    NOT NULL,
    asset      TEXT,
    site       TEXT    NOT NULL,
    level      TEXT,
    room       TEXT    NOT NULL,
    t_enter    INTEGER NOT NULL,
    t_exit     INTEGER,
    confidence REAL    NOT NULL,
    PRIMARY KEY (tag, t_enter),
    CHECK (t_exit IS NULL OR t_exit >= t_enter)
) WITHOUT ROWID;
CREATE INDEX stays_t_enter_idx ON stays (t_enter);
CREATE INDEX stays_room_idx ON stays (room, t_enter);

CREATE TABLE gateway_status (
    time           INTEGER NOT NULL,
    gateway        TEXT    NOT NULL,
    online         INTEGER NOT NULL,
    messages_per_s REAL    NOT NULL,
    readings_per_s REAL    NOT NULL,
    last_seen      INTEGER,
    details        TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (gateway, time)
) WITHOUT ROWID;

CREATE TABLE assets (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    type             TEXT,
    model            TEXT,
    serial           TEXT,
    giai             TEXT,
    barcode          TEXT,
    department       TEXT,
    home_room        TEXT,
    status           TEXT NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'in_repair', 'retired', 'lost')),
    next_maintenance TEXT,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE tag_pairings (
    asset TEXT    NOT NULL REFERENCES assets (id) ON UPDATE CASCADE,
    tag   TEXT    NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER,
    PRIMARY KEY (tag, since),
    CHECK (until IS NULL OR until >= since)
);
CREATE UNIQUE INDEX tag_pairings_open_idx ON tag_pairings (tag) WHERE until IS NULL;
CREATE INDEX tag_pairings_asset_idx ON tag_pairings (asset);

CREATE TABLE retention_settings (
    table_name  TEXT    PRIMARY KEY,
    time_column TEXT    NOT NULL,
    keep_s      INTEGER NOT NULL
);
INSERT INTO retention_settings VALUES
    ('positions', 'time', 400 * 86400),
    ('stays', 't_enter', 1100 * 86400),
    ('gateway_status', 'time', 90 * 86400);
