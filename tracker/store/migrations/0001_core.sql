-- Sporing core schema (PostgreSQL; TimescaleDB sections are applied when available).
-- Sections between "-- @requires <capability>" and "-- @end" run only when the server has the
-- capability: "timescaledb" (hypertables, Apache licence) or "timescaledb-tsl" (compression,
-- policies; Timescale licence). Skipped sections are recorded in schema_migrations.skipped.

CREATE TABLE positions (
    time            timestamptz NOT NULL,
    tag             text        NOT NULL,
    asset           text,
    site            text        NOT NULL,
    building        text,
    level           text,
    room            text,
    x               real        NOT NULL,
    y               real        NOT NULL,
    accuracy_m      real        NOT NULL,
    room_confidence real        NOT NULL,
    moving          boolean     NOT NULL,
    PRIMARY KEY (tag, time)
);
CREATE INDEX positions_time_idx ON positions (time DESC);
CREATE INDEX positions_asset_time_idx ON positions (asset, time DESC) WHERE asset IS NOT NULL;

-- One row per tag: the latest fix, upserted with every batch (instant "where is X").
CREATE TABLE current_location (
    tag             text        PRIMARY KEY,
    time            timestamptz NOT NULL,
    asset           text,
    site            text        NOT NULL,
    building        text,
    level           text,
    room            text,
    x               real        NOT NULL,
    y               real        NOT NULL,
    accuracy_m      real        NOT NULL,
    room_confidence real        NOT NULL,
    moving          boolean     NOT NULL
);
CREATE INDEX current_location_room_idx ON current_location (room);
CREATE INDEX current_location_asset_idx ON current_location (asset);
CREATE INDEX current_location_level_idx ON current_location (site, level);

CREATE TABLE stays (
    tag        text        NOT NULL,
    asset      text,
    site       text        NOT NULL,
    level      text,
    room       text        NOT NULL,
    t_enter    timestamptz NOT NULL,
    t_exit     timestamptz,
    confidence real        NOT NULL,
    PRIMARY KEY (tag, t_enter),
    CHECK (t_exit IS NULL OR t_exit >= t_enter)
);
CREATE INDEX stays_t_enter_idx ON stays (t_enter DESC);
CREATE INDEX stays_room_idx ON stays (room, t_enter DESC);
CREATE INDEX stays_asset_idx ON stays (asset, t_enter DESC);
CREATE INDEX stays_open_idx ON stays (tag) WHERE t_exit IS NULL;

CREATE TABLE gateway_status (
    time           timestamptz NOT NULL,
    gateway        text        NOT NULL,
    online         boolean     NOT NULL,
    messages_per_s real        NOT NULL,
    readings_per_s real        NOT NULL,
    last_seen      timestamptz,
    details        jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (gateway, time)
);
CREATE INDEX gateway_status_time_idx ON gateway_status (time DESC);

-- Raw readings, for diagnosis only; short retention.
CREATE TABLE readings (
    time     timestamptz NOT NULL,
    gateway  text        NOT NULL,
    tag      text        NOT NULL,
    rssi     real,
    range_m  real,
    tx_power real
);
CREATE INDEX readings_time_idx ON readings (time DESC);
CREATE INDEX readings_tag_time_idx ON readings (tag, time DESC);

CREATE TABLE assets (
    id               text PRIMARY KEY,
    name             text NOT NULL,
    type             text,
    model            text,
    serial           text,
    giai             text,
    barcode          text,
    department       text,
    home_room        text,
    status           text NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'in_repair', 'retired', 'lost')),
    next_maintenance date,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assets_type_idx ON assets (type);
CREATE INDEX assets_department_idx ON assets (department);
CREATE INDEX assets_status_idx ON assets (status);

