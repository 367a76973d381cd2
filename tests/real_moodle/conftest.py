"""A real Moodle 4.5 + mod_attendance for this tier, started by the kit in `../shared/moodle`
(or $BB_MOODLE_KIT): skipped with the reason where the kit is absent, failed under CI=true.

Each test builds its own course (shortnames `BBR…`) with Moodle's APIs through the kit's
`php-run`; the site lives on between sessions, so a warm session costs seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.http import HttpClient
from connectors.moodle import MoodleConfig, MoodleConnector

REPO = Path(__file__).resolve().parents[2]
OPS = Path(__file__).resolve().parent / "moodle_ops.php"
BASE = os.environ.get("BB_MOODLE_BASE", "/tmp/badge-bridge-moodle")
PORT = os.environ.get("BB_MOODLE_PORT", "8181")


def kit_dir() -> Path:
    """$BB_MOODLE_KIT, else `shared/moodle` beside the checkout (or beside its parent, for a
    checkout kept one folder deeper, such as a git worktree)."""
    if os.environ.get("BB_MOODLE_KIT"):
        return Path(os.environ["BB_MOODLE_KIT"])
    candidates = [REPO.parent / "shared" / "moodle", REPO.parent.parent / "shared" / "moodle"]
    return next((c for c in candidates if (c / "start").exists()), candidates[0])


KIT = kit_dir()


def kit(command: str, *args: str) -> dict[str, Any]:
    """Runs a kit command and returns the JSON line it printed."""
    proc = subprocess.run([str(KIT / command), *args], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["no output"])[-1])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def unavailable(reason: str) -> None:
    (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(reason)


@pytest.fixture(scope="session")
def real_moodle() -> dict[str, Any]:
    """{"url", "token", "base", …} of the kit's running Moodle."""
    if not (KIT / "start").exists():
        unavailable(f"no Moodle kit at {KIT} (set BB_MOODLE_KIT)")
    try:
        return kit("start", "--base", BASE, "--port", PORT)
    except RuntimeError as error:
        unavailable(f"Moodle kit: {error}")
        raise


class Site:
    """The real Moodle seen by a test: builds data, runs Moodle-side actions, makes connectors."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info, self.url, self.token, self.base = info, info["url"], info["token"], info["base"]

    def php(self, script: Path | str, *args: str) -> dict[str, Any]:
        return kit("php-run", "--base", self.base, str(script), *args)

    def course(self, name: str, learners: int = 20, complete: float = 0.4, online: float = 0.3,
               seed: int = 1) -> dict[str, Any]:
        """A hybrid course (examples/course.php): page + manual 'Meetup' as criteria, attendance."""
        return self.php(KIT / "examples" / "course.php", f"--shortname={name}",
                        f"--learners={learners}", f"--complete={complete}",
                        f"--online-only={online}", f"--seed={seed}")

    def op(self, op: str, **args: object) -> dict[str, Any]:
        return self.php(OPS, f"--op={op}", *(f"--{k}={v}" for k, v in args.items()))

    def crippled(self, *drops: str) -> str:
        """A token of its own service, user and role, without the dropped capabilities/functions."""
        return kit("start", "--base", self.base, *drops)["token"]

    def connector(self, source: str = "campus", token: str | None = None,
                  clock: Callable[[], float] | None = None, **config: Any) -> MoodleConnector:
        cfg = MoodleConfig(url=self.url, token=token or self.token, retries=1, **config)
        return MoodleConnector(source, cfg, http=HttpClient(source, retries=1, sleep=lambda s: None),
                               **({"clock": clock} if clock else {}))


@pytest.fixture(scope="session")
def site(real_moodle: dict[str, Any]) -> Site:
    return Site(real_moodle)


@pytest.fixture
def course_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A stable shortname per test (a re-run rebuilds the same course)."""
    def name(suffix: str = "") -> str:
        return f"BBR{zlib.crc32(request.node.nodeid.encode()) % 10**7:07d}{suffix}"
    return name


