"""NATS plumbing: the embedded server, the connection, the region's names and provisioning."""
