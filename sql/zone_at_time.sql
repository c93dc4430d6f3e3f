-- What did the market look like at a given moment (here: last Friday at 18:00, local time)?
-- The snapshot records closest to that instant, per zone and vehicle type.
-- Run it in the export directory:  cd DIR && duckdb < sql/zone_at_time.sql
SET TimeZone = 'America/Los_Angeles';  -- the region's time zone (config `timezone`)

WITH params AS (
    -- the last Friday before today, 18:00 local time (or any instant: SELECT TIMESTAMPTZ '2026-11-27 18:00' AS at)
    SELECT CAST(current_date - CAST((isodow(current_date) + 1) % 7 + 1 AS INTEGER) AS TIMESTAMPTZ)
           + INTERVAL 18 HOUR AS at
),
nearest AS (
    SELECT s.*, abs(epoch(s.ts) - epoch(params.at)) AS off_s,
           row_number() OVER (PARTITION BY zone_id, vehicle_type ORDER BY abs(epoch(s.ts) - epoch(params.at))) AS rank
    FROM 'snapshots.parquet' s, params
    WHERE s.ts BETWEEN params.at - INTERVAL 10 MINUTE AND params.at + INTERVAL 10 MINUTE
)
SELECT ts, zone_id, vehicle_type, supply, on_trip, demand, mean_multiplier, max_multiplier, quotes, accepts
FROM nearest
WHERE rank = 1
ORDER BY max_multiplier DESC, zone_id, vehicle_type;
