"""Intake: JetStream consumption of driver pings and demand signals, decoding, validation, DLQ."""
