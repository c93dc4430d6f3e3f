"""Pricing: the tick engine, smoothing, guardrails, fares, and the plugin protocol and registry."""
