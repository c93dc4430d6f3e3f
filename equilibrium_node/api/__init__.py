"""The HTTP API: one aiohttp app assembled from parts, each part a class exposing its endpoints."""
