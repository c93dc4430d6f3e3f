"""Publication: surge updates to KV and subjects, the audit stream, zone snapshots."""
