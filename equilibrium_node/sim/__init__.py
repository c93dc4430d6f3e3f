"""Simulation: agents, scenarios and reports (the market simulator and the demo traffic)."""
