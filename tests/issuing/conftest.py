"""Fixtures for issuing tests: a config, a store with one badge and awards, keys, the web app.

The validators kit is $BADGE_BRIDGE_VALIDATORS or ../shared/validators; absent: skip, unless CI=true.
"""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.config import Config
from bridge.issuing.images import default_badge_png
from bridge.issuing.issuer import Issuer
from bridge.issuing.keys import generate_key
from bridge.issuing.ob2 import new_salt
from bridge.model import Batch, Identity
from bridge.store import Award, NewAward, Store
from bridge.web.server import BackgroundServer, free_port
from connectors.registry import load as load_config

KIT = Path(os.environ.get("BADGE_BRIDGE_VALIDATORS")
           or Path(__file__).resolve().parents[2] / ".." / "shared" / "validators")
EMAIL = "alice.martin@example.org"


def need(condition: bool, why: str) -> None:
    """Skip when a tool is missing, except on CI where a missing tool is a failure."""
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (CI=true: not skipping)")
        pytest.skip(why)


def write_config(tmp_path: Path, port: int, **bridge: str) -> Config:
    extra = "".join(f'{k} = "{v}"\n' for k, v in bridge.items())
    (tmp_path / "bridge.toml").write_text(f'''
[bridge]
public_url = "http://127.0.0.1:{port}"
data_dir = "data"
default_language = "fr"
{extra}
[issuer]
name = "Tiers-lieu <Numérique> & Co"
url = "https://tiers-lieu.example.org"
email = "badges@tiers-lieu.example.org"
description = "Réseau de formation des enseignants"
[smtp]
from_address = "badges@tiers-lieu.example.org"
''')
    return load_config(tmp_path / "bridge.toml")


DEFINITION = {
    "name": {"fr": "Médiateur SNT <hybride>", "en": "SNT hybrid mediator"},
    "description": {"fr": "A suivi le MOOC SNT et deux rencontres.", "en": "Took the SNT MOOC and two meetups."},
    "criteria": {"fr": "Terminer le MOOC SNT sur FUN et assister à deux rencontres.",
                 "en": "Complete the SNT MOOC on FUN and attend two meetups."},
    "tags": ["snt", "hybride"],
    "alignments": [{"name": "CRCN 1.1", "url": "https://pix.fr/crcn", "code": "1.1",
                    "framework": "CRCN"}],
}


# The facts behind an award as the rules store them: ids, and the names the platforms gave.
PROVENANCE = [
    {"source": "fun", "kind": "course_completion", "course": "course-v1:inria+41018+session01",
     "item": "", "value": 1.0, "occurred_at": "2026-10-01T10:00:00Z",
     "course_name": "Sciences numériques & technologie <SNT>"},
    {"source": "moodle-nice", "kind": "activity_completion", "course": "42", "item": "503",
     "value": 1.0, "occurred_at": "2026-10-03T10:00:00Z", "course_name": "SNT hybride",
     "item_name": "Quiz : données structurées"},
    {"source": "moodle-nice", "kind": "presence", "course": "42", "item": "rencontre-1",
     "value": 1.0, "occurred_at": "2026-10-08T18:00:00Z", "title": "Atelier robots",
     "place": "Tiers-lieu du port, Nice", "session_date": "2026-10-08T18:00:00+00:00"},
]


class World:
    """A store with one badge; `award()` issues one more award to a fresh learner."""

    email = EMAIL

    def __init__(self, config: Config, store: Store) -> None:
        self.config, self.store = config, store
        self.issuer = Issuer(config, store)
        store.awards.publish_badge("snt-mediator", "v1", DEFINITION, default_badge_png(128), "image/png")

    def award(self, *, lang: str = "fr", expires: timedelta | None = None, name: str = "Alice <b>Martin</b>",
              issued: datetime | None = None, provenance: list[dict] | None = None) -> Award:
        issued = issued or datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        email = f"{uuid.uuid4().hex[:8]}@example.org"
        self.store.facts.ingest(0, Batch(identities=[Identity(source="lms", external_id=email,
                                                              email=email, fullname=name, lang=lang)]))
        learner = self.store.facts.learner_by_email(email)
        assert learner is not None
        award = self.store.awards.create(NewAward(
            id=str(uuid.uuid4()), learner_id=learner.id, badge_id="snt-mediator", period="",
            issued_at=issued, expires_at=issued + expires if expires else None, salt=new_salt(),
            recipient_email=EMAIL, recipient_name=name, lang=lang, rule_version="v1",
            provenance=provenance if provenance is not None else PROVENANCE))
        assert award is not None
        return award


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def make_world(tmp_path: Path, port: int) -> Iterator[Callable[..., World]]:
    stores: list[Store] = []

    def make(**bridge: str) -> World:
        config = write_config(tmp_path, port, **bridge)
        generate_key(config.bridge.keys_path, "rsa")
        generate_key(config.bridge.keys_path, "ed25519")
        stores.append(Store(f"sqlite:///{tmp_path}/b.db"))
        return World(config, stores[-1])

    yield make
    for s in stores:
        s.close()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


@pytest.fixture
def served(world: World, port: int) -> Iterator[World]:
    server = BackgroundServer(world.config, world.store, "127.0.0.1", port).start()
    yield world
    server.stop()


class Kit:
    """The validators kit: `run("ob2-verify", ...)` -> (exit status, stdout + stderr)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, command: str, *args: str) -> tuple[int, str]:
        done = subprocess.run([str(self.root / command), *args], capture_output=True, text=True,
                              timeout=300)
        return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="session")
def kit() -> Kit:
    need((KIT / "ob2-verify").exists(), f"validators kit not found at {KIT.resolve()}")
    return Kit(KIT.resolve())


def _fetch(url: str, accept: str = "application/json") -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept})) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def fetch() -> Callable[..., tuple[int, bytes]]:
    """GET from the running web app: (status, body), also for 4xx answers."""
    return _fetch
