"""Clustering: the leader lease, node heartbeats and roles."""
