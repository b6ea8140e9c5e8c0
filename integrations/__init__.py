"""Integrations of tierwise into the gateways routers already run; each behind its own extra.

Nothing on the hot path imports this package: `classifier` and `serving` never depend on it.
"""
