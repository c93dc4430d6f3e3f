-- Conversion per zone and hour of the day (local time of the region) over the last 30 days:
-- where and when riders decline the quoted price.
-- Run it in the export directory:  cd DIR && duckdb < sql/conversion_by_hour.sql
SET TimeZone = 'America/Los_Angeles';  -- the region's time zone (config `timezone`)

SELECT zone_id,
       hour(hour) AS local_hour,
       sum(quotes) AS quotes,
       sum(accepts) AS accepts,
       round(sum(accepts) / nullif(sum(quotes), 0), 3) AS conversion
FROM 'funnel.parquet'
WHERE hour >= now() - INTERVAL 30 DAY
GROUP BY zone_id, local_hour
ORDER BY zone_id, local_hour;
