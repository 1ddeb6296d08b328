-- Reports (tracker/reports): the application-maintained rollup of asset states; see the
-- PostgreSQL migration of the same number for what each table holds. Times are integer
-- microseconds since the Unix epoch ("day" is the local midnight starting the day).

CREATE TABLE asset_state_hours (
    hour       INTEGER NOT NULL,
    asset      TEXT    NOT NULL,
    type       TEXT    NOT NULL DEFAULT '',
    department TEXT    NOT NULL DEFAULT '',
    state      TEXT    NOT NULL,
    seconds    REAL    NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (asset, state, hour)
) WITHOUT ROWID;
CREATE INDEX asset_state_hours_hour_idx ON asset_state_hours (hour);

CREATE TABLE asset_state_days (
    day              INTEGER NOT NULL,
    asset            TEXT    NOT NULL,
    type             TEXT    NOT NULL DEFAULT '',
    department       TEXT    NOT NULL DEFAULT '',
    in_use_s         REAL    NOT NULL DEFAULT 0,
    available_s      REAL    NOT NULL DEFAULT 0,
    needs_cleaning_s REAL    NOT NULL DEFAULT 0,
    in_transit_s     REAL    NOT NULL DEFAULT 0,
    not_seen_s       REAL    NOT NULL DEFAULT 0,
    out_of_service_s REAL    NOT NULL DEFAULT 0,
    uses             INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (asset, day)
) WITHOUT ROWID;
CREATE INDEX asset_state_days_day_idx ON asset_state_days (day);

CREATE TABLE fleet_hours (
    hour                   INTEGER NOT NULL,
    type                   TEXT    NOT NULL,
    department             TEXT    NOT NULL,
    assets                 INTEGER NOT NULL,
    in_use_max             INTEGER NOT NULL,
    in_use_seconds         REAL    NOT NULL,
    available_min          INTEGER NOT NULL,
    none_available_seconds REAL    NOT NULL,
    PRIMARY KEY (type, department, hour)
) WITHOUT ROWID;
CREATE INDEX fleet_hours_hour_idx ON fleet_hours (hour);

CREATE TABLE report_rollup (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    tz           TEXT    NOT NULL,
    refreshed_to INTEGER
);

INSERT INTO retention_settings VALUES
    ('asset_state_hours', 'hour', 1100 * 86400),
    ('asset_state_days', 'day', 1100 * 86400),
    ('fleet_hours', 'hour', 1100 * 86400);
