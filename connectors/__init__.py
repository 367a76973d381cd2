"""Connectors: one module per source kind, and the shared HTTP client."""
