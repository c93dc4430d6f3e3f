"""Built-in pricing algorithms, loaded by name through the pricing registry (entry-point group
``equilibrium.pricing``). Plugins see a small protocol and plain inputs, never NATS or the web app.
"""
