"""The web app as each `serve --workers N` process builds it: uvicorn imports `cli.web:app`
(a factory) in every worker process, which reads the config file `serve` was given."""

from __future__ import annotations

import os

from starlette.applications import Starlette

__all__ = ["app"]


def app() -> Starlette:
    from bridge.store import Store
    from bridge.web.app import create_app
    from connectors.registry import load

    config = load(os.environ.get("BADGE_BRIDGE_CONFIG"), secrets=False)
    return create_app(config, Store(config.bridge.db_url))