@pytest.fixture
def hybrid(site: Site, course_name: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    yield site.course(course_name())


RULE = """[badge]
id = "done-{course}"
name = {{ fr = "Parcours {course} terminé", en = "Pathway {course} completed" }}
description = {{ fr = "A terminé le parcours hybride.", en = "Completed the hybrid pathway." }}
criteria = {{ fr = "Cours {course} achevé dans Moodle.", en = "Course {course} completed in Moodle." }}

[condition]
course_completed = {{ source = "campus", course = "{course}" }}
"""


class Bridge:
    """badge-bridge on a SQLite store with one Moodle source (`campus`) and one badge: the
    course completed. With `present` (emails), a sign-in sheet source (`sheets`) whose
    presences are pushed to `campus` at `target`."""

    def __init__(self, tmp: Path, course: int, connector: MoodleConnector,
                 present: list[str] | None = None, target: str = "", smtp_port: int = 25) -> None:
        from bridge.config import BridgeSettings, Config, SmtpSettings
        from bridge.store import Store
        from connectors.csv import CsvConfig
        from connectors.push_route import PushRoute

        rules = tmp / "rules"
        rules.mkdir(parents=True, exist_ok=True)
        (rules / "done.toml").write_text(RULE.format(course=course), encoding="utf-8")
        self.course, self.connector = str(course), connector
        sources: dict[str, Any] = {"campus": connector.config}
        if present is not None:
            sheet = tmp / "sheets" / "meetup.csv"
            sheet.parent.mkdir()
            sheet.write_text("email;session;status\n" + "".join(f"{e};meetup-1;present\n" for e in present),
                             encoding="utf-8")
            sources["sheets"] = CsvConfig(path=sheet.parent, push=[PushRoute(
                to="campus", course=str(course), target=target)])
        self.config = Config(file=tmp / "bridge.toml", sources=sources,
                             bridge=BridgeSettings(data_dir=tmp, rules_dir=rules),
                             smtp=SmtpSettings(port=smtp_port))
        self.store = Store(f"sqlite:///{tmp / 'bridge.db'}")

    def sync(self, *, full: bool = False, steps: tuple[str, ...] = ("pull", "evaluate", "issue")) -> Any:
        from jobs.run import run_sync

        return run_sync(self.config, self.store, steps=steps, connectors={"campus": self.connector},
                        full=full)

    def calls(self) -> dict[str, int]:
        """Requests to Moodle so far, by function, then forgotten."""
        counts = dict(self.connector.http.by_endpoint)
        self.connector.http.by_endpoint.clear()
        return counts

    def awarded(self) -> set[int]:
        """Moodle user ids of the learners holding the badge."""
        holders = {a["learner_id"] for a in self.store.list_awards()}
        return {int(ext) for ext, ident in self.store.identities("campus").items()
                if ident["learner_id"] in holders}

    def facts(self, kind: str, item: str = "") -> dict[int, float]:
        """Moodle user id -> value of the stored fact (kind, course, item)."""
        from sqlalchemy import select

        from bridge.store.schema import facts, identities

        with self.store.engine.connect() as conn:
            rows = conn.execute(select(identities.c.external_id, facts.c.value).join(
                identities, identities.c.learner_id == facts.c.learner_id).where(
                facts.c.source == "campus", facts.c.kind == kind, facts.c.course == self.course,
                facts.c.item == item))
            return {int(r.external_id): r.value for r in rows}


@pytest.fixture
def bridge(tmp_path: Path, site: Site) -> Iterator[Callable[..., Bridge]]:
    """bridge(course_id, token=…, clock=…, present=[emails], target=…, **source config) -> a
    Bridge on a fresh store, its emails sent to a local SMTP server."""
    from bridge.delivery.catcher import MailCatcher

    made: list[Bridge] = []
    catcher = MailCatcher(tmp_path / "mail").start()

    def make(course: int, token: str | None = None, clock: Callable[[], float] | None = None,
             present: list[str] | None = None, target: str = "", **config: Any) -> Bridge:
        config.setdefault("courses", [str(course)])
        b = Bridge(tmp_path / f"b{len(made)}", course,
                   site.connector(token=token, clock=clock, **config), present, target, catcher.port)
        made.append(b)
        return b
    yield make
    for b in made:
        b.store.close()
    catcher.stop()


@pytest.fixture(scope="session")
def completion_report(site: Site) -> int:
    """The custom report docs/connectors.md asks an administrator to make (made once a site)."""
    return int(site.op("report", name="badge-bridge completions")["reportid"])
