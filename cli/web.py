"""The web app as each `serve --workers N` process builds it: uvicorn imports `cli.web:app`
(a factory) in every worker process, which reads the config file `serve` was given."""

from __future__ import annotations

import os

from starlette.applications import Starlette

__all__ = ["app"]


def app() -> Starlette:
    from bridge.store import Store
    from bridge.web.app import create_app
    from cli.admin import console_setup
    from connectors.registry import load

    config = load(os.environ.get("BADGE_BRIDGE_CONFIG"), secrets=False)
    store = Store(config.bridge.db_url)
    return create_app(config, store, console_setup(config, store))