-- Pairing history: a pairing is closed (until set), never deleted.
CREATE TABLE tag_pairings (
    asset text        NOT NULL REFERENCES assets (id) ON UPDATE CASCADE,
    tag   text        NOT NULL,
    since timestamptz NOT NULL,
    until timestamptz,
    PRIMARY KEY (tag, since),
    CHECK (until IS NULL OR until >= since)
);
CREATE UNIQUE INDEX tag_pairings_open_idx ON tag_pairings (tag) WHERE until IS NULL;
CREATE INDEX tag_pairings_asset_idx ON tag_pairings (asset);

-- How long each time-series table keeps data. Applied by TimescaleDB retention policies when
-- the server has them, otherwise by Store.apply_retention() (drop_chunks or DELETE).
CREATE TABLE retention_settings (
    table_name text     PRIMARY KEY,
    time_column text    NOT NULL,
    keep       interval NOT NULL
);
INSERT INTO retention_settings VALUES
    ('positions', 'time', INTERVAL '400 days'),
    ('stays', 't_enter', INTERVAL '1100 days'),
    ('gateway_status', 'time', INTERVAL '90 days'),
    ('readings', 'time', INTERVAL '3 days');

-- Seconds per (UTC hour, asset, room) from stays, splitting stays that span several hours and
-- counting open stays until p_now. Unpaired tags are reported under their tag id.
CREATE FUNCTION room_time_hourly(p_t0 timestamptz, p_t1 timestamptz, p_now timestamptz)
RETURNS TABLE (hour timestamptz, asset text, room text, seconds double precision)
LANGUAGE sql STABLE AS $$
    SELECT h.hour,
           coalesce(s.asset, s.tag) AS asset,
           s.room,
           sum(extract(epoch FROM
               least(coalesce(s.t_exit, p_now), h.hour + INTERVAL '1 hour', p_t1)
               - greatest(s.t_enter, h.hour, p_t0)))::double precision AS seconds
    FROM stays s
    CROSS JOIN LATERAL generate_series(
        date_trunc('hour', greatest(s.t_enter, p_t0), 'UTC'),
        least(coalesce(s.t_exit, p_now), p_t1) - INTERVAL '1 microsecond',
        INTERVAL '1 hour') AS h (hour)
    WHERE s.t_enter < p_t1 AND coalesce(s.t_exit, p_now) > p_t0
    GROUP BY 1, 2, 3
    HAVING sum(extract(epoch FROM
               least(coalesce(s.t_exit, p_now), h.hour + INTERVAL '1 hour', p_t1)
               - greatest(s.t_enter, h.hour, p_t0))) > 0
    ORDER BY 1, 2, 3
$$;

-- @requires timescaledb
SELECT create_hypertable('positions', by_range('time', INTERVAL '1 day'),
                         create_default_indexes => false);
SELECT create_hypertable('stays', by_range('t_enter', INTERVAL '30 days'),
                         create_default_indexes => false);
SELECT create_hypertable('gateway_status', by_range('time', INTERVAL '1 day'),
                         create_default_indexes => false);
SELECT create_hypertable('readings', by_range('time', INTERVAL '1 hour'),
                         create_default_indexes => false);
-- @end

-- @requires timescaledb-tsl
ALTER TABLE positions SET (timescaledb.compress,
                           timescaledb.compress_segmentby = 'tag',
                           timescaledb.compress_orderby = 'time DESC');
SELECT add_compression_policy('positions', INTERVAL '2 days');
ALTER TABLE gateway_status SET (timescaledb.compress,
                                timescaledb.compress_segmentby = 'gateway',
                                timescaledb.compress_orderby = 'time DESC');
SELECT add_compression_policy('gateway_status', INTERVAL '2 days');
ALTER TABLE readings SET (timescaledb.compress,
                          timescaledb.compress_segmentby = 'tag',
                          timescaledb.compress_orderby = 'time DESC');
SELECT add_compression_policy('readings', INTERVAL '2 hours');
SELECT add_retention_policy(format('%I', table_name)::regclass, keep) FROM retention_settings;
-- @end
