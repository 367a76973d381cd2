"""Fixtures for the meetups tests: a config with a meetups source, a store, a session open now,
the web app on loopback, and a phone (a requests session keeping its cookies) to check in with.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from bridge.config import Config
from bridge.meetups.desk import Desk
from bridge.meetups.sessions import from_spec
from bridge.meetups.settings import SessionSpec
from bridge.store import MeetupSession, Store
from bridge.web.server import BackgroundServer, free_port
from connectors.registry import load as load_config

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def write_config(tmp_path: Path, port: int, extra: str = "", smtp_port: int = 25) -> Config:
    (tmp_path / "bridge.toml").write_text(f'''
[bridge]
public_url = "http://127.0.0.1:{port}"
data_dir = "data"
default_language = "fr"
timezone = "Europe/Paris"

[issuer]
name = "Tiers-lieu numérique"
url = "https://tiers-lieu.example.org"

[smtp]
port = {smtp_port}
from_address = "badges@tiers-lieu.example.org"

[sources.rencontres]
kind = "meetups"
tags = ["temps-de-rencontre"]
device_limit = 20
ip_limit = 200
{extra}
''', encoding="utf-8")
    return load_config(tmp_path / "bridge.toml")


@dataclass
class Meetup:
    config: Config
    store: Store
    desk: Desk
    base: str

    def session(self, *, title: str = "Atelier SNT", place: str = "Médiathèque Jean Macé",
                town: str = "Lyon", start: datetime | None = None, hours: float = 2,
                confirm: str = "none", session_id: str | None = None, **more: object) -> MeetupSession:
        start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        spec = SessionSpec(id=session_id or f"s-{len(self.store.meetups.sessions()) + 1}", title=title,
                           place=place, town=town, start=start, end=start + timedelta(hours=hours),
                           course="42", confirm=confirm, **more)  # type: ignore[arg-type]
        return self.store.meetups.create(from_spec(spec, "rencontres", self.config.bridge.zone, "cli"))

    def qr_url(self, session: MeetupSession, now: datetime | None = None) -> str:
        return self.desk.checkin_url(session, now or datetime.now(UTC))

    def organiser_url(self, session_id: str) -> str:
        session = self.store.meetups.get(session_id)
        assert session is not None
        return self.desk.organiser_url(session)


@pytest.fixture
def make_meetup(tmp_path: Path) -> Iterator[Callable[..., Meetup]]:
    servers: list[BackgroundServer] = []
    stores: list[Store] = []

    def make(extra: str = "", db_url: str | None = None, smtp_port: int = 25) -> Meetup:
        port = free_port()
        config = write_config(tmp_path, port, extra, smtp_port)
        store = Store(db_url or config.bridge.db_url)
        stores.append(store)
        servers.append(BackgroundServer(config, store, "127.0.0.1", port).start())
        return Meetup(config, store, Desk(config, store), f"http://127.0.0.1:{port}")

    yield make
    for server in servers:
        server.stop()
    for store in stores:
        store.close()


@pytest.fixture
def meetup(make_meetup: Callable[..., Meetup]) -> Meetup:
    return make_meetup()


class Phone:
    """A participant's browser: cookies kept, forms read from the pages it is shown."""

    def __init__(self, lang: str = "fr") -> None:
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = lang
        self.page: requests.Response | None = None

    def open(self, url: str) -> requests.Response:
        self.page = self.http.get(url, timeout=30)
        return self.page

    def csrf(self) -> str:
        """The form token of the page shown."""
        found = CSRF.search(self.page.text) if self.page is not None else None
        return html.unescape(found.group(1)) if found else ""

    def post(self, url: str, **fields: str) -> requests.Response:
        data = {"csrf": self.csrf(), **fields}
        self.page = self.http.post(url, data=data, timeout=30)
        return self.page

    def check_in(self, qr_url: str, email: str) -> requests.Response:
        """Scan, type the address, confirm: the answer to the confirmation."""
        scanned = self.open(qr_url)
        if scanned.status_code != 200 or 'id="checkin-form"' not in scanned.text:
            return scanned
        action = scanned.url.split("?")[0]
        typed = self.post(action, email=email, step="email")
        if 'id="confirm-form"' not in typed.text:
            return typed
        return self.post(action, email=email, step="confirm")


    @staticmethod
    def outcome(response: requests.Response) -> str:
        """What the page says happened: data-outcome of a result, data-reason of a refusal."""
        found = re.search(r'data-(?:outcome|reason)="([a-z_]+)"', response.text)
        return found.group(1) if found else f"<no outcome, HTTP {response.status_code}>"


@pytest.fixture
def phone() -> type[Phone]:
    return Phone


def decode_qr(png_bytes: bytes) -> str:
    """The text of the one QR code in a PNG image, as a phone's camera reads it (zxing-cpp on
    the image's grey levels)."""
    import png
    import zxingcpp

    width, height, rows, _ = png.Reader(bytes=png_bytes).asRGBA8()
    grey = bytearray()
    for row in rows:
        grey += bytes(row)[::4]  # black on white: the red channel is enough

    class Image:
        __array_interface__ = {"shape": (height, width), "typestr": "|u1", "data": bytes(grey),
                               "version": 3}

    found = zxingcpp.read_barcodes(Image())
    assert len(found) == 1, f"{len(found)} QR codes found"
    return str(found[0].text)


@pytest.fixture
def read_qr() -> Callable[[bytes], str]:
    return decode_qr
