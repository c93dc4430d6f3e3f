"""Equilibrium: a real-time surge-pricing node for ride-hailing, clustered through NATS JetStream."""

__version__ = "0.1.0"
