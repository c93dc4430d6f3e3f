"""Live heatmap streams: the fan-out hub, WebSocket and SSE transports."""
