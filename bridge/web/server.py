"""Running the web app with uvicorn, in the foreground or in a background thread (demo, tests).
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from bridge.config import Config
from bridge.console import ConsoleSetup
from bridge.errors import ConfigError
from bridge.store import Store
from bridge.web.app import create_app

__all__ = ["serve", "BackgroundServer", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve(config: Config, store: Store, host: str, port: int,
          console: ConsoleSetup | None = None, workers: int = 1, factory: str | None = None) -> None:
    """Serve in this process, or in `workers` processes each building the app with `factory`
    (an importable "module:function" of no argument: uvicorn starts the processes)."""
    if workers > 1 and factory:
        store.close()
        uvicorn.run(factory, factory=True, host=host, port=port, workers=workers,
                    log_level="warning")
        return
    uvicorn.run(create_app(config, store, console), host=host, port=port, log_level="warning")


class BackgroundServer:
    """uvicorn in a daemon thread; `stop()` shuts it down cleanly."""

    def __init__(self, config: Config, store: Store, host: str, port: int,
                 console: ConsoleSetup | None = None) -> None:
        self.server = uvicorn.Server(uvicorn.Config(create_app(config, store, console), host=host,
                                                    port=port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="web")

    def start(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                config = self.server.config
                raise ConfigError(f"the web server did not start on {config.host}:{config.port}; "
                                  "is the port in use?", key="web.port")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
