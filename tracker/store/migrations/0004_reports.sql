-- Reports (tracker/reports): the application-maintained rollup of asset states.
-- The Apache-licence TimescaleDB build has no continuous aggregates, so tracker.reports.rollup
-- refreshes these tables incrementally from stays (idempotent for a re-run window):
--   asset_state_hours  seconds (and uses started) per UTC hour, asset and state;
--   asset_state_days   the day's hours summed per local day ("day" is local midnight) and asset,
--                      one column of seconds per state (a third of the rows to scan);
--   fleet_hours        per hour, type and owning department ('*': all departments): assets,
--                      most in use at once, in-use seconds, fewest available at once and the
--                      seconds with none available;
--   report_rollup      one row: the time zone the days were built in and the refresh mark.
-- Type and department are the registry's at refresh time ('' when the asset has none).

CREATE TABLE asset_state_hours (
    hour       timestamptz      NOT NULL,
    asset      text             NOT NULL,
    type       text             NOT NULL DEFAULT '',
    department text             NOT NULL DEFAULT '',
    state      text             NOT NULL,
    seconds    double precision NOT NULL,
    uses       integer          NOT NULL DEFAULT 0,
    PRIMARY KEY (asset, state, hour)
);
CREATE INDEX asset_state_hours_hour_idx ON asset_state_hours (hour);

CREATE TABLE asset_state_days (
    day                  timestamptz      NOT NULL,
    asset                text             NOT NULL,
    type                 text             NOT NULL DEFAULT '',
    department           text             NOT NULL DEFAULT '',
    in_use_s             double precision NOT NULL DEFAULT 0,
    available_s          double precision NOT NULL DEFAULT 0,
    needs_cleaning_s     double precision NOT NULL DEFAULT 0,
    in_transit_s         double precision NOT NULL DEFAULT 0,
    not_seen_s           double precision NOT NULL DEFAULT 0,
    out_of_service_s     double precision NOT NULL DEFAULT 0,
    uses                 integer          NOT NULL DEFAULT 0,
    PRIMARY KEY (asset, day)
);
CREATE INDEX asset_state_days_day_idx ON asset_state_days (day);

CREATE TABLE fleet_hours (
    hour                   timestamptz      NOT NULL,
    type                   text             NOT NULL,
    department             text             NOT NULL,
    assets                 integer          NOT NULL,
    in_use_max             integer          NOT NULL,
    in_use_seconds         double precision NOT NULL,
    available_min          integer          NOT NULL,
    none_available_seconds double precision NOT NULL,
    PRIMARY KEY (type, department, hour)
);
CREATE INDEX fleet_hours_hour_idx ON fleet_hours (hour);

CREATE TABLE report_rollup (
    id           integer     PRIMARY KEY CHECK (id = 1),
    tz           text        NOT NULL,
    refreshed_to timestamptz
);

INSERT INTO retention_settings VALUES
    ('asset_state_hours', 'hour', INTERVAL '1100 days'),
    ('asset_state_days', 'day', INTERVAL '1100 days'),
    ('fleet_hours', 'hour', INTERVAL '1100 days');

-- @requires timescaledb
SELECT create_hypertable('asset_state_hours', by_range('hour', INTERVAL '30 days'),
                         create_default_indexes => false);
SELECT create_hypertable('asset_state_days', by_range('day', INTERVAL '365 days'),
                         create_default_indexes => false);
SELECT create_hypertable('fleet_hours', by_range('hour', INTERVAL '180 days'),
                         create_default_indexes => false);
-- @end

-- @requires timescaledb-tsl
SELECT add_retention_policy('asset_state_hours', INTERVAL '1100 days');
SELECT add_retention_policy('asset_state_days', INTERVAL '1100 days');
SELECT add_retention_policy('fleet_hours', INTERVAL '1100 days');
-- @end
