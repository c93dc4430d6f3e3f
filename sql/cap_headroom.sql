-- Is a zone's cap too high (or too low)? Over the last 30 days: how often the zone priced at its cap,
-- the highest multiplier it reached against the configured cap, and the 95th percentile of its maxima.
-- A cap far above p95 is never used; a zone at its cap much of the time may be capped too low.
-- Run it in the export directory:  cd DIR && duckdb < sql/cap_headroom.sql
SET TimeZone = 'UTC';

SELECT z.zone_id,
       z.zone_name,
       z.max_multiplier AS cap,
       max(s.max_multiplier) AS highest_reached,
       round(quantile_cont(s.max_multiplier, 0.95), 2) AS p95_of_maxima,
       round(avg(CASE WHEN s.max_multiplier >= z.max_multiplier - 1e-9 THEN 1 ELSE 0 END), 3) AS share_at_cap,
       round(z.max_multiplier - quantile_cont(s.max_multiplier, 0.95), 2) AS headroom
FROM 'snapshots.parquet' s
JOIN 'zones.parquet' z USING (zone_id)
WHERE s.ts >= now() - INTERVAL 30 DAY
GROUP BY z.zone_id, z.zone_name, z.max_multiplier
ORDER BY headroom DESC;
