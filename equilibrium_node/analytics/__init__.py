"""Analytics: zone snapshots, rolled-up history, zone efficiency, Parquet export."""
