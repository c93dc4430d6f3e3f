-- Surge events (rises) and decreases per zone and day over the last 30 days, from the audit log,
-- with what triggered them most often.
-- Run it in the export directory:  cd DIR && duckdb < sql/surge_events_by_day.sql
SET TimeZone = 'America/Los_Angeles';  -- the region's time zone (config `timezone`)

SELECT CAST(ts AS DATE) AS day,
       zone_id,
       count(*) FILTER (WHERE direction = 'rise') AS surge_events,
       count(*) FILTER (WHERE direction = 'fall') AS decrease_events,
       mode(trigger_reason) AS most_common_trigger,
       max(new_multiplier) AS highest
FROM 'audit.parquet'
WHERE ts >= now() - INTERVAL 30 DAY
GROUP BY day, zone_id
ORDER BY day, surge_events DESC;
