"""Fixtures for the console tests: a synced world (the sandbox platform over HTTP, SQLite or
PostgreSQL, a real SMTP server), the web app with the console as `serve` sets it up, on
loopback, an admin account made with the real command, and a browser-like client that logs in
and reads the forms' tokens.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from bridge.config import Config
from bridge.delivery.catcher import MailCatcher
from bridge.store import Store
from bridge.web.server import BackgroundServer, free_port
from cli import main
from cli.admin import PASSWORD_ENV, console_setup
from cli.demo import write_demo_config
from connectors.registry import load as load_config
from jobs.run import run_sync
from sandbox import SandboxPlatform

USER, PASSWORD = "camille.admin", "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@dataclass
class World:
    config: Config
    store: Store
    mailbox: MailCatcher
    base: str
    config_path: Path

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(params=["sqlite"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """SQLite by default; `@pytest.mark.parametrize("world", ["sqlite", "postgresql"],
    indirect=True)` runs a test on both."""
    mailbox = MailCatcher().start()
    server = None
    # The suite's throw-away PostgreSQL database (skipped, or failed under CI, when absent).
    pg_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    try:
        with SandboxPlatform("moodle", learners=20, seed=7, profile="demo") as platform:
            port = free_port()
            path = tmp_path / "bridge.toml"
            write_demo_config(path, data_dir=tmp_path / "state", port=port,
                              sandbox_url=platform.base_url, token=platform.token,
                              smtp_port=mailbox.port, push=False)
            if pg_url:
                path.write_text(path.read_text(encoding="utf-8").replace(
                    "[bridge]\n", f'[bridge]\ndatabase_url = "{pg_url}"\n', 1), encoding="utf-8")
            config = load_config(path)
            store = Store(config.bridge.db_url)
            run_sync(config, store)
            result = CliRunner().invoke(main, ["admin", "add", USER, "--config", str(path),
                                               "--password-from-env"], env={PASSWORD_ENV: PASSWORD})
            assert result.exit_code == 0, result.output
            # As `badge-bridge serve` sets it up: the services and the real health check.
            server = BackgroundServer(config, store, "127.0.0.1", port,
                                      console_setup(config, store)).start()
            yield World(config, store, mailbox, f"http://127.0.0.1:{port}", path)
    finally:
        if server is not None:
            server.stop()
        mailbox.stop()


class Client:
    """A browser without a browser: cookies kept, redirects not followed, forms' tokens read."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.http = requests.Session()
        self.last: requests.Response | None = None

    def get(self, path: str, **kw: object) -> requests.Response:
        self.last = self.http.get(self.world.url(path), allow_redirects=False, timeout=30, **kw)
        return self.last

    def token(self) -> str:
        found = CSRF.search(self.last.text) if self.last is not None else None
        return html.unescape(found.group(1)) if found else ""

    def post(self, path: str, data: dict[str, str], csrf: bool = True) -> requests.Response:
        form = {"csrf": self.token(), **data} if csrf else data
        self.last = self.http.post(self.world.url(path), data=form, allow_redirects=False, timeout=30)
        return self.last

    def login(self, user: str = USER, password: str = PASSWORD) -> requests.Response:
        self.get("/admin/login")
        return self.post("/admin/login", {"username": user, "password": password})


@pytest.fixture
def client(world: World) -> Client:
    return Client(world)
