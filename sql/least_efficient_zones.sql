-- Least efficient zones over the last 30 days: a high average multiplier with a low conversion.
--   inefficiency = (avg_multiplier - 1) * (1 - least(accepts / quotes, 1)); zones without quotes rank last.
-- The same window and formula as GET /api/v1/analytics/zones?window=30d&order=inefficiency&limit=5:
-- from the start of the hour 30 days ago to now, every vehicle type together.
-- Run it in the export directory:  cd DIR && duckdb < sql/least_efficient_zones.sql
SET TimeZone = 'UTC';

WITH params AS (
    SELECT date_trunc('hour', now() - INTERVAL 30 DAY) AS since
),
snap AS (
    SELECT zone_id, count(*) AS snapshots, avg(mean_multiplier) AS avg_multiplier,
           max(max_multiplier) AS max_multiplier
    FROM 'snapshots.parquet', params
    WHERE ts >= params.since
    GROUP BY zone_id
),
funnel AS (
    SELECT zone_id, sum(quotes) AS quotes, sum(accepts) AS accepts
    FROM 'funnel.parquet', params
    WHERE hour >= params.since
    GROUP BY zone_id
),
changes AS (
    SELECT zone_id, count(*) FILTER (WHERE direction = 'rise') AS surge_events,
           count(*) FILTER (WHERE direction = 'fall') AS decrease_events
    FROM 'audit.parquet', params
    WHERE ts >= params.since
    GROUP BY zone_id
)
SELECT s.zone_id,
       z.zone_name,
       round(s.avg_multiplier, 3) AS avg_multiplier,
       s.max_multiplier,
       coalesce(c.surge_events, 0) AS surge_events,
       coalesce(c.decrease_events, 0) AS decrease_events,
       coalesce(f.quotes, 0) AS quotes,
       coalesce(f.accepts, 0) AS accepts,
       round(f.accepts / nullif(f.quotes, 0), 4) AS conversion,
       (s.avg_multiplier - 1) * (1 - least(f.accepts / nullif(f.quotes, 0), 1)) AS inefficiency
FROM snap s
LEFT JOIN funnel f USING (zone_id)
LEFT JOIN changes c USING (zone_id)
LEFT JOIN 'zones.parquet' z USING (zone_id)
ORDER BY inefficiency DESC NULLS LAST, s.zone_id
LIMIT 5;
