"""The market simulator: agents, scenarios and reports (``equilibrium-node simulate``; the demo traffic may
share the agents).

The agents' modules (:mod:`.city`, :mod:`.drivers`, :mod:`.riders`, :mod:`.matching`, :mod:`.market`)
are plain numpy and use no NATS, so other code can drive them; :mod:`.pricing` runs the node's pricing
core on them and :mod:`.runner` ties a run together.
"""
