"""Fixtures for the console tests: a synced world (the sandbox platform over HTTP, SQLite, a
real SMTP server), the web app with the console's services on loopback, an admin account made
with the real command, and a browser-like client that logs in and reads the forms' tokens.
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
from bridge.console import ConsoleSetup
from bridge.delivery.catcher import MailCatcher
from bridge.store import Store
from bridge.web.server import BackgroundServer, free_port
from cli import main
from cli.admin import PASSWORD_ENV
from cli.demo import write_demo_config
from connectors.registry import load as load_config
from jobs.console import Console
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


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    mailbox = MailCatcher().start()
    server = None
    try:
        with SandboxPlatform("moodle", learners=20, seed=7, profile="demo") as platform:
            port = free_port()
            path = tmp_path / "bridge.toml"
            write_demo_config(path, data_dir=tmp_path / "state", port=port,
                              sandbox_url=platform.base_url, token=platform.token,
                              smtp_port=mailbox.port, push=False)
            config = load_config(path)
            store = Store(config.bridge.db_url)
            run_sync(config, store)
            result = CliRunner().invoke(main, ["admin", "add", USER, "--config", str(path),
                                               "--password-from-env"], env={PASSWORD_ENV: PASSWORD})
            assert result.exit_code == 0, result.output
            server = BackgroundServer(config, store, "127.0.0.1", port,
                                      ConsoleSetup(Console(config, store))).start()
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
