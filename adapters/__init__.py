"""Pure-Python provider adapters: ports, one module per provider, resilience, typed errors.

Nothing in this package imports Django or knows about tenants.
"""
