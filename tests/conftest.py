"""Shared test fixtures: service availability rules, a config writer, a store per database."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_URL = os.environ.get("BADGE_BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

# The suite passes on a machine busy with other work: no example has a deadline, and slow data
# generation is not a failure. Speed is measured in bench/, not here.
settings.register_profile("under-load", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("under-load")


@pytest.fixture(autouse=True)
def english_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands started without --lang or a config's default_language speak the environment's
    language: the same (English) for every test, whatever the machine's locale. No catalogs
    beyond the built-in ones unless a test adds some."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    for name in ("LC_ALL", "LC_MESSAGES", "BADGE_BRIDGE_LOCALE_DIR"):
        monkeypatch.delenv(name, raising=False)


def require_services() -> bool:
    return os.environ.get("BADGE_BRIDGE_REQUIRE_SERVICES") == "1"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip with a reason when a loopback service is absent; fail when CI requires it."""
    if _port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if require_services():
        pytest.fail(message + " and BADGE_BRIDGE_REQUIRE_SERVICES=1")
    pytest.skip(message)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database: SQLite in tmp_path, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
        return
    need_service("PostgreSQL", "127.0.0.1", 5432)
    with fresh_pg_database() as url:
        yield url


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """CREATE DATABASE for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"bb_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def write_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a TOML config into tmp_path and return its path."""
    def write(text: str, name: str = "bridge.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return write


@pytest.fixture
def require_service():  # type: ignore[no-untyped-def]
    """`require_service(url)`: skip (or fail under BADGE_BRIDGE_REQUIRE_SERVICES=1) if it is down."""
    from urllib.parse import urlsplit

    def check(url: str) -> None:
        parts = urlsplit(url)
        names = {"redis": ("Redis", 6379), "amqp": ("RabbitMQ", 5672), "postgresql": ("PostgreSQL", 5432)}
        name, port = names[parts.scheme]
        need_service(name, parts.hostname or "127.0.0.1", parts.port or port)
    return check


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL database (several workers share one)."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    with fresh_pg_database() as url:
        yield url
