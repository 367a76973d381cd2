"""badge-bridge core: config, store, issuing, delivery, web app and CLI.

Connectors and the rule engine depend on `bridge.model` and `bridge.errors` only.
"""

__version__ = "0.1.0"
